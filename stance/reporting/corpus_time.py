"""The time section of the corpus report: slant (or label shares) per period, corpus-wide and per source.

:func:`time_section` lays out :func:`stance.evaluation.corpus.period_table`'s result: a note on
the articles without a readable date, the corpus-wide line per period, a source-by-period
heatmap of the slant (schemes with poles), and a per-source period table when the periods are
few enough to read as columns (:data:`MAX_TABLE_PERIODS`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from stance.evaluation.corpus import ALL_SOURCES
from stance.reporting import plots
from stance.reporting.corpus_tables import Corpus, period_name
from stance.reporting.document import (
    DASH,
    Fig,
    FigRow,
    Para,
    Section,
    Table,
    fmt_ci,
    fmt_num,
    fmt_pct,
)
from stance.scheme import Scheme

__all__ = ["MAX_TABLE_PERIODS", "time_section"]

MAX_TABLE_PERIODS = 26
"""Most periods the per-source time table shows as columns (half a year of weeks)."""


def time_section(c: Corpus, res: Any, outdir: Path, figs: dict[str, Path]) -> Section:
    """The time section of ``c`` from ``res`` (a :func:`~stance.evaluation.corpus.period_table` result)."""
    pname = period_name(res.period)
    sec = Section("time", f"Over time (by {pname})")
    missing = _missing_dates(res)
    if not res.n_dated:
        sec.blocks.append(Para(
            "No article in this output carries a readable date, so there is no time section. Give the articles "
            "a date (a date field in a JSONL/CSV input, or a date column in the --manifest of a directory "
            "input) and score again." + (f" ({'; '.join(missing)}.)" if missing else ""), "note"))
        return sec
    if missing:
        sec.blocks.append(Para("; ".join(missing).capitalize() + f": they are left out of this section only "
                               f"({res.n_dated} of {res.n_articles} articles are placed in time).", "note"))
    table = res.table
    allrows = table[table["source"] == ALL_SOURCES]
    periods = res.periods
    sec.blocks.append(FigRow([_corpus_figure(c, allrows, periods, pname, outdir, figs)]))
    per_source = table[table["source"] != ALL_SOURCES]
    empty = [p for p in periods if p not in set(allrows["period"])]
    if empty:
        sec.blocks.append(Para(f"{len(empty)} {pname}(s) between the first and the last date have no article "
                               f"(gaps in the line, blank columns below).", "note"))
    order = [s for s in c.order if s in set(per_source["source"])]
    if c.scheme.has_slant:
        sec.blocks.append(FigRow([_sources_figure(c, per_source, order, periods, pname, outdir, figs)]))
    if len(periods) > MAX_TABLE_PERIODS:
        sec.blocks.append(Para(
            f"The per-source table is left out: {len(periods)} {pname}s are too many columns to read "
            f"(at most {MAX_TABLE_PERIODS}); the figure above shows them all, or choose a longer period "
            "(stance-report --period M for months).", "note"))
        return sec
    sec.blocks.append(_period_table(c, per_source, order, periods, pname))
    return sec


def _missing_dates(res: Any) -> list[str]:
    """What keeps articles out of time: no date, or a date that could not be read."""
    missing = []
    if res.n_undated:
        missing.append(f"{res.n_undated} article(s) carry no date")
    if res.n_bad_dates:
        missing.append(f"{res.n_bad_dates} have a date that could not be read (e.g. {'; '.join(res.bad_examples[:3])})")
    return missing


def _corpus_figure(c: Corpus, allrows: pd.DataFrame, periods: list[str], pname: str, outdir: Path,
                   figs: dict[str, Path]) -> Fig:
    """The corpus-wide line per period: the slant, or each label's share for a scheme without poles."""
    scheme = c.scheme
    if scheme.has_slant:
        series = [("slant", "all sources")]
        colors = None
        ylabel, ylim = f"slant ({scheme.slant_description()})", (-1.0, 1.0)
    else:
        series = [(f"share_{lab}", lab) for lab in scheme.label_list]
        colors = {f"share_{lab}": col for lab, col in plots.label_colors(scheme).items()}
        ylabel, ylim = "share of sentences", (0.0, 1.0)
    figs["time_corpus"] = plots.plot_period_lines(allrows, outdir / "time_corpus.png", periods, series,
                                                  colors=colors, ylabel=ylabel, ylim=ylim,
                                                  title=f"All sources, per {pname} (95% article-bootstrap CI)")
    return Fig("time_corpus", figs["time_corpus"],
               f"Corpus-wide line per {pname} with its interval; bars: articles per {pname}.")


def _sources_figure(c: Corpus, per_source: pd.DataFrame, order: list[str], periods: list[str], pname: str,
                    outdir: Path, figs: dict[str, Path]) -> Fig:
    """The heatmap of the slant per source and period (schemes with poles)."""
    poles = c.scheme.poles
    assert poles is not None  # noqa: S101 - caller checks has_slant
    figs["time_sources"] = plots.plot_period_heatmap(per_source, outdir / "time_sources.png", order, periods,
                                                     column="slant", title=f"Slant per source and {pname}",
                                                     low=c.low, colorbar_label=f"slant (+ {poles[0]}, "
                                                                               f"\u2212 {poles[1]})")
    return Fig("time_sources", figs["time_sources"],
               f"Slant per source and {pname}: colour = slant, number = articles.")


def _period_table(c: Corpus, per_source: pd.DataFrame, order: list[str], periods: list[str], pname: str) -> Table:
    """Sources by periods: the slant with its interval, or the most frequent label, and the articles."""
    value = "slant" if c.scheme.has_slant else None
    idx = per_source.set_index(["source", "period"])
    rows = [[s, *(_period_cell(idx, s, p, value, c.scheme) for p in periods)] for s in order]
    what = "slant [95% CI]" if value else "most frequent label and its share"
    return Table(["source", *(plots.period_tick(p) for p in periods)], rows,
                 numeric=set(range(1, 1 + len(periods))),
                 muted_rows={i for i, s in enumerate(order) if s in c.low},
                 caption=f"Per source and {pname} (columns: first day): {what} and the number of "
                         f"articles; 1 article: no interval; \u2013: no article.")


def _period_cell(idx: pd.DataFrame, s: str, p: str, value: str | None, scheme: Scheme) -> str:
    """The cell of source ``s`` in period ``p`` (:data:`DASH` when it has no article then)."""
    if (s, p) not in idx.index:
        return DASH
    r = idx.loc[(s, p)]
    n = int(r["n_articles"])
    if value is not None:
        est = fmt_num(r[value], signed=True)
        return (f"{est} (1 art.)" if n < 2 else
                f"{fmt_ci(r[value], r[f'{value}_low'], r[f'{value}_high'], signed=True)} ({n} art.)")
    top = max(scheme.label_list, key=lambda lab: float(r[f"share_{lab}"]))
    return f"{top} {fmt_pct(r[f'share_{top}'])} ({n} art.)"
