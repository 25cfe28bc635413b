"""One training run, as a plain function of a resolved config (tests call it directly)."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

import stance
from stance.data.build import BuildResult, write_dataset
from stance.data.from_config import build_from_config, scheme_from_config
from stance.errors import ConfigError, InputError
from stance.evaluation.evaluate import metrics_of, per_source_table, predict_frame
from stance.jsonio import write_json
from stance.models.base import StanceClassifier
from stance.models.card import write_model_card
from stance.resources import legacy_scheme
from stance.scheme import Scheme, check_same_scheme

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
    """

    n_boot: int = 1000
    save_predictions: bool = True
    min_sentences: int = 30
    min_articles: int = 3


def load_sentences(cfg: DictConfig, run_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Labelled sentences with a ``split`` column, plus facts about the data (fingerprint,
    labels and the resolved :class:`~stance.scheme.Scheme` under ``"scheme"``)."""
    wanted = scheme_from_config(cfg.get("scheme"))
    if cfg.get("dataset_dir"):
        d = Path(cfg.dataset_dir)
        if not (d / "sentences.parquet").is_file():
            raise InputError(
                "not a stance-build dataset folder (no sentences.parquet)",
                path=d,
                hint="point dataset_dir at the dataset/ folder that stance-build wrote",
            )
        df = pd.read_parquet(d / "sentences.parquet")
        report = json.loads((d / "build_report.json").read_text())
        scheme = Scheme.from_dict(report["scheme"]) if report.get("scheme") else legacy_scheme(report["labels"])
        if wanted.resolved:
            check_same_scheme(wanted, scheme, "the configured scheme", f"the dataset {d}")
        info = {"fingerprint": report["fingerprint"], "dataset_dir": str(d)}
    else:
        result: BuildResult = build_from_config(cfg.data, scheme=wanted)
        write_dataset(result, run_dir / "dataset")
        df = result.sentences
        scheme = result.scheme
        info = {"fingerprint": result.fingerprint(), "dataset_dir": str(run_dir / "dataset")}
    df = df[df["duplicate_of"].isna()].copy()
    return df, {**info, "labels": scheme.label_list, "scheme": scheme}


def _split(df: pd.DataFrame, name: str) -> pd.DataFrame:
    return df[(df["split"] == name) & df["label"].notna()].reset_index(drop=True)


def train(cfg: DictConfig) -> float:
    """Fit, evaluate and save one classifier; return ``cfg.optimized_metric``.

    The run directory (``cfg.run_dir``) receives: ``config.yaml`` (resolved), ``dataset/``,
    ``model/`` (manifest, weights, model card), ``metrics.json``, ``predictions_<split>.parquet``,
    ``run_info.json`` and the Hydra log.
    """
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    settings: TrainerSettings = instantiate(cfg.trainer)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    df, data_info = load_sentences(cfg, run_dir)
    label_mode = cfg.data.get("labels", "gold")
    if label_mode not in ("gold", "weak", "gold+weak"):
        raise ConfigError(f"data.labels={label_mode!r}: expected gold, weak or gold+weak")
    if label_mode != "gold":
        from stance.weak.training_labels import apply_label_mode

        df = apply_label_mode(df, label_mode, cfg)
    model: StanceClassifier = instantiate(cfg.model.classifier, _convert_="all")
    scheme: Scheme = data_info["scheme"]
    labels = scheme.label_list
    parts = {s: _split(df, s) for s in SPLITS}
    for s in ("train", "test"):
        if parts[s].empty:
            raise InputError(
                f"the {s} split is empty",
                hint="check the split settings (data.split) and that gold labels match the corpus",
            )
    log.info("training %s on %d sentences (validation %d, test %d)", cfg.model.name,
             len(parts["train"]), len(parts["validation"]), len(parts["test"]))
    val = parts["validation"]
    n_train_labels = parts["train"]["label"].nunique()
    if n_train_labels < 2:
        raise InputError(
            f"the training split has a single label ({parts['train']['label'].iloc[0]!r}): a classifier "
            "needs at least two", hint="check the labels and the split settings (data.split)",
        )
    model.fit(parts["train"]["text"].tolist(), parts["train"]["label"].tolist(),
              val["text"].tolist(), val["label"].tolist(), scheme=scheme)

    metrics: dict[str, Any] = {"model": cfg.model.name, "seed": int(cfg.seed),
                               "train_seconds": model.metadata_["train_seconds"],
                               "n_train": len(parts["train"])}
    tables = {}
    for s in ("validation", "test"):
        if parts[s].empty:
            continue
        pred = predict_frame(model, parts[s])
        metrics[s] = metrics_of(pred, labels, n_boot=settings.n_boot, seed=int(cfg.seed))
        metrics[s]["per_source"] = per_source_table(pred, scheme).to_dict(orient="records")
        tables[s] = pred
        if settings.save_predictions:
            pred.to_parquet(run_dir / f"predictions_{s}.parquet", index=False)
    # save model atomically, then its size
    tmp = Path(tempfile.mkdtemp(prefix=".model-", dir=run_dir))
    extra = {
        "data_fingerprint": data_info["fingerprint"],
        "config": OmegaConf.to_container(cfg, resolve=True),
        "validation_confusion_matrix": metrics.get("validation", {}).get("confusion_matrix"),
    }
    model.save(tmp, extra=extra)
    write_model_card(tmp, model, metrics, data_info, cfg)
    final = run_dir / "model"
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    metrics["model_size_bytes"] = sum(f.stat().st_size for f in final.rglob("*") if f.is_file())
    write_json(run_dir / "metrics.json", metrics)
    write_json(run_dir / "run_info.json", {
        "package_version": stance.__version__, "labels": labels, "scheme": scheme.to_dict(),
        "seed": int(cfg.seed),
        "data_fingerprint": data_info["fingerprint"], "dataset_dir": data_info["dataset_dir"],
        "model": cfg.model.name, "model_dir": str(final),
    })
    for s in ("validation", "test"):
        if s in metrics:
            ci = metrics[s]["macro_f1_ci"]
            log.info("%s macro-F1 %.3f [%.3f, %.3f]", s, metrics[s]["macro_f1"], ci["low"], ci["high"])
    return _lookup(metrics, cfg.optimized_metric)


def _lookup(metrics: dict[str, Any], dotted: str) -> float:
    node: Any = metrics
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"optimized_metric={dotted!r} is not in metrics.json")
        node = node[key]
    return float(node) if np.isscalar(node) else float("nan")
