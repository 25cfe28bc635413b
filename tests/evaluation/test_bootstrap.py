"""Checks of the cluster bootstrap and the paired bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stance.evaluation.bootstrap import (
    Interval,
    cluster_bootstrap,
    paired_bootstrap_diff,
)

N_BOOT = 200

# 5 clusters of unequal size; the value is constant within a cluster
CLUSTERS = np.array(["a"] * 4 + ["b"] * 1 + ["c"] * 3 + ["d"] * 2 + ["e"] * 5)
VALUES = np.array([1.0] * 4 + [0.0] * 1 + [1.0] * 3 + [0.0] * 2 + [0.0] * 5)


def _mean(rows: np.ndarray) -> float:
    return float(VALUES[rows].mean())


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(y == p))


def test_interval_to_dict() -> None:
    assert Interval(0.5, 0.25, 0.75).to_dict() == {"estimate": 0.5, "low": 0.25, "high": 0.75}


def test_estimate_uses_all_rows_and_ci_contains_it() -> None:
    ci = cluster_bootstrap(_mean, CLUSTERS, n_boot=N_BOOT, seed=0)
    # 7 ones out of 15 rows
    assert ci.estimate == pytest.approx(7 / 15)
    assert ci.low <= ci.estimate <= ci.high
    assert 0.0 <= ci.low < ci.high <= 1.0


def test_deterministic_for_seed() -> None:
    a = cluster_bootstrap(_mean, CLUSTERS, n_boot=N_BOOT, seed=3)
    b = cluster_bootstrap(_mean, list(CLUSTERS), n_boot=N_BOOT, seed=3)
    c = cluster_bootstrap(_mean, CLUSTERS, n_boot=N_BOOT, seed=4)
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)


def test_statistic_receives_integer_row_indices() -> None:
    seen: list[np.ndarray] = []

    def stat(rows: np.ndarray) -> float:
        seen.append(rows)
        return 0.0

    cluster_bootstrap(stat, CLUSTERS, n_boot=20)
    assert len(seen) == 21  # the estimate on all rows + 20 replicates
    assert sorted(seen[0].tolist()) == list(range(len(CLUSTERS)))
    assert all(np.issubdtype(r.dtype, np.integer) for r in seen)


def test_resampling_is_by_cluster() -> None:
    n_clusters = 5
    distinct: list[int] = []
    replicates: list[np.ndarray] = []

    def stat(rows: np.ndarray) -> float:
        replicates.append(rows)
        distinct.append(len(set(CLUSTERS[rows])))
        return float(distinct[-1])

    ci = cluster_bootstrap(stat, CLUSTERS, n_boot=N_BOOT, seed=1)
    assert ci.estimate == n_clusters
    assert max(distinct) <= n_clusters and ci.high <= n_clusters
    # with 5 draws from 5 clusters, some replicate misses a cluster
    assert min(distinct[1:]) < n_clusters
    members = {c: np.flatnonzero(np.asarray(CLUSTERS) == c) for c in "abcde"}
    for rows in replicates[1:]:
        counts = np.bincount(rows, minlength=len(CLUSTERS))
        times_drawn = {}
        for c, idx in members.items():
            # all rows of a cluster move together: each appears the same number of times
            assert len(set(counts[idx].tolist())) == 1
            times_drawn[c] = int(counts[idx][0])
        # exactly n_clusters clusters are drawn per replicate (with replacement)
        assert sum(times_drawn.values()) == n_clusters
        assert len(rows) == sum(len(members[c]) * k for c, k in times_drawn.items())


def test_single_cluster_gives_degenerate_interval() -> None:
    ci = cluster_bootstrap(lambda rows: float(len(rows)), ["x"] * 4, n_boot=50)
    assert (ci.estimate, ci.low, ci.high) == (4.0, 4.0, 4.0)


def test_nan_replicates_are_dropped() -> None:
    # NaN whenever cluster "b" is missing from the replicate; others are finite
    def stat(rows: np.ndarray) -> float:
        return _mean(rows) if "b" in set(CLUSTERS[rows]) else math.nan

    ci = cluster_bootstrap(stat, CLUSTERS, n_boot=N_BOOT, seed=0)
    assert not math.isnan(ci.low) and not math.isnan(ci.high)


def test_all_nan_replicates_give_nan_bounds() -> None:
    calls = {"n": 0}

    def stat(rows: np.ndarray) -> float:
        calls["n"] += 1
        return 1.0 if calls["n"] == 1 else math.nan

    ci = cluster_bootstrap(stat, CLUSTERS, n_boot=20)
    assert ci.estimate == 1.0
    assert math.isnan(ci.low) and math.isnan(ci.high)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_boot": 0}, "n_boot"),
        ({"alpha": 1.5}, "alpha"),
        ({"alpha": 0.0}, "alpha"),
    ],
)
def test_cluster_bootstrap_bad_args(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        cluster_bootstrap(_mean, CLUSTERS, **kwargs)


def test_cluster_bootstrap_bad_clusters() -> None:
    with pytest.raises(ValueError, match="clusters must not be empty"):
        cluster_bootstrap(_mean, [])
    with pytest.raises(ValueError, match="missing values"):
        cluster_bootstrap(_mean, ["a", None, "b"])


# paired bootstrap: 20 items in 10 articles of 2; A is always right, B right on even items
Y_TRUE = np.array(["pro_islamabad", "pro_kabul", "neutral", "neutral"] * 5)
PRED_A = Y_TRUE.copy()
PRED_B = np.where(np.arange(20) % 2 == 0, Y_TRUE, "neutral")  # odd items: 3 of 10 still right
ARTICLES = np.repeat(np.arange(10), 2)


def test_paired_bootstrap_sign() -> None:
    # accuracy A = 1; B right on 10 even items + odd items whose truth is neutral (index 3 of
    # each block of 4 -> 5 items) -> 15/20; difference 0.25
    res = paired_bootstrap_diff(Y_TRUE, PRED_A, PRED_B, ARTICLES, accuracy, n_boot=N_BOOT)
    assert set(res) == {"estimate", "low", "high", "p_value"}
    assert res["estimate"] == pytest.approx(0.25)
    assert 0 < res["low"] <= res["estimate"] <= res["high"]
    assert res["p_value"] < 0.05

    rev = paired_bootstrap_diff(Y_TRUE, PRED_B, PRED_A, ARTICLES, accuracy, n_boot=N_BOOT)
    assert rev["estimate"] == pytest.approx(-0.25)
    assert rev["low"] <= rev["high"] < 0
    assert rev["p_value"] == res["p_value"]


def test_paired_bootstrap_identical_systems() -> None:
    res = paired_bootstrap_diff(Y_TRUE, PRED_B, PRED_B, ARTICLES, accuracy, n_boot=50)
    assert res == {"estimate": 0.0, "low": 0.0, "high": 0.0, "p_value": 1.0}


def test_paired_bootstrap_deterministic_and_bad_args() -> None:
    a = paired_bootstrap_diff(Y_TRUE, PRED_A, PRED_B, ARTICLES, accuracy, n_boot=50, seed=7)
    b = paired_bootstrap_diff(Y_TRUE, PRED_A, PRED_B, ARTICLES, accuracy, n_boot=50, seed=7)
    assert a == b
    with pytest.raises(ValueError, match="different lengths"):
        paired_bootstrap_diff(Y_TRUE, PRED_A[:-1], PRED_B, ARTICLES, accuracy)
    with pytest.raises(ValueError, match="empty"):
        paired_bootstrap_diff([], [], [], [], accuracy)


@pytest.mark.slow
def test_counts_bootstrap_draws_the_same_replicates_as_the_row_bootstrap() -> None:
    from stance.evaluation.bootstrap import cluster_bootstrap_counts, paired_bootstrap_counts
    from stance.metrics import confusion_by_cluster, macro_f1, macro_f1_from_confusion

    rng = np.random.default_rng(3)
    labels = ["a", "b", "c"]
    clusters = rng.integers(0, 25, 400).astype(str)
    y = rng.choice(labels, 400)
    p = np.where(rng.random(400) < 0.7, y, rng.choice(labels, 400))
    q = np.where(rng.random(400) < 0.6, y, rng.choice(labels, 400))
    counts = confusion_by_cluster(y, p, clusters, labels)
    rows = cluster_bootstrap(lambda i: macro_f1(y[i], p[i], labels), clusters, n_boot=200, seed=9)
    fast = cluster_bootstrap_counts(counts, macro_f1_from_confusion, n_boot=200, seed=9)
    assert fast.to_dict() == pytest.approx(rows.to_dict(), abs=1e-12)
    slow = paired_bootstrap_diff(y, p, q, clusters, lambda t, s: macro_f1(t, s, labels), n_boot=200, seed=4)
    quick = paired_bootstrap_counts(counts, confusion_by_cluster(y, q, clusters, labels), macro_f1_from_confusion,
                                    n_boot=200, seed=4)
    assert quick == pytest.approx(slow, abs=1e-12)


def test_multiplicity_matrix_holds_the_draws_of_cluster_multiplicities():
    from stance.evaluation.bootstrap import cluster_multiplicities, multiplicity_matrix

    for n, n_boot, seed in ((1, 4, 0), (9, 60, 3), (120, 40, 11)):
        expected = np.stack(list(cluster_multiplicities(n, n_boot, seed)))
        got = multiplicity_matrix(n, n_boot, seed)
        assert got.shape == (n_boot, n) and (got == expected).all() and (got.sum(axis=1) == n).all()
