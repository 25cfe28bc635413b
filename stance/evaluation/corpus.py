"""Statistics of a scored, unlabelled corpus: slant over time, evidence sentences, two models.

Pure functions on sentence frames (one row per scored sentence, the columns of a score
output's records: ``source``, ``article_id``, ``sentence_id``, ``text``, ``label``,
``proba_<label>``, ``attributed``, ``speaker_side``). Per-source tables come from
:func:`stance.evaluation.bias.source_bias_table`; every interval here is the article (cluster)
bootstrap of :mod:`stance.evaluation.bootstrap`, computed from per-article label counts so that
all the statistics of one group share the same draws.

* :func:`period_table`: per source and period (week by default), slant (or, without poles, the
  label shares) with intervals and the number of articles per point, plus an all-sources row;
* :func:`evidence_sentences`: per source, the highest-confidence sentences of chosen labels;
* :func:`align_outputs`, :func:`compare_labelings`, :func:`disagreement_sample`: two models'
  labels of the same sentences (their intersection), agreement, Cohen's kappa and the
  paired article bootstrap of each source's slant difference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stance.evaluation.bias import (
    _adjust,
    _check_confusion,
    _cluster_label_counts,
    _label_codes,
    corrected_source_table,
    source_bias_table,
)
from stance.evaluation.bootstrap import (
    check_boot_args,
    cluster_bootstrap_counts,
    multiplicity_matrix,
    paired_bootstrap_counts,
    percentile_interval,
)
from stance.metrics import cohen_kappa
from stance.scheme import Scheme

__all__ = [
    "ALL_SOURCES",
    "PeriodResult",
    "align_outputs",
    "check_period",
    "compare_labelings",
    "corrected_intervals",
    "disagreement_sample",
    "evidence_sentences",
    "period_table",
]

ALL_SOURCES = "(all sources)"
"""The ``source`` value of the corpus-wide rows of :func:`period_table`."""


def _check_columns(df: pd.DataFrame, columns: Sequence[str], what: str = "frame") -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"the {what} lacks column(s) {missing}; it has {list(df.columns)}")


def _replicates(counts: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Summed counts of every bootstrap replicate, shape (n_boot, k): the draws of
    :func:`~stance.evaluation.bootstrap.cluster_multiplicities`, as one matrix product."""
    return multiplicity_matrix(len(counts), n_boot, seed) @ counts


def _slant_of(counts: np.ndarray, poles: tuple[int, int]) -> np.ndarray:
    """Slant of count vectors (last axis = labels); NaN where a vector sums to 0."""
    total = counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (counts[..., poles[0]] - counts[..., poles[1]]) / total, np.nan)


def _shares_of(counts: np.ndarray) -> np.ndarray:
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, counts / total, np.nan)


# --------------------------------------------------------------------------- prevalence correction


def corrected_intervals(
    df: pd.DataFrame,
    confusion: Sequence[Sequence[float]] | np.ndarray,
    scheme: Scheme,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`~stance.evaluation.bias.corrected_source_table` (prevalence-corrected label shares
    and slant per source) with article-bootstrap bounds: every replicate's predicted shares are
    corrected the same way. The bounds cover the sampling of articles only, not the
    uncertainty of the validation confusion matrix itself.

    Columns: ``source``, ``adj_share_<label>`` with ``_low``/``_high`` and, with poles,
    ``adj_slant`` with bounds.
    """
    _check_columns(df, ("source", "article_id", "label"))
    check_boot_args(n_boot, alpha)
    labels = scheme.label_list
    cm = _check_confusion(confusion, len(labels))
    point = corrected_source_table(df, "label", cm, scheme).set_index("source")
    poles = None if scheme.poles is None else (labels.index(scheme.poles[0]), labels.index(scheme.poles[1]))
    codes = _label_codes(df["label"].tolist(), labels, "label")
    arts = df["article_id"].to_numpy(dtype=object)
    rows = []
    for source, idx in df.groupby("source", sort=True).indices.items():
        counts = _cluster_label_counts(arts[idx], codes[idx], len(labels))
        reps = _shares_of(_replicates(counts, n_boot, seed))
        adj = np.array([_adjust(r, cm) for r in reps])
        row: dict[str, Any] = {"source": source}
        for j, lab in enumerate(labels):
            low, high = percentile_interval(adj[:, j], alpha)
            row[f"adj_share_{lab}"], row[f"adj_share_{lab}_low"], row[f"adj_share_{lab}_high"] = (
                float(point.loc[source, f"adj_share_{lab}"]), low, high)
        if poles is not None:
            low, high = percentile_interval(adj[:, poles[0]] - adj[:, poles[1]], alpha)
            row["adj_slant"], row["adj_slant_low"], row["adj_slant_high"] = float(point.loc[source, "adj_slant"]), low, high
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- time


def check_period(period: str) -> str:
    """A pandas period alias (``W`` weeks, ``M`` months, ``D`` days, ``Q`` quarters, ``W-SUN``
    ...); ``ValueError`` naming the value otherwise."""
    try:
        pd.Period("2025-01-01", freq=period)
    except (ValueError, TypeError) as e:
        raise ValueError(f"period {period!r} is not a pandas period alias (e.g. D, W, M, Q): {e}") from e
    return period


@dataclass
class PeriodResult:
    """:func:`period_table`'s table and what it could not place in time."""

    table: pd.DataFrame
    period: str
    n_articles: int = 0
    n_dated: int = 0
    n_undated: int = 0
    n_bad_dates: int = 0
    bad_examples: list[str] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)  # every period from the first to the last
    first: pd.Timestamp | None = None  # earliest and latest readable article date
    last: pd.Timestamp | None = None


def parse_dates(values: Sequence[Any]) -> tuple[pd.Series, np.ndarray]:
    """Dates as UTC timestamps (NaT where missing or unreadable) and a mask of the values that
    were given but could not be read."""
    raw = pd.Series(list(values), dtype=object)
    given = raw.map(lambda v: v is not None and not (isinstance(v, float) and math.isnan(v)) and str(v).strip() != "")
    parsed = pd.to_datetime(raw.where(given), errors="coerce", utc=True, format="ISO8601")
    return parsed, (given & parsed.isna()).to_numpy()


def period_table(
    df: pd.DataFrame,
    dates: Mapping[str, Any],
    scheme: Scheme,
    period: str = "W",
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> PeriodResult:
    """Per source and period, slant (schemes with poles) or label shares, with article-bootstrap
    intervals; plus one row per period for all sources together (``source`` = :data:`ALL_SOURCES`).

    ``dates`` maps article id -> date (ISO string or timestamp; missing/unreadable dates are
    counted, and their articles left out of the table). Columns: ``source``, ``period`` (its
    label, e.g. ``2025-10-06/2025-10-12`` for a week), ``start`` (timestamp), ``n_articles``,
    ``n_sentences`` and ``slant``, ``slant_low``, ``slant_high`` or per label ``share_<label>``
    with bounds. Bounds are NaN for a point with one article (an article bootstrap of one
    article has no spread).
    """
    _check_columns(df, ("source", "article_id", "label"))
    check_boot_args(n_boot, alpha)
    check_period(period)
    labels = scheme.label_list
    poles = None if scheme.poles is None else (labels.index(scheme.poles[0]), labels.index(scheme.poles[1]))
    art_ids = pd.unique(df["article_id"].astype(object))
    parsed, bad = parse_dates([dates.get(a) for a in art_ids])
    result = PeriodResult(table=pd.DataFrame(), period=period, n_articles=len(art_ids),
                          n_dated=int(parsed.notna().sum()), n_bad_dates=int(bad.sum()))
    result.n_undated = result.n_articles - result.n_dated - result.n_bad_dates
    result.bad_examples = [f"{a}: {dates.get(a)!r}" for a, b in zip(art_ids, bad, strict=True) if b][:5]
    if not result.n_dated:
        return result
    result.first, result.last = parsed.min(), parsed.max()
    art_period = pd.Series(parsed.dt.tz_localize(None).dt.to_period(period).to_numpy(), index=art_ids)
    dated = df[df["article_id"].map(art_period).notna()]
    per = dated["article_id"].map(art_period)
    codes = _label_codes(dated["label"].tolist(), labels, "label")
    k = len(labels)
    rows = []
    arts = dated["article_id"].to_numpy(dtype=object)
    keys = pd.DataFrame({"source": dated["source"].astype(str).to_numpy(), "period": per.to_numpy()})
    by_source = keys.groupby(["source", "period"], sort=True).indices
    by_period = keys.groupby("period", sort=True).indices
    groups = [*((s, p, idx) for (s, p), idx in by_source.items()),
              *((ALL_SOURCES, p, idx) for p, idx in by_period.items())]
    for source, p, sel in groups:
        counts = _cluster_label_counts(arts[sel], codes[sel], k)
        reps = _replicates(counts, n_boot, seed) if len(counts) > 1 else None
        row: dict[str, Any] = {"source": source, "period": str(p), "start": p.start_time,
                               "n_articles": len(counts), "n_sentences": len(sel)}
        total = counts.sum(axis=0)
        if poles is not None:
            low, high = percentile_interval(_slant_of(reps, poles), alpha) if reps is not None else (math.nan, math.nan)
            row.update(slant=float(_slant_of(total, poles)), slant_low=low, slant_high=high)
        shares = _shares_of(total)
        rep_shares = _shares_of(reps) if reps is not None else None
        for j, lab in enumerate(labels):
            low, high = percentile_interval(rep_shares[:, j], alpha) if rep_shares is not None else (math.nan, math.nan)
            row[f"share_{lab}"], row[f"share_{lab}_low"], row[f"share_{lab}_high"] = float(shares[j]), low, high
        rows.append(row)
    result.table = pd.DataFrame(rows)
    first, last = per.min(), per.max()
    result.periods = [str(p) for p in pd.period_range(first, last, freq=period)]
    return result


# --------------------------------------------------------------------------- evidence


def evidence_sentences(
    df: pd.DataFrame,
    labels_by_source: Mapping[str, Sequence[str]],
    per_label: int = 3,
) -> pd.DataFrame:
    """For each source and each of its labels in ``labels_by_source``, the ``per_label``
    sentences predicted with that label at the highest probability (ties: by sentence id).

    Columns: ``source``, ``label``, ``rank`` (1 = most confident), ``confidence`` (the
    label's probability), ``n_label`` (the source's sentences with that label), ``text``,
    ``article_id``, ``sentence_id``, ``attributed``.
    """
    if per_label < 1:
        raise ValueError(f"per_label must be >= 1, got {per_label}")
    _check_columns(df, ("source", "article_id", "sentence_id", "text", "label", "attributed"))
    rows = []
    src = df["source"].astype(str)
    for source, labs in labels_by_source.items():
        mine = df[src == str(source)]
        for lab in labs:
            col = f"proba_{lab}"
            if col not in df.columns:
                raise ValueError(f"no column {col!r}: the records carry no probability for label {lab!r}")
            cand = mine[mine["label"] == lab]
            top = cand.assign(_c=cand[col].astype(float)).sort_values(["_c", "sentence_id"],
                                                                     ascending=[False, True]).head(per_label)
            for rank, (_, r) in enumerate(top.iterrows(), 1):
                rows.append({"source": str(source), "label": lab, "rank": rank, "confidence": float(r["_c"]),
                             "n_label": len(cand), "text": r["text"], "article_id": r["article_id"],
                             "sentence_id": r["sentence_id"], "attributed": bool(r["attributed"])})
    cols = ["source", "label", "rank", "confidence", "n_label", "text", "article_id", "sentence_id", "attributed"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- two models


@dataclass
class Alignment:
    """Two outputs' sentences matched by sentence id (and text)."""

    frame: pd.DataFrame
    n_a: int
    n_b: int
    only_a: int
    only_b: int
    text_mismatch: int

    @property
    def n_common(self) -> int:
        return len(self.frame)

    def to_dict(self) -> dict[str, int]:
        return {"n_a": self.n_a, "n_b": self.n_b, "n_common": self.n_common, "only_a": self.only_a,
                "only_b": self.only_b, "text_mismatch": self.text_mismatch}


def align_outputs(a: pd.DataFrame, b: pd.DataFrame, labels: Sequence[str]) -> Alignment:
    """The sentences both frames scored: matched by ``sentence_id``; a pair whose ``text``
    differs (the outputs split or cleaned the articles differently) is left out and counted
    (in ``text_mismatch`` and in both ``only_a`` and ``only_b``).

    The frame has ``sentence_id``, ``article_id``, ``source``, ``text``, ``attributed``,
    ``speaker_side`` (from ``a``), ``label_a``, ``label_b`` and ``proba_a`` / ``proba_b`` (each
    model's probability of its own label), in ``a``'s order.
    """
    cols = ["sentence_id", "article_id", "source", "text", "label", "attributed", "speaker_side"]
    for name, d in (("first", a), ("second", b)):
        _check_columns(d, cols, f"{name} output")
        dup = d["sentence_id"].duplicated()
        if dup.any():
            raise ValueError(f"the {name} output repeats sentence id {d.loc[dup, 'sentence_id'].iloc[0]!r}")

    def own_proba(d: pd.DataFrame) -> np.ndarray:
        probs = d[[f"proba_{lab}" for lab in labels]].to_numpy(dtype=float)
        idx = _label_codes(d["label"].tolist(), labels, "label")
        return probs[np.arange(len(d)), idx]

    left = a[cols].assign(proba_a=own_proba(a)).rename(columns={"label": "label_a"})
    right = b[["sentence_id", "text", "label"]].assign(proba_b=own_proba(b)).rename(
        columns={"label": "label_b", "text": "text_b"})
    merged = left.merge(right, on="sentence_id", how="inner", sort=False)
    same = merged["text"] == merged["text_b"]
    frame = merged[same].drop(columns="text_b").reset_index(drop=True)
    return Alignment(frame=frame, n_a=len(a), n_b=len(b), only_a=len(a) - len(frame),
                     only_b=len(b) - len(frame), text_mismatch=int((~same).sum()))


def _agreement(a: Sequence[str], b: Sequence[str], labels: Sequence[str]) -> tuple[float, float]:
    a, b = list(a), list(b)
    if not a:
        return math.nan, math.nan
    return float(np.mean([x == y for x, y in zip(a, b, strict=True)])), cohen_kappa(a, b, labels)


def compare_labelings(
    aligned: pd.DataFrame,
    scheme: Scheme,
    min_sentences: int = 30,
    min_articles: int = 3,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Agreement of two models on the same sentences (:func:`align_outputs`' frame).

    Returns ``overall``: ``n``, ``n_articles``, ``agreement`` with an article-bootstrap
    ``agreement_low``/``agreement_high`` and Cohen's ``kappa``; ``per_source``: a frame with,
    per source, ``n_sentences``, ``n_articles``, ``agreement``, ``kappa``, ``low_support`` and,
    with poles, each model's ``slant_a``/``slant_b`` with bounds (from
    :func:`~stance.evaluation.bias.source_bias_table`) and ``diff`` = slant A - slant B with the
    paired article bootstrap's ``diff_low``, ``diff_high`` and ``p_value``; without poles,
    ``tv_distance`` (total variation distance between the two models' label distributions).
    """
    _check_columns(aligned, ("source", "article_id", "label_a", "label_b", "attributed", "speaker_side"))
    if aligned.empty:
        raise ValueError("the two outputs share no sentences: nothing to compare")
    check_boot_args(n_boot, alpha)
    labels = scheme.label_list
    k = len(labels)
    poles = None if scheme.poles is None else (labels.index(scheme.poles[0]), labels.index(scheme.poles[1]))
    agree = (aligned["label_a"] == aligned["label_b"]).to_numpy(dtype=float)
    arts = aligned["article_id"].to_numpy(dtype=object)
    per_art = pd.DataFrame({"a": arts, "agree": agree}).groupby("a", sort=False)["agree"].agg(["sum", "count"])
    ci = cluster_bootstrap_counts(per_art.to_numpy(dtype=float), lambda c: c[0] / c[1] if c[1] else math.nan,
                                  n_boot=n_boot, alpha=alpha, seed=seed)
    acc, kappa = _agreement(aligned["label_a"], aligned["label_b"], labels)
    overall = {"n": len(aligned), "n_articles": len(per_art), "agreement": acc,
               "agreement_low": ci.low, "agreement_high": ci.high, "kappa": kappa}

    kw = {"min_sentences": min_sentences, "min_articles": min_articles, "n_boot": n_boot, "seed": seed,
          "alpha": alpha}
    base = aligned[["source", "article_id", "attributed", "speaker_side"]]
    ta = source_bias_table(base.assign(label=aligned["label_a"]), scheme, **kw).set_index("source")
    tb = source_bias_table(base.assign(label=aligned["label_b"]), scheme, **kw).set_index("source")
    codes_a = _label_codes(aligned["label_a"].tolist(), labels, "label_a")
    codes_b = _label_codes(aligned["label_b"].tolist(), labels, "label_b")
    rows = []
    for source, idx in aligned.groupby("source", sort=True).indices.items():
        sub = aligned.iloc[idx]
        acc_s, kappa_s = _agreement(sub["label_a"], sub["label_b"], labels)
        row: dict[str, Any] = {"source": source, "n_sentences": len(idx), "n_articles": int(ta.loc[source, "n_articles"]),
                               "agreement": acc_s, "kappa": kappa_s,
                               "low_support": bool(ta.loc[source, "low_support"])}
        ca = _cluster_label_counts(arts[idx], codes_a[idx], k)
        cb = _cluster_label_counts(arts[idx], codes_b[idx], k)
        if poles is not None:
            for name, t in (("a", ta), ("b", tb)):
                row[f"slant_{name}"] = float(t.loc[source, "slant"])
                row[f"slant_{name}_low"] = float(t.loc[source, "slant_low"])
                row[f"slant_{name}_high"] = float(t.loc[source, "slant_high"])
            d = paired_bootstrap_counts(ca, cb, lambda c: float(_slant_of(c, poles)), n_boot=n_boot,
                                        alpha=alpha, seed=seed)
            if len(ca) < 2:
                d = {**d, "low": math.nan, "high": math.nan, "p_value": math.nan}
            row.update(diff=d["estimate"], diff_low=d["low"], diff_high=d["high"], p_value=d["p_value"])
        row["tv_distance"] = float(0.5 * np.abs(_shares_of(ca.sum(axis=0)) - _shares_of(cb.sum(axis=0))).sum())
        rows.append(row)
    return {"overall": overall, "per_source": pd.DataFrame(rows)}


def disagreement_sample(aligned: pd.DataFrame, n: int = 12, seed: int = 0) -> pd.DataFrame:
    """Up to ``n`` sentences the two models label differently, drawn at random (seeded) and
    listed by source; the columns of :func:`align_outputs`' frame."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    diff = aligned[aligned["label_a"] != aligned["label_b"]]
    if len(diff) > n:
        diff = diff.sample(n=n, random_state=seed)
    return diff.sort_values(["source", "sentence_id"]).reset_index(drop=True)
