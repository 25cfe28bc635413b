"""Printing helpers shared by the command-line tools."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from rich.console import Console
from rich.table import Table

from stance.data.build import BuildResult
from stance.errors import StanceError

console = Console(highlight=False)
if not console.is_terminal:  # logs and CI: do not squeeze tables into 80 columns
    console = Console(highlight=False, width=160)


@contextlib.contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Turn user errors into one clear message and exit status 2 (no traceback)."""
    try:
        yield
    except StanceError as e:
        console.print(f"[bold red]error:[/bold red] {e}")
        sys.exit(2)


def print_build_summary(result: BuildResult) -> None:
    """Articles, sentences, removed lines, labels per split and per source."""
    s = result.summary()
    labels = list(result.labels)
    head = Table(title="stance-build summary", show_header=False)
    head.add_row("articles", str(s["articles"]))
    head.add_row("sentences", str(s["sentences"]))
    head.add_row("labelled (after dedup)", str(s["labelled_sentences"]))
    head.add_row("unlabelled sentences", str(s["unlabelled_sentences"]))
    head.add_row("gold labels without sentence", str(s["gold_without_sentence"]))
    head.add_row("removed lines", ", ".join(f"{k}={v}" for k, v in sorted(s["removed_lines"].items())) or "0")
    head.add_row("skipped records", str(s["skipped_records"]))
    head.add_row("articles without sentences", str(len(s["articles_without_sentences"])))
    head.add_row("cross-split duplicates dropped", str(s["cross_split_duplicates_dropped"]))
    head.add_row("fingerprint", s["fingerprint"][:16])
    console.print(head)
    for title, key in (("labels per split", "labels_per_split"), ("labels per source", "labels_per_source")):
        t = Table(title=title)
        t.add_column(key.split("_")[-1])
        for lab in labels:
            t.add_column(lab, justify="right")
        t.add_column("total", justify="right")
        for name, counts in sorted(s[key].items()):
            t.add_row(name, *(str(counts.get(lab, 0)) for lab in labels), str(sum(counts.values())))
        console.print(t)
    for note in s["split_notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
    if result.join.orphans:
        console.print(
            f"[yellow]warning:[/yellow] {len(result.join.orphans)} gold label(s) name sentences that "
            "no longer exist (listed in build_report.json)"
        )
    if result.skipped:
        console.print(f"[yellow]warning:[/yellow] {len(result.skipped)} record(s) skipped:")
        for sk in result.skipped[:10]:
            console.print(f"  {sk.where}: {sk.reason}")
