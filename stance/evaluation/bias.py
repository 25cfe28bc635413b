"""Per-source stance distributions, slant, voice balance and prevalence-corrected shares.

Input frames hold one sentence per row with columns ``source``, ``article_id``, a label
column (values from the label set), ``attributed`` (bool) and ``speaker_side``
(``'islamabad'``, ``'kabul'``, ``'third_party'`` or missing). Confidence intervals come from
a bootstrap over the articles of each source (sentences of an article move together).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from stance.evaluation.bootstrap import cluster_multiplicities, percentile_interval
from stance.evaluation.metrics import macro_f1
from stance.labels import LABELS, SIDES

__all__ = [
    "adjusted_shares",
    "corrected_source_table",
    "gold_vs_pred_by_source",
    "jensen_shannon",
    "slant_index",
    "source_bias_table",
    "stance_distribution",
]

PRO_ISLAMABAD = "pro_islamabad"
PRO_KABUL = "pro_kabul"
_UNRESOLVED = "unresolved"


# --------------------------------------------------------------------------- helpers


def _check_label_set(labels: Sequence[str], *, need_slant: bool) -> list[str]:
    labels = list(labels)
    if not labels:
        raise ValueError("labels must not be empty")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels must be unique, got {labels!r}")
    if need_slant and not {PRO_ISLAMABAD, PRO_KABUL} <= set(labels):
        raise ValueError(
            f"labels must include {PRO_ISLAMABAD!r} and {PRO_KABUL!r} to compute slant"
        )
    return labels


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


def _attributed(df: pd.DataFrame) -> np.ndarray:
    col = df["attributed"]
    if col.isna().any():
        raise ValueError("column 'attributed' has missing values")
    if col.dtype != bool and not set(col.unique()) <= {True, False}:
        raise ValueError("column 'attributed' must hold booleans")
    return col.to_numpy(dtype=bool)


def _sides(values: Any) -> np.ndarray:
    """Normalise ``speaker_side``: one of SIDES, or 'unresolved' for missing values."""
    out = []
    for v in values:
        if v is None or (pd.api.types.is_scalar(v) and pd.isna(v)) or v in ("", _UNRESOLVED):
            out.append(_UNRESOLVED)
        elif v in SIDES:
            out.append(v)
        else:
            raise ValueError(
                f"unknown speaker_side {v!r}; expected one of {', '.join(SIDES)} or missing"
            )
    return np.array(out, dtype=object)


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    if total == 0:
        return np.full(counts.shape, np.nan)
    return counts / total


def _slant(counts: np.ndarray, i_pi: int, i_pk: int) -> float:
    total = counts.sum()
    return float((counts[i_pi] - counts[i_pk]) / total) if total else math.nan


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


def slant_index(labels: Sequence[str]) -> float:
    """Share of ``pro_islamabad`` minus share of ``pro_kabul`` (NaN for an empty sequence).

    Positive values lean pro-Islamabad, negative pro-Kabul; the range is [-1, 1].
    """
    labels = list(labels)
    if not labels:
        return math.nan
    codes = _label_codes(labels, LABELS, "labels")
    counts = np.bincount(codes, minlength=len(LABELS)).astype(float)
    return _slant(counts, LABELS.index(PRO_ISLAMABAD), LABELS.index(PRO_KABUL))


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
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return float(min(1.0, max(0.0, 0.5 * kl(p) + 0.5 * kl(q))))


# --------------------------------------------------------------------------- tables


def stance_distribution(
    df: pd.DataFrame,
    label_col: str = "label",
    labels: Sequence[str] = LABELS,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per-source label shares with article-cluster bootstrap intervals.

    One row per source (sorted): ``source``, ``n_sentences``, ``n_articles`` and, per label,
    ``share_<label>``, ``share_<label>_low``, ``share_<label>_high``.
    """
    labels = _check_label_set(labels, need_slant=False)
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
    label_col: str = "label",
    labels: Sequence[str] = LABELS,
    min_sentences: int = 30,
    min_articles: int = 3,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per-source bias summary, one row per source (sorted by source).

    Columns: ``source``, ``n_sentences``, ``n_articles``, ``n_attributed``,
    ``share_<label>``; ``slant`` (share pro_islamabad - share pro_kabul) over all sentences,
    ``editorial_slant`` over unattributed sentences and ``quoted_slant`` over attributed
    ones, each with ``_low``/``_high`` article-bootstrap bounds (NaN when a source has no
    such sentences); ``voice_islamabad``, ``voice_kabul``, ``voice_third_party``,
    ``voice_unresolved`` (shares of attributed sentences by ``speaker_side``, NaN without
    attributed sentences); ``js_divergence`` (base-2 Jensen-Shannon divergence of the
    source's label distribution from the pooled one); ``low_support`` (fewer than
    ``min_sentences`` sentences or ``min_articles`` articles); ``rank`` (1 = most
    pro-Islamabad slant among supported sources, ties share the lowest rank; NaN for
    low-support sources).
    """
    labels = _check_label_set(labels, need_slant=True)
    _check_frame(df, ("source", "article_id", label_col, "attributed", "speaker_side"))
    _check_n_boot(n_boot, alpha)
    if min_sentences < 0 or min_articles < 0:
        raise ValueError("min_sentences and min_articles must be non-negative")
    k = len(labels)
    i_pi, i_pk = labels.index(PRO_ISLAMABAD), labels.index(PRO_KABUL)
    codes = _label_codes(df[label_col].tolist(), labels, label_col)
    attributed = _attributed(df)
    sides = _sides(df["speaker_side"].tolist())
    articles = df["article_id"].to_numpy(dtype=object)
    pooled = np.bincount(codes, minlength=k).astype(float)

    rows = []
    for source, idx in _source_groups(df):
        art, uniques = pd.factorize(pd.Series(list(articles[idx]), dtype=object))
        n_art = len(uniques)
        # per-article counts: [all labels | unattributed labels | attributed labels]
        counts = np.zeros((n_art, 3 * k))
        att = attributed[idx]
        np.add.at(counts, (art, codes[idx]), 1.0)
        np.add.at(counts, (art[~att], k + codes[idx][~att]), 1.0)
        np.add.at(counts, (art[att], 2 * k + codes[idx][att]), 1.0)

        def slants(total: np.ndarray) -> tuple[float, float, float]:
            return (
                _slant(total[:k], i_pi, i_pk),
                _slant(total[k : 2 * k], i_pi, i_pk),
                _slant(total[2 * k :], i_pi, i_pk),
            )

        total = counts.sum(axis=0)
        estimates = slants(total)
        reps = np.array([slants(m @ counts) for m in cluster_multiplicities(n_art, n_boot, seed)])
        shares = _shares(total[:k])

        row: dict[str, Any] = {
            "source": source,
            "n_sentences": len(idx),
            "n_articles": n_art,
            "n_attributed": int(att.sum()),
        }
        for j, label in enumerate(labels):
            row[f"share_{label}"] = float(shares[j])
        for j, name in enumerate(("slant", "editorial_slant", "quoted_slant")):
            low, high = percentile_interval(reps[:, j], alpha)
            row[name], row[f"{name}_low"], row[f"{name}_high"] = estimates[j], low, high
        quoted_sides = sides[idx][att]
        for side in (*SIDES, _UNRESOLVED):
            row[f"voice_{side}"] = (
                float(np.mean(quoted_sides == side)) if quoted_sides.size else math.nan
            )
        row["js_divergence"] = jensen_shannon(total[:k], pooled)
        row["low_support"] = bool(len(idx) < min_sentences or n_art < min_articles)
        rows.append(row)

    table = pd.DataFrame(rows)
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
    labels: Sequence[str] = LABELS,
) -> dict[str, float]:
    """Adjusted classify-and-count estimate of the true label shares.

    ``confusion[i][j]`` counts validation items of true class ``labels[i]`` predicted as
    ``labels[j]``. With ``P[i, j] = P(pred = j | true = i)`` the observed predicted shares
    ``q`` satisfy ``q = P^T t``; ``t`` is solved by non-negative least squares, clipped to
    [0, 1] and renormalised to sum to 1.
    """
    labels = _check_label_set(labels, need_slant=False)
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
    labels: Sequence[str] = LABELS,
) -> pd.DataFrame:
    """Per-source raw predicted shares and confusion-adjusted shares.

    Columns: ``source``, ``n_sentences``, ``share_<label>``, ``slant`` (raw, from
    predictions), ``adj_share_<label>`` (see :func:`adjusted_shares`) and ``adj_slant``.
    """
    labels = _check_label_set(labels, need_slant=True)
    _check_frame(df, ("source", pred_col))
    cm = _check_confusion(confusion, len(labels))
    codes = _label_codes(df[pred_col].tolist(), labels, pred_col)
    i_pi, i_pk = labels.index(PRO_ISLAMABAD), labels.index(PRO_KABUL)
    rows = []
    for source, idx in _source_groups(df):
        counts = np.bincount(codes[idx], minlength=len(labels)).astype(float)
        raw = counts / counts.sum()
        adj = _adjust(raw, cm)
        row: dict[str, Any] = {"source": source, "n_sentences": len(idx)}
        for j, label in enumerate(labels):
            row[f"share_{label}"] = float(raw[j])
        row["slant"] = float(raw[i_pi] - raw[i_pk])
        for j, label in enumerate(labels):
            row[f"adj_share_{label}"] = float(adj[j])
        row["adj_slant"] = float(adj[i_pi] - adj[i_pk])
        rows.append(row)
    return pd.DataFrame(rows)


def gold_vs_pred_by_source(
    df: pd.DataFrame,
    gold_col: str = "label",
    pred_col: str = "pred",
    labels: Sequence[str] = LABELS,
) -> pd.DataFrame:
    """Per-source agreement of predictions with gold labels.

    Columns: ``source``, ``n``, ``macro_f1`` (averaged over the labels that occur in the
    source's gold or predicted labels), ``gold_slant``, ``pred_slant`` and ``slant_error``
    (= pred_slant - gold_slant).
    """
    labels = _check_label_set(labels, need_slant=True)
    _check_frame(df, ("source", gold_col, pred_col))
    gold = _label_codes(df[gold_col].tolist(), labels, gold_col)
    pred = _label_codes(df[pred_col].tolist(), labels, pred_col)
    k = len(labels)
    i_pi, i_pk = labels.index(PRO_ISLAMABAD), labels.index(PRO_KABUL)
    rows = []
    for source, idx in _source_groups(df):
        g, p = gold[idx], pred[idx]
        present = [labels[j] for j in sorted(set(g.tolist()) | set(p.tolist()))]
        gold_slant = _slant(np.bincount(g, minlength=k).astype(float), i_pi, i_pk)
        pred_slant = _slant(np.bincount(p, minlength=k).astype(float), i_pi, i_pk)
        rows.append(
            {
                "source": source,
                "n": len(idx),
                "macro_f1": macro_f1([labels[j] for j in g], [labels[j] for j in p], present),
                "gold_slant": gold_slant,
                "pred_slant": pred_slant,
                "slant_error": pred_slant - gold_slant,
            }
        )
    return pd.DataFrame(rows)
