"""Temperature scaling: hand cases for stance.models.calibration."""

from __future__ import annotations

import numpy as np
import pytest

from stance.models.calibration import T_MAX, T_MIN, fit_temperature, nll, softmax


def _calibrated_sample(n: int = 8000, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits ``z`` and labels drawn from ``softmax(z)``: a perfectly calibrated model."""
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=1.5, size=(n, k))
    p = softmax(z)
    y = (rng.random((n, 1)) > np.cumsum(p, axis=1)).sum(axis=1)
    return z, y


def test_softmax_rows_sum_to_one_and_keep_float32() -> None:
    z = np.random.default_rng(1).normal(scale=10, size=(50, 3)).astype(np.float32)
    for t in (0.1, 1.0, 7.0):
        p = softmax(z, t)
        assert p.dtype == np.float32 and p.shape == z.shape
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
        assert (p >= 0).all()
    assert softmax(z.astype(np.float64)).dtype == np.float64


def test_softmax_is_stable_and_t1_is_plain_softmax() -> None:
    z = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    p = softmax(z)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p[0], [1.0, 0.0, 0.0])
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(p[1], e / e.sum())
    np.testing.assert_allclose(softmax(z, 1.0), softmax(z))
    np.testing.assert_allclose(softmax(z[1:] * 2, 2.0), softmax(z[1:]))  # (2z)/2 = z


def test_fit_recovers_scaled_logits() -> None:
    z, y = _calibrated_sample()
    t = fit_temperature(3.0 * z, y)
    assert t == pytest.approx(3.0, rel=0.05)
    t_cold = fit_temperature(z / 2.0, y)
    assert t_cold == pytest.approx(0.5, rel=0.05)


def test_calibrated_logits_give_t_near_one_and_nll_never_worse() -> None:
    z, y = _calibrated_sample(seed=2)
    assert fit_temperature(z, y) == pytest.approx(1.0, rel=0.05)
    scaled = 3.0 * z
    t = fit_temperature(scaled, y)
    assert nll(scaled, y, t) < nll(scaled, y, 1.0)


def test_degenerate_inputs() -> None:
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 1.0
    # perfectly separated logits would drive T to 0: the bound keeps it finite
    z = np.eye(3)[[0, 1, 2, 0]] * 5.0
    t = fit_temperature(z, np.array([0, 1, 2, 0]))
    assert T_MIN <= t <= T_MAX
    # constant logits carry no information: every T is as good, T = 1 is kept
    assert fit_temperature(np.zeros((4, 3)), np.array([0, 1, 2, 0])) == 1.0


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="temperature"):
        softmax(np.zeros((2, 3)), 0.0)
    with pytest.raises(ValueError, match="2-D"):
        softmax(np.zeros(3))
    with pytest.raises(ValueError, match="lie in"):
        fit_temperature(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="integer"):
        fit_temperature(np.zeros((2, 3)), np.array([0.0, 1.0]))
