"""One training run, as a plain function of a resolved config (tests call it directly)."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

import stance
from stance.atomic import atomic_dir, write_json_atomic
from stance.data.build import BuildResult, write_dataset
from stance.data.dataset_dir import read_dataset
from stance.data.from_config import build_from_config, scheme_from_config
from stance.data.model_input import inputs_of
from stance.errors import ConfigError, InputError
from stance.evaluation.evaluate import metrics_of, per_source_table, predict_frame
from stance.models.base import StanceClassifier
from stance.models.card import write_model_card
from stance.scheme import Scheme, check_same_scheme
from stance.training.cv import CVSettings, run_cv
from stance.training.tracking import Tracker

log = logging.getLogger(__name__)
SPLITS = ("train", "validation", "test")


@dataclass
class TrainerSettings:
    """Settings around fitting (config group ``trainer``).

    Args:
        n_boot: bootstrap resamples for confidence intervals.
        save_predictions: write validation/test predictions with probabilities.
        min_sentences: per-source minimum sentences for bias metrics.
        min_articles: per-source minimum articles for bias metrics.
        keep_checkpoints: keep the transformer's training checkpoints (``RUN_DIR/checkpoints``)
            after a run has finished; they are only needed to resume an interrupted run.
    """

    n_boot: int = 1000
    save_predictions: bool = True
    min_sentences: int = 30
    min_articles: int = 3
    keep_checkpoints: bool = False


def load_sentences(cfg: DictConfig, run_dir: Path, write: bool = True) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Labelled sentences with a ``split`` column, plus facts about the data (fingerprint,
    labels and the resolved :class:`~stance.scheme.Scheme` under ``"scheme"``)."""
    wanted = scheme_from_config(cfg.get("scheme"))
    if cfg.get("dataset_dir"):
        data = read_dataset(cfg.dataset_dir)
        if not data.report:
            raise InputError("not a stance-build dataset folder (no build_report.json beside the table)",
                             path=data.table, hint="point dataset_dir at the dataset/ folder that stance-build wrote")
        df, scheme = data.sentences, data.scheme
        if wanted.resolved:
            check_same_scheme(wanted, scheme, "the configured scheme", f"the dataset {data.table.parent}")
        info = {"fingerprint": data.fingerprint, "dataset_dir": str(data.table.parent),
                "preprocessing": data.preprocessing}
    else:
        result: BuildResult = build_from_config(cfg.data, scheme=wanted)
        if write:
            write_dataset(result, run_dir / "dataset")
        df = result.sentences
        scheme = result.scheme
        info = {"fingerprint": result.fingerprint(), "dataset_dir": str(run_dir / "dataset"),
                "preprocessing": result.preprocessing}
    df = df[df["duplicate_of"].isna()].copy()
    return df, {**info, "labels": scheme.label_list, "scheme": scheme}


def _split(df: pd.DataFrame, name: str) -> pd.DataFrame:
    return df[(df["split"] == name) & df["label"].notna()].reset_index(drop=True)


def train(cfg: DictConfig) -> float:
    """Fit, evaluate and save one classifier; return ``cfg.optimized_metric``.

    The run directory (``cfg.run_dir``) receives: ``config.yaml`` (resolved), ``dataset/``,
    ``model/`` (manifest, weights, model card), ``metrics.json``, ``predictions_<split>.parquet``,
    ``run_info.json`` and the Hydra log. With ``cv=article|source|source_group`` a grouped
    cross-validation over the train+validation sentences runs first and writes ``cv/``
    (:mod:`stance.training.cv`); ``cv.only=true`` stops there (no final model).
    """
    run_dir = Path(cfg.run_dir)
    main = is_main_process()
    run_dir.mkdir(parents=True, exist_ok=True)
    settings: TrainerSettings = instantiate(cfg.trainer)
    tracker: Tracker = instantiate(cfg.logger) if cfg.get("logger") else Tracker()
    cv: CVSettings = instantiate(cfg.cv, _convert_="all") if cfg.get("cv") else CVSettings()
    if cv.only and not str(cfg.optimized_metric).startswith("cv."):
        raise ConfigError(f"cv.only=true skips the final fit and its validation/test evaluation, so "
                          f"optimized_metric={cfg.optimized_metric} does not exist; set "
                          "optimized_metric=cv.macro_f1 (or another cv.<key> of metrics.json)")
    run_name = f"{cfg.model.name}-seed{cfg.seed}-{run_dir.name}"
    tracker.setup(run_name)
    if main:
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    df, data_info = load_sentences(cfg, run_dir, write=main)
    df = _apply_label_mode(df, cfg)
    model: StanceClassifier = instantiate(cfg.model.classifier, _convert_="all")
    _training_run_params(model, cfg, run_dir, run_name)
    scheme: Scheme = data_info["scheme"]
    parts = _check_parts({s: _split(df, s) for s in SPLITS}, cv.only)
    log.info("training %s on %d sentences (validation %d, test %d)", cfg.model.name,
             len(parts["train"]), len(parts["validation"]), len(parts["test"]))
    cv_summary = None
    if cv.enabled:
        cv_summary = run_cv(model, df, cv, scheme, run_dir, n_boot=settings.n_boot, seed=int(cfg.seed),
                            min_sentences=settings.min_sentences, min_articles=settings.min_articles,
                            main=main)
    run_info: dict[str, Any] = {
        "package_version": stance.__version__, "labels": scheme.label_list, "scheme": scheme.to_dict(),
        "seed": int(cfg.seed),
        "data_fingerprint": data_info["fingerprint"], "dataset_dir": data_info["dataset_dir"],
        "model": cfg.model.name,
    }
    if cv_summary is not None:
        run_info["cv"] = {"by": cv.by, "n_folds": cv_summary["n_folds"], "seed": int(cv.seed),
                          "only": cv.only, "dir": str(run_dir / "cv")}
    if cv.only:
        if not main:
            return float("nan")
        metrics_cv: dict[str, Any] = {"model": cfg.model.name, "seed": int(cfg.seed), "cv": cv_summary}
        write_json_atomic(run_dir / "metrics.json", metrics_cv)
        write_json_atomic(run_dir / "run_info.json", {**run_info, "model_dir": None})
        tracker.log_final(metrics_cv, _flat_params(cfg), run_name)
        return _lookup(metrics_cv, cfg.optimized_metric)

    val = parts["validation"]
    model.fit(inputs_of(parts["train"]), parts["train"]["label"].tolist(),
              inputs_of(val), val["label"].tolist(), scheme=scheme)
    if not main:  # another process of a multi-process run: the main process evaluates and saves
        return float("nan")

    metrics: dict[str, Any] = {"model": cfg.model.name, "seed": int(cfg.seed),
                               "train_seconds": model.metadata_["train_seconds"],
                               "n_train": len(parts["train"])}
    if cv_summary is not None:
        metrics["cv"] = cv_summary
    metrics.update(_evaluate_splits(model, parts, scheme, settings, run_dir, int(cfg.seed)))
    final = _save_model(model, run_dir, metrics, data_info, cfg)
    metrics["model_size_bytes"] = sum(f.stat().st_size for f in final.rglob("*") if f.is_file())
    write_json_atomic(run_dir / "metrics.json", metrics)
    write_json_atomic(run_dir / "run_info.json", {**run_info, "model_dir": str(final)})
    tracker.log_final(metrics, _flat_params(cfg), run_name)
    if not settings.keep_checkpoints:
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    for s in ("validation", "test"):
        if s in metrics:
            ci = metrics[s]["macro_f1_ci"]
            log.info("%s macro-F1 %.3f [%.3f, %.3f]", s, metrics[s]["macro_f1"], ci["low"], ci["high"])
    return _lookup(metrics, cfg.optimized_metric)


def _apply_label_mode(df: pd.DataFrame, cfg: DictConfig) -> pd.DataFrame:
    """The labels to train on: gold as built, or weak / gold+weak from the labelling functions."""
    label_mode = cfg.data.get("labels", "gold")
    if label_mode not in ("gold", "weak", "gold+weak"):
        raise ConfigError(f"data.labels={label_mode!r}: expected gold, weak or gold+weak")
    if label_mode == "gold":
        return df
    from stance.annotation.training_labels import apply_label_mode

    return apply_label_mode(df, label_mode, cfg)


def _check_parts(parts: dict[str, pd.DataFrame], cv_only: bool) -> dict[str, pd.DataFrame]:
    """The splits, refused when a needed one is empty or training has a single label."""
    for s in ("train",) if cv_only else ("train", "test"):
        if parts[s].empty:
            raise InputError(
                f"the {s} split is empty",
                hint="check the split settings (data.split) and that gold labels match the corpus",
            )
    if parts["train"]["label"].nunique() < 2:
        raise InputError(
            f"the training split has a single label ({parts['train']['label'].iloc[0]!r}): a classifier "
            "needs at least two", hint="check the labels and the split settings (data.split)",
        )
    return parts


def _evaluate_splits(model: StanceClassifier, parts: dict[str, pd.DataFrame], scheme: Scheme,
                     settings: TrainerSettings, run_dir: Path, seed: int) -> dict[str, Any]:
    """Validation and test metrics (with per-source tables); predictions files when asked."""
    out: dict[str, Any] = {}
    for s in ("validation", "test"):
        if parts[s].empty:
            continue
        pred = predict_frame(model, parts[s])
        out[s] = metrics_of(pred, scheme.label_list, n_boot=settings.n_boot, seed=seed)
        out[s]["per_source"] = per_source_table(pred, scheme).to_dict(orient="records")
        if settings.save_predictions:
            pred.to_parquet(run_dir / f"predictions_{s}.parquet", index=False)
    return out


def _save_model(model: StanceClassifier, run_dir: Path, metrics: dict[str, Any], data_info: dict[str, Any],
                cfg: DictConfig) -> Path:
    """``RUN_DIR/model`` written atomically (weights, manifest, model card)."""
    extra = {
        "data_fingerprint": data_info["fingerprint"],
        "config": OmegaConf.to_container(cfg, resolve=True),
        "validation_confusion_matrix": metrics.get("validation", {}).get("confusion_matrix"),
        "preprocessing": data_info.get("preprocessing"),
    }
    final = run_dir / "model"
    with atomic_dir(final) as tmp:
        model.save(tmp, extra=extra)
        write_model_card(tmp, model, metrics, data_info, cfg)
    return final


def is_main_process() -> bool:
    """False in the non-zero ranks of a multi-process run (``torchrun``, ``accelerate launch``)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return True
    from accelerate import PartialState

    return PartialState().is_main_process


def _training_run_params(model: StanceClassifier, cfg: DictConfig, run_dir: Path, run_name: str) -> None:
    """Point a model that checkpoints (the transformer) at ``RUN_DIR/checkpoints`` and apply
    ``resume`` / ``ckpt_path``."""
    params = model.get_params()
    resume = cfg.get("ckpt_path") or bool(cfg.get("resume"))
    if "checkpoint_dir" not in params:
        if resume:
            raise ConfigError(f"resume / ckpt_path apply to models that checkpoint (transformers); "
                              f"model {cfg.model.name!r} trains in one go")
        return
    ckpt = run_dir / "checkpoints"
    from stance.models.hf_training import latest_checkpoint

    if resume is True and latest_checkpoint(ckpt) is None:
        raise ConfigError(f"resume=true but {ckpt} holds no checkpoint (fix: give the interrupted run's "
                          "hydra.run.dir, or ckpt_path=DIR)")
    if cfg.get("ckpt_path") and not Path(cfg.ckpt_path).is_dir():
        raise ConfigError(f"ckpt_path={cfg.ckpt_path} is not a checkpoint folder")
    model.set_params(checkpoint_dir=params.get("checkpoint_dir") or str(ckpt),
                     run_name=params.get("run_name") or run_name,
                     resume_from_checkpoint=str(cfg.ckpt_path) if cfg.get("ckpt_path") else (resume or None))


def _flat_params(cfg: DictConfig) -> dict[str, Any]:
    """Model and data settings as flat ``key: value`` pairs (tracker parameters)."""
    out: dict[str, Any] = {"model": cfg.model.name, "seed": cfg.seed, "data": cfg.data.get("name"),
                           "scheme": cfg.get("scheme", {}).get("name") if cfg.get("scheme") else None}
    for k, v in OmegaConf.to_container(cfg.model.classifier, resolve=True).items():  # type: ignore[union-attr]
        if not k.startswith("_") and not isinstance(v, (dict, list)):
            out[f"model.{k}"] = v
    return out


def _lookup(metrics: dict[str, Any], dotted: str) -> float:
    node: Any = metrics
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"optimized_metric={dotted!r} is not in metrics.json")
        node = node[key]
    return float(node) if np.isscalar(node) else float("nan")
