"""Cluster (e.g. article-level) bootstrap intervals and paired significance tests.

Hand-written on purpose: ``scipy.stats.bootstrap`` resamples observations, not clusters (the
sentences of an article are not independent, so every interval here resamples whole articles),
and it cannot share one set of draws between several statistics, which the per-source tables
and the paired tests need. The draws themselves are numpy's seeded generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Interval",
    "cluster_bootstrap",
    "cluster_bootstrap_counts",
    "cluster_multiplicities",
    "multiplicity_matrix",
    "check_boot_args",
    "difference_interval",
    "paired_bootstrap_counts",
    "paired_bootstrap_diff",
    "percentile_interval",
]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile confidence interval."""

    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {key: float(value) for key, value in asdict(self).items()}


def check_boot_args(n_boot: int, alpha: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")


def _factorize(clusters: Sequence[Any]) -> tuple[np.ndarray, int]:
    """Integer cluster code per row and the number of clusters."""
    values = list(clusters)
    if not values:
        raise ValueError("clusters must not be empty")
    if any(pd.api.types.is_scalar(v) and pd.isna(v) for v in values):
        raise ValueError("clusters must not contain missing values (None/NaN)")
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), sort=False)
    return codes.astype(np.int64), len(uniques)


def cluster_multiplicities(n_clusters: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Yield, per bootstrap replicate, how many times each cluster was drawn.

    Each replicate draws ``n_clusters`` clusters uniformly with replacement from a
    ``numpy.random.Generator`` seeded with ``seed``; the same seed gives the same draws, so
    count-based statistics computed from these agree with :func:`cluster_bootstrap`.
    """
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        draw = rng.integers(0, n_clusters, size=n_clusters)
        yield np.bincount(draw, minlength=n_clusters)


def multiplicity_matrix(n_clusters: int, n_boot: int, seed: int) -> np.ndarray:
    """The draws of :func:`cluster_multiplicities` as one ``(n_boot, n_clusters)`` matrix,
    drawn in one call (the generator yields the same stream for one ``(n_boot, n_clusters)``
    draw as for ``n_boot`` successive ones), so replicate sums of per-cluster counts are one
    matrix product."""
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    flat = (np.arange(n_boot)[:, None] * n_clusters + draw).ravel()
    return np.bincount(flat, minlength=n_boot * n_clusters).reshape(n_boot, n_clusters)


def _cluster_draws(
    codes: np.ndarray, n_clusters: int, n_boot: int, seed: int
) -> Iterator[np.ndarray]:
    """Yield the row indices of each replicate (rows of drawn clusters, duplicates kept)."""
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=n_clusters)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for mult in cluster_multiplicities(n_clusters, n_boot, seed):
        drawn = np.repeat(np.arange(n_clusters), mult)
        lengths = sizes[drawn]
        first = np.cumsum(lengths) - lengths
        offsets = np.arange(lengths.sum()) - np.repeat(first, lengths)
        yield order[np.repeat(starts[drawn], lengths) + offsets]


def percentile_interval(values: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """``(alpha/2, 1 - alpha/2)`` quantiles of ``values`` ignoring NaN (NaN bounds if none)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return math.nan, math.nan
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _replicates(
    statistic: Callable[[np.ndarray], float], clusters: Sequence[Any], n_boot: int, seed: int
) -> np.ndarray:
    codes, n_clusters = _factorize(clusters)
    return np.array(
        [float(statistic(rows)) for rows in _cluster_draws(codes, n_clusters, n_boot, seed)],
        dtype=float,
    )


def cluster_bootstrap(
    statistic: Callable[[np.ndarray], float],
    clusters: Sequence[Any],
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval that resamples whole clusters with replacement.

    ``clusters`` gives the cluster id (e.g. article id) of each row. ``statistic`` receives
    row indices (an integer array: the rows of every drawn cluster, concatenated, duplicates
    kept) and returns a float; the estimate is ``statistic`` on all rows. Replicates giving
    NaN are dropped; if all are NaN the bounds are NaN. Deterministic for a given ``seed``.
    """
    check_boot_args(n_boot, alpha)
    codes, _ = _factorize(clusters)
    estimate = float(statistic(np.arange(len(codes))))
    low, high = percentile_interval(_replicates(statistic, clusters, n_boot, seed), alpha)
    return Interval(estimate, low, high)


def cluster_bootstrap_counts(
    counts: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> Interval:
    """:func:`cluster_bootstrap` for statistics of summed per-cluster counts.

    ``counts`` has one entry per cluster along its first axis (e.g. per-article confusion
    matrices, :func:`stance.metrics.confusion_by_cluster`), clusters in order of first
    appearance; ``statistic`` maps a summed count array to a float. Replicate ``r`` is
    ``statistic(sum_c m_rc * counts[c])`` with the multiplicities of
    :func:`cluster_multiplicities`, so the draws are those of :func:`cluster_bootstrap` with
    the same seed, at the cost of one weighted sum per replicate instead of re-indexing rows.
    """
    check_boot_args(n_boot, alpha)
    counts = np.asarray(counts, dtype=float)
    if counts.ndim < 1 or not len(counts):
        raise ValueError("counts must have one entry per cluster")
    estimate = float(statistic(counts.sum(axis=0)))
    reps = np.array([float(statistic(np.tensordot(m, counts, axes=1)))
                     for m in cluster_multiplicities(len(counts), n_boot, seed)])
    low, high = percentile_interval(reps, alpha)
    return Interval(estimate, low, high)


def paired_bootstrap_counts(
    counts_a: np.ndarray,
    counts_b: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, float]:
    """:func:`paired_bootstrap_diff` for statistics of per-cluster counts: both systems' counts
    (same clusters, same order) are resampled together; returns the difference A - B with its
    interval and two-sided p-value."""
    check_boot_args(n_boot, alpha)
    a, b = np.asarray(counts_a, dtype=float), np.asarray(counts_b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"counts of the two systems differ in shape: {a.shape} vs {b.shape}")
    estimate = float(statistic(a.sum(axis=0))) - float(statistic(b.sum(axis=0)))
    reps = np.array([float(statistic(np.tensordot(m, a, axes=1))) - float(statistic(np.tensordot(m, b, axes=1)))
                     for m in cluster_multiplicities(len(a), n_boot, seed)])
    return difference_interval(estimate, reps, alpha)


def difference_interval(estimate: float, reps: np.ndarray, alpha: float) -> dict[str, float]:
    """Estimate, percentile interval and two-sided p-value of a bootstrapped difference: twice
    the share of replicates on the other side of 0 from the estimate (1.0 when it is 0)."""
    low, high = percentile_interval(reps, alpha)
    valid = reps[~np.isnan(reps)]
    if valid.size == 0 or math.isnan(estimate):
        p_value = math.nan
    elif estimate > 0:
        p_value = min(1.0, 2.0 * float(np.mean(valid <= 0)))
    elif estimate < 0:
        p_value = min(1.0, 2.0 * float(np.mean(valid >= 0)))
    else:
        p_value = 1.0
    return {"estimate": float(estimate), "low": low, "high": high, "p_value": p_value}


def _as_arrays(*arrays: Sequence[Any], names: Sequence[str]) -> list[np.ndarray]:
    out = [np.asarray(list(a), dtype=object) for a in arrays]
    lengths = {name: len(a) for name, a in zip(names, out, strict=True)}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"inputs have different lengths: {lengths}")
    if not len(out[0]):
        raise ValueError("inputs must not be empty")
    return out


def paired_bootstrap_diff(
    y_true: Sequence[Any],
    pred_a: Sequence[Any],
    pred_b: Sequence[Any],
    clusters: Sequence[Any],
    metric: Callable[[np.ndarray, np.ndarray], float],
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, float]:
    """Cluster-bootstrap the difference ``metric(y_true, pred_a) - metric(y_true, pred_b)``.

    Both systems are scored on the same resampled rows. Returns ``estimate``, ``low``,
    ``high`` (percentile interval) and a two-sided ``p_value``: twice the share of
    replicate differences on the other side of 0 from the estimate (1.0 when the estimate
    is 0), capped at 1.
    """
    check_boot_args(n_boot, alpha)
    y, a, b, c = _as_arrays(
        y_true, pred_a, pred_b, clusters, names=("y_true", "pred_a", "pred_b", "clusters")
    )

    def diff(rows: np.ndarray) -> float:
        return float(metric(y[rows], a[rows])) - float(metric(y[rows], b[rows]))

    return difference_interval(diff(np.arange(len(y))), _replicates(diff, list(c), n_boot, seed), alpha)
