"""Per-source label distributions, slant, voice balance and prevalence-corrected shares.

Input frames hold one sentence per row with columns ``source``, ``article_id``, a label
column (values from the scheme's labels), ``attributed`` (bool) and ``speaker_side`` (one of
the scheme's sides, or missing). Confidence intervals come from a bootstrap over the articles
of each source (sentences of an article move together).

Every function takes the :class:`~stance.scheme.Scheme`: a scheme with two *poles* gets a
slant (share of the first pole minus share of the second), editorial and quoted slant and a
rank; any scheme gets label shares with intervals, over/under-representation against the
pooled corpus, the Jensen-Shannon divergence from it and voice balance by speaker side.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from scipy.spatial.distance import jensenshannon

from stance.evaluation.bootstrap import cluster_multiplicities, percentile_interval
from stance.metrics import macro_f1
from stance.scheme import Scheme

__all__ = [
    "SourceCounts",
    "SourceCountsBuilder",
    "adjusted_shares",
    "corrected_from_counts",
    "corrected_source_table",
    "gold_vs_pred_by_source",
    "jensen_shannon",
    "slant_index",
    "source_bias_from_counts",
    "source_bias_table",
    "source_counts",
    "stance_distribution",
]

_UNRESOLVED = "unresolved"


# --------------------------------------------------------------------------- helpers


def _check_scheme(scheme: Scheme, *, need_slant: bool = False) -> tuple[list[str], tuple[int, int] | None]:
    """The scheme's labels and the column indices of its poles (None without poles)."""
    if not isinstance(scheme, Scheme):
        raise ValueError(f"expected a stance.scheme.Scheme, got {type(scheme).__name__}")
    labels = scheme.label_list
    if scheme.poles is None:
        if need_slant:
            raise ValueError(f"scheme {scheme.name!r} has no poles: it defines no slant")
        return labels, None
    return labels, (labels.index(scheme.poles[0]), labels.index(scheme.poles[1]))


def _check_n_boot(n_boot: int, alpha: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")


def _check_frame(df: pd.DataFrame, columns: Sequence[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; frame has {list(df.columns)}")
    if df.empty:
        raise ValueError("the frame has no rows")
    for col in ("source", "article_id"):
        if col in columns and df[col].isna().any():
            raise ValueError(f"column {col!r} has missing values")


def _label_codes(values: Any, labels: Sequence[str], column: str) -> np.ndarray:
    """Index into ``labels`` of each value; ``ValueError`` naming any unknown value."""
    index = {label: i for i, label in enumerate(labels)}
    codes = np.fromiter((index.get(v, -1) for v in values), dtype=np.int64)
    if (codes < 0).any():
        bad = sorted({repr(v) for v, c in zip(values, codes, strict=True) if c < 0})
        raise ValueError(
            f"unknown label(s) in column {column!r}: {', '.join(bad)}; expected one of {list(labels)}"
        )
    return codes


def _attributed(col: pd.Series) -> np.ndarray:
    if col.isna().any():
        raise ValueError("column 'attributed' has missing values")
    if col.dtype != bool and not set(col.unique()) <= {True, False}:
        raise ValueError("column 'attributed' must hold booleans")
    return col.to_numpy(dtype=bool)


def _sides(values: Any, sides: Sequence[str]) -> np.ndarray:
    """Normalise ``speaker_side``: one of ``sides``, or 'unresolved' for missing values."""
    out = []
    known = set(sides)
    for v in values:
        if v is None or (pd.api.types.is_scalar(v) and pd.isna(v)) or v in ("", _UNRESOLVED):
            out.append(_UNRESOLVED)
        elif v in known:
            out.append(v)
        else:
            raise ValueError(
                f"unknown speaker_side {v!r}; the scheme's sides are {', '.join(sides) or 'none'} (or missing)"
            )
    return np.array(out, dtype=object)


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    if total == 0:
        return np.full(counts.shape, np.nan)
    return counts / total


def _slant(counts: np.ndarray, poles: tuple[int, int] | None) -> float:
    total = counts.sum()
    if poles is None or not total:
        return math.nan
    return float((counts[poles[0]] - counts[poles[1]]) / total)


def _cluster_label_counts(articles: Any, codes: np.ndarray, k: int) -> np.ndarray:
    """Matrix (n_articles, k) of label counts per article."""
    art, uniques = pd.factorize(pd.Series(list(articles), dtype=object))
    counts = np.zeros((len(uniques), k), dtype=float)
    np.add.at(counts, (art, codes), 1.0)
    return counts


def _source_groups(df: pd.DataFrame) -> list[tuple[Any, np.ndarray]]:
    """(source, row positions) per source, sorted by source."""
    groups = df.groupby("source", sort=True).indices
    return [(source, np.asarray(rows)) for source, rows in groups.items()]


def slant_index(labels: Sequence[str], scheme: Scheme) -> float:
    """Share of the scheme's first pole minus share of its second (NaN for an empty sequence).

    Positive values lean towards the first pole; the range is [-1, 1].
    """
    names, poles = _check_scheme(scheme, need_slant=True)
    labels = list(labels)
    if not labels:
        return math.nan
    codes = _label_codes(labels, names, "labels")
    return _slant(np.bincount(codes, minlength=len(names)).astype(float), poles)


def jensen_shannon(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) between two distributions.

    Inputs are non-negative weights and are normalised to sum to 1 first.
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.ndim != 1 or p.shape != q.shape or p.size == 0:
        raise ValueError(
            f"p and q must be non-empty 1-D arrays of equal length, got {p.shape}, {q.shape}"
        )
    for name, x in (("p", p), ("q", q)):
        if not np.all(np.isfinite(x)) or (x < 0).any() or x.sum() <= 0:
            raise ValueError(f"{name} must be finite, non-negative and not all zero")
    # scipy returns the Jensen-Shannon *distance* (the square root of the divergence)
    return float(min(1.0, max(0.0, jensenshannon(p, q, base=2) ** 2)))


# --------------------------------------------------------------------------- tables


def stance_distribution(
    df: pd.DataFrame,
    scheme: Scheme,
    label_col: str = "label",
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per-source label shares with article-cluster bootstrap intervals.

    One row per source (sorted): ``source``, ``n_sentences``, ``n_articles`` and, per label,
    ``share_<label>``, ``share_<label>_low``, ``share_<label>_high``.
    """
    labels, _ = _check_scheme(scheme)
    _check_frame(df, ("source", "article_id", label_col))
    _check_n_boot(n_boot, alpha)
    codes = _label_codes(df[label_col].tolist(), labels, label_col)
    articles = df["article_id"].to_numpy(dtype=object)
    k = len(labels)
    rows = []
    for source, idx in _source_groups(df):
        counts = _cluster_label_counts(articles[idx], codes[idx], k)
        reps = np.array(
            [_shares(m @ counts) for m in cluster_multiplicities(len(counts), n_boot, seed)]
        )
        shares = _shares(counts.sum(axis=0))
        row: dict[str, Any] = {
            "source": source,
            "n_sentences": len(idx),
            "n_articles": len(counts),
        }
        for j, label in enumerate(labels):
            low, high = percentile_interval(reps[:, j], alpha)
            row[f"share_{label}"] = float(shares[j])
            row[f"share_{label}_low"] = low
            row[f"share_{label}_high"] = high
        rows.append(row)
    return pd.DataFrame(rows)


def source_bias_table(
    df: pd.DataFrame,
    scheme: Scheme,
    label_col: str = "label",
    min_sentences: int = 30,
    min_articles: int = 3,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per-source bias summary, one row per source (sorted by source).

    Columns for every scheme: ``source``, ``n_sentences``, ``n_articles``, ``n_attributed``;
    per label ``share_<label>`` with ``_low``/``_high`` article-bootstrap bounds and
    ``over_<label>`` (share minus the pooled share of all sources: over- or
    under-representation) with bounds; ``voice_<side>`` for each of the scheme's speaker sides
    and ``voice_unresolved`` (shares of attributed sentences by ``speaker_side``, NaN without
    attributed sentences); ``js_divergence`` (base-2 Jensen-Shannon divergence of the source's
    label distribution from the pooled one); ``low_support`` (fewer than ``min_sentences``
    sentences or ``min_articles`` articles).

    With poles, also ``slant`` (share of the first pole minus share of the second) over all
    sentences, ``editorial_slant`` over unattributed and ``quoted_slant`` over attributed
    ones, each with bounds (NaN when a source has no such sentences), and ``rank`` (1 = the
    largest slant among supported sources, ties share the lowest rank; NaN for low-support
    sources).

    The statistics need per-article counts only (:class:`SourceCounts`); for inputs too large
    for one frame, build those with :class:`SourceCountsBuilder` and call
    :func:`source_bias_from_counts`.
    """
    _check_scheme(scheme)
    _check_frame(df, ("source", "article_id", label_col, "attributed", "speaker_side"))
    _check_n_boot(n_boot, alpha)
    if min_sentences < 0 or min_articles < 0:
        raise ValueError("min_sentences and min_articles must be non-negative")
    return source_bias_from_counts(source_counts(df, scheme, label_col), scheme, min_sentences=min_sentences,
                                   min_articles=min_articles, n_boot=n_boot, seed=seed, alpha=alpha)


@dataclass
class SourceCounts:
    """What the per-source tables need from the sentences: per-article label counts.

    ``articles[i]`` is the ``(n_articles, 3k)`` matrix of source ``sources[i]`` (articles in
    order of first appearance, which fixes the bootstrap draws): label counts over all
    sentences, over unattributed and over attributed ones (``k`` labels each, the scheme's
    order); ``voices[i]`` counts its attributed sentences per speaker side (the scheme's
    sides, then ``unresolved``).
    """

    sources: list[Any]
    articles: list[np.ndarray]
    voices: list[np.ndarray]

    def label_counts(self, i: int) -> np.ndarray:
        """Sentences per label of source ``i``."""
        k = self.articles[i].shape[1] // 3
        return self.articles[i][:, :k].sum(axis=0)


def source_counts(df: pd.DataFrame, scheme: Scheme, label_col: str = "label") -> SourceCounts:
    """:class:`SourceCounts` of a sentence frame (columns as in :func:`source_bias_table`)."""
    labels, _ = _check_scheme(scheme)
    _check_frame(df, ("source", "article_id", label_col, "attributed", "speaker_side"))
    k = len(labels)
    codes = _label_codes(df[label_col].tolist(), labels, label_col)
    attributed = _attributed(df["attributed"])
    side_names = (*scheme.side_names, _UNRESOLVED)
    sides = _sides(df["speaker_side"].tolist(), scheme.side_names)
    articles = df["article_id"].to_numpy(dtype=object)
    out = SourceCounts([], [], [])
    for source, idx in _source_groups(df):
        art, uniques = pd.factorize(pd.Series(list(articles[idx]), dtype=object))
        # per-article counts: [all labels | unattributed labels | attributed labels]
        counts = np.zeros((len(uniques), 3 * k))
        att = attributed[idx]
        np.add.at(counts, (art, codes[idx]), 1.0)
        np.add.at(counts, (art[~att], k + codes[idx][~att]), 1.0)
        np.add.at(counts, (art[att], 2 * k + codes[idx][att]), 1.0)
        quoted = sides[idx][att]
        out.sources.append(source)
        out.articles.append(counts)
        out.voices.append(np.array([np.sum(quoted == side) for side in side_names], dtype=np.int64))
    return out


class SourceCountsBuilder:
    """:class:`SourceCounts` built batch by batch, e.g. in one streaming pass over scored
    records too many for memory: only per-article counts are kept.

    Hand-written (a dict from (source, article) to a row of a count matrix, numpy
    scatter-adds) because a pandas groupby cannot be updated batch by batch, and the bootstrap
    needs each source's articles in order of first appearance, as :func:`source_counts` has
    them; for the same rows both give the same counts and so the same tables. Rows are
    validated as :func:`source_bias_table` validates a frame (``ValueError``).
    """

    def __init__(self, scheme: Scheme) -> None:
        self.labels, _ = _check_scheme(scheme)
        self._side_names = scheme.side_names
        self._k = len(self.labels)
        self._rows: dict[tuple[Any, Any], int] = {}
        self._counts = np.zeros((1024, 3 * self._k))
        self._voices: dict[Any, np.ndarray] = {}
        self.n_sentences = 0

    def add(self, source: Sequence[Any], article_id: Sequence[Any], label: Sequence[Any],
            attributed: Sequence[Any], speaker_side: Sequence[Any], label_col: str = "label") -> None:
        """Count one batch of sentences (equal-length columns)."""
        src, art = list(source), list(article_id)
        for name, values in (("source", src), ("article_id", art)):
            if any(pd.api.types.is_scalar(v) and pd.isna(v) for v in values):
                raise ValueError(f"column {name!r} has missing values")
        k = self._k
        codes = _label_codes(list(label), self.labels, label_col)
        att = _attributed(pd.Series(list(attributed), dtype=object))
        sides = _sides(list(speaker_side), self._side_names)
        index = self._rows
        rows = np.fromiter((index.setdefault(key, len(index)) for key in zip(src, art)),
                           dtype=np.int64, count=len(src))
        if len(index) > len(self._counts):
            grown = np.zeros((max(len(index), 2 * len(self._counts)), 3 * k))
            grown[: len(self._counts)] = self._counts
            self._counts = grown
        np.add.at(self._counts, (rows, codes), 1.0)
        np.add.at(self._counts, (rows, k + k * att + codes), 1.0)
        side_pos = {side: j for j, side in enumerate((*self._side_names, _UNRESOLVED))}
        for s, side in zip(np.asarray(src, dtype=object)[att], sides[att]):
            voice = self._voices.get(s)
            if voice is None:
                voice = self._voices[s] = np.zeros(len(side_pos), dtype=np.int64)
            voice[side_pos[side]] += 1
        self.n_sentences += len(src)

    def result(self) -> SourceCounts:
        """The counts so far, sources sorted as :func:`source_bias_table` sorts them."""
        by_source: dict[Any, list[int]] = {}
        for (source, _), row in self._rows.items():
            by_source.setdefault(source, []).append(row)
        out = SourceCounts([], [], [])
        width = len(self._side_names) + 1
        for source in sorted(by_source):
            out.sources.append(source)
            out.articles.append(self._counts[by_source[source]])
            out.voices.append(self._voices.get(source, np.zeros(width, dtype=np.int64)))
        return out


def source_bias_from_counts(
    counts: SourceCounts,
    scheme: Scheme,
    min_sentences: int = 30,
    min_articles: int = 3,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`source_bias_table` from per-article counts (:class:`SourceCounts`)."""
    labels, poles = _check_scheme(scheme)
    _check_n_boot(n_boot, alpha)
    if min_sentences < 0 or min_articles < 0:
        raise ValueError("min_sentences and min_articles must be non-negative")
    if not counts.sources:
        raise ValueError("the frame has no rows")
    k = len(labels)
    pooled = np.sum([counts.label_counts(i) for i in range(len(counts.sources))], axis=0)
    pooled_share = _shares(pooled)

    def stats(total: np.ndarray) -> np.ndarray:
        """[slant, editorial, quoted, share_1..k, over_1..k] of one (replicate) count vector."""
        share = _shares(total[:k])
        slants = [_slant(total[:k], poles), _slant(total[k:2 * k], poles), _slant(total[2 * k:], poles)]
        return np.concatenate([slants, share, share - pooled_share])

    rows = []
    for source, art_counts, voices in zip(counts.sources, counts.articles, counts.voices, strict=True):
        n_art = len(art_counts)
        total = art_counts.sum(axis=0)
        n_sentences = int(round(total[:k].sum()))
        estimates = stats(total)
        reps = np.array([stats(m @ art_counts) for m in cluster_multiplicities(n_art, n_boot, seed)])
        n_quoted = int(voices.sum())

        row: dict[str, Any] = {
            "source": source,
            "n_sentences": n_sentences,
            "n_articles": n_art,
            "n_attributed": n_quoted,
        }
        for j, label in enumerate(labels):
            row[f"share_{label}"] = float(estimates[3 + j])
        for j, label in enumerate(labels):
            row[f"share_{label}_low"], row[f"share_{label}_high"] = percentile_interval(reps[:, 3 + j], alpha)
        for j, label in enumerate(labels):
            low, high = percentile_interval(reps[:, 3 + k + j], alpha)
            row[f"over_{label}"], row[f"over_{label}_low"], row[f"over_{label}_high"] = (
                float(estimates[3 + k + j]), low, high)
        if poles is not None:
            for j, name in enumerate(("slant", "editorial_slant", "quoted_slant")):
                low, high = percentile_interval(reps[:, j], alpha)
                row[name], row[f"{name}_low"], row[f"{name}_high"] = float(estimates[j]), low, high
        for j, side in enumerate((*scheme.side_names, _UNRESOLVED)):
            row[f"voice_{side}"] = float(voices[j] / n_quoted) if n_quoted else math.nan
        row["js_divergence"] = jensen_shannon(total[:k], pooled)
        row["low_support"] = bool(n_sentences < min_sentences or n_art < min_articles)
        rows.append(row)

    table = pd.DataFrame(rows)
    if poles is not None:
        eligible = ~table["low_support"] & table["slant"].notna()
        table["rank"] = np.nan
        table.loc[eligible, "rank"] = table.loc[eligible, "slant"].rank(ascending=False, method="min")
        table["rank"] = table["rank"].astype(float)
    return table


# --------------------------------------------------------------------------- correction


def _check_confusion(confusion: np.ndarray | list, k: int) -> np.ndarray:
    cm = np.asarray(confusion, dtype=float)
    if cm.shape != (k, k):
        raise ValueError(
            f"confusion must be a {k}x{k} matrix (one row/column per label), got {cm.shape}"
        )
    if not np.all(np.isfinite(cm)) or (cm < 0).any():
        raise ValueError("confusion must hold finite non-negative counts")
    if (cm.sum(axis=1) == 0).any():
        raise ValueError(
            "every true class needs at least one validation example (a confusion row sums to 0)"
        )
    return cm


def _adjust(observed: np.ndarray, cm: np.ndarray) -> np.ndarray:
    """Solve ``observed = P^T t`` for non-negative ``t``; clip and renormalise."""
    p = cm / cm.sum(axis=1, keepdims=True)  # P[i, j] = P(pred = j | true = i)
    true_shares, _ = nnls(p.T, observed)
    true_shares = np.clip(true_shares, 0.0, 1.0)
    total = true_shares.sum()
    return true_shares / total if total > 0 else observed


def adjusted_shares(
    pred_labels: Sequence[str],
    confusion: np.ndarray | list,
    scheme: Scheme,
) -> dict[str, float]:
    """Adjusted classify-and-count estimate of the true label shares.

    ``confusion[i][j]`` counts validation items of true class ``labels[i]`` predicted as
    ``labels[j]`` (the scheme's label order). With ``P[i, j] = P(pred = j | true = i)`` the
    observed predicted shares ``q`` satisfy ``q = P^T t``; ``t`` is solved by non-negative
    least squares, clipped to [0, 1] and renormalised to sum to 1.
    """
    labels, _ = _check_scheme(scheme)
    cm = _check_confusion(confusion, len(labels))
    pred_labels = list(pred_labels)
    if not pred_labels:
        raise ValueError("pred_labels must not be empty")
    codes = _label_codes(pred_labels, labels, "pred_labels")
    observed = np.bincount(codes, minlength=len(labels)) / len(codes)
    return {label: float(x) for label, x in zip(labels, _adjust(observed, cm), strict=True)}


def corrected_source_table(
    df: pd.DataFrame,
    pred_col: str,
    confusion: np.ndarray | list,
    scheme: Scheme,
) -> pd.DataFrame:
    """Per-source raw predicted shares and confusion-adjusted shares.

    Columns: ``source``, ``n_sentences``, ``share_<label>`` (raw, from predictions),
    ``adj_share_<label>`` (see :func:`adjusted_shares`) and, with poles, ``slant`` and
    ``adj_slant``.
    """
    labels, _ = _check_scheme(scheme)
    _check_frame(df, ("source", pred_col))
    cm = _check_confusion(confusion, len(labels))
    codes = _label_codes(df[pred_col].tolist(), labels, pred_col)
    groups = ((source, np.bincount(codes[idx], minlength=len(labels)).astype(float))
              for source, idx in _source_groups(df))
    return _corrected_rows(groups, cm, scheme)


def corrected_from_counts(counts: SourceCounts, confusion: np.ndarray | list, scheme: Scheme) -> pd.DataFrame:
    """:func:`corrected_source_table` from per-article counts (:class:`SourceCounts`)."""
    labels, _ = _check_scheme(scheme)
    cm = _check_confusion(confusion, len(labels))
    return _corrected_rows(((s, counts.label_counts(i)) for i, s in enumerate(counts.sources)), cm, scheme)


def _corrected_rows(groups: Iterable[tuple[Any, np.ndarray]], cm: np.ndarray, scheme: Scheme) -> pd.DataFrame:
    """Rows of :func:`corrected_source_table` from (source, label counts) pairs."""
    labels, poles = _check_scheme(scheme)
    rows = []
    for source, counts in groups:
        raw = counts / counts.sum()
        adj = _adjust(raw, cm)
        row: dict[str, Any] = {"source": source, "n_sentences": int(round(counts.sum()))}
        for j, label in enumerate(labels):
            row[f"share_{label}"] = float(raw[j])
        if poles is not None:
            row["slant"] = _slant(raw, poles)
        for j, label in enumerate(labels):
            row[f"adj_share_{label}"] = float(adj[j])
        if poles is not None:
            row["adj_slant"] = _slant(adj, poles)
        rows.append(row)
    return pd.DataFrame(rows)


def gold_vs_pred_by_source(
    df: pd.DataFrame,
    scheme: Scheme,
    gold_col: str = "label",
    pred_col: str = "pred",
) -> pd.DataFrame:
    """Per-source agreement of predictions with gold labels.

    Columns: ``source``, ``n``, ``macro_f1`` (averaged over the labels that occur in the
    source's gold or predicted labels), ``distribution_error`` (total variation distance
    between the source's gold and predicted label distributions) and, with poles,
    ``gold_slant``, ``pred_slant`` and ``slant_error`` (= pred_slant - gold_slant).
    """
    labels, poles = _check_scheme(scheme)
    _check_frame(df, ("source", gold_col, pred_col))
    gold = _label_codes(df[gold_col].tolist(), labels, gold_col)
    pred = _label_codes(df[pred_col].tolist(), labels, pred_col)
    k = len(labels)
    rows = []
    for source, idx in _source_groups(df):
        g, p = gold[idx], pred[idx]
        present = [labels[j] for j in sorted(set(g.tolist()) | set(p.tolist()))]
        gc, pc = np.bincount(g, minlength=k).astype(float), np.bincount(p, minlength=k).astype(float)
        row: dict[str, Any] = {
            "source": source,
            "n": len(idx),
            "macro_f1": macro_f1([labels[j] for j in g], [labels[j] for j in p], present),
            "distribution_error": float(0.5 * np.abs(_shares(gc) - _shares(pc)).sum()),
        }
        if poles is not None:
            row["gold_slant"], row["pred_slant"] = _slant(gc, poles), _slant(pc, poles)
            row["slant_error"] = row["pred_slant"] - row["gold_slant"]
        rows.append(row)
    return pd.DataFrame(rows)
