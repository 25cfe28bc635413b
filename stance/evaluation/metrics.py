"""Classification and calibration metrics (pure functions, JSON-serialisable results)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "classification_metrics",
    "confusion_counts",
    "expected_calibration_error",
    "macro_f1",
    "reliability_curve",
]


def _check_labels(labels: Sequence[str]) -> list[str]:
    labels = list(labels)
    if not labels:
        raise ValueError("labels must not be empty")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels must be unique, got {labels!r}")
    return labels


def confusion_counts(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> np.ndarray:
    """Confusion matrix of counts (rows = true, columns = predicted, ordered by ``labels``).

    Raises ``ValueError`` for empty or mismatched inputs and for values not in ``labels``.
    """
    labels = _check_labels(labels)
    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred have different lengths ({len(y_true)} vs {len(y_pred)})"
        )
    if not y_true:
        raise ValueError("cannot compute metrics on empty input")
    index = {label: i for i, label in enumerate(labels)}
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        unknown = sorted({repr(v) for v in values if v not in index})
        if unknown:
            raise ValueError(
                f"unknown labels in {name}: {', '.join(unknown)}; expected one of {labels}"
            )
    k = len(labels)
    flat = np.array([index[t] * k + index[p] for t, p in zip(y_true, y_pred, strict=True)])
    return np.bincount(flat, minlength=k * k).reshape(k, k)


def _per_class(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1, support


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Macro-F1 averages over every label in ``labels`` (a label never seen nor predicted
    scores 0). Zero divisions give 0.0. The result contains only Python scalars and lists.
    """
    labels = _check_labels(labels)
    cm = confusion_counts(y_true, y_pred, labels)
    precision, recall, f1, support = _per_class(cm)
    n = int(cm.sum())
    return {
        "labels": [str(label) for label in labels],
        "n": n,
        "accuracy": float(np.trace(cm) / n),
        "macro_f1": float(f1.mean()),
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
    _, _, f1, _ = _per_class(confusion_counts(y_true, y_pred, labels))
    return float(f1.mean())


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
