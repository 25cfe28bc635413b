"""Compare training runs evaluated on the same test sentences.

Runs are grouped by everything that is not a seed (model and its parameters, data, label mode,
scheme: :attr:`stance.evaluation.runs.RunData.group_key`); each group gets the mean and sd of
its test metrics over seeds. Every pair of groups gets, over the seeds both have, a paired
cluster bootstrap of the macro-F1 difference: each replicate resamples articles once and
averages the per-seed differences, so all seeds count and the articles stay the unit of
resampling. McNemar's test (statsmodels, exact below 25 discordant pairs) is reported per seed
for reference; it treats sentences as independent and ignores article clustering, so the
bootstrap is the test to read. Comparisons refuse runs whose test sentences or gold labels
differ, and runs of one seed whose data fingerprints differ (unless ``allow_data_mismatch``).
The result does not depend on the order of the run directories.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from stance.errors import StanceError
from stance.evaluation.bias import slant_index
from stance.evaluation.bootstrap import check_boot_args, cluster_multiplicities, difference_interval
from stance.evaluation.runs import RunData, load_run, run_scheme
from stance.metrics import confusion_by_cluster, macro_f1_from_confusion
from stance.scheme import Scheme

__all__ = ["CompareError", "compare_runs", "mcnemar", "run_scheme"]


class CompareError(StanceError):
    """Runs that cannot be compared (different test sets, gold labels, schemes or data)."""


def mcnemar(y_true: Sequence[Any], pred_a: Sequence[Any], pred_b: Sequence[Any]) -> dict[str, Any]:
    """McNemar's test of two classifiers on the same items (statsmodels): ``b`` counts items A
    gets right and B wrong, ``c`` the reverse; exact binomial below 25 discordant pairs,
    chi-square with continuity correction otherwise. Sentence-level: ignores clustering."""
    y, a, b_ = (np.asarray(list(v), dtype=object) for v in (y_true, pred_a, pred_b))
    if not len(y) == len(a) == len(b_):
        raise ValueError(f"inputs have different lengths: {len(y)}, {len(a)}, {len(b_)}")
    right_a, right_b = a == y, b_ == y
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    exact = b + c < 25
    res = sm_mcnemar([[0, b], [c, 0]], exact=exact, correction=True)
    p = 1.0 if b + c == 0 else float(res.pvalue)
    return {"b": b, "c": c, "statistic": float(res.statistic), "p_value": min(1.0, p),
            "method": "exact" if exact else "chi2", "clustered": False}


def _test_identity(run: RunData) -> pd.Series:
    pred = run.predictions["test"]
    return pred.set_index("sentence_id")["label"].sort_index()


def _check_comparable(runs: Sequence[RunData], allow_data_mismatch: bool) -> None:
    ref = runs[0]
    ref_gold = _test_identity(ref)
    for r in runs[1:]:
        if r.scheme.label_list != ref.scheme.label_list or r.scheme.poles != ref.scheme.poles:
            raise CompareError(f"label schemes differ: {ref.dir} has {ref.scheme.describe()}, "
                               f"{r.dir} has {r.scheme.describe()}")
        gold = _test_identity(r)
        if list(gold.index) != list(ref_gold.index):
            only_a, only_b = len(set(ref_gold.index) - set(gold.index)), len(set(gold.index) - set(ref_gold.index))
            raise CompareError(
                f"runs were evaluated on different test sets: {ref.dir} and {r.dir} differ in {only_a + only_b} "
                f"sentence(s) ({only_a} only in the first, {only_b} only in the second); compare runs built from "
                "the same data and split")
        flipped = int((gold != ref_gold).sum())
        if flipped:
            raise CompareError(f"the test gold labels differ between {ref.dir} and {r.dir} on {flipped} sentence(s): "
                               "the runs were scored against different gold")
    if allow_data_mismatch:
        return
    by_seed: dict[Any, RunData] = {}
    for r in runs:
        first = by_seed.setdefault(r.seed, r)
        if r.fingerprint and first.fingerprint and r.fingerprint != first.fingerprint:
            raise CompareError(
                f"{first.dir} and {r.dir} have the same seed ({r.seed}) but were trained on different data "
                f"(fingerprints {first.fingerprint[:12]} and {r.fingerprint[:12]}) (fix: rebuild with the same data, "
                "or pass --allow-data-mismatch to compare across data)")


def compare_runs(run_dirs: Sequence[str | Path], n_boot: int = 1000, seed: int = 0,
                 allow_data_mismatch: bool = False) -> dict[str, Any]:
    """Side-by-side table (mean and sd over seeds per group) and pairwise tests."""
    if len(run_dirs) < 1:
        raise CompareError("give at least one run directory")
    check_boot_args(n_boot, 0.05)
    runs = [load_run(d, splits=("test",)) for d in run_dirs]
    _check_comparable(runs, allow_data_mismatch)
    scheme = runs[0].scheme
    labels = scheme.label_list
    groups: dict[str, list[RunData]] = {}
    for r in sorted(runs, key=lambda r: (r.group_key, str(r.seed), str(r.dir))):
        groups.setdefault(r.group_key, []).append(r)
    keys = sorted(groups, key=lambda k: (groups[k][0].model, k))
    table = [_group_row(groups[k], labels) for k in keys]
    pairs = []
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            pairs.append(_pair(groups[keys[i]], groups[keys[j]], table[i], table[j], scheme, n_boot, seed))
    return {"labels": labels, "scheme": scheme.to_dict(), "n_test": len(runs[0].predictions["test"]),
            "table": table, "pairs": pairs}


def _group_row(rs: list[RunData], labels: list[str]) -> dict[str, Any]:
    f1 = np.array([r.metrics["test"]["macro_f1"] for r in rs])
    row = {
        "model": rs[0].model,
        "group": rs[0].group_label(),
        "n_runs": len(rs),
        "seeds": [r.seed for r in rs],
        "dirs": [str(r.dir) for r in rs],
        "test_macro_f1_mean": float(f1.mean()),
        "test_macro_f1_sd": float(f1.std(ddof=1)) if len(rs) > 1 else 0.0,
        "train_seconds_mean": float(np.mean([r.metrics.get("train_seconds", np.nan) for r in rs])),
        "model_size_bytes": int(np.mean([r.metrics.get("model_size_bytes", 0) for r in rs])),
    }
    for c in labels:
        row[f"test_f1_{c}_mean"] = float(np.mean([r.metrics["test"]["per_class"][c]["f1"] for r in rs]))
    return row


def _pair(ga: list[RunData], gb: list[RunData], ra: dict, rb: dict, scheme: Scheme, n_boot: int,
          seed: int) -> dict[str, Any]:
    """Paired statistics of two groups over the seeds both have (per seed, then combined)."""
    labels = scheme.label_list
    seeds = sorted({r.seed for r in ga} & {r.seed for r in gb}, key=str)
    paired = [(next(r for r in ga if r.seed == s), next(r for r in gb if r.seed == s)) for s in seeds]
    note = None
    if not paired:  # no common seed: pair the first runs of each, and say so
        paired, note = [(ga[0], gb[0])], "no seed in common: the first run of each group is paired"
    ref = paired[0][0].predictions["test"].set_index("sentence_id")
    order = ref.index
    y = ref["label"].tolist()
    clusters = ref["article_id"].tolist()
    counts_a, counts_b, per_seed = [], [], []
    for a, b in paired:
        pa = a.predictions["test"].set_index("sentence_id").loc[order, "pred"].tolist()
        pb = b.predictions["test"].set_index("sentence_id").loc[order, "pred"].tolist()
        counts_a.append(confusion_by_cluster(y, pa, clusters, labels))
        counts_b.append(confusion_by_cluster(y, pb, clusters, labels))
        per_seed.append({"seed": a.seed, "mcnemar": mcnemar(y, pa, pb)})
    ca, cb = np.stack(counts_a, axis=1), np.stack(counts_b, axis=1)  # (articles, seeds, k, k)

    def mean_diff(sa: np.ndarray, sb: np.ndarray) -> float:
        return float(np.mean([macro_f1_from_confusion(x) - macro_f1_from_confusion(z) for x, z in zip(sa, sb)]))

    estimate = mean_diff(ca.sum(axis=0), cb.sum(axis=0))
    reps = np.array([mean_diff(np.tensordot(m, ca, axes=1), np.tensordot(m, cb, axes=1))
                     for m in cluster_multiplicities(len(ca), n_boot, seed)])
    diff = difference_interval(estimate, reps, 0.05)
    diff["per_seed"] = [float(macro_f1_from_confusion(ca[:, s].sum(axis=0)) - macro_f1_from_confusion(cb[:, s].sum(axis=0)))
                        for s in range(ca.shape[1])]
    first_a, first_b = paired[0]
    return {
        "a": ra["group"], "b": rb["group"], "a_model": ra["model"], "b_model": rb["model"],
        "seeds": [a.seed for a, _ in paired], "n_seeds": len(paired), "note": note,
        "diff": diff,
        "mcnemar": per_seed[0]["mcnemar"],
        "mcnemar_per_seed": per_seed,
        "slant_spearman": _slant_spearman(first_a.predictions["test"], first_b.predictions["test"], scheme),
        "n_sources": int(ref["source"].nunique()),
    }


def _slant_spearman(pa: pd.DataFrame, pb: pd.DataFrame, scheme: Scheme) -> float:
    """Spearman correlation of two runs' per-source predicted slants (NaN without poles or
    with fewer than three sources)."""
    if not scheme.has_slant:
        return float("nan")
    sa = pa.groupby("source")["pred"].apply(lambda s: slant_index(list(s), scheme))
    sb = pb.groupby("source")["pred"].apply(lambda s: slant_index(list(s), scheme))
    if len(sa) <= 2:
        return float("nan")
    return float(spearmanr(sa.to_numpy(), sb.loc[sa.index].to_numpy()).statistic)
