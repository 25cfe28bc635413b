"""Hand-worked checks of stance.metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stance.metrics import (
    classification_metrics,
    confusion_counts,
    expected_calibration_error,
    macro_f1,
    reliability_curve,
)
from tests.schemes import LABELS

PI, PK, NE = LABELS  # pro_islamabad, pro_kabul, neutral


def _from_confusion(cm: list[list[int]]) -> tuple[list[str], list[str]]:
    y_true, y_pred = [], []
    for i, row in enumerate(cm):
        for j, count in enumerate(row):
            y_true += [LABELS[i]] * count
            y_pred += [LABELS[j]] * count
    return y_true, y_pred


# rows = true, cols = predicted (PI, PK, NE)
#   PI: [3, 1, 0]   support 4
#   PK: [0, 1, 1]   support 2
#   NE: [2, 0, 1]   support 3
# column sums (predicted): PI 5, PK 2, NE 2; n = 9, correct = 3 + 1 + 1 = 5
#   PI: P = 3/5, R = 3/4, F1 = 2 * .6 * .75 / 1.35 = 2/3
#   PK: P = 1/2, R = 1/2, F1 = 1/2
#   NE: P = 1/2, R = 1/3, F1 = 2 * (1/6) / (5/6) = 2/5
#   macro F1 = (2/3 + 1/2 + 2/5) / 3 = 47/90
CM = [[3, 1, 0], [0, 1, 1], [2, 0, 1]]


def test_classification_metrics_hand_worked() -> None:
    y_true, y_pred = _from_confusion(CM)
    m = classification_metrics(y_true, y_pred, LABELS)
    assert m["labels"] == list(LABELS)
    assert m["n"] == 9
    assert m["accuracy"] == pytest.approx(5 / 9)
    assert m["macro_f1"] == pytest.approx(47 / 90)
    assert m["confusion_matrix"] == CM
    pc = m["per_class"]
    assert pc[PI] == pytest.approx({"precision": 3 / 5, "recall": 3 / 4, "f1": 2 / 3, "support": 4})
    assert pc[PK] == pytest.approx({"precision": 1 / 2, "recall": 1 / 2, "f1": 1 / 2, "support": 2})
    assert pc[NE] == pytest.approx({"precision": 1 / 2, "recall": 1 / 3, "f1": 2 / 5, "support": 3})
    assert macro_f1(y_true, y_pred, LABELS) == pytest.approx(47 / 90)
    json.dumps(m)  # JSON-serialisable
    assert type(m["accuracy"]) is float and type(pc[PI]["support"]) is int


def test_label_order_controls_matrix_layout() -> None:
    y_true, y_pred = _from_confusion(CM)
    m = classification_metrics(y_true, y_pred, [NE, PK, PI])
    # reversed order -> matrix reversed on both axes
    assert m["confusion_matrix"] == [[1, 0, 2], [1, 1, 0], [0, 1, 3]]
    assert m["labels"] == [NE, PK, PI]


def test_zero_division_gives_zero() -> None:
    # PK never predicted (precision 0/0 -> 0) and never true (recall 0/0 -> 0)
    y_true = [PI, PI, NE]
    y_pred = [PI, NE, NE]
    m = classification_metrics(y_true, y_pred, LABELS)
    assert m["per_class"][PK] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    # PI: P 1, R 1/2, F1 2/3; NE: P 1/2, R 1, F1 2/3; PK 0 -> macro = (4/3) / 3 = 4/9
    assert m["macro_f1"] == pytest.approx(4 / 9)
    assert m["accuracy"] == pytest.approx(2 / 3)


def test_confusion_counts() -> None:
    y_true, y_pred = _from_confusion(CM)
    assert confusion_counts(y_true, y_pred, LABELS).tolist() == CM


@pytest.mark.parametrize(
    ("y_true", "y_pred", "labels", "match"),
    [
        ([PI, PK], [PI], LABELS, "different lengths"),
        ([], [], LABELS, "empty"),
        ([PI, "other"], [PI, PI], LABELS, "unknown labels in y_true"),
        ([PI], ["other"], LABELS, "unknown labels in y_pred"),
        ([PI], [PI], [], "labels must not be empty"),
        ([PI], [PI], [PI, PI], "unique"),
    ],
)
def test_classification_metrics_bad_args(y_true, y_pred, labels, match) -> None:
    with pytest.raises(ValueError, match=match):
        classification_metrics(y_true, y_pred, labels)
    with pytest.raises(ValueError, match=match):
        macro_f1(y_true, y_pred, labels)


# Four samples (top-label confidence, correct?):
#   [0.95, 0.03, 0.02] y=0 -> 0.95 correct
#   [0.10, 0.85, 0.05] y=2 -> 0.85 wrong
#   [0.25, 0.65, 0.10] y=1 -> 0.65 correct
#   [0.20, 0.25, 0.55] y=0 -> 0.55 wrong
PROBA = np.array([[0.95, 0.03, 0.02], [0.10, 0.85, 0.05], [0.25, 0.65, 0.10], [0.20, 0.25, 0.55]])
Y = [0, 2, 1, 0]


def test_ece_four_samples() -> None:
    # 4 bins: (.5,.75] holds .65/.55 -> acc 1/2, conf .6, gap .1;
    #         (.75,1]  holds .95/.85 -> acc 1/2, conf .9, gap .4
    # ECE = 2/4 * .1 + 2/4 * .4 = 0.25
    assert expected_calibration_error(Y, PROBA, n_bins=4) == pytest.approx(0.25)
    # 10 bins: every sample alone: gaps .05, .85, .35, .55 -> mean 1.8/4 = 0.45
    assert expected_calibration_error(Y, PROBA, n_bins=10) == pytest.approx(0.45)
    # 1 bin: |acc 1/2 - mean conf 3/4| = 0.25
    assert expected_calibration_error(np.array(Y), PROBA, n_bins=1) == pytest.approx(0.25)


def test_ece_perfect_confidence_is_zero() -> None:
    proba = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error([0, 1], proba) == 0.0


def test_bin_edges_are_right_closed() -> None:
    # confidence exactly 0.5 with 2 bins falls in (0, 0.5]
    proba = np.array([[0.5, 0.5], [0.9, 0.1]])
    curve = reliability_curve([0, 0], proba, n_bins=2)
    assert curve["count"] == [1, 1]


def test_reliability_curve_four_samples() -> None:
    curve = reliability_curve(Y, PROBA, n_bins=4)
    assert curve["bin_lower"] == pytest.approx([0.0, 0.25, 0.5, 0.75])
    assert curve["bin_upper"] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert curve["count"] == [0, 0, 2, 2]
    assert curve["confidence"][:2] == [None, None]
    assert curve["accuracy"][:2] == [None, None]
    assert curve["confidence"][2:] == pytest.approx([0.6, 0.9])
    assert curve["accuracy"][2:] == pytest.approx([0.5, 0.5])
    json.dumps(curve)


@pytest.mark.parametrize(
    ("y", "proba", "n_bins", "match"),
    [
        ([0, 1], PROBA, 10, "different lengths"),
        ([], np.zeros((0, 3)), 10, "empty"),
        (Y, PROBA[:, 0], 10, "2-D"),
        ([0, 2, 1, 3], PROBA, 10, r"class indices must lie in \[0, 2\]"),
        ([0, 2, 1, 0.5], PROBA, 10, "integer class indices"),
        (Y, PROBA, 0, "n_bins"),
        (Y, PROBA * 2, 10, r"probabilities in \[0, 1\]"),
    ],
)
def test_calibration_bad_args(y, proba, n_bins, match) -> None:
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(y, proba, n_bins=n_bins)
    with pytest.raises(ValueError, match=match):
        reliability_curve(y, proba, n_bins=n_bins)


def test_macro_f1_from_confusion_equals_macro_f1() -> None:
    from stance.metrics import confusion_counts, macro_f1_from_confusion

    rng = np.random.default_rng(0)
    labels = ["a", "b", "c", "d"]
    for _ in range(20):
        y = rng.choice(labels[:3], 50)  # "d" never true
        p = rng.choice(labels, 50)
        assert macro_f1_from_confusion(confusion_counts(y, p, labels)) == pytest.approx(macro_f1(y, p, labels), abs=1e-12)
