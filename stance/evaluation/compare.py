"""Compare training runs evaluated on the same test sentences.

Runs that share a config (model name and everything but the seed) are pooled: mean and sd
over seeds. Pairs of configs get a paired cluster-bootstrap CI of the macro-F1 difference and
McNemar's test on the same sentences (first seed of each), and the Spearman correlation of
their per-source predicted slants.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from stance.errors import StanceError
from stance.evaluation.bias import slant_index
from stance.evaluation.bootstrap import mcnemar, paired_bootstrap_counts
from stance.metrics import confusion_by_cluster, macro_f1_from_confusion
from stance.scheme import Scheme


class CompareError(StanceError):
    """Runs that cannot be compared (missing files, different test sets or label sets)."""


def load_run(run_dir: str | Path, split: str = "test") -> dict[str, Any]:
    """Metrics, predictions and identity of one run directory."""
    d = Path(run_dir)
    missing = [f for f in ("metrics.json", f"predictions_{split}.parquet", "run_info.json")
               if not (d / f).is_file()]
    if missing:
        raise CompareError(f"{d} is not a complete stance-train run directory: missing {', '.join(missing)}")
    metrics = json.loads((d / "metrics.json").read_text())
    info = json.loads((d / "run_info.json").read_text())
    if split not in metrics:
        raise CompareError(f"{d}/metrics.json has no {split!r} results")
    pred = pd.read_parquet(d / f"predictions_{split}.parquet")
    return {"dir": d, "metrics": metrics, "info": info, "pred": pred, "config_key": _config_key(d),
            "scheme": run_scheme(info)}


def run_scheme(info: dict[str, Any]) -> Scheme:
    """The scheme a run directory's ``run_info.json`` records (runs made before schemes
    existed: the bundled scheme with the same labels, if any)."""
    if info.get("scheme"):
        return Scheme.from_dict(info["scheme"])
    from stance.resources import legacy_scheme

    return legacy_scheme(list(info.get("labels") or []))


def _config_key(d: Path) -> str:
    """Model name plus the model hyperparameters, ignoring the seed."""
    import yaml

    cfg_file = d / "config.yaml"
    if not cfg_file.is_file():
        return d.name
    cfg = yaml.safe_load(cfg_file.read_text())
    model = dict(cfg.get("model", {}).get("classifier", {}))
    model.pop("seed", None)
    return f"{cfg.get('model', {}).get('name', '?')} {json.dumps(model, sort_keys=True)}"


def _check_same_test_set(runs: Sequence[dict[str, Any]]) -> None:
    ref = runs[0]
    ref_ids = ref["pred"]["sentence_id"].tolist()
    ref_labels = ref["info"].get("labels")
    for r in runs[1:]:
        if r["info"].get("labels") != ref_labels or r["scheme"].poles != ref["scheme"].poles:
            raise CompareError(
                f"label schemes differ: {ref['dir']} has {ref['scheme'].describe()}, "
                f"{r['dir']} has {r['scheme'].describe()}"
            )
        ids = r["pred"]["sentence_id"].tolist()
        if sorted(ids) != sorted(ref_ids):
            only_a = len(set(ref_ids) - set(ids))
            only_b = len(set(ids) - set(ref_ids))
            raise CompareError(
                f"runs were evaluated on different test sets: {ref['dir']} and {r['dir']} differ in "
                f"{only_a + only_b} sentence(s) ({only_a} only in the first, {only_b} only in the "
                "second); compare runs built from the same data and split"
            )


def compare_runs(run_dirs: Sequence[str | Path], n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Side-by-side table (mean ± sd over seeds per config) and pairwise tests."""
    if len(run_dirs) < 1:
        raise CompareError("give at least one run directory")
    runs = [load_run(d) for d in run_dirs]
    _check_same_test_set(runs)
    labels = list(runs[0]["info"]["labels"])
    scheme: Scheme = runs[0]["scheme"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault(r["config_key"], []).append(r)
    table = []
    for key, rs in groups.items():
        f1 = np.array([r["metrics"]["test"]["macro_f1"] for r in rs])
        row = {
            "model": rs[0]["metrics"].get("model", key.split()[0]),
            "config": key,
            "n_runs": len(rs),
            "seeds": [r["metrics"].get("seed") for r in rs],
            "test_macro_f1_mean": float(f1.mean()),
            "test_macro_f1_sd": float(f1.std(ddof=1)) if len(rs) > 1 else 0.0,
            "train_seconds_mean": float(np.mean([r["metrics"].get("train_seconds", np.nan) for r in rs])),
            "model_size_bytes": int(np.mean([r["metrics"].get("model_size_bytes", 0) for r in rs])),
        }
        for c in labels:
            row[f"test_f1_{c}_mean"] = float(np.mean([r["metrics"]["test"]["per_class"][c]["f1"] for r in rs]))
        table.append(row)
    pairs = []
    keys = list(groups)
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            a, b = groups[keys[i]][0], groups[keys[j]][0]
            pa = a["pred"].set_index("sentence_id")
            pb = b["pred"].set_index("sentence_id").loc[pa.index]
            y = pa["label"].to_numpy()
            clusters = pa["article_id"].tolist()
            diff = paired_bootstrap_counts(
                confusion_by_cluster(y, pa["pred"].tolist(), clusters, labels),
                confusion_by_cluster(y, pb["pred"].tolist(), clusters, labels),
                macro_f1_from_confusion, n_boot=n_boot, seed=seed,
            )
            rho = _slant_spearman(pa, pb, scheme)
            n_sources = int(pa["source"].nunique())
            pairs.append({
                "a": table[i]["model"], "b": table[j]["model"],
                "a_dir": str(a["dir"]), "b_dir": str(b["dir"]),
                "diff": diff,
                "mcnemar": mcnemar(y, pa["pred"].to_numpy(), pb["pred"].to_numpy()),
                "slant_spearman": float(rho),
                "n_sources": n_sources,
            })
    return {"labels": labels, "scheme": scheme.to_dict(), "n_test": len(runs[0]["pred"]), "table": table,
            "pairs": pairs}


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
