"""Report of a scored corpus (``stance-report --scores OUTPUT``), and two models compared on it.

:func:`write_corpus_report` reads what ``stance-score --output OUTPUT`` wrote
(:func:`stance.scoring.records.read_output`) and writes, into the output folder,
``report.html`` (self-contained: inline CSS, figures as data URIs, no scripts), ``report.md``
(linking the PNGs beside it) and the PNG figures. Sections: the corpus; the model and how far
to trust it; per-source slant (or label distribution for a scheme without poles), raw and
prevalence-corrected; editorial vs quoted voice and voice balance; slant over time; the
evidence sentences; and, for a second output, the two models compared on the sentences both
scored (:func:`compare_outputs`, also behind ``stance-compare --scores A B``).

The statistics come from :mod:`stance.evaluation.bias` and :mod:`stance.evaluation.corpus`;
this module chooses, orders and words them. The time section is :mod:`stance.reporting.corpus_time`'s,
the comparison :mod:`stance.reporting.corpus_compare`'s, the per-source tables the sections share
:mod:`stance.reporting.corpus_tables`' and the rendering :mod:`stance.reporting.render`'s.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from stance.errors import ConfigError
from stance.evaluation.corpus import check_period, evidence_sentences, period_table
from stance.reporting import plots
from stance.reporting.corpus_compare import compare_outputs, comparison_section
from stance.reporting.corpus_tables import Corpus, fmt_source_ci, model_name, period_name, shorten
from stance.reporting.corpus_time import time_section
from stance.reporting.document import (
    DASH,
    Fig,
    FigRow,
    Link,
    Para,
    Section,
    Table,
    fmt_ci,
    fmt_num,
    fmt_pct,
)
from stance.reporting.render import write_pages
from stance.scheme import check_same_scheme
from stance.scoring.records import read_output

__all__ = ["compare_outputs", "default_report_dir", "write_corpus_report"]


def default_report_dir(output: str | Path) -> Path:
    """``<output>.report/`` beside the records file."""
    out = Path(output)
    return out.with_name(f"{out.name}.report")



# --------------------------------------------------------------------------- sections


def _summary_section(c: Corpus, period: str, dates_note: str) -> Section:
    o, run = c.out, c.out.run
    sec = Section("corpus", "The corpus")
    fp = run.get("fingerprint") or {}
    last = run.get("last_run") or {}
    n_art = o.records["article_id"].nunique()
    rows = [
        ["score output", str(o.path)],
        ["model", f"{fp.get('kind', '?')} \u00b7 weights {str(fp.get('model_sha256', '?'))[:12]} \u00b7 "
                  f"{fp.get('path') or 'path not recorded'}"],
        ["scheme", f"{c.scheme.name}: labels {', '.join(c.scheme.label_list)}"
                   + (f"; slant = {c.scheme.slant_description()}" if c.scheme.has_slant else "; no poles (no slant)")],
        ["articles with scored sentences", str(n_art)],
        ["sentences", str(len(o.records))],
        ["sources", f"{len(c.order)} ({len(c.supported)} with enough support, {len(c.low)} below)"],
        ["dates", dates_note],
    ]
    if last:
        skipped = last.get("skipped_records", 0)
        by = last.get("skipped_by_reason") or {}
        rows.append(["input records skipped by the last scoring run",
                     str(skipped) + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(by.items())) + ")" if by else "")])
        empty = (run.get("totals") or {}).get("empty_articles")
        if empty:
            rows.append(["articles without body sentences (not in the tables)", str(empty)])
    sec.blocks.append(Table(["", ""], rows))
    sec.blocks.append(Para(
        f"Support: a source needs at least {c.min_sentences} sentence(s) and {c.min_articles} article(s) to be "
        f"ranked; sources below are listed apart. Intervals: 95% bootstrap over the articles of each "
        f"source ({c.n_boot} resamples; the sentences of an article are resampled together).", "note"))
    return sec


def _model_section(c: Corpus) -> Section:
    sec = Section("model", "The model and how far to trust it")
    info = c.model_info
    metrics = info.get("metrics") or {}
    rows = []
    for split in ("validation", "test"):
        m = metrics.get(split)
        if not isinstance(m, dict):
            continue
        ci = m.get("macro_f1_ci") or {}
        rows.append([split, str(m.get("n", DASH)), str(m.get("n_articles", DASH)),
                     fmt_ci(m.get("macro_f1"), ci.get("low"), ci.get("high")), fmt_num(m.get("accuracy")), fmt_num(m.get("ece"))])
    if rows:
        sec.blocks.append(Table(["split", "sentences", "articles", "macro-F1 [95% CI]", "accuracy", "ECE"], rows,
                                numeric={1, 2, 3, 4, 5},
                                caption=f"Validation figures of the model ({info.get('metrics_file', 'metrics.json')})."))
    else:
        sec.blocks.append(Para(
            "No validation figures travel with this output (the model was not saved by stance-train, or "
            "its run directory's metrics.json was not beside it when scoring): nothing on this page "
            "says how accurate the labels are.", "note"))
    temp = info.get("temperature")
    kind = info.get("kind") or (c.out.run.get("fingerprint") or {}).get("kind")
    if temp is not None:
        cal = (f"Calibration: the probabilities are temperature-scaled on the validation split "
               f"(T = {fmt_num(temp, 2)}).")
    elif kind == "tfidf":
        cal = "Calibration: the probabilities are those of a logistic regression, not recalibrated."
    else:
        cal = "Calibration: no calibration recorded for this model."
    ece = (metrics.get("validation") or {}).get("ece")
    if ece is not None:
        cal += (f" Validation ECE {fmt_num(ece)}: a sentence given probability p is right about p of the time, "
                f"within about {fmt_num(ece, 2)} on average, on data like the validation split. The evidence "
                "sentences below are ranked by these probabilities.")
    sec.blocks.append(Para(cal))
    if c.confusion:
        sec.blocks.append(Para(
            "Prevalence correction: each source's predicted label shares are corrected with the model's "
            "validation confusion matrix (adjusted classify-and-count), so that a model that over-predicts "
            "one label does not move every outlet's number the same way. The corrected intervals cover the "
            "sampling of articles only, not the uncertainty of the confusion matrix itself."
            + (f" It failed here: {c.correction_error}." if c.correction_error else "")))
    else:
        sec.blocks.append(Para("No validation confusion matrix travels with the model: the shares are not "
                               "prevalence-corrected.", "note"))
    data_name, label_source = info.get("data_name"), info.get("label_source")
    caveat = ("Caveat: the validation figures were measured on the model's own validation split"
              + (f" (data {data_name!r}" + (f", labels from {label_source}" if label_source else "") + ")"
                 if data_name else "")
              + ". This corpus is other text, unlabelled: outlets, events, period or style that differ from the "
                "training data lower accuracy, by an amount nothing here measures. Read the evidence sentences "
                "of a source before quoting its number.")
    if data_name == "sample" or (label_source and str(label_source) != "gold"):
        caveat += (" The model's training labels are " + ("synthetic (the bundled sample)" if data_name == "sample"
                                                           else f"not human gold ({label_source})")
                   + ": treat the figures as a demonstration, not a measurement of real coverage.")
    sec.blocks.append(Para(caveat, "note"))
    return sec


def _sources_section(c: Corpus, outdir: Path, figs: dict[str, Path]) -> Section:
    scheme, t = c.scheme, c.t
    if scheme.has_slant:
        pos, neg = scheme.poles  # type: ignore[misc]
        sec = Section("sources", "Per-source slant")
        sec.blocks.append(Para(
            f"Slant = share of {pos} sentences \u2212 share of {neg} sentences, in [\u22121, 1]; positive "
            f"leans {pos}. Corrected: the same after prevalence correction (see the model section)."))
        figs["corpus_slant"] = plots.plot_source_slant(c.table, outdir / "corpus_slant.png", scheme.poles,
                                                       title="Per-source slant of the predicted labels (95% CI)")
        sec.blocks.append(FigRow([Fig("corpus_slant", figs["corpus_slant"],
                                      "Per-source slant with 95% article-bootstrap intervals; sources below "
                                      "minimum support at the bottom, greyed.")]))
        head = ["rank", "source", "sentences", "articles", f"{pos} / {neg} sentences", "slant [95% CI]",
                "corrected slant [95% CI]"]
        def row(s: str, rank: str) -> list[Any]:
            return [rank, s, str(int(t.loc[s, "n_sentences"])), str(int(t.loc[s, "n_articles"])),
                    f"{round(t.loc[s, f'share_{pos}'] * t.loc[s, 'n_sentences'])} / "
                    f"{round(t.loc[s, f'share_{neg}'] * t.loc[s, 'n_sentences'])}",
                    fmt_source_ci(t, s, "slant"), fmt_source_ci(t, s, "adj_slant")]
        rows = [row(s, str(int(t.loc[s, "rank"])) if pd.notna(t.loc[s, "rank"]) else DASH) for s in c.supported]
        if rows:
            sec.blocks.append(Table(head, rows, numeric={0, 2, 3, 4, 5, 6},
                                    caption=f"Sources with enough support, ranked (1 = most {pos})."))
        else:
            sec.blocks.append(Para("No source has enough support to be ranked.", "note"))
        if c.low:
            sec.blocks.append(Table(head[1:], [row(s, "")[1:] for s in c.order if s in c.low],
                                    numeric={1, 2, 3, 4, 5}, muted_rows=set(range(len(c.low))),
                                    caption=f"Below minimum support ({c.min_sentences} sentence(s), "
                                            f"{c.min_articles} article(s)): shown for completeness, not ranked."))
    else:
        sec = Section("sources", "Per-source label distribution")
        sec.blocks.append(Para(
            f"The scheme {scheme.name!r} has no poles, so there is no slant: per source, the share of each "
            "label with its interval, and the Jensen-Shannon divergence of the source's distribution from "
            "all sources pooled (0 = the same mix, 1 = nothing in common)."))
        figs["corpus_distribution"] = plots.plot_stance_distribution(
            {"predicted labels": c.table}, outdir / "corpus_distribution.png", scheme, order=c.order)
        sec.blocks.append(FigRow([Fig("corpus_distribution", figs["corpus_distribution"],
                                      "Share of each predicted label per source.")]))
        labels = scheme.label_list
        head = ["source", "sentences", "articles", *(f"{lab} [95% CI]" for lab in labels), "JS divergence"]
        if c.corrected is not None:
            head += [f"corrected {lab}" for lab in labels]
        def drow(s: str) -> list[Any]:
            r = [s, str(int(t.loc[s, "n_sentences"])), str(int(t.loc[s, "n_articles"])),
                 *(fmt_source_ci(t, s, f"share_{lab}", signed=False) for lab in labels), fmt_num(t.loc[s, "js_divergence"])]
            if c.corrected is not None:
                r += [fmt_source_ci(t, s, f"adj_share_{lab}", signed=False) for lab in labels]
            return r
        num = set(range(1, len(head)))
        if c.supported:
            sec.blocks.append(Table(head, [drow(s) for s in c.supported], numeric=num,
                                    caption="Sources with enough support, by divergence from the corpus."))
        if c.low:
            sec.blocks.append(Table(head, [drow(s) for s in c.order if s in c.low], numeric=num,
                                    muted_rows=set(range(len(c.low))),
                                    caption="Below minimum support: shown for completeness."))
    n_single = sum(int(t.loc[s, "n_articles"]) < 2 for s in c.order)
    if n_single:
        sec.blocks.append(Para(f"{n_single} source(s) have a single article: an article bootstrap cannot give "
                               "them an interval, so only the estimate is shown.", "note"))
    return sec


def _voices_section(c: Corpus, outdir: Path, figs: dict[str, Path]) -> Section:
    scheme, t = c.scheme, c.t
    sec = Section("voices", "Own voice and quoted voices")
    muted = {i for i, s in enumerate(c.order) if s in c.low}
    if scheme.has_slant:
        sec.blocks.append(Para(
            "Editorial slant uses the unattributed sentences (the outlet's own voice), quoted slant the "
            "attributed ones (reported speech): an outlet can sound neutral itself and still pick its quotes."))
        figs["corpus_editorial_quoted"] = plots.plot_editorial_vs_quoted(
            c.table, outdir / "corpus_editorial_quoted.png", scheme.poles)
        sec.blocks.append(FigRow([Fig("corpus_editorial_quoted", figs["corpus_editorial_quoted"],
                                      "Editorial vs quoted slant per source, 95% CIs.")]))
        rows = [[s, str(int(t.loc[s, "n_sentences"]) - int(t.loc[s, "n_attributed"])), str(int(t.loc[s, "n_attributed"])),
                 fmt_source_ci(t, s, "editorial_slant"), fmt_source_ci(t, s, "quoted_slant")] for s in c.order]
        sec.blocks.append(Table(["source", "own-voice sentences", "quoted sentences", "editorial slant [95% CI]",
                                 "quoted slant [95% CI]"], rows, numeric={1, 2, 3, 4}, muted_rows=muted))
    sides = scheme.side_names
    if sides:
        rows = [[s, str(int(t.loc[s, "n_attributed"])),
                 *(fmt_pct(t.loc[s, f"voice_{side}"]) for side in (*sides, "unresolved"))] for s in c.order]
        sec.blocks.append(Table(
            ["source", "quoted sentences", *(f"{side} voices" for side in sides), "unresolved"], rows,
            numeric=set(range(1, 3 + len(sides))), muted_rows=muted,
            caption="Voice balance: whose officials each outlet quotes (share of its attributed sentences by "
                    "the side of the quoted speaker; unresolved = a speaker the gazetteer does not know)."))
    else:
        sec.blocks.append(Para("The scheme names no speaker sides: no voice balance.", "note"))
    return sec


def _evidence_section(c: Corpus, per_label: int) -> Section:
    scheme, t = c.scheme, c.t
    sec = Section("evidence", "Evidence: the sentences behind each number")
    if not c.supported:
        sec.blocks.append(Para("No source has enough support; no evidence is listed.", "note"))
        return sec
    if scheme.has_slant:
        wanted = {s: list(scheme.poles) for s in c.supported}  # type: ignore[arg-type]
        sec.blocks.append(Para(
            f"For each source with enough support, the {per_label} sentences the model labels {scheme.poles[0]} "
            f"and {scheme.poles[1]} with the highest probability: the sentences that move its slant most "
            "surely. Read them to check the verdict."))
    else:
        wanted = {s: [max(scheme.label_list, key=lambda lab: float(t.loc[s, f"over_{lab}"]))] for s in c.supported}
        sec.blocks.append(Para(
            f"For each source with enough support, the {per_label} highest-probability sentences of the label it "
            "over-represents most against the corpus."))
    ev = evidence_sentences(c.out.records, wanted, per_label=per_label)
    urls = {}
    if "url" in c.out.articles.columns and len(c.out.articles):
        urls = {str(a): u for a, u in zip(c.out.articles["article_id"], c.out.articles["url"], strict=True)
                if isinstance(u, str) and u}
    for s in c.supported:
        mine = ev[ev["source"] == s]
        counts = ", ".join(f"{int(g['n_label'].iloc[0])} {lab}" for lab, g in mine.groupby("label", sort=False))
        head = f"{s}: " + (f"slant {fmt_source_ci(t, s, 'slant')}" if scheme.has_slant else
                           f"over-represents {wanted[s][0]} ({fmt_num(t.loc[s, f'over_{wanted[s][0]}'], signed=True)})")
        rows = [[r["label"], fmt_num(r["confidence"], 2), shorten(r["text"]) + (" [quoted]" if r["attributed"] else ""),
                 Link(str(r["article_id"]), urls.get(str(r["article_id"])))] for _, r in mine.iterrows()]
        if rows:
            sec.blocks.append(Table(["label", "probability", "sentence", "article"], rows, numeric={1}, wide=True,
                                    caption=head + (f" ({counts} sentences)" if counts else "")))
        else:
            sec.blocks.append(Para(head + ": no sentence with these labels.", "note"))
    return sec


# --------------------------------------------------------------------------- entry point


def write_corpus_report(
    outputs: Sequence[str | Path],
    output: str | Path | None = None,
    *,
    period: str = "W",
    n_boot: int = 1000,
    seed: int = 0,
    min_sentences: int = 30,
    min_articles: int = 3,
    evidence: int = 3,
    n_sample: int = 12,
) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and the PNG figures of a scored corpus.

    Args:
        outputs: one score output (what ``stance-score --output`` was given), or two of the same
            corpus scored by two models: the first is described, the second adds a comparison.
        output: folder (default ``<first output>.report/``).
        period: pandas period alias of the time section (``W`` weeks, ``M`` months, ``D`` days).
        evidence: sentences per label and source in the evidence section.

    Returns ``{"html": ..., "markdown": ..., <figure name>: ...}``.
    """
    outputs = [outputs] if isinstance(outputs, (str, Path)) else list(outputs)
    if not 1 <= len(outputs) <= 2:
        raise ConfigError(f"give one or two score outputs, got {len(outputs)}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ConfigError(f"n_boot must be a positive integer, got {n_boot!r}")
    if evidence < 1:
        raise ConfigError(f"evidence must be >= 1, got {evidence}")
    try:
        check_period(period)
    except ValueError as e:
        raise ConfigError(str(e)) from e
    loaded = [read_output(p) for p in outputs]
    if len(loaded) == 2:
        check_same_scheme(loaded[0].scheme, loaded[1].scheme, f"the score output {loaded[0].path}",
                          f"the score output {loaded[1].path}")
    first = loaded[0]
    outdir = Path(output) if output is not None else default_report_dir(first.path)
    outdir.mkdir(parents=True, exist_ok=True)
    c = Corpus(first, n_boot=n_boot, seed=seed, min_sentences=min_sentences, min_articles=min_articles)
    dates = dict(zip(first.articles["article_id"].astype(str), first.articles["date"], strict=True)) \
        if len(first.articles) else {}
    res = period_table(first.records.assign(article_id=first.records["article_id"].astype(str)), dates,
                       first.scheme, period=period, n_boot=n_boot, seed=seed)
    if res.n_dated:
        dates_note = (f"{res.n_dated} of {res.n_articles} articles dated, {res.first:%Y-%m-%d} to "
                      f"{res.last:%Y-%m-%d}; time section by {period_name(period)}")
    else:
        dates_note = "no article carries a readable date (no time section)"
    figs: dict[str, Path] = {}
    sections = [
        _summary_section(c, period, dates_note),
        _model_section(c),
        _sources_section(c, outdir, figs),
        _voices_section(c, outdir, figs),
        time_section(c, res, outdir, figs),
        _evidence_section(c, evidence),
    ]
    if len(loaded) == 2:
        cmp = compare_outputs(loaded[0], loaded[1], n_boot=n_boot, seed=seed, min_sentences=min_sentences,
                              min_articles=min_articles, n_sample=n_sample)
        sections.append(comparison_section(cmp, outdir, figs))
    title = f"Scored corpus: {first.path.name}"
    subtitle = (f"{len(c.order)} sources \u00b7 {first.records['article_id'].nunique()} articles \u00b7 "
                f"{len(first.records)} sentences \u00b7 model {model_name(first)} \u00b7 scheme {first.scheme.name}"
                + (f" \u00b7 compared with {loaded[1].path.name}" if len(loaded) == 2 else ""))
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    version = first.run.get("package_version") or ""
    footer = f"Generated by stance-report --scores (package {version}) on {stamp}."
    return {**write_pages(outdir, title, subtitle, sections, footer), **figs}
