"""Grouped cross-validation inside ``stance-train`` (config group ``cv``).

The train+validation sentences (never the test split) are cut into folds of whole articles,
outlets or outlet groups (:mod:`stance.data.folds`). Per fold, a clone of the configured
classifier (``sklearn.base.clone``) is fitted on the other folds and predicts the held-out one,
so every labelled train/validation sentence gets exactly one out-of-fold (OOF) prediction from a
model that never saw its article (or outlet). A model that uses validation data while fitting
(:attr:`~stance.models.base.StanceClassifier.uses_validation`: the transformer's early stopping,
best-epoch choice and temperature calibration) gets an inner validation set of whole *articles*
drawn from the training folds (``cv.inner_val_fraction``); it is never the held-out fold. Models
that ignore validation data (TF-IDF) are fitted on all the training folds.

Outputs (``RUN_DIR/cv/``): ``oof_predictions.parquet`` (the columns of
``predictions_<split>.parquet`` plus ``fold``; ``label`` is the gold label), ``folds.json``
(fold -> held-out groups) and ``metrics.json`` (per-fold and pooled metrics with
article-cluster bootstrap CIs, per-source slant error).
"""

from __future__ import annotations

import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.base import clone

from stance.atomic import write_json_atomic
from stance.data.folds import CV_MODES, Folds, inner_split, make_folds
from stance.data.model_input import inputs_of
from stance.errors import ConfigError, InputError
from stance.evaluation.bias import gold_vs_pred_by_source
from stance.evaluation.evaluate import metrics_of, per_source_table, predict_frame
from stance.metrics import classification_metrics
from stance.models.base import StanceClassifier
from stance.scheme import Scheme

log = logging.getLogger(__name__)

__all__ = ["CVSettings", "cross_validate", "cv_metrics", "run_cv", "slant_error_summary"]

POOL_SPLITS = ("train", "validation")
OOF_FILE = "oof_predictions.parquet"


@dataclass
class CVSettings:
    """Grouped cross-validation settings (config group ``cv``).

    Args:
        by: ``none`` (no cross-validation), ``article`` (k folds of whole articles), ``source``
            (k folds of whole outlets) or ``source_group`` (leave one outlet group out).
        k: number of folds for ``article`` / ``source``; ``null`` = one fold per article or
            outlet. Not used by ``source_group`` (one fold per group).
        column: ``source_group``: a column of the sentence table holding each sentence's group.
        groups: ``source_group``: instead of ``column``, a mapping source -> group, or group ->
            list of sources (the form a command line can write).
        stratify: balance label shares across folds (``StratifiedGroupKFold``).
        inner_val_fraction: share of the training folds' articles given as validation data to a
            model that uses it (the transformer); 0 = none.
        only: run the cross-validation only: no final fit on the train split, no saved model,
            no validation/test evaluation (``optimized_metric`` must then be a ``cv.`` key).
        seed: seeds the fold assignment and the inner validation draw.
    """

    by: str = "none"
    k: int | None = 5
    column: str | None = None
    groups: dict[str, str] | dict[str, list[str]] | None = None
    stratify: bool = True
    inner_val_fraction: float = 0.15
    only: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.by not in ("none", *CV_MODES):
            raise ConfigError(f"cv.by={self.by!r} is not one of none, {', '.join(CV_MODES)}")
        if not 0 <= float(self.inner_val_fraction) < 1:
            raise ConfigError(f"cv.inner_val_fraction={self.inner_val_fraction} must be in [0, 1)")
        if self.only and self.by == "none":
            raise ConfigError("cv.only=true needs a cross-validation mode (cv=article|source|source_group)")

    @property
    def enabled(self) -> bool:
        return self.by != "none"


def cv_pool(df: pd.DataFrame) -> pd.DataFrame:
    """The sentences cross-validation runs over: labelled train and validation sentences."""
    return df[df["split"].isin(POOL_SPLITS) & df["label"].notna()].reset_index(drop=True)


def _fold_model(model: StanceClassifier, i: int, run_dir: Path | None) -> tuple[StanceClassifier, Path | None]:
    """An unfitted clone for fold ``i``; a model that checkpoints gets its own folder (removed
    after the fold: folds are not resumable) and never resumes the main run's checkpoint."""
    est = clone(model)
    params = est.get_params()
    ckpt = None
    if "checkpoint_dir" in params:
        ckpt = run_dir / "cv" / "checkpoints" / f"fold-{i}" if run_dir is not None else None
        est.set_params(checkpoint_dir=str(ckpt) if ckpt else None, resume_from_checkpoint=None,
                       **({"run_name": f"{params['run_name']}-cv{i}"} if params.get("run_name") else {}))
    return est, ckpt


def cross_validate(
    model: StanceClassifier,
    pool: pd.DataFrame,
    folds: Folds,
    scheme: Scheme,
    inner_val_fraction: float = 0.15,
    seed: int = 0,
    run_dir: Path | None = None,
    predict: bool = True,
) -> pd.DataFrame:
    """Fit a clone of ``model`` per fold on the other folds and predict the held-out fold.

    Returns the out-of-fold predictions (:func:`~stance.evaluation.evaluate.predict_frame`
    columns plus ``fold``), one row per row of ``pool``. With training labels that are not gold
    (``pool`` has ``gold_label``: data.labels=weak|gold+weak), ``label`` is the gold label (NaN
    where there is none) and ``train_label`` the label trained on; the pool then holds only the
    sentences with a training label (those where the weak labels abstained were dropped), so the
    scores cover the sentences the labelling functions label. ``predict=False`` (the other
    processes of a multi-process launch) fits without predicting and returns an empty frame.
    """
    out = []
    use_val = bool(getattr(model, "uses_validation", False)) and inner_val_fraction > 0
    for i, train_rows, test_rows in folds.split():
        est, ckpt = _fold_model(model, i, run_dir)
        fit_part = pool.iloc[train_rows]
        val_part = fit_part.iloc[:0]
        if use_val:
            fit_rows, val_rows = inner_split(fit_part, inner_val_fraction, seed=seed + i)
            fit_part, val_part = fit_part.iloc[fit_rows], fit_part.iloc[val_rows]
        if fit_part["label"].nunique() < 2:
            raise InputError(f"cv fold {i}: the training folds hold a single label "
                             f"({fit_part['label'].iloc[0]!r}); use fewer folds or another cv mode")
        held = folds.held_out(i)
        log.info("cv fold %d/%d: holding out %d %s(s) (%d sentences: %s); fitting on %d sentences%s",
                 i + 1, folds.n_folds, len(held), folds.by.replace("_", " "), len(test_rows),
                 ", ".join(held[:3]) + (", ..." if len(held) > 3 else ""), len(fit_part),
                 f" (inner validation {len(val_part)})" if use_val else "")
        try:
            est.fit(inputs_of(fit_part), fit_part["label"].tolist(),
                    inputs_of(val_part) or None, val_part["label"].tolist() or None, scheme=scheme)
        finally:
            if ckpt is not None:
                shutil.rmtree(ckpt, ignore_errors=True)
        if not predict:
            continue
        pred = predict_frame(est, pool.iloc[test_rows])
        pred.insert(pred.columns.get_loc("label") + 1 if "label" in pred.columns else len(pred.columns),
                    "fold", i)
        if "gold_label" in pool.columns:
            pred["train_label"] = pred["label"]
            pred["label"] = pool["gold_label"].iloc[test_rows].to_numpy()
        if folds.by == "source_group":
            pred["group"] = folds.group[test_rows]
        scored = pred[pred["label"].notna()]
        if len(scored):
            f1 = classification_metrics(scored["label"], scored["pred"], scheme.label_list)["macro_f1"]
            log.info("cv fold %d/%d: macro-F1 %.3f on %d sentences", i + 1, folds.n_folds, f1, len(scored))
        out.append(pred)
    if not predict:
        return pd.DataFrame()
    return pd.concat(out, ignore_index=True)


def _finite(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _slant_stats(table: pd.DataFrame) -> dict[str, Any]:
    """Mean absolute slant error and Spearman correlation of predicted with gold slant."""
    t = table.dropna(subset=["gold_slant", "pred_slant"])
    out: dict[str, Any] = {"n_sources": len(t), "mean_abs_slant_error": None, "spearman": None,
                           "spearman_p": None}
    if len(t):
        out["mean_abs_slant_error"] = float(np.mean(np.abs(t["pred_slant"] - t["gold_slant"])))
    if len(t) >= 3 and t["gold_slant"].nunique() > 1 and t["pred_slant"].nunique() > 1:
        res = spearmanr(t["gold_slant"], t["pred_slant"])
        out["spearman"], out["spearman_p"] = _finite(res.statistic), _finite(res.pvalue)
    return out


def slant_error_summary(pred: pd.DataFrame, scheme: Scheme, min_sentences: int = 30,
                        min_articles: int = 3) -> dict[str, Any]:
    """Per-source predicted vs gold slant (:func:`~stance.evaluation.bias.gold_vs_pred_by_source`)
    and, across sources, the mean absolute slant error and the Spearman rank correlation
    (``scipy.stats.spearmanr``; at least 3 sources), over the sources with at least
    ``min_sentences`` sentences and ``min_articles`` articles (``supported``) and over all."""
    if not scheme.has_slant:
        return {"available": False, "reason": f"scheme {scheme.name!r} has no poles: it defines no slant"}
    table = gold_vs_pred_by_source(pred, scheme, gold_col="label", pred_col="pred")
    n_art = pred.groupby("source")["article_id"].nunique()
    table["n_articles"] = table["source"].map(n_art).astype(int)
    table["low_support"] = (table["n"] < min_sentences) | (table["n_articles"] < min_articles)
    cols = ["source", "n", "n_articles", "gold_slant", "pred_slant", "slant_error", "low_support"]
    return {
        "available": True,
        "slant": scheme.slant_description(),
        "min_sentences": int(min_sentences), "min_articles": int(min_articles),
        "supported": _slant_stats(table[~table["low_support"]]),
        "all_sources": _slant_stats(table),
        "per_source": table[cols].to_dict(orient="records"),
    }


def cv_metrics(oof: pd.DataFrame, folds: Folds, scheme: Scheme, n_boot: int = 1000, seed: int = 0,
               min_sentences: int = 30, min_articles: int = 3) -> dict[str, Any]:
    """Per-fold metrics (macro-F1 and per-class F1 of :func:`stance.metrics.classification_metrics`,
    n), pooled OOF metrics (:func:`~stance.evaluation.evaluate.metrics_of`: article-cluster
    bootstrap CIs) with the per-source table, and the per-source slant error."""
    labels = scheme.label_list
    scored = oof[oof["label"].notna()].reset_index(drop=True)
    if scored.empty:
        raise InputError("cross-validation: no out-of-fold sentence has a gold label to score against")
    per_fold = []
    for i in range(folds.n_folds):
        part = scored[scored["fold"] == i]
        row: dict[str, Any] = {"fold": i, "held_out": folds.held_out(i), "n": len(part),
                               "n_articles": int(part["article_id"].nunique())}
        if len(part):
            m = classification_metrics(part["label"], part["pred"], labels)
            row.update(macro_f1=m["macro_f1"], accuracy=m["accuracy"],
                       per_class_f1={c: m["per_class"][c]["f1"] for c in labels},
                       support={c: m["per_class"][c]["support"] for c in labels})
        per_fold.append(row)
    f1s = np.array([r["macro_f1"] for r in per_fold if "macro_f1" in r])
    pooled = metrics_of(scored, labels, n_boot=n_boot, seed=seed)
    pooled["per_source"] = per_source_table(scored, scheme).to_dict(orient="records")
    return {
        "by": folds.by, "n_folds": folds.n_folds, "seed": folds.seed, "stratified": folds.stratified,
        "n_oof": len(oof), "n_scored": len(scored),
        "pooled": pooled,
        "fold_macro_f1": {"mean": float(f1s.mean()), "std": float(f1s.std(ddof=1)) if len(f1s) > 1 else None,
                          "min": float(f1s.min()), "max": float(f1s.max())},
        "folds": per_fold,
        "slant": slant_error_summary(scored, scheme, min_sentences, min_articles),
    }


def _clean(obj: Any) -> Any:
    """NaN / inf -> None, so the JSON files are strict JSON."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not math.isfinite(float(obj)):
        return None
    return obj


def summary_of(m: dict[str, Any]) -> dict[str, Any]:
    """The headline CV figures recorded in the run's ``metrics.json`` under ``cv``."""
    pooled, slant = m["pooled"], m["slant"]
    out = {"by": m["by"], "n_folds": m["n_folds"], "n": pooled["n"],
           "macro_f1": pooled["macro_f1"], "macro_f1_ci": pooled["macro_f1_ci"],
           "accuracy": pooled["accuracy"], "accuracy_ci": pooled["accuracy_ci"], "ece": pooled["ece"],
           "per_class_f1": {c: r["f1"] for c, r in pooled["per_class"].items()},
           "fold_macro_f1_mean": m["fold_macro_f1"]["mean"], "fold_macro_f1_std": m["fold_macro_f1"]["std"]}
    if slant.get("available"):
        out["slant_mae"] = slant["supported"]["mean_abs_slant_error"]
        out["slant_spearman"] = slant["supported"]["spearman"]
        out["slant_n_sources"] = slant["supported"]["n_sources"]
    return _clean(out)


def run_cv(
    model: StanceClassifier,
    df: pd.DataFrame,
    settings: CVSettings,
    scheme: Scheme,
    run_dir: Path,
    n_boot: int = 1000,
    seed: int = 0,
    min_sentences: int = 30,
    min_articles: int = 3,
    main: bool = True,
) -> dict[str, Any] | None:
    """Cross-validate ``model`` on the train+validation sentences of ``df`` and write
    ``RUN_DIR/cv/``; return the summary for ``metrics.json`` (None in a non-main process)."""
    pool = cv_pool(df)
    folds = make_folds(pool, settings.by, k=settings.k, seed=settings.seed, stratify=settings.stratify,
                       column=settings.column, mapping=settings.groups)
    log.info("cv=%s: %d folds over %d train+validation sentences (%d articles, %d sources); test split "
             "kept out", settings.by, folds.n_folds, len(pool), pool["article_id"].nunique(),
             pool["source"].nunique())
    oof = cross_validate(model, pool, folds, scheme, inner_val_fraction=settings.inner_val_fraction,
                         seed=settings.seed, run_dir=run_dir, predict=main)
    if not main:
        return None
    out = run_dir / "cv"
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    oof.to_parquet(out / OOF_FILE, index=False)
    info = folds.to_dict(pool["article_id"])
    info["inner_validation"] = {
        "used": bool(getattr(model, "uses_validation", False)) and settings.inner_val_fraction > 0,
        "fraction_of_articles": settings.inner_val_fraction, "grouped_by": "article",
    }
    if settings.by == "source_group":
        pairs = pd.DataFrame({"source": pool["source"].astype(str), "group": folds.group.astype(str)})
        info["sources_of_group"] = {g: sorted(p["source"].unique()) for g, p in pairs.groupby("group")}
        if settings.column:
            info["group_column"] = settings.column
        else:
            info["group_of_source"] = dict(sorted(zip(pairs["source"], pairs["group"], strict=True)))
    write_json_atomic(out / "folds.json", info)
    m = cv_metrics(oof, folds, scheme, n_boot=n_boot, seed=seed, min_sentences=min_sentences,
                   min_articles=min_articles)
    write_json_atomic(out / "metrics.json", _clean(m))
    summary = summary_of(m)
    ci = summary["macro_f1_ci"]
    log.info("cv=%s pooled out-of-fold macro-F1 %.3f [%.3f, %.3f] over %d sentences (%d folds)",
             settings.by, summary["macro_f1"], ci["low"], ci["high"], summary["n"], summary["n_folds"])
    if summary.get("slant_mae") is not None:
        log.info("cv=%s per-source slant: mean absolute error %.3f, Spearman %s over %d sources",
                 settings.by, summary["slant_mae"],
                 "n/a" if summary["slant_spearman"] is None else f"{summary['slant_spearman']:.3f}",
                 summary["slant_n_sources"])
    return summary
