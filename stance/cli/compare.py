"""``stance-compare RUN_DIR...``: compare training runs on the same test sentences."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from stance.atomic import write_json_atomic
from stance.cli.common import console, exit_on_user_error


def print_comparison(result: dict) -> None:
    """Side-by-side table plus pairwise tests."""
    labels = result["labels"]
    t = Table(title=f"test split: {result['n_test']} sentences")
    for col in ["group", "seeds", "macro-F1 (mean ± sd)", *[f"F1 {c}" for c in labels], "train s", "size MB"]:
        t.add_column(col, justify="left" if col == "group" else "right")
    for r in result["table"]:
        t.add_row(
            r["group"], ",".join(str(s) for s in r["seeds"]), f"{r['test_macro_f1_mean']:.3f} ± {r['test_macro_f1_sd']:.3f}",
            *[f"{r[f'test_f1_{c}_mean']:.3f}" for c in labels],
            f"{r['train_seconds_mean']:.1f}", f"{r['model_size_bytes'] / 1e6:.1f}",
        )
    console.print(t)
    for p in result["pairs"]:
        d = p["diff"]
        seeds = ",".join(str(s) for s in p["seeds"])
        console.print(
            f"{p['a']}  −  {p['b']}\n"
            f"  macro-F1 diff {d['estimate']:+.3f} [95% CI {d['low']:+.3f}, {d['high']:+.3f}] "
            f"(article-clustered paired bootstrap over {p['n_seeds']} seed(s) {seeds}), p={d['p_value']:.3f}; "
            f"per seed {', '.join(f'{x:+.3f}' for x in d['per_seed'])}"
        )
        for m in p["mcnemar_per_seed"]:
            t_ = m["mcnemar"]
            console.print(f"  seed {m['seed']}: McNemar b={t_['b']} c={t_['c']} p={t_['p_value']:.3f} "
                          f"({t_['method']}, sentence-level: ignores article clustering)")
        console.print(f"  per-source slant Spearman rho={p['slant_spearman']:.2f} over {p['n_sources']} sources")
        if p.get("note"):
            console.print(f"  note: {p['note']}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    ap = argparse.ArgumentParser(prog="stance-compare", description=__doc__)
    ap.add_argument("run_dirs", nargs="+", type=Path, help="stance-train run directories")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the comparison as JSON here")
    ap.add_argument("--allow-data-mismatch", action="store_true",
                    help="compare runs of the same seed trained on different data (same test sentences)")
    args = ap.parse_args(argv)
    from stance.evaluation.compare import compare_runs

    with exit_on_user_error():
        result = compare_runs(args.run_dirs, n_boot=args.n_boot, seed=args.seed,
                              allow_data_mismatch=args.allow_data_mismatch)
        print_comparison(result)
        if args.json:
            write_json_atomic(args.json, result)
