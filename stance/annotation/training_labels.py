"""Weak labels for training: LFs + aggregator from config, and ``apply_label_mode``.

Which LFs: the config node ``cfg.annotation`` (the Hydra group ``configs/annotation/``, selected by
``- annotation: default`` in ``train.yaml`` / ``label.yaml``; each option file carries
``# @package annotation``). A config without that node (an older ``train.yaml``, a config
built by hand in Python) falls back to the packaged ``configs/annotation/default.yaml``, resolved
against the same root config so that ``${data.attribution.actors}`` still finds the run's
gazetteer. The node has the keys ``lfs`` (name -> Hydra node of an LF; ``null`` drops one),
``aggregator`` (a Hydra node of :class:`~stance.annotation.aggregate.MajorityVote` or
:class:`~stance.annotation.aggregate.DawidSkene`, or the name of one of ``aggregators``) and
optionally ``aggregators`` (name -> Hydra node), so ``annotation.aggregator=dawid_skene``
switches the aggregator from the command line.

Leakage rules: weak labels are computed for the train and validation splits only; test rows
are never passed to an LF, to an LF's ``fit`` (prototypes come from TRAIN gold only) or to
the aggregator's ``fit``; the test split always keeps its gold labels.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from stance.annotation.aggregate import Aggregator
from stance.annotation.analysis import lf_analysis
from stance.annotation.lfs import LabelingFunction, apply_lfs
from stance.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = [
    "LABEL_MODES",
    "WeakLabeler",
    "WeakLabels",
    "apply_label_mode",
    "labeler_from_config",
    "labels_config",
]

LABEL_MODES = ("gold", "weak", "gold+weak")
WEAK_SPLITS = ("train", "validation")


def labels_config(cfg: DictConfig) -> DictConfig:
    """The LF config node of a composed config (``cfg.annotation``, from the ``labels`` group)."""
    node = cfg.get("annotation") if cfg is not None else None
    if node is None:
        raise ConfigError("no labelling functions configured: the config has no annotation "
                          "(select a file of configs/annotation/, e.g. annotation=default)")
    return node


def labeler_from_config(node: DictConfig | dict[str, Any]) -> WeakLabeler:
    """Instantiate the LFs (``node.lfs``; the key is the LF name) and the aggregator."""
    if not isinstance(node, DictConfig):
        node = OmegaConf.create(node)
    if not node.get("lfs"):
        raise ConfigError("annotation.lfs is empty: configure at least one labelling function")
    lfs = []
    for name, lf_node in node.lfs.items():
        if lf_node is None:
            continue
        try:
            lf = instantiate(lf_node, name=str(name), _convert_="all")
        except Exception as e:  # noqa: BLE001 - report which LF failed to build
            raise ConfigError(f"annotation.lfs.{name}: cannot build the labelling function: {e}") from e
        if not callable(lf):
            raise ConfigError(f"annotation.lfs.{name} is not callable (got {type(lf).__name__})")
        lfs.append(lf)
    agg_node = node.get("aggregator")
    if isinstance(agg_node, str):
        choices = node.get("aggregators") or {}
        if agg_node not in choices:
            raise ConfigError(f"annotation.aggregator={agg_node!r} is not one of annotation.aggregators "
                              f"({', '.join(choices) or 'none defined'})")
        agg_node = choices[agg_node]
    if not agg_node:
        raise ConfigError("annotation.aggregator is not set: name one of annotation.aggregators")
    return WeakLabeler(lfs, instantiate(agg_node, _convert_="all"))


@dataclass
class WeakLabels:
    """LF votes and aggregated weak labels for a set of sentences (index of the input)."""

    votes: pd.DataFrame
    labels: pd.Series  # object: label or None (abstain)
    proba: np.ndarray
    label_set: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def frame(self, sentences: pd.DataFrame) -> pd.DataFrame:
        """Id columns of ``sentences`` + ``weak_label``, ``weak_proba_<label>``, ``vote_<lf>``."""
        keep = [c for c in ("sentence_id", "article_id", "source", "index", "split", "text", "label")
                if c in sentences.columns]
        out = sentences.loc[self.votes.index, keep].copy()
        if "label" in out:
            out = out.rename(columns={"label": "gold_label"})
        out["weak_label"] = self.labels
        for i, lab in enumerate(self.label_set):
            out[f"weak_proba_{lab}"] = self.proba[:, i]
        for c in self.votes.columns:
            out[f"vote_{c}"] = self.votes[c]
        return out


class WeakLabeler:
    """LFs plus an aggregator; fitted on training rows, then applied to any rows.

    Args:
        lfs: labelling functions (unique ``name``s).
        aggregator: combines votes into the scheme's labels (e.g. :class:`MajorityVote`).
    """

    def __init__(self, lfs: Sequence[LabelingFunction], aggregator: Aggregator) -> None:
        self.lfs = list(lfs)
        self.aggregator = aggregator

    @property
    def names(self) -> list[str]:
        return [lf.name for lf in self.lfs]

    def fit(self, sentences: pd.DataFrame) -> WeakLabeler:
        """Fit LFs that need it (on TRAIN rows) and the aggregator (on non-test rows' votes).

        Rows of the test split are dropped before anything sees them.
        """
        fit_rows = _non_test(sentences)
        for lf in self.lfs:
            fit = getattr(lf, "fit", None)
            if callable(fit):
                fit(fit_rows)
        self.aggregator.fit(apply_lfs(self.lfs, fit_rows))
        self.fitted_ = True
        return self

    def apply(self, sentences: pd.DataFrame) -> WeakLabels:
        """Votes and weak labels of ``sentences`` (call :meth:`fit` first)."""
        votes = apply_lfs(self.lfs, sentences)
        return self._aggregate(votes)

    def fit_apply(self, sentences: pd.DataFrame) -> WeakLabels:
        """:meth:`fit` on ``sentences`` (test rows excluded) and :meth:`apply` to all of them,
        computing the votes once."""
        fit_rows = _non_test(sentences)
        for lf in self.lfs:
            fit = getattr(lf, "fit", None)
            if callable(fit):
                fit(fit_rows)
        votes = apply_lfs(self.lfs, sentences)
        self.aggregator.fit(votes.loc[fit_rows.index])
        self.fitted_ = True
        return self._aggregate(votes)

    def _aggregate(self, votes: pd.DataFrame) -> WeakLabels:
        labels = pd.Series(self.aggregator.predict(votes), index=votes.index, dtype=object)
        proba = self.aggregator.predict_proba(votes)
        extra = self.aggregator.describe() if hasattr(self.aggregator, "describe") else {}
        return WeakLabels(votes, labels, proba, tuple(self.aggregator.labels), extra)


def _non_test(sentences: pd.DataFrame) -> pd.DataFrame:
    if "split" not in sentences.columns:
        return sentences
    return sentences[sentences["split"] != "test"]


def apply_label_mode(df: pd.DataFrame, mode: str, cfg: DictConfig) -> pd.DataFrame:
    """Training labels for ``data.labels=mode``; the test split always keeps gold.

    * ``gold``: ``df`` unchanged.
    * ``weak``: train/validation labels are replaced by weak labels; rows where the
      aggregate abstains are dropped (counted per split and logged). Validation metrics
      (early stopping, calibration, ``validation`` in metrics.json) are then measured
      against weak labels; only the test split measures against gold.
    * ``gold+weak``: gold where present, else the weak label; rows with neither are dropped.

    LFs come from ``cfg.annotation`` (the ``labels`` config group). Adds
    ``gold_label`` (the original gold) and ``label_source`` (``gold``/``weak``) columns. When
    ``cfg.run_dir`` is set, writes ``weak_labels.parquet`` and ``weak_label_analysis.csv``
    there.
    """
    if mode == "gold":
        return df
    if mode not in LABEL_MODES:
        raise ConfigError(f"data.labels={mode!r}: expected one of {', '.join(LABEL_MODES)}")
    if "split" not in df.columns:
        raise ConfigError("apply_label_mode needs a 'split' column (train/validation/test)")
    labeler = labeler_from_config(labels_config(cfg))
    cand = df[df["split"].isin(WEAK_SPLITS)]
    if "duplicate_of" in cand.columns:
        cand = cand[cand["duplicate_of"].isna()]
    wl = labeler.fit_apply(cand)
    out = df.copy()
    out["gold_label"] = df["label"]
    out["label_source"] = np.where(df["label"].notna(), "gold", None)
    idx = wl.labels.index
    weak = wl.labels
    if mode == "weak":
        out.loc[idx, "label"] = weak
        out.loc[idx, "label_source"] = np.where(weak.notna(), "weak", None)
    else:  # gold+weak
        fill = idx[out.loc[idx, "label"].isna().to_numpy() & weak.notna().to_numpy()]
        out.loc[fill, "label"] = weak.loc[fill]
        out.loc[fill, "label_source"] = "weak"
    in_weak = out["split"].isin(WEAK_SPLITS)
    dropped = in_weak & out["label"].isna()
    counts = {}
    for split in WEAK_SPLITS:
        part = out[out["split"] == split]
        n_drop = int(dropped[out["split"] == split].sum())
        n_weak = int((part["label_source"] == "weak").sum())
        counts[split] = {"rows": len(part), "weak_labels": n_weak, "dropped_no_label": n_drop}
        log.info("data.labels=%s: %s split: %d rows, %d weak labels, %d dropped (aggregate abstained)",
                 mode, split, len(part), n_weak, n_drop)
    gold_rows = idx[df.loc[idx, "label"].notna().to_numpy() & weak.notna().to_numpy()]
    if len(gold_rows):
        agree = float((df.loc[gold_rows, "label"] == weak.loc[gold_rows]).mean())
        log.info("weak labels agree with gold on %.3f of %d train/validation sentences that have both",
                 agree, len(gold_rows))
    out = out[~dropped].copy()
    _write_artifacts(cfg, df, wl, mode, counts)
    return out


def _write_artifacts(cfg: DictConfig | None, df: pd.DataFrame, wl: WeakLabels, mode: str,
                     counts: dict[str, Any]) -> None:
    if cfg is None:
        return
    try:
        run_dir = cfg.get("run_dir")
    except Exception:  # noqa: BLE001 - ${hydra:...} outside a Hydra run
        return
    if not run_dir:
        return
    d = Path(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    wl.frame(df).to_parquet(d / "weak_labels.parquet", index=False)
    gold = df.loc[wl.votes.index, "label"]
    table = lf_analysis(wl.votes, gold, {"aggregate": wl.labels}, labels=wl.label_set)
    table.to_csv(d / "weak_label_analysis.csv", index=False)
    (d / "weak_label_counts.json").write_text(
        json.dumps({"mode": mode, "splits": counts, "aggregator": wl.extra}, indent=2, default=str)
    )
