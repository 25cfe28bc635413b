"""McNemar's test (statsmodels) and run comparison: grouping, seeds, refusals, symmetry."""

from __future__ import annotations

import math

import pytest

from stance.evaluation.compare import mcnemar


def _mcnemar_case(b: int, c: int, both_right: int = 3, both_wrong: int = 2):
    y = ["x"] * (b + c + both_right + both_wrong)
    a = ["x"] * b + ["o"] * c + ["x"] * both_right + ["o"] * both_wrong
    p = ["o"] * b + ["x"] * c + ["x"] * both_right + ["o"] * both_wrong
    return y, a, p


def test_mcnemar_exact() -> None:
    # b=1, c=5: p = 2 * (C(6,0) + C(6,1)) / 2^6 = 2 * 7/64 = 0.21875
    res = mcnemar(*_mcnemar_case(1, 5))
    assert (res["b"], res["c"], res["method"]) == (1, 5, "exact")
    assert res["statistic"] == 1.0
    assert res["p_value"] == pytest.approx(0.21875)


def test_mcnemar_chi2_with_continuity_correction() -> None:
    # b=30, c=10: (|30-10| - 1)^2 / 40 = 361/40 = 9.025; chi2(1) tail = erfc(sqrt(x/2))
    res = mcnemar(*_mcnemar_case(30, 10))
    assert (res["b"], res["c"], res["method"]) == (30, 10, "chi2")
    assert res["statistic"] == pytest.approx(9.025)
    assert res["p_value"] == pytest.approx(math.erfc(math.sqrt(9.025 / 2)))
    assert res["p_value"] == pytest.approx(0.002663, abs=1e-5)


def test_mcnemar_threshold_and_degenerate_cases() -> None:
    assert mcnemar(*_mcnemar_case(12, 12))["method"] == "exact"  # b + c = 24
    assert mcnemar(*_mcnemar_case(13, 12))["method"] == "chi2"  # b + c = 25
    # equal exact counts: p capped at 1 (2 * P(X <= 3 | n=6) = 2 * 42/64 > 1)
    assert mcnemar(*_mcnemar_case(3, 3))["p_value"] == 1.0
    none = mcnemar(*_mcnemar_case(0, 0))
    assert (none["b"], none["c"], none["p_value"]) == (0, 0, 1.0)
    with pytest.raises(ValueError, match="different lengths"):
        mcnemar(["x", "x"], ["x"], ["x", "x"])


