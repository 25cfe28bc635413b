"""LF analysis numbers on a tiny hand-computed case."""

from __future__ import annotations

import math

import pandas as pd

from stance.annotation.analysis import lf_analysis
from tests.schemes import LABELS

ISL, KBL, NEU = "pro_islamabad", "pro_kabul", "neutral"


def test_lf_analysis_hand_computed() -> None:
    votes = pd.DataFrame({
        "A": [ISL, ISL, None, None],
        "B": [ISL, None, KBL, None],
        "C": [None, NEU, None, None],
    })
    gold = [ISL, NEU, None, NEU]
    agg = [ISL, NEU, KBL, None]
    t = lf_analysis(votes, gold, {"mv": agg}, labels=LABELS).set_index("name")
    # A votes rows 0,1; others vote there too (row 0: B agrees, row 1: C disagrees)
    assert t.loc["A", "coverage"] == 0.5
    assert t.loc["A", "overlap"] == 0.5
    assert t.loc["A", "conflict"] == 0.25
    assert (t.loc["A", "n_gold"], t.loc["A", "correct"], t.loc["A", "accuracy"]) == (2, 1, 0.5)
    assert t.loc["A", "polarity"] == ISL
    # B votes rows 0 (agrees with A) and 2 (alone, no gold)
    assert (t.loc["B", "coverage"], t.loc["B", "overlap"], t.loc["B", "conflict"]) == (0.5, 0.25, 0.0)
    assert (t.loc["B", "n_gold"], t.loc["B", "accuracy"]) == (1, 1.0)
    assert t.loc["B", "polarity"] == f"{ISL},{KBL}"
    assert (t.loc["C", "coverage"], t.loc["C", "overlap"], t.loc["C", "conflict"]) == (0.25, 0.25, 0.25)
    # aggregate: covers 3 of 4, 2 of them have gold, both right; pro_kabul never in gold -> F1 0
    assert t.loc["mv", "kind"] == "aggregate"
    assert (t.loc["mv", "coverage"], t.loc["mv", "n_gold"], t.loc["mv", "accuracy"]) == (0.75, 2, 1.0)
    assert math.isclose(t.loc["mv", "macro_f1"], 2 / 3)
    assert math.isnan(t.loc["mv", "overlap"])


def test_lf_analysis_without_gold() -> None:
    votes = pd.DataFrame({"A": [ISL, None]})
    t = lf_analysis(votes, labels=LABELS)
    assert t.loc[0, "coverage"] == 0.5 and t.loc[0, "n_gold"] == 0 and math.isnan(t.loc[0, "accuracy"])
