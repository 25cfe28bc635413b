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
this module chooses, orders and words them. Rendering is :mod:`stance.reporting.report`'s.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from stance.errors import ConfigError, InputError
from stance.evaluation.corpus import (
    ALL_SOURCES,
    align_outputs,
    check_period,
    compare_labelings,
    corrected_intervals,
    disagreement_sample,
    evidence_sentences,
    period_table,
)
from stance.reporting import plots
from stance.reporting.report import (
    DASH,
    Fig,
    FigRow,
    Link,
    Para,
    Section,
    Table,
    _ci,
    _num,
    _p,
    _pct,
    _render_html,
    _render_md,
)
from stance.scheme import check_same_scheme
from stance.scoring.records import ScoreOutput, read_output
from stance.scoring.score import source_summary

__all__ = ["compare_outputs", "default_report_dir", "write_corpus_report"]

PERIOD_NAMES = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}
MAX_SAMPLE_TEXT = 400
MAX_TABLE_PERIODS = 26
"""Most periods the per-source time table shows as columns (half a year of weeks)."""


def default_report_dir(output: str | Path) -> Path:
    """``<output>.report/`` beside the records file."""
    out = Path(output)
    return out.with_name(f"{out.name}.report")


def _period_name(period: str) -> str:
    return PERIOD_NAMES.get(period.split("-")[0].upper(), f"period {period}")


def _cut(text: Any, limit: int = MAX_SAMPLE_TEXT) -> str:
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "\u2026"


def _interval(t: pd.DataFrame, s: str, col: str, signed: bool = True) -> str:
    """``col`` of source ``s`` with its interval, or "(1 article: no interval)"."""
    if col not in t.columns:
        return DASH
    est = _num(t.loc[s, col], signed=signed)
    if est == DASH:
        return est
    if int(t.loc[s, "n_articles"]) < 2:
        return f"{est} (1 article: no interval)"
    return _ci(t.loc[s, col], t.loc[s, f"{col}_low"], t.loc[s, f"{col}_high"], signed=signed)


def _model_name(o: ScoreOutput) -> str:
    fp = o.run.get("fingerprint") or {}
    where = f"{o.path.parent.name}/{o.path.name}" if o.path.parent.name else o.path.name
    return f"{fp.get('kind', '?')} ({where})"


# --------------------------------------------------------------------------- per-source tables


class _Corpus:
    """One score output and the tables the sections share."""

    def __init__(self, out: ScoreOutput, *, n_boot: int, seed: int, min_sentences: int, min_articles: int) -> None:
        self.out = out
        self.scheme = out.scheme
        self.n_boot, self.seed = n_boot, seed
        self.min_sentences, self.min_articles = min_sentences, min_articles
        info = out.run.get("model_info") or {}
        self.model_info = info
        self.confusion = info.get("validation_confusion_matrix")
        rec = out.records
        self.table = source_summary(rec, self.scheme, confusion=None, min_sentences=min_sentences,
                                    min_articles=min_articles, n_boot=n_boot, seed=seed)
        self.table["source"] = self.table["source"].astype(str)
        self.corrected = None
        self.correction_error = None
        if self.confusion:
            try:
                self.corrected = corrected_intervals(rec, self.confusion, self.scheme, n_boot=n_boot, seed=seed)
                self.table = self.table.merge(self.corrected.assign(source=self.corrected["source"].astype(str)),
                                              on="source", how="left")
            except ValueError as e:
                self.correction_error = str(e)
        self.t = self.table.set_index("source")
        key = "slant" if self.scheme.has_slant else "js_divergence"
        self.order = plots.source_order(self.table, key)
        self.low = {s for s in self.order if bool(self.t.loc[s, "low_support"])}
        self.supported = [s for s in self.order if s not in self.low]


# --------------------------------------------------------------------------- sections


def _summary_section(c: _Corpus, period: str, dates_note: str) -> Section:
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


def _model_section(c: _Corpus) -> Section:
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
                     _ci(m.get("macro_f1"), ci.get("low"), ci.get("high")), _num(m.get("accuracy")), _num(m.get("ece"))])
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
               f"(T = {_num(temp, 2)}).")
    elif kind == "tfidf":
        cal = "Calibration: the probabilities are those of a logistic regression, not recalibrated."
    else:
        cal = "Calibration: no calibration recorded for this model."
    ece = (metrics.get("validation") or {}).get("ece")
    if ece is not None:
        cal += (f" Validation ECE {_num(ece)}: a sentence given probability p is right about p of the time, "
                f"within about {_num(ece, 2)} on average, on data like the validation split. The evidence "
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


def _sources_section(c: _Corpus, outdir: Path, figs: dict[str, Path]) -> Section:
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
                    _interval(t, s, "slant"), _interval(t, s, "adj_slant")]
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
                 *(_interval(t, s, f"share_{lab}", signed=False) for lab in labels), _num(t.loc[s, "js_divergence"])]
            if c.corrected is not None:
                r += [_interval(t, s, f"adj_share_{lab}", signed=False) for lab in labels]
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


def _voices_section(c: _Corpus, outdir: Path, figs: dict[str, Path]) -> Section:
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
                 _interval(t, s, "editorial_slant"), _interval(t, s, "quoted_slant")] for s in c.order]
        sec.blocks.append(Table(["source", "own-voice sentences", "quoted sentences", "editorial slant [95% CI]",
                                 "quoted slant [95% CI]"], rows, numeric={1, 2, 3, 4}, muted_rows=muted))
    sides = scheme.side_names
    if sides:
        rows = [[s, str(int(t.loc[s, "n_attributed"])),
                 *(_pct(t.loc[s, f"voice_{side}"]) for side in (*sides, "unresolved"))] for s in c.order]
        sec.blocks.append(Table(
            ["source", "quoted sentences", *(f"{side} voices" for side in sides), "unresolved"], rows,
            numeric=set(range(1, 3 + len(sides))), muted_rows=muted,
            caption="Voice balance: whose officials each outlet quotes (share of its attributed sentences by "
                    "the side of the quoted speaker; unresolved = a speaker the gazetteer does not know)."))
    else:
        sec.blocks.append(Para("The scheme names no speaker sides: no voice balance.", "note"))
    return sec


def _time_section(c: _Corpus, res: Any, outdir: Path, figs: dict[str, Path]) -> Section:
    scheme = c.scheme
    pname = _period_name(res.period)
    sec = Section("time", f"Over time (by {pname})")
    missing = []
    if res.n_undated:
        missing.append(f"{res.n_undated} article(s) carry no date")
    if res.n_bad_dates:
        missing.append(f"{res.n_bad_dates} have a date that could not be read (e.g. {'; '.join(res.bad_examples[:3])})")
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
    sec.blocks.append(FigRow([Fig("time_corpus", figs["time_corpus"],
                                  f"Corpus-wide line per {pname} with its interval; bars: articles per {pname}.")]))
    per_source = table[table["source"] != ALL_SOURCES]
    empty = [p for p in periods if p not in set(allrows["period"])]
    if empty:
        sec.blocks.append(Para(f"{len(empty)} {pname}(s) between the first and the last date have no article "
                               f"(gaps in the line, blank columns below).", "note"))
    if scheme.has_slant:
        order = [s for s in c.order if s in set(per_source["source"])]
        figs["time_sources"] = plots.plot_period_heatmap(per_source, outdir / "time_sources.png", order, periods,
                                                         column="slant", title=f"Slant per source and {pname}",
                                                         low=c.low, colorbar_label=f"slant (+ {scheme.poles[0]}, "
                                                                                   f"\u2212 {scheme.poles[1]})")
        sec.blocks.append(FigRow([Fig("time_sources", figs["time_sources"],
                                      f"Slant per source and {pname}: colour = slant, number = articles.")]))
        value = "slant"
    else:
        order = [s for s in c.order if s in set(per_source["source"])]
        value = None
    if len(periods) > MAX_TABLE_PERIODS:
        sec.blocks.append(Para(
            f"The per-source table is left out: {len(periods)} {pname}s are too many columns to read "
            f"(at most {MAX_TABLE_PERIODS}); the figure above shows them all, or choose a longer period "
            "(stance-report --period M for months).", "note"))
        return sec
    rows = []
    idx = per_source.set_index(["source", "period"])
    for s in order:
        cells = []
        for p in periods:
            if (s, p) not in idx.index:
                cells.append(DASH)
                continue
            r = idx.loc[(s, p)]
            n = int(r["n_articles"])
            if value is not None:
                est = _num(r[value], signed=True)
                cells.append(f"{est} (1 art.)" if n < 2 else
                             f"{_ci(r[value], r[f'{value}_low'], r[f'{value}_high'], signed=True)} ({n} art.)")
            else:
                top = max(scheme.label_list, key=lambda lab: float(r[f"share_{lab}"]))
                cells.append(f"{top} {_pct(r[f'share_{top}'])} ({n} art.)")
        rows.append([s, *cells])
    what = "slant [95% CI]" if value else "most frequent label and its share"
    sec.blocks.append(Table(["source", *(plots._period_tick(p) for p in periods)], rows,
                            numeric=set(range(1, 1 + len(periods))),
                            muted_rows={i for i, s in enumerate(order) if s in c.low},
                            caption=f"Per source and {pname} (columns: first day): {what} and the number of "
                                    f"articles; 1 article: no interval; \u2013: no article."))
    return sec


def _evidence_section(c: _Corpus, per_label: int) -> Section:
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
        head = f"{s}: " + (f"slant {_interval(t, s, 'slant')}" if scheme.has_slant else
                           f"over-represents {wanted[s][0]} ({_num(t.loc[s, f'over_{wanted[s][0]}'], signed=True)})")
        rows = [[r["label"], _num(r["confidence"], 2), _cut(r["text"]) + (" [quoted]" if r["attributed"] else ""),
                 Link(str(r["article_id"]), urls.get(str(r["article_id"])))] for _, r in mine.iterrows()]
        if rows:
            sec.blocks.append(Table(["label", "probability", "sentence", "article"], rows, numeric={1}, wide=True,
                                    caption=head + (f" ({counts} sentences)" if counts else "")))
        else:
            sec.blocks.append(Para(head + ": no sentence with these labels.", "note"))
    return sec


# --------------------------------------------------------------------------- comparison


def compare_outputs(
    a: ScoreOutput | str | Path,
    b: ScoreOutput | str | Path,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    min_sentences: int = 30,
    min_articles: int = 3,
    n_sample: int = 12,
    n_top: int = 5,
) -> dict[str, Any]:
    """Two score outputs of the same corpus compared on the sentences both scored.

    Refuses (:class:`~stance.errors.ConfigError`) outputs of models with different schemes, and
    (:class:`~stance.errors.InputError`) outputs that share no sentence. Returns ``a`` / ``b``
    (names), ``alignment`` (counts: compared, only in A, only in B, same id but other text),
    ``overall`` and ``per_source`` (:func:`stance.evaluation.corpus.compare_labelings`),
    ``most_disagreeing`` (up to ``n_top`` sources with enough support where the models disagree at
    all, lowest agreement first)
    and ``sample`` (up to ``n_sample`` disagreeing sentences).
    """
    oa = a if isinstance(a, ScoreOutput) else read_output(a)
    ob = b if isinstance(b, ScoreOutput) else read_output(b)
    check_same_scheme(oa.scheme, ob.scheme, f"the score output {oa.path}", f"the score output {ob.path}")
    labels = oa.scheme.label_list
    al = align_outputs(oa.records, ob.records, labels)
    if al.n_common == 0:
        raise InputError(f"the two outputs share no sentence (A has {al.n_a}, B {al.n_b}; "
                         f"{al.text_mismatch} share an id but not the text)", path=ob.path,
                         hint="score the same input with both models")
    res = compare_labelings(al.frame, oa.scheme, min_sentences=min_sentences, min_articles=min_articles,
                            n_boot=n_boot, seed=seed)
    ps = res["per_source"]
    ps["source"] = ps["source"].astype(str)
    sup = ps[~ps["low_support"] & (ps["agreement"] < 1.0)]
    top = sup.sort_values(["agreement", "source"]).head(n_top)
    return {"a": _model_name(oa), "b": _model_name(ob), "a_path": str(oa.path), "b_path": str(ob.path),
            "scheme": oa.scheme, "alignment": al.to_dict(), "overall": res["overall"], "per_source": ps,
            "most_disagreeing": top, "sample": disagreement_sample(al.frame, n=n_sample, seed=seed)}


def _alignment_text(al: dict[str, int]) -> str:
    left = al["only_a"] + al["only_b"]
    text = f"Compared on the {al['n_common']} sentences both outputs scored"
    if left:
        text += (f"; left out: {al['only_a']} only in A and {al['only_b']} only in B"
                 + (f" (of which {al['text_mismatch']} share an id but not the text, counted on both sides)"
                    if al["text_mismatch"] else ""))
    else:
        text += " (the same sentence set; nothing left out)"
    return text + "."


def _comparison_section(cmp: dict[str, Any], outdir: Path, figs: dict[str, Path]) -> Section:
    scheme = cmp["scheme"]
    sec = Section("comparison", "Two models on this corpus")
    ov, ps = cmp["overall"], cmp["per_source"]
    sec.blocks.append(Para(f"A = {cmp['a']}, B = {cmp['b']}. " + _alignment_text(cmp["alignment"])))
    sec.blocks.append(Para(
        f"Sentence-level agreement {_ci(ov['agreement'], ov['agreement_low'], ov['agreement_high'])} "
        f"(95% article-bootstrap CI over {ov['n_articles']} articles); Cohen's kappa {_num(ov['kappa'])} "
        "(agreement beyond what the two models' label frequencies give by chance: 0 = chance, 1 = identical)."))
    p = ps.set_index("source")
    order = plots.source_order(ps.assign(slant=ps.get("slant_a", ps["agreement"])),
                               "slant" if scheme.has_slant else "agreement")
    muted = {i for i, s in enumerate(order) if bool(p.loc[s, "low_support"])}
    if scheme.has_slant:
        ta = ps.rename(columns={"slant_a": "slant", "slant_a_low": "slant_low", "slant_a_high": "slant_high"})
        tb = ps.rename(columns={"slant_b": "slant", "slant_b_low": "slant_low", "slant_b_high": "slant_high"})
        figs["compare_slant"] = plots.plot_source_slant(ta, outdir / "compare_slant.png", scheme.poles, gold=tb,
                                                        names=("A: " + cmp["a"], "B: " + cmp["b"]), order=order,
                                                        title="Per-source slant from each model (95% CI)")
        sec.blocks.append(FigRow([Fig("compare_slant", figs["compare_slant"],
                                      "Slant per source from model A and model B on the same sentences.")]))
        rows = [[s, str(int(p.loc[s, "n_sentences"])), _pct(p.loc[s, "agreement"]), _num(p.loc[s, "kappa"]),
                 _interval(p, s, "slant_a"), _interval(p, s, "slant_b"), _interval(p, s, "diff"),
                 _p(p.loc[s, "p_value"])] for s in order]
        sec.blocks.append(Table(["source", "sentences", "agreement", "kappa", "slant A [95% CI]", "slant B [95% CI]",
                                 "A \u2212 B [95% CI]", "p"], rows, numeric={1, 2, 3, 4, 5, 6, 7}, muted_rows=muted,
                                caption="Per source: agreement, kappa, each model's slant and their difference "
                                        "(paired article bootstrap: both models' labels of the same resampled "
                                        "articles; p two-sided)."))
    else:
        rows = [[s, str(int(p.loc[s, "n_sentences"])), _pct(p.loc[s, "agreement"]), _num(p.loc[s, "kappa"]),
                 _num(p.loc[s, "tv_distance"])] for s in order]
        sec.blocks.append(Table(["source", "sentences", "agreement", "kappa", "distribution distance"], rows,
                                numeric={1, 2, 3, 4}, muted_rows=muted,
                                caption="Per source: agreement, kappa and the total variation distance between "
                                        "the two models' label distributions (0 = the same shares)."))
    top = cmp["most_disagreeing"]
    if len(top):
        sec.blocks.append(Para("Where the models disagree most (sources with enough support, lowest agreement): "
                               + "; ".join(f"{r.source} ({_pct(r.agreement)} agreement, kappa {_num(r.kappa)})"
                                           for r in top.itertuples()) + "."))
    sample = cmp["sample"]
    if len(sample):
        rows = [[r.source, _cut(r.text), f"{r.label_a} ({_num(r.proba_a, 2)})", f"{r.label_b} ({_num(r.proba_b, 2)})",
                 str(r.article_id)] for r in sample.itertuples()]
        sec.blocks.append(Table(["source", "sentence", "A says", "B says", "article"], rows,
                                caption=f"A random sample of {len(sample)} sentences the models label differently "
                                        "(each model's probability in brackets)."))
    else:
        sec.blocks.append(Para("The two models give every compared sentence the same label.", "note"))
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
    c = _Corpus(first, n_boot=n_boot, seed=seed, min_sentences=min_sentences, min_articles=min_articles)
    dates = dict(zip(first.articles["article_id"].astype(str), first.articles["date"], strict=True)) \
        if len(first.articles) else {}
    res = period_table(first.records.assign(article_id=first.records["article_id"].astype(str)), dates,
                       first.scheme, period=period, n_boot=n_boot, seed=seed)
    if res.n_dated:
        dates_note = (f"{res.n_dated} of {res.n_articles} articles dated, {res.first:%Y-%m-%d} to "
                      f"{res.last:%Y-%m-%d}; time section by {_period_name(period)}")
    else:
        dates_note = "no article carries a readable date (no time section)"
    figs: dict[str, Path] = {}
    sections = [
        _summary_section(c, period, dates_note),
        _model_section(c),
        _sources_section(c, outdir, figs),
        _voices_section(c, outdir, figs),
        _time_section(c, res, outdir, figs),
        _evidence_section(c, evidence),
    ]
    if len(loaded) == 2:
        cmp = compare_outputs(loaded[0], loaded[1], n_boot=n_boot, seed=seed, min_sentences=min_sentences,
                              min_articles=min_articles, n_sample=n_sample)
        sections.append(_comparison_section(cmp, outdir, figs))
    title = f"Scored corpus: {first.path.name}"
    subtitle = (f"{len(c.order)} sources \u00b7 {first.records['article_id'].nunique()} articles \u00b7 "
                f"{len(first.records)} sentences \u00b7 model {_model_name(first)} \u00b7 scheme {first.scheme.name}"
                + (f" \u00b7 compared with {loaded[1].path.name}" if len(loaded) == 2 else ""))
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    version = first.run.get("package_version") or ""
    footer = f"Generated by stance-report --scores (package {version}) on {stamp}."
    html_path = outdir / "report.html"
    html_path.write_text(_render_html(title, subtitle, sections, footer), encoding="utf-8")
    md_path = outdir / "report.md"
    md_path.write_text(_render_md(title, subtitle, sections, footer, outdir), encoding="utf-8")
    return {"html": html_path, "markdown": md_path, **figs}
