"""Visual report of one or more ``stance-train`` run directories.

:func:`write_report` reads ``metrics.json``, ``run_info.json``, ``config.yaml`` and
``predictions_test.parquet`` of each run directory and writes, into the output folder:

- ``report.html``: a single self-contained page (inline CSS, figures embedded as base64
  ``data:`` URIs, no scripts, no external assets);
- ``report.md``: the same content as Markdown, linking the PNG files beside it;
- the PNG figures.

The detailed sections (per-class results, confusion matrices, calibration, per-source bias)
describe the first run directory; the run summary and headline metrics list every run, and
a comparison section is added when several run directories are given and
:mod:`stance.evaluation.compare` is available.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stance.errors import StanceError
from stance.evaluation.bias import source_bias_table
from stance.evaluation.runs import RunData, RunDirError, load_run
from stance.reporting import plots

__all__ = ["ReportInputError", "RunData", "load_run", "write_report"]

SPLITS = ("validation", "test")
BIAS_SPLIT = "test"

DEFAULT_MIN_SENTENCES = 30
DEFAULT_MIN_ARTICLES = 3
DASH = "\u2013"


# the report reads run directories with the loader that comparison uses
ReportInputError = RunDirError


# --------------------------------------------------------------------------- document model


@dataclass
class Para:
    text: str
    kind: str = "p"  # "p" or "note"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]
    numeric: set[int] = field(default_factory=set)  # right-aligned columns
    muted_rows: set[int] = field(default_factory=set)  # rows shown greyed (low support)
    caption: str | None = None
    wide: bool = False  # as wide as the page (tables of a series that should line up)


@dataclass
class Link:
    """A table cell that links to ``href`` (only http(s) addresses become links)."""

    text: str
    href: str | None = None

    def __str__(self) -> str:
        return self.text

    @property
    def safe_href(self) -> str | None:
        h = (self.href or "").strip()
        return h if h.lower().startswith(("http://", "https://")) else None


@dataclass
class Fig:
    name: str  # file stem
    path: Path
    caption: str


@dataclass
class FigRow:
    figs: list[Fig]


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Any] = field(default_factory=list)


# --------------------------------------------------------------------------- formatting


def _finite(x: Any) -> float | None:
    """``x`` as a finite float, or None (missing, non-numeric, NaN or infinite)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _num(x: Any, digits: int = 3, signed: bool = False) -> str:
    v = _finite(x)
    if v is None:
        return "\u2013"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _ci(est: Any, low: Any, high: Any, signed: bool = False) -> str:
    text = _num(est, signed=signed)
    if text == "\u2013":
        return text
    lo, hi = _num(low, signed=signed), _num(high, signed=signed)
    return text if "\u2013" in (lo, hi) else f"{text} [{lo}, {hi}]"


def _ci_dict(d: Any, fallback: Any = None) -> str:
    if isinstance(d, dict):
        return _ci(d.get("estimate", fallback), d.get("low"), d.get("high"))
    return _num(fallback)


def _pct(x: Any) -> str:
    v = _finite(x)
    return "\u2013" if v is None else f"{v:.0%}"


def _bytes(n: Any) -> str:
    try:
        v = float(n)
    except (TypeError, ValueError):
        return "\u2013"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if v < 1024 or unit == "GiB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return "\u2013"  # pragma: no cover


def _seconds(x: Any) -> str:
    v = _finite(x)
    if v is None:
        return "\u2013"
    return f"{v:.1f} s" if v < 120 else f"{v / 60:.1f} min"


def _p(x: Any) -> str:
    v = _finite(x)
    if v is None:
        return "\u2013"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


# --------------------------------------------------------------------------- sections


def _summary_section(runs: Sequence[RunData]) -> Section:
    sec = Section("summary", "Run summary")
    rows = []
    for r in runs:
        fp = r.fingerprint
        rows.append([
            r.model,
            str(r.metrics.get("seed", r.info.get("seed", "\u2013"))),
            (fp[:16] + "\u2026") if fp and len(fp) > 16 else (fp or "\u2013"),
            str(r.label_source()),
            str(r.metrics.get("n_train", "\u2013")),
            _seconds(r.metrics.get("train_seconds")),
            _bytes(r.metrics.get("model_size_bytes")),
            str(r.dir),
        ])
    sec.blocks.append(Table(
        ["model", "seed", "data fingerprint", "label source", "train sentences", "train time",
         "model size", "run directory"], rows, numeric={1, 4, 5, 6},
    ))
    r0 = runs[0]
    labels = ", ".join(r0.labels)
    version = r0.info.get("package_version") or r0.manifest.get("package_version")
    text = f"Labels: {labels}."
    if version:
        text += f" Package version {version}."
    if (r0.dir / "model" / "README.md").is_file():
        text += f" Model card: {r0.dir / 'model' / 'README.md'}."
    sec.blocks.append(Para(text, "note"))
    return sec


def _headline_section(runs: Sequence[RunData]) -> Section:
    sec = Section("metrics", "Headline metrics")
    several = len(runs) > 1
    rows = []
    for r in runs:
        for split in SPLITS:
            m = r.metrics.get(split)
            if not isinstance(m, dict):
                continue
            row = [split, str(m.get("n", "\u2013")), str(m.get("n_articles", "\u2013")),
                   _ci_dict(m.get("macro_f1_ci"), m.get("macro_f1")),
                   _ci_dict(m.get("accuracy_ci"), m.get("accuracy")),
                   _num(m.get("ece"))]
            rows.append(([f"{r.model} (seed {r.metrics.get('seed', '?')})"] if several else []) + row)
    headers = ["split", "sentences", "articles", "macro-F1 [95% CI]", "accuracy [95% CI]", "ECE"]
    numeric = {1, 2, 3, 4, 5}
    if several:
        headers = ["run", *headers]
        numeric = {i + 1 for i in numeric}
    sec.blocks.append(Table(headers, rows, numeric=numeric))
    sec.blocks.append(Para(
        "95% confidence intervals come from a bootstrap over articles (all sentences of an "
        "article are resampled together). ECE: expected calibration error of the top-label "
        "confidence (10 equal-width bins).", "note"))
    return sec


def _per_class_section(run: RunData) -> Section:
    sec = Section("per-class", "Per-class results")
    rows = []
    for split in SPLITS:
        m = run.metrics.get(split)
        if not isinstance(m, dict):
            continue
        for label in run.labels:
            pc = m.get("per_class", {}).get(label, {})
            rows.append([split, label, _num(pc.get("precision")), _num(pc.get("recall")),
                         _num(pc.get("f1")), str(pc.get("support", "\u2013"))])
    sec.blocks.append(Table(["split", "label", "precision", "recall", "F1", "support"], rows,
                            numeric={2, 3, 4, 5}))
    return sec


def _confusion_section(run: RunData, out: Path, figs: dict[str, Path]) -> Section:
    sec = Section("confusion", "Confusion matrices")
    row = []
    for split in SPLITS:
        m = run.metrics.get(split)
        if not isinstance(m, dict) or "confusion_matrix" not in m:
            continue
        name = f"confusion_{split}"
        path = plots.plot_confusion_matrix(
            m["confusion_matrix"], m.get("labels", run.labels), out / f"{name}.png",
            title=f"{split} (n={m.get('n', '?')})",
        )
        figs[name] = path
        row.append(Fig(name, path, f"Confusion matrix, {split} split: counts, rows = gold label, "
                                   "columns = predicted; colour = share of the gold class."))
    sec.blocks.append(FigRow(row) if row else Para("No confusion matrix in metrics.json.", "note"))
    return sec


def _calibration_section(run: RunData, out: Path, figs: dict[str, Path]) -> Section:
    sec = Section("calibration", "Calibration")
    row, eces = [], []
    for split in SPLITS:
        m = run.metrics.get(split)
        if not isinstance(m, dict) or not isinstance(m.get("reliability"), dict):
            continue
        name = f"reliability_{split}"
        path = plots.plot_reliability(m["reliability"], out / f"{name}.png", ece=m.get("ece"),
                                      title=f"Reliability, {split}")
        figs[name] = path
        eces.append(f"{split} ECE = {_num(m.get('ece'))}")
        row.append(Fig(name, path, f"Reliability diagram, {split} split: accuracy against mean "
                                   "top-label confidence per bin; bars below count sentences."))
    if eces:
        sec.blocks.append(Para(
            "; ".join(eces) + ". Points below the diagonal mark over-confident bins, points "
            "above it under-confident ones.", "p"))
    sec.blocks.append(FigRow(row) if row else Para("No reliability data in metrics.json.", "note"))
    return sec


def _bias_tables(run: RunData, n_boot: int) -> tuple[pd.DataFrame | None, pd.DataFrame, int, int]:
    df = run.predictions[BIAS_SPLIT]
    labels = run.labels
    min_s = int(run.trainer_setting("min_sentences", DEFAULT_MIN_SENTENCES))
    min_a = int(run.trainer_setting("min_articles", DEFAULT_MIN_ARTICLES))
    seed = int(run.metrics.get("seed", 0) or 0)
    kw: dict[str, Any] = {"scheme": run.scheme, "min_sentences": min_s, "min_articles": min_a,
                          "n_boot": n_boot, "seed": seed}
    del labels
    try:
        pred = source_bias_table(df, label_col="pred", **kw)
        gold = None
        if df["label"].notna().all():
            gold = source_bias_table(df, label_col="label", **kw)
    except ValueError as e:
        raise ReportInputError(
            f"cannot compute per-source bias from predictions_{BIAS_SPLIT}.parquet: {e}",
            path=run.dir,
        ) from e
    return gold, pred, min_s, min_a


def _bias_section(run: RunData, out: Path, figs: dict[str, Path], n_boot: int) -> Section:
    sec = Section("bias", f"Per-source bias ({BIAS_SPLIT} split)")
    scheme = run.scheme
    gold, pred, min_s, min_a = _bias_tables(run, n_boot)
    ref = gold if gold is not None else pred
    order = plots.source_order(ref, "slant" if scheme.has_slant else "js_divergence")
    low = {str(s) for s in ref.loc[ref["low_support"].astype(bool), "source"]}
    if scheme.has_slant:
        pos, neg = scheme.poles  # type: ignore[misc]
        sec.blocks.append(Para(
            f"Slant = share of {pos} sentences \u2212 share of {neg} sentences, in "
            f"[\u22121, 1]; positive leans {pos}. Editorial slant uses the unattributed "
            "sentences (the outlet's own voice), quoted slant the attributed ones. Intervals: 95% "
            f"bootstrap over the articles of each source ({n_boot} resamples). Sources with fewer "
            f"than {min_s} sentences or {min_a} articles are flagged low support and not ranked.",
        ))
    else:
        sec.blocks.append(Para(
            f"The scheme {scheme.name!r} has no poles, so no slant: per source, the share of each "
            "label, its over- or under-representation against all sources pooled, and the "
            "Jensen-Shannon divergence of the source's label distribution from the pooled one. "
            f"Intervals: 95% bootstrap over the articles of each source ({n_boot} resamples). "
            f"Sources with fewer than {min_s} sentences or {min_a} articles are flagged low support.",
        ))
    n_low = len(low)
    if n_low == len(order):
        sec.blocks.append(Para(
            f"All {len(order)} sources are low support on this split: no ranking is given, "
            "and the figures below are descriptive only.", "note"))
    elif n_low:
        sec.blocks.append(Para(f"{n_low} of {len(order)} sources are low support (greyed, "
                               "not ranked).", "note"))
    n_single = int((ref["n_articles"] < 2).sum())
    if n_single:
        sec.blocks.append(Para(
            f"{n_single} source(s) contribute a single article: an article bootstrap cannot give "
            "them an interval, so only the estimate is shown.", "note"))

    g = gold.set_index(gold["source"].astype(str)) if gold is not None else None
    p = pred.set_index(pred["source"].astype(str))
    muted = {i for i, s in enumerate(order) if s in low}
    if scheme.has_slant:
        _slant_blocks(sec, run, out, figs, g, p, gold, pred, order, low, muted)
    name = f"distribution_{BIAS_SPLIT}"
    dist = {"gold labels": gold, "predictions": pred} if gold is not None else {"predictions": pred}
    figs[name] = plots.plot_stance_distribution(dist, out / f"{name}.png", scheme, order=order)
    sec.blocks.append(FigRow([Fig(name, figs[name], "Share of each label per source.")]))
    if not scheme.has_slant:
        _distribution_blocks(sec, run, g, p, order, muted)
    rows = []
    for s in order:
        rows.append([s, str(int(p.loc[s, "n_attributed"])),
                     *(_pct(p.loc[s, f"voice_{side}"]) for side in (*scheme.side_names, "unresolved"))])
    sec.blocks.append(Table(
        ["source", "attributed sentences", *(f"{side} voices" for side in scheme.side_names), "unresolved"],
        rows, numeric=set(range(1, 3 + len(scheme.side_names))), muted_rows=muted,
        caption="Voice balance: shares of attributed sentences by the side of the quoted "
                "speaker.",
    ))
    return sec


def _cell(t: pd.DataFrame | None, col: str, s: str, signed: bool = True) -> str:
    """``col`` of source ``s`` with its interval ("(1 article)" where there is none)."""
    if t is None:
        return DASH
    if int(t.loc[s, "n_articles"]) < 2:  # a one-article bootstrap has zero width
        est = _num(t.loc[s, col], signed=signed)
        return est if est == DASH else f"{est} (1 article)"
    return _ci(t.loc[s, col], t.loc[s, f"{col}_low"], t.loc[s, f"{col}_high"], signed=signed)


def _slant_blocks(sec: Section, run: RunData, out: Path, figs: dict[str, Path], g: pd.DataFrame | None,
                  p: pd.DataFrame, gold: pd.DataFrame | None, pred: pd.DataFrame, order: list[str],
                  low: set[str], muted: set[int]) -> None:
    poles = run.scheme.poles
    assert poles is not None  # noqa: S101 - caller checks has_slant
    name = f"slant_{BIAS_SPLIT}"
    figs[name] = plots.plot_source_slant(pred, out / f"{name}.png", poles, gold=gold)
    sec.blocks.append(FigRow([Fig(name, figs[name],
                                  "Gold vs predicted slant per source with 95% CIs.")]))
    name = f"editorial_quoted_{BIAS_SPLIT}"
    figs[name] = plots.plot_editorial_vs_quoted(pred, out / f"{name}.png", poles, gold=gold)
    sec.blocks.append(FigRow([Fig(name, figs[name],
                                  "Editorial (unattributed) vs quoted (attributed) slant per "
                                  "source, gold and predicted, with 95% CIs.")]))
    per_source = {str(r.get("source")): r for r in run.metrics.get(BIAS_SPLIT, {}).get("per_source", [])
                  if isinstance(r, dict)}
    rank_col = g if g is not None else p
    rows = []
    for s in order:
        rank = rank_col.loc[s, "rank"]
        err = (p.loc[s, "slant"] - g.loc[s, "slant"]) if g is not None else float("nan")
        rows.append([
            s, str(int(p.loc[s, "n_sentences"])), str(int(p.loc[s, "n_articles"])),
            _cell(g, "slant", s), _cell(p, "slant", s), _num(err, signed=True),
            _num(per_source.get(s, {}).get("macro_f1")),
            "low support" if s in low else (str(int(rank)) if pd.notna(rank) else "\u2013"),
        ])
    sec.blocks.append(Table(
        ["source", "sentences", "articles", "gold slant [95% CI]", "predicted slant [95% CI]",
         "slant error", "macro-F1", "rank" + (" (gold)" if g is not None else "")],
        rows, numeric={1, 2, 3, 4, 5, 6}, muted_rows=muted,
        caption=f"Gold vs predicted slant (slant error = predicted \u2212 gold; rank 1 = most "
                f"{poles[0]} among supported sources).",
    ))
    rows = [[s, str(int(p.loc[s, "n_attributed"])), _cell(g, "editorial_slant", s), _cell(p, "editorial_slant", s),
             _cell(g, "quoted_slant", s), _cell(p, "quoted_slant", s)] for s in order]
    sec.blocks.append(Table(
        ["source", "attributed", "editorial gold", "editorial predicted", "quoted gold",
         "quoted predicted"], rows, numeric={1, 2, 3, 4, 5}, muted_rows=muted,
        caption="Editorial vs quoted slant [95% CI].",
    ))


def _distribution_blocks(sec: Section, run: RunData, g: pd.DataFrame | None, p: pd.DataFrame,
                         order: list[str], muted: set[int]) -> None:
    labels = run.scheme.label_list
    per_source = {str(r.get("source")): r for r in run.metrics.get(BIAS_SPLIT, {}).get("per_source", [])
                  if isinstance(r, dict)}
    rows = [[s, str(int(p.loc[s, "n_sentences"])), str(int(p.loc[s, "n_articles"])),
             *(_cell(p, f"share_{lab}", s, signed=False) for lab in labels),
             _num(p.loc[s, "js_divergence"]), _num(g.loc[s, "js_divergence"]) if g is not None else DASH,
             _num(per_source.get(s, {}).get("distribution_error"))] for s in order]
    sec.blocks.append(Table(
        ["source", "sentences", "articles", *(f"predicted {lab} [95% CI]" for lab in labels),
         "JS divergence (predicted)", "JS divergence (gold)", "distribution error"],
        rows, numeric=set(range(1, 6 + len(labels))), muted_rows=muted,
        caption="Predicted label shares per source, Jensen-Shannon divergence (base 2) of each "
                "source from the pooled distribution, and the total variation distance between "
                "the source's gold and predicted distributions.",
    ))
    rows = [[s, *(_cell(p, f"over_{lab}", s) for lab in labels)] for s in order]
    sec.blocks.append(Table(
        ["source", *(f"{lab} vs corpus" for lab in labels)], rows, numeric=set(range(1, 1 + len(labels))),
        muted_rows=muted,
        caption="Over- (+) and under-representation (\u2212) of each predicted label: the source's "
                "share minus the pooled share of all sources [95% CI].",
    ))


def _comparison_section(run_dirs: Sequence[Path], out: Path, figs: dict[str, Path],
                        n_boot: int, seed: int) -> Section | None:
    try:
        from stance.evaluation.compare import compare_runs
    except ImportError:
        return None
    sec = Section("comparison", "Comparison of runs")
    try:
        result = compare_runs(list(run_dirs), n_boot=n_boot, seed=seed)
    except StanceError as e:
        sec.blocks.append(Para(f"The runs cannot be compared: {e}", "note"))
        return sec
    table = list(result.get("table", []))
    labels = list(result.get("labels") or [])
    rows = []
    for r in table:
        rows.append([
            str(r.get("model", "?")), str(r.get("n_runs", "\u2013")),
            _num(r.get("test_macro_f1_mean")) if int(r.get("n_runs", 1) or 1) < 2 else
            f"{_num(r.get('test_macro_f1_mean'))} \u00b1 {_num(r.get('test_macro_f1_sd'))}",
            *(_num(r.get(f"test_f1_{c}_mean")) for c in labels),
            _seconds(r.get("train_seconds_mean")), _bytes(r.get("model_size_bytes")),
        ])
    n_test = result.get("n_test")
    sec.blocks.append(Table(
        ["model", "runs", "test macro-F1 (mean \u00b1 sd)", *(f"F1 {c}" for c in labels),
         "train time", "model size"], rows, numeric=set(range(1, 5 + len(labels))),
        caption="Runs sharing a configuration (all but the seed) are pooled"
                + (f"; all evaluated on the same {n_test} test sentences." if n_test else "."),
    ))
    if table:
        figs["comparison"] = plots.plot_model_comparison(table, out / "comparison.png")
        sec.blocks.append(FigRow([Fig("comparison", figs["comparison"],
                                      "Test macro-F1 per configuration (mean \u00b1 sd over seeds).")]))
    rows = []
    for pr in result.get("pairs", []):
        d, mc = pr.get("diff", {}) or {}, pr.get("mcnemar", {}) or {}
        rows.append([
            str(pr.get("a", "?")), str(pr.get("b", "?")),
            _ci(d.get("estimate"), d.get("low"), d.get("high"), signed=True), _p(d.get("p_value")),
            f"{mc.get('b', DASH)} / {mc.get('c', DASH)}",
            _p(mc.get("p_value")), str(mc.get("method", "\u2013")),
            _num(pr.get("slant_spearman")),
        ])
    if rows:
        sec.blocks.append(Table(
            ["A", "B", "macro-F1 A \u2212 B [95% CI]", "p (bootstrap)", "McNemar b / c",
             "p (McNemar)", "test", "slant Spearman \u03c1"], rows, numeric={2, 3, 4, 5, 7},
            caption="Pairwise tests on the same test sentences: paired article bootstrap of "
                    "the macro-F1 difference; McNemar (b = A right and B wrong, c = the "
                    "reverse); Spearman correlation of per-source predicted slants.",
        ))
    return sec


# --------------------------------------------------------------------------- rendering

_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:#1d1d1f;background:#f6f7f9;margin:0;line-height:1.45;font-size:15px}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px;background:#fff;
box-shadow:0 0 0 1px #e4e6ea}
h1{font-size:26px;margin:8px 0 4px}
h2{font-size:20px;margin:34px 0 10px;padding-bottom:4px;border-bottom:2px solid #e4e6ea}
.subtitle{color:#5b6170;margin:0 0 14px}
nav{font-size:13px;margin:8px 0 18px;color:#5b6170}
nav a{color:#0b62a4;text-decoration:none;margin-right:14px}
.table-wrap{overflow-x:auto;margin:6px 0 16px}
table{border-collapse:collapse;font-size:13px;min-width:40%}
p.caption{color:#5b6170;font-size:13px;margin:18px 0 4px}
th,td{padding:5px 10px;border-bottom:1px solid #e4e6ea;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}
tr.muted td{color:#8a8f99;font-style:italic}
td{overflow-wrap:break-word}
table.wide{width:100%}
td a{color:#0b62a4}
@media (max-width:700px){main{padding:14px 12px 32px}td:not(.num){min-width:8em}th{white-space:normal}}
.note{color:#5b6170;font-size:13px}
.figrow{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start;margin:12px 0}
figure{margin:0;flex:1 1 420px;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eceef1;background:#fff}
figcaption{font-size:12.5px;color:#5b6170;margin-top:4px}
footer{margin-top:36px;font-size:12px;color:#8a8f99}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_table(t: Table) -> str:
    parts = [f'<p class="caption">{_e(t.caption)}</p>'] if t.caption else []
    parts.append('<div class="table-wrap"><table class="wide">' if t.wide else '<div class="table-wrap"><table>')
    parts.append("<thead><tr>")
    for j, h in enumerate(t.headers):
        cls = ' class="num"' if j in t.numeric else ""
        parts.append(f"<th{cls}>{_e(h)}</th>")
    parts.append("</tr></thead><tbody>")
    for i, row in enumerate(t.rows):
        parts.append('<tr class="muted">' if i in t.muted_rows else "<tr>")
        for j, cell in enumerate(row):
            cls = ' class="num"' if j in t.numeric else ""
            if isinstance(cell, Link) and cell.safe_href:
                parts.append(f'<td{cls}><a href="{_e(cell.safe_href)}" rel="noopener">{_e(cell.text)}</a></td>')
            else:
                parts.append(f"<td{cls}>{_e(cell)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _render_html(title: str, subtitle: str, sections: Sequence[Section], footer: str) -> str:
    nav = " ".join(f'<a href="#{_e(s.id)}">{_e(s.title)}</a>' for s in sections)
    body = [f"<h1>{_e(title)}</h1>", f'<p class="subtitle">{_e(subtitle)}</p>', f"<nav>{nav}</nav>"]
    for s in sections:
        body.append(f'<section id="{_e(s.id)}"><h2>{_e(s.title)}</h2>')
        for b in s.blocks:
            if isinstance(b, Para):
                cls = ' class="note"' if b.kind == "note" else ""
                body.append(f"<p{cls}>{_e(b.text)}</p>")
            elif isinstance(b, Table):
                body.append(_html_table(b))
            elif isinstance(b, FigRow):
                body.append('<div class="figrow">')
                for f in b.figs:
                    body.append(
                        f'<figure><img src="{_data_uri(f.path)}" alt="{_e(f.caption)}">'
                        f"<figcaption>{_e(f.caption)}</figcaption></figure>"
                    )
                body.append("</div>")
        body.append("</section>")
    body.append(f"<footer>{_e(footer)}</footer>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body><main>\n"
        + "\n".join(body)
        + "\n</main></body>\n</html>\n"
    )


def _md(text: Any) -> str:
    """Escape a table cell / inline text for Markdown (pipes, newlines, markup characters)."""
    s = str(text).replace("\\", "\\\\").replace("\r", " ").replace("\n", " ")
    for ch in "|*`[]<>#":
        s = s.replace(ch, "\\" + ch)
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", s)  # intraword _ is inert


def _md_table(t: Table) -> list[str]:
    lines = []
    if t.caption:
        lines += [f"*{_md(t.caption)}*", ""]
    lines.append("| " + " | ".join(_md(h) for h in t.headers) + " |")
    lines.append("|" + "|".join("---:" if j in t.numeric else "---" for j in range(len(t.headers))) + "|")
    for i, row in enumerate(t.rows):
        cells = [f"[{_md(c.text)}](<{c.safe_href}>)" if isinstance(c, Link) and c.safe_href and ">" not in c.safe_href
                 else _md(c) for c in row]
        if i in t.muted_rows and cells:
            cells[0] = f"*{cells[0]}*"
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _render_md(title: str, subtitle: str, sections: Sequence[Section], footer: str,
               out: Path) -> str:
    lines = [f"# {_md(title)}", "", _md(subtitle), ""]
    for s in sections:
        lines += [f"## {_md(s.title)}", ""]
        for b in s.blocks:
            if isinstance(b, Para):
                lines += [f"*{_md(b.text)}*" if b.kind == "note" else _md(b.text), ""]
            elif isinstance(b, Table):
                lines += _md_table(b)
            elif isinstance(b, FigRow):
                for f in b.figs:
                    rel = f.path.relative_to(out).as_posix()
                    lines += [f"![{_md(f.caption)}]({rel})", ""]
    lines += ["---", _md(footer), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- entry point


def write_report(
    run_dirs: Sequence[str | Path],
    output: str | Path | None = None,
    n_boot: int = 1000,
) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and the PNG figures; return their paths.

    Args:
        run_dirs: one or more ``stance-train`` run directories; the first is described in
            detail, all appear in the summary, and several add a comparison section.
        output: output folder (default ``<first run dir>/report/``).
        n_boot: bootstrap resamples for the per-source intervals and the comparison.

    Returns:
        ``{"html": ..., "markdown": ..., <figure name>: ...}``.

    Raises:
        ReportInputError: a run directory lacks ``metrics.json`` or its test predictions,
            or holds unreadable files.
    """
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise ReportInputError("give at least one run directory")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ReportInputError(f"n_boot must be a positive integer, got {n_boot!r}")
    runs = [load_run(d) for d in dirs]
    out = Path(output) if output is not None else dirs[0] / "report"
    out.mkdir(parents=True, exist_ok=True)
    primary = runs[0]
    figs: dict[str, Path] = {}

    sections = [_summary_section(runs), _headline_section(runs)]
    detail: list[Section] = [
        _per_class_section(primary),
        _confusion_section(primary, out, figs),
        _calibration_section(primary, out, figs),
        _bias_section(primary, out, figs, n_boot),
    ]
    if len(runs) > 1:
        detail[0].blocks.insert(0, Para(
            f"This and the following sections describe the first run: {primary.model}, seed "
            f"{primary.metrics.get('seed', '?')} ({primary.dir}).", "note"))
    sections += detail
    if len(runs) > 1:
        comp = _comparison_section(dirs, out, figs, n_boot, int(primary.metrics.get("seed", 0) or 0))
        if comp is not None:
            sections.append(comp)

    if len(runs) == 1:
        title = f"Stance classifier report: {primary.model}"
        subtitle = f"Run {primary.dir} \u00b7 seed {primary.metrics.get('seed', '?')}"
    else:
        models = ", ".join(dict.fromkeys(r.model for r in runs))
        title = f"Stance classifier report: {models}"
        subtitle = f"{len(runs)} runs; details for {primary.dir}"
    version = primary.info.get("package_version") or ""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    footer = f"Generated by stance-report {version} on {stamp}.".replace("  ", " ")

    html_path = out / "report.html"
    html_path.write_text(_render_html(title, subtitle, sections, footer), encoding="utf-8")
    md_path = out / "report.md"
    md_path.write_text(_render_md(title, subtitle, sections, footer, out), encoding="utf-8")
    return {"html": html_path, "markdown": md_path, **figs}
