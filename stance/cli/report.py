"""``stance-report``: HTML/Markdown report with figures for training runs or a scored corpus.

* ``stance-report RUN_DIR...``: one or more ``stance-train`` run directories (test split, gold);
* ``stance-report --scores OUTPUT [--scores OTHER]``: a corpus scored by ``stance-score``
  (OUTPUT = what ``stance-score --output`` was given); a second output of the same corpus from
  another model adds the comparison of the two.
"""

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
        "stance-train run directories (the first run in detail, several add a comparison), or "
        "with --scores for a corpus scored by stance-score (twice: two models compared).",
    )
    p.add_argument("run_dirs", nargs="*", type=Path, metavar="RUN_DIR",
                   help="run directory written by stance-train (metrics.json, predictions_test.parquet)")
    p.add_argument("--scores", action="append", type=Path, default=None, metavar="OUTPUT",
                   help="a stance-score output (the file --output named, e.g. scores.jsonl); give it "
                        "twice to compare two models on the same corpus")
    p.add_argument("--output", "-o", type=Path, default=None, metavar="DIR",
                   help="output folder (default: <first RUN_DIR>/report, or <OUTPUT>.report)")
    p.add_argument("--n-boot", type=int, default=1000, metavar="N",
                   help="bootstrap resamples for per-source intervals and comparisons (default 1000)")
    g = p.add_argument_group("corpus report (--scores)")
    g.add_argument("--period", default="W", metavar="ALIAS",
                   help="time step of the time section: W (weeks, default), M (months), D (days), Q, ...")
    g.add_argument("--min-sentences", type=int, default=30, metavar="N",
                   help="sentences a source needs to be ranked (default 30)")
    g.add_argument("--min-articles", type=int, default=3, metavar="N",
                   help="articles a source needs to be ranked (default 3)")
    g.add_argument("--evidence", type=int, default=3, metavar="N",
                   help="evidence sentences per label and source (default 3)")
    g.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the samples (default 0)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; prints the paths written."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.n_boot < 1:
        parser.error("--n-boot must be a positive integer")
    if args.scores and args.run_dirs:
        parser.error("give run directories or --scores outputs, not both")
    if not args.scores and not args.run_dirs:
        parser.error("give one or more RUN_DIRs, or --scores OUTPUT")
    if args.scores and len(args.scores) > 2:
        parser.error(f"--scores takes one output, or two to compare (got {len(args.scores)})")
    for name in ("min_sentences", "min_articles"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    if args.evidence < 1:
        parser.error("--evidence must be >= 1")

    with exit_on_user_error():
        if args.scores:
            from stance.reporting.corpus import write_corpus_report

            paths = write_corpus_report(args.scores, output=args.output, period=args.period, n_boot=args.n_boot,
                                        seed=args.seed, min_sentences=args.min_sentences,
                                        min_articles=args.min_articles, evidence=args.evidence)
        else:
            from stance.reporting import write_report

            paths = write_report(args.run_dirs, output=args.output, n_boot=args.n_boot)
    console.print(f"report: [bold]{paths['html']}[/bold]")
    console.print(f"markdown: {paths['markdown']}")
    for name, path in paths.items():
        if name not in ("html", "markdown"):
            console.print(f"figure {name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
