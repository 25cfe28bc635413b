"""Evaluate a classifier on labelled sentences: predictions table and metrics dict.

Shared by ``stance-train`` and ``stance-evaluate`` so both report exactly the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from stance.data.model_input import inputs_of
from stance.evaluation.bias import gold_vs_pred_by_source
from stance.evaluation.bootstrap import cluster_bootstrap_counts
from stance.metrics import (
    accuracy_from_confusion,
    classification_metrics,
    confusion_by_cluster,
    expected_calibration_error,
    macro_f1_from_confusion,
    reliability_curve,
)
from stance.models.base import StanceClassifier
from stance.scheme import Scheme

PRED_COLUMNS: tuple[str, ...] = (
    "sentence_id", "article_id", "source", "text", "input", "attributed", "speaker_side", "label",
)


def predict_frame(model: StanceClassifier, sentences: pd.DataFrame) -> pd.DataFrame:
    """Predictions for a sentence table: its id columns, gold ``label``, ``pred`` and ``proba_<label>``.

    The model reads the table's ``input`` column (:func:`stance.data.model_input.inputs_of`),
    composed when the dataset was built; a caller evaluating a model on a dataset built with
    other input settings recomposes it first (``stance-evaluate`` does, with
    :func:`stance.data.model_input.with_model_inputs`).
    """
    keep = [c for c in PRED_COLUMNS if c in sentences.columns]
    out = sentences[keep].reset_index(drop=True).copy()
    proba = model.predict_proba(inputs_of(sentences))
    out["pred"] = model.classes_[proba.argmax(axis=1)] if len(out) else []
    for i, c in enumerate(model.classes_):
        out[f"proba_{c}"] = proba[:, i] if len(out) else []
    return out


def proba_matrix(pred: pd.DataFrame, labels: Sequence[str]) -> np.ndarray:
    """The ``proba_<label>`` columns of a predictions table as an array ordered by ``labels``."""
    return pred[[f"proba_{c}" for c in labels]].to_numpy(dtype=np.float64)


def metrics_of(pred: pd.DataFrame, labels: Sequence[str], n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Headline and per-class metrics, calibration and a cluster-bootstrap CI (over articles)
    of macro-F1 and accuracy, for a predictions table with gold ``label`` and ``pred``."""
    labels = list(labels)
    y, p = pred["label"].to_numpy(), pred["pred"].to_numpy()
    out = classification_metrics(y, p, labels)
    proba = proba_matrix(pred, labels)
    y_idx = np.array([labels.index(v) for v in y])
    out["ece"] = expected_calibration_error(y_idx, proba)
    out["reliability"] = reliability_curve(y_idx, proba)
    counts = confusion_by_cluster(y, p, pred["article_id"].tolist(), labels)
    out["macro_f1_ci"] = cluster_bootstrap_counts(counts, macro_f1_from_confusion, n_boot=n_boot, seed=seed).to_dict()
    out["accuracy_ci"] = cluster_bootstrap_counts(counts, accuracy_from_confusion, n_boot=n_boot, seed=seed).to_dict()
    out["n_articles"] = int(pred["article_id"].nunique())
    return out


def per_source_table(pred: pd.DataFrame, scheme: Scheme) -> pd.DataFrame:
    """Per-source macro-F1, label-distribution error and (with poles) gold and predicted slant."""
    return gold_vs_pred_by_source(pred, scheme, gold_col="label", pred_col="pred")
