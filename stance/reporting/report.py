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

The per-source bias section is :mod:`stance.reporting.report_bias`'s; the document model and
number formats are :mod:`stance.reporting.document`'s, the rendering :mod:`stance.reporting.render`'s.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

from stance.errors import StanceError
from stance.evaluation.runs import RunData, RunDirError, load_run
from stance.reporting import plots
from stance.reporting.document import (
    DASH,
    Fig,
    FigRow,
    Para,
    Section,
    Table,
    fmt_bytes,
    fmt_ci,
    fmt_ci_dict,
    fmt_num,
    fmt_p,
    fmt_seconds,
)
from stance.reporting.render import write_pages
from stance.reporting.report_bias import bias_section

__all__ = ["ReportInputError", "RunData", "load_run", "write_report"]

SPLITS = ("validation", "test")

# the report reads run directories with the loader that comparison uses
ReportInputError = RunDirError


# --------------------------------------------------------------------------- sections


def _summary_section(runs: Sequence[RunData]) -> Section:
    sec = Section("summary", "Run summary")
    rows = []
    for r in runs:
        fp = r.fingerprint
        rows.append([
            r.model,
            str(r.metrics.get("seed", r.info.get("seed", DASH))),
            (fp[:16] + "\u2026") if fp and len(fp) > 16 else (fp or DASH),
            str(r.label_source()),
            str(r.metrics.get("n_train", DASH)),
            fmt_seconds(r.metrics.get("train_seconds")),
            fmt_bytes(r.metrics.get("model_size_bytes")),
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
            row = [split, str(m.get("n", DASH)), str(m.get("n_articles", DASH)),
                   fmt_ci_dict(m.get("macro_f1_ci"), m.get("macro_f1")),
                   fmt_ci_dict(m.get("accuracy_ci"), m.get("accuracy")),
                   fmt_num(m.get("ece"))]
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
            rows.append([split, label, fmt_num(pc.get("precision")), fmt_num(pc.get("recall")),
                         fmt_num(pc.get("f1")), str(pc.get("support", DASH))])
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
        eces.append(f"{split} ECE = {fmt_num(m.get('ece'))}")
        row.append(Fig(name, path, f"Reliability diagram, {split} split: accuracy against mean "
                                   "top-label confidence per bin; bars below count sentences."))
    if eces:
        sec.blocks.append(Para(
            "; ".join(eces) + ". Points below the diagonal mark over-confident bins, points "
            "above it under-confident ones.", "p"))
    sec.blocks.append(FigRow(row) if row else Para("No reliability data in metrics.json.", "note"))
    return sec


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
            str(r.get("model", "?")), str(r.get("n_runs", DASH)),
            fmt_num(r.get("test_macro_f1_mean")) if int(r.get("n_runs", 1) or 1) < 2 else
            f"{fmt_num(r.get('test_macro_f1_mean'))} \u00b1 {fmt_num(r.get('test_macro_f1_sd'))}",
            *(fmt_num(r.get(f"test_f1_{c}_mean")) for c in labels),
            fmt_seconds(r.get("train_seconds_mean")), fmt_bytes(r.get("model_size_bytes")),
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
            fmt_ci(d.get("estimate"), d.get("low"), d.get("high"), signed=True), fmt_p(d.get("p_value")),
            f"{mc.get('b', DASH)} / {mc.get('c', DASH)}",
            fmt_p(mc.get("p_value")), str(mc.get("method", DASH)),
            fmt_num(pr.get("slant_spearman")),
        ])
    if rows:
        sec.blocks.append(Table(
            ["A", "B", "macro-F1 A \u2212 B [95% CI]", "p (bootstrap)", "McNemar b / c",
             "p (McNemar)", "test", "slant Spearman \u03c1"], rows, numeric={2, 3, 4, 5, 7},
            caption="Pairwise tests on the same test sentences: paired article bootstrap of "
                    "the macro-F1 difference; McNemar (b = A right and B wrong, c = the "
                    "reverse; it treats sentences as independent and ignores their clustering in "
                    "articles, so read the bootstrap p); Spearman correlation of per-source "
                    "predicted slants.",
        ))
    return sec


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
        bias_section(primary, out, figs, n_boot),
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

    return {**write_pages(out, title, subtitle, sections, footer), **figs}
