"""``stance-report``: HTML/Markdown report with figures for one or more training runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from stance.cli.common import console, exit_on_user_error


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stance-report",
        description="Write report.html (self-contained), report.md and PNG figures for "
        "stance-train run directories. The first run is described in detail; several runs "
        "add a comparison section.",
    )
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR",
                   help="run directory written by stance-train (metrics.json, predictions_test.parquet)")
    p.add_argument("--output", "-o", type=Path, default=None, metavar="DIR",
                   help="output folder (default: <first RUN_DIR>/report)")
    p.add_argument("--n-boot", type=int, default=1000, metavar="N",
                   help="bootstrap resamples for per-source intervals and comparisons (default 1000)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; prints the paths written."""
    args = build_parser().parse_args(argv)
    if args.n_boot < 1:
        build_parser().error("--n-boot must be a positive integer")
    from stance.reporting import write_report

    with exit_on_user_error():
        paths = write_report(args.run_dirs, output=args.output, n_boot=args.n_boot)
    console.print(f"report: [bold]{paths['html']}[/bold]")
    console.print(f"markdown: {paths['markdown']}")
    for name, path in paths.items():
        if name not in ("html", "markdown"):
            console.print(f"figure {name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
