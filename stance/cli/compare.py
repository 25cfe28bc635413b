"""``stance-compare RUN_DIR...``: compare training runs on the same test sentences."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table

from stance.cli.common import console, exit_on_user_error


def print_comparison(result: dict) -> None:
    """Side-by-side table plus pairwise tests."""
    labels = result["labels"]
    t = Table(title=f"test split: {result['n_test']} sentences")
    for col in ["model", "runs", "macro-F1 (mean ± sd)", *[f"F1 {c}" for c in labels], "train s", "size MB"]:
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in result["table"]:
        t.add_row(
            r["model"], str(r["n_runs"]), f"{r['test_macro_f1_mean']:.3f} ± {r['test_macro_f1_sd']:.3f}",
            *[f"{r[f'test_f1_{c}_mean']:.3f}" for c in labels],
            f"{r['train_seconds_mean']:.1f}", f"{r['model_size_bytes'] / 1e6:.1f}",
        )
    console.print(t)
    for p in result["pairs"]:
        d, m = p["diff"], p["mcnemar"]
        console.print(
            f"{p['a']} − {p['b']}: macro-F1 diff {d['estimate']:+.3f} "
            f"[95% CI {d['low']:+.3f}, {d['high']:+.3f}], bootstrap p={d['p_value']:.3f}; "
            f"McNemar b={m['b']} c={m['c']} p={m['p_value']:.3f} ({m['method']}); "
            f"per-source slant Spearman rho={p['slant_spearman']:.2f} over {p['n_sources']} sources"
        )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    ap = argparse.ArgumentParser(prog="stance-compare", description=__doc__)
    ap.add_argument("run_dirs", nargs="+", type=Path, help="stance-train run directories")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the comparison as JSON here")
    args = ap.parse_args(argv)
    from stance.evaluation.compare import compare_runs

    with exit_on_user_error():
        result = compare_runs(args.run_dirs, n_boot=args.n_boot, seed=args.seed)
        print_comparison(result)
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
