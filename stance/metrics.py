"""Classification and calibration metrics (pure functions, JSON-serialisable results).

The one place for these figures: training (early stopping), evaluation, comparison and the
report all call :func:`macro_f1` and :func:`classification_metrics`, which average over
*every* label of the scheme (a label never seen nor predicted scores 0). The counts and
per-class scores come from scikit-learn (``confusion_matrix``,
``precision_recall_fscore_support``); the expected calibration error and the reliability curve
are kept here because scikit-learn's ``calibration_curve`` is binary-only and has no ECE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

__all__ = [
    "classification_metrics",
    "confusion_counts",
    "expected_calibration_error",
    "accuracy_from_confusion",
    "confusion_by_cluster",
    "macro_f1",
    "macro_f1_from_confusion",
    "reliability_curve",
]


def _check_labels(labels: Sequence[str]) -> list[str]:
    labels = list(labels)
    if not labels:
        raise ValueError("labels must not be empty")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels must be unique, got {labels!r}")
    return labels


def _check_inputs(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> list[str]:
    labels = _check_labels(labels)
    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred have different lengths ({len(y_true)} vs {len(y_pred)})"
        )
    if not y_true:
        raise ValueError("cannot compute metrics on empty input")
    known = set(labels)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        unknown = sorted({repr(v) for v in values if v not in known})
        if unknown:
            raise ValueError(
                f"unknown labels in {name}: {', '.join(unknown)}; expected one of {labels}"
            )
    return labels


def confusion_counts(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> np.ndarray:
    """Confusion matrix of counts (rows = true, columns = predicted, ordered by ``labels``).

    Raises ``ValueError`` for empty or mismatched inputs and for values not in ``labels``.
    """
    labels = _check_inputs(y_true, y_pred, labels)
    return confusion_matrix(list(y_true), list(y_pred), labels=labels)


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Macro-F1 averages over every label in ``labels`` (a label never seen nor predicted
    scores 0). Zero divisions give 0.0. The result contains only Python scalars and lists.
    """
    labels = _check_inputs(y_true, y_pred, labels)
    y_true, y_pred = list(y_true), list(y_pred)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    n = int(cm.sum())
    return {
        "labels": [str(label) for label in labels],
        "n": n,
        "accuracy": float(np.trace(cm) / n),
        "macro_f1": float(np.mean(f1)),
        "per_class": {
            str(label): {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion_matrix": cm.astype(int).tolist(),
    }


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> float:
    """Unweighted mean of the per-class F1 over ``labels`` (zero division gives 0.0)."""
    labels = _check_inputs(y_true, y_pred, labels)
    return float(f1_score(list(y_true), list(y_pred), labels=labels, average="macro", zero_division=0))


def macro_f1_from_confusion(cm: np.ndarray) -> float:
    """Macro-F1 of a confusion matrix (rows true, columns predicted): per class
    ``2 TP / (2 TP + FP + FN)``, 0 for a class neither true nor predicted, averaged over all
    classes. Equal to :func:`macro_f1` on the labels behind ``cm`` (tested). Kept for bootstrap
    replicates: scikit-learn's input validation costs about 3 ms a call, so a thousand
    replicates per interval would spend seconds re-validating identical inputs."""
    cm = np.asarray(cm, dtype=float)
    tp = np.diag(cm)
    denom = 2 * tp + (cm.sum(axis=0) - tp) + (cm.sum(axis=1) - tp)
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1.mean())


def accuracy_from_confusion(cm: np.ndarray) -> float:
    """Share of the diagonal of a confusion matrix."""
    cm = np.asarray(cm, dtype=float)
    return float(np.trace(cm) / cm.sum()) if cm.sum() else float("nan")


def confusion_by_cluster(
    y_true: Sequence[str], y_pred: Sequence[str], clusters: Sequence[Any], labels: Sequence[str]
) -> np.ndarray:
    """Confusion counts per cluster, shape (n_clusters, k, k); clusters in order of first
    appearance (the order :func:`stance.evaluation.bootstrap.cluster_multiplicities` draws)."""
    import pandas as pd

    labels = _check_inputs(y_true, y_pred, labels)
    index = {lab: i for i, lab in enumerate(labels)}
    t = np.fromiter((index[v] for v in y_true), dtype=np.int64)
    p = np.fromiter((index[v] for v in y_pred), dtype=np.int64)
    codes, uniques = pd.factorize(pd.Series(list(clusters), dtype=object), sort=False)
    out = np.zeros((len(uniques), len(labels), len(labels)))
    np.add.at(out, (codes, t, p), 1.0)
    return out


def _confidence_correct(
    y_true: Sequence[int] | np.ndarray, proba: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-label confidence, correctness and bin index (bins are ``(lower, upper]``)."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape[1] < 1:
        raise ValueError(
            f"proba must be a 2-D array (n_samples, n_classes), got shape {proba.shape}"
        )
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D, got shape {y.shape}")
    if len(y) != proba.shape[0]:
        raise ValueError(f"y_true and proba have different lengths ({len(y)} vs {proba.shape[0]})")
    if len(y) == 0:
        raise ValueError("cannot compute calibration on empty input")
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0)):
            raise ValueError("y_true must hold integer class indices")
        y = y.astype(int)
    k = proba.shape[1]
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"y_true class indices must lie in [0, {k - 1}]")
    if not np.all(np.isfinite(proba)) or proba.min() < 0 or proba.max() > 1 + 1e-9:
        raise ValueError("proba must hold finite probabilities in [0, 1]")
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence, side="left")
    return confidence, correct, bins


def expected_calibration_error(
    y_true: Sequence[int] | np.ndarray, proba: np.ndarray, n_bins: int = 10
) -> float:
    """Expected calibration error of the top-label confidence.

    ``y_true`` holds class indices (columns of ``proba``). Confidences fall into ``n_bins``
    equal-width bins ``(lower, upper]`` (0 goes to the first); the ECE is the bin-count
    weighted mean of ``|accuracy - mean confidence|``.
    """
    confidence, correct, bins = _confidence_correct(y_true, proba, n_bins)
    count = np.bincount(bins, minlength=n_bins).astype(float)
    conf_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(bins, weights=correct, minlength=n_bins)
    return float(np.abs(acc_sum - conf_sum).sum() / count.sum())


def reliability_curve(
    y_true: Sequence[int] | np.ndarray, proba: np.ndarray, n_bins: int = 10
) -> dict[str, list]:
    """Per-bin mean confidence and accuracy for a reliability diagram.

    Returns lists ``bin_lower``, ``bin_upper``, ``confidence``, ``accuracy``, ``count``;
    empty bins have count 0 and ``None`` confidence and accuracy.
    """
    confidence, correct, bins = _confidence_correct(y_true, proba, n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    count = np.bincount(bins, minlength=n_bins)
    conf_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(bins, weights=correct, minlength=n_bins)
    return {
        "bin_lower": [float(x) for x in edges[:-1]],
        "bin_upper": [float(x) for x in edges[1:]],
        "confidence": [float(s / c) if c else None for s, c in zip(conf_sum, count, strict=True)],
        "accuracy": [float(s / c) if c else None for s, c in zip(acc_sum, count, strict=True)],
        "count": [int(c) for c in count],
    }


def cohen_kappa(a: Sequence[Any], b: Sequence[Any], labels: Sequence[Any] | None = None) -> float:
    """Cohen's kappa of two label sequences (same items, same order;
    :func:`sklearn.metrics.cohen_kappa_score`).

    NaN when chance agreement is 1 (both annotators used one and the same label throughout),
    where scikit-learn divides 0 by 0.
    """
    a, b = [str(x) for x in a], [str(x) for x in b]
    if len(a) != len(b):
        raise ValueError(f"the two annotators have {len(a)} and {len(b)} labels")
    if not a or len(set(a) | set(b)) == 1:
        return float("nan")
    cats = [str(c) for c in labels] if labels is not None else None
    return float(cohen_kappa_score(a, b, labels=cats))
