"""Report figures. Each function takes data and an output path, writes a PNG and returns the path.

Figures are drawn on the Agg canvas (``FigureCanvasAgg``) through
:class:`matplotlib.figure.Figure`: no pyplot, no global backend switch, no display needed. Per-source inputs are frames from
:func:`stance.evaluation.bias.source_bias_table`; sources are ordered by
:func:`source_order` so every per-source figure lists them the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from stance.scheme import Scheme

__all__ = [
    "label_colors",
    "period_tick",
    "plot_confusion_matrix",
    "plot_editorial_vs_quoted",
    "plot_model_comparison",
    "plot_period_heatmap",
    "plot_period_lines",
    "plot_reliability",
    "plot_source_slant",
    "plot_stance_distribution",
    "source_order",
]

# Okabe-Ito colours (colour-blind safe): the first pole green, the second orange, the "none"
# label grey, other labels from the rest of the palette
POLE_COLORS = ("#009E73", "#D55E00")
NONE_COLOR = "#A0A0A0"
_FALLBACK = ["#0072B2", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
GOLD_STYLE = {"color": "#222222", "marker": "o", "label": "gold labels"}
PRED_STYLE = {"color": "#0072B2", "marker": "D", "label": "predictions"}
LOW_SUPPORT_COLOR = "#9a9a9a"
DPI = 120


def label_colors(scheme: Scheme) -> dict[str, str]:
    """A colour per label of ``scheme`` (poles and the none label get fixed colours)."""
    fixed = dict(zip(scheme.poles or (), POLE_COLORS, strict=False))
    if scheme.none_label is not None:
        fixed[scheme.none_label] = NONE_COLOR
    rest = iter(_FALLBACK * (1 + len(scheme.label_list) // len(_FALLBACK)))
    return {lab: fixed.get(lab) or next(rest) for lab in scheme.label_list}


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return path


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def source_order(table: pd.DataFrame, column: str = "slant") -> list[str]:
    """Sources top to bottom: supported ones by ``column`` (most pro-Islamabad first), then
    low-support ones (``low_support`` column) by name."""
    if table.empty:
        return []
    low = table["low_support"].astype(bool) if "low_support" in table else pd.Series(False, index=table.index)
    supported = table[~low].sort_values([column, "source"], ascending=[False, True], na_position="last")
    rest = table[low].sort_values("source")
    return [str(s) for s in [*supported["source"], *rest["source"]]]


def _low_support_set(*tables: pd.DataFrame | None) -> set[str]:
    out: set[str] = set()
    for t in tables:
        if t is not None and "low_support" in t:
            out |= {str(s) for s in t.loc[t["low_support"].astype(bool), "source"]}
    return out


MAX_NAME = 34
"""Longest source name shown on a figure axis (longer ones are cut with an ellipsis; the
tables carry the full name)."""


def short_name(name: str, limit: int = MAX_NAME) -> str:
    """``name`` cut to ``limit`` characters with an ellipsis."""
    name = str(name)
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "\u2026"


def _source_ticks(ax: Any, order: Sequence[str], low: set[str]) -> None:
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([f"{short_name(s)}  (low support)" if s in low else short_name(s) for s in order])
    for tick, s in zip(ax.get_yticklabels(), order, strict=True):
        if s in low:
            tick.set_color(LOW_SUPPORT_COLOR)
            tick.set_fontstyle("italic")
    ax.set_ylim(len(order) - 0.5, -0.5)  # first source on top


def _slant_axis(ax: Any, poles: Sequence[str], xlabel: str | None = None) -> None:
    ax.axvline(0.0, color="#555555", lw=0.8, zorder=1)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xticks([-1, -0.5, 0, 0.5, 1])
    ax.grid(axis="x", color="#e3e3e3", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    ax.set_xlabel(xlabel or f"slant = share {poles[0]} - share {poles[1]}", fontsize=9)
    ax.text(0.0, 1.01, f"\u2190 {poles[1]}", transform=ax.transAxes, ha="left", va="bottom",
            fontsize=8, color=POLE_COLORS[1])
    ax.text(1.0, 1.01, f"{poles[0]} \u2192", transform=ax.transAxes, ha="right", va="bottom",
            fontsize=8, color=POLE_COLORS[0])


def _slant_series(
    ax: Any,
    table: pd.DataFrame,
    order: Sequence[str],
    column: str,
    offset: float,
    style: Mapping[str, str],
) -> bool:
    """Markers with CI bars for ``table[column]`` at rows ``order``; False if nothing drawn."""
    by_source = table.set_index(table["source"].astype(str))
    drew = False
    for i, source in enumerate(order):
        if source not in by_source.index:
            continue
        row = by_source.loc[source]
        est = row.get(column)
        if not _finite(est):
            ax.text(0.02, i + offset, "n/a", fontsize=7, color=style["color"], va="center",
                    ha="left", alpha=0.8)
            continue
        low, high = row.get(f"{column}_low"), row.get(f"{column}_high")
        xerr = None
        if _finite(low) and _finite(high) and float(high) > float(low):
            xerr = [[max(0.0, float(est) - float(low))], [max(0.0, float(high) - float(est))]]
        ax.errorbar(
            [float(est)], [i + offset], xerr=xerr, fmt=style["marker"], color=style["color"],
            ms=5.5, capsize=3, elinewidth=1.2, zorder=3,
            label=style["label"] if not drew else None,
        )
        drew = True
    return drew


def _height_for(n_rows: int, per_row: float = 0.42, base: float = 1.5) -> float:
    return max(2.4, base + per_row * n_rows)


def plot_source_slant(
    pred: pd.DataFrame,
    path: str | Path,
    poles: Sequence[str],
    gold: pd.DataFrame | None = None,
    title: str = "Per-source slant (95% article-bootstrap CI)",
    names: tuple[str, str] | None = None,
    order: Sequence[str] | None = None,
) -> Path:
    """Per-source slant with CI error bars: predicted (and gold, when given) side by side.

    ``pred`` and ``gold`` are :func:`~stance.evaluation.bias.source_bias_table` frames
    computed from the predicted and gold labels of the same sentences (or two models' labels:
    ``names`` = the legend names of ``pred`` and ``gold``); ``order``: top to bottom
    (default :func:`source_order`).
    """
    order = list(order) if order is not None else source_order(gold if gold is not None else pred)
    low = _low_support_set(pred, gold)
    fig = _new_figure(8.0, _height_for(len(order)))
    ax = fig.add_subplot(1, 1, 1)
    pred_style, gold_style = PRED_STYLE, GOLD_STYLE
    if names is not None:
        pred_style, gold_style = {**PRED_STYLE, "label": names[0]}, {**GOLD_STYLE, "label": names[1]}
    series = [(pred, pred_style, 0.14 if gold is not None else 0.0)]
    if gold is not None:
        series.insert(0, (gold, gold_style, -0.14))
    for table, style, off in series:
        _slant_series(ax, table, order, "slant", off, style)
    _source_ticks(ax, order, low)
    _slant_axis(ax, poles)
    ax.set_title(title, fontsize=11, pad=24)  # above the pole arrows
    handles, legend = ax.get_legend_handles_labels()
    if names is not None:  # the first series (pred) first in the legend
        handles, legend = handles[::-1], legend[::-1]
    if handles:
        fig.legend(handles, legend, loc="outside lower center", ncol=len(handles), fontsize=8,
                   frameon=False)
    return _save(fig, path)


def plot_editorial_vs_quoted(
    pred: pd.DataFrame,
    path: str | Path,
    poles: Sequence[str],
    gold: pd.DataFrame | None = None,
    title: str = "Editorial vs quoted slant (95% article-bootstrap CI)",
) -> Path:
    """Two panels side by side: slant of unattributed (editorial) and of attributed (quoted)
    sentences per source, with gold (when given) and predicted markers."""
    order = source_order(gold if gold is not None else pred)
    low = _low_support_set(pred, gold)
    fig = _new_figure(11.0, _height_for(len(order)))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, column, name in (
        (axes[0], "editorial_slant", "Editorial voice (unattributed sentences)"),
        (axes[1], "quoted_slant", "Quoted voices (attributed sentences)"),
    ):
        if gold is not None:
            _slant_series(ax, gold, order, column, -0.14, GOLD_STYLE)
        _slant_series(ax, pred, order, column, 0.14 if gold is not None else 0.0, PRED_STYLE)
        _slant_axis(ax, poles, xlabel="slant")
        ax.set_title(name, fontsize=10, pad=24)  # above the pole arrows
    _source_ticks(axes[0], order, low)
    axes[1].tick_params(axis="y", left=False)
    fig.suptitle(title, fontsize=11)
    handles, labels = axes[0].get_legend_handles_labels()
    h1, l1 = axes[1].get_legend_handles_labels()
    seen = dict(zip(labels, handles, strict=True))
    for lab, h in zip(l1, h1, strict=True):
        seen.setdefault(lab, h)
    if seen:
        fig.legend(list(seen.values()), list(seen.keys()), loc="outside lower center",
                   ncol=len(seen), fontsize=8, frameon=False)
    return _save(fig, path)


def plot_stance_distribution(
    tables: Mapping[str, pd.DataFrame],
    path: str | Path,
    scheme: Scheme,
    order: Sequence[str] | None = None,
    title: str = "Label distribution per source",
) -> Path:
    """Stacked horizontal bars of label shares per source, one panel per table.

    ``tables`` maps a panel title (e.g. ``"gold labels"``, ``"predictions"``) to a frame with
    ``source`` and ``share_<label>`` columns (and optionally ``n_sentences``/``low_support``).
    """
    if not tables:
        raise ValueError("tables must not be empty")
    labels = scheme.label_list
    colors = label_colors(scheme)
    frames = list(tables.items())
    order = list(order) if order is not None else source_order(frames[0][1])
    low = _low_support_set(*tables.values())
    fig = _new_figure(4.2 * len(frames) + 2.2, _height_for(len(order), per_row=0.38))
    axes = np.atleast_1d(fig.subplots(1, len(frames), sharey=True))
    for ax, (name, table) in zip(axes, frames, strict=True):
        by_source = table.set_index(table["source"].astype(str))
        left = np.zeros(len(order))
        for label in labels:
            col = f"share_{label}"
            vals = np.array([
                float(by_source.loc[s, col]) if s in by_source.index and _finite(by_source.loc[s, col]) else 0.0
                for s in order
            ])
            bars = ax.barh(range(len(order)), vals, left=left, color=colors[label],
                           edgecolor="white", lw=0.6, height=0.7, label=label)
            for rect, v in zip(bars, vals, strict=True):
                if v >= 0.09:
                    ax.text(rect.get_x() + rect.get_width() / 2, rect.get_y() + rect.get_height() / 2,
                            f"{v:.0%}", ha="center", va="center", fontsize=7, color="white"
                            if label != scheme.none_label else "#222222")
            left += vals
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_xticklabels(["0%", "25%", "50%", "75%", "100%"])
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("share of sentences", fontsize=9)
        if "n_sentences" in table:
            ax2 = ax.secondary_yaxis("right")
            ax2.set_yticks(range(len(order)))
            ax2.set_yticklabels([
                f"n={int(by_source.loc[s, 'n_sentences'])}" if s in by_source.index else ""
                for s in order
            ], fontsize=7)
            ax2.tick_params(length=0)
    _source_ticks(axes[0], order, low)
    for ax in axes[1:]:
        ax.tick_params(axis="y", left=False)
    fig.suptitle(title, fontsize=11)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=min(len(labels), 6), fontsize=8,
               frameon=False)
    return _save(fig, path)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]] | np.ndarray,
    labels: Sequence[str],
    path: str | Path,
    title: str = "Confusion matrix",
) -> Path:
    """Heatmap of counts (rows true, columns predicted); colour = share of the true class."""
    cm = np.asarray(matrix, dtype=float)
    k = len(labels)
    if cm.shape != (k, k):
        raise ValueError(f"matrix must be {k}x{k} (one row/column per label), got {cm.shape}")
    row_sums = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, row_sums, out=np.zeros_like(cm), where=row_sums > 0)
    size = 1.3 * k + 1.8
    fig = _new_figure(size + 0.6, size)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{int(cm[i, j])}\n({share[i, j]:.0%})", ha="center", va="center",
                    fontsize=10, color="white" if share[i, j] > 0.55 else "#1a1a1a")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=9)
    ax.set_yticklabels(labels, fontsize=9)
    ax.set_xlabel("predicted", fontsize=10)
    ax.set_ylabel("true (gold)", fontsize=10)
    ax.set_title(title, fontsize=10)
    cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("share of true class", fontsize=8)
    cbar.ax.tick_params(labelsize=7)
    return _save(fig, path)


def plot_reliability(
    reliability: Mapping[str, Sequence[Any]],
    path: str | Path,
    ece: float | None = None,
    title: str = "Reliability diagram",
) -> Path:
    """Accuracy vs mean top-label confidence per bin, with the diagonal, and a bar chart of
    bin counts underneath. ``reliability`` is :func:`~stance.metrics.reliability_curve`."""
    lower = np.asarray(reliability["bin_lower"], dtype=float)
    upper = np.asarray(reliability["bin_upper"], dtype=float)
    counts = np.asarray(reliability["count"], dtype=float)
    conf = np.array([np.nan if v is None else float(v) for v in reliability["confidence"]])
    acc = np.array([np.nan if v is None else float(v) for v in reliability["accuracy"]])
    width = upper - lower
    centres = (lower + upper) / 2
    fig = _new_figure(5.6, 5.6)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ok = counts > 0
    top.bar(centres[ok], acc[ok], width=width[ok] * 0.92, color="#0072B2", alpha=0.35,
            edgecolor="#0072B2", label="accuracy per bin")
    top.plot([0, 1], [0, 1], ls="--", color="#555555", lw=1, label="perfect calibration")
    top.plot(conf[ok], acc[ok], marker="o", color="#0072B2", lw=1.4, ms=4,
             label="(mean confidence, accuracy)")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1.05)
    top.set_ylabel("accuracy", fontsize=9)
    top.grid(color="#e6e6e6", lw=0.6)
    top.legend(loc="upper left", fontsize=7.5, frameon=False)
    head = title if ece is None or not _finite(ece) else f"{title} (ECE = {float(ece):.3f})"
    top.set_title(head, fontsize=10)
    bottom.bar(centres, counts, width=width * 0.92, color="#888888")
    for x, c in zip(centres, counts, strict=True):
        if c > 0:
            bottom.text(x, c, f"{int(c)}", ha="center", va="bottom", fontsize=7)
    bottom.set_ylim(0, max(1.0, counts.max()) * 1.3)
    bottom.set_ylabel("sentences", fontsize=9)
    bottom.set_xlabel("top-label confidence", fontsize=9)
    return _save(fig, path)


def plot_model_comparison(table: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Test macro-F1 (mean with ± sd over seeds) per compared configuration."""
    rows = list(table)
    names = [f"{r.get('model', '?')} (n={r.get('n_runs', 1)})" for r in rows]
    means = np.array([float(r.get("test_macro_f1_mean", np.nan)) for r in rows])
    sds = np.array([float(r.get("test_macro_f1_sd", 0.0) or 0.0) for r in rows])
    fig = _new_figure(7.0, _height_for(len(rows), per_row=0.45, base=1.3))
    ax = fig.add_subplot(1, 1, 1)
    multi = np.array([int(r.get("n_runs", 1) or 1) > 1 for r in rows], dtype=bool)
    sds = np.where(multi, sds, 0.0)
    ax.barh(range(len(rows)), means, color="#56B4E9", edgecolor="#0072B2", height=0.55, zorder=2)
    if multi.any():
        ax.errorbar(means[multi], np.arange(len(rows))[multi], xerr=sds[multi], fmt="none",
                    ecolor="#1d1d1f", capsize=4, zorder=3)
    for i, m in enumerate(means):
        if _finite(m):
            ax.text(min(m + sds[i], 1.0) + 0.01, i, f"{m:.3f}", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(names, fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("test macro-F1 (mean \u00b1 sd over seeds)", fontsize=9)
    ax.grid(axis="x", color="#e3e3e3", lw=0.6)
    ax.set_title("Compared configurations", fontsize=10)
    ax.set_axisbelow(True)
    return _save(fig, path)


def plot_period_heatmap(
    table: pd.DataFrame,
    path: str | Path,
    order: Sequence[str],
    periods: Sequence[str],
    column: str = "slant",
    title: str = "Slant per source and period",
    vlim: tuple[float, float] = (-1.0, 1.0),
    cmap: str = "BrBG",
    low: set[str] | None = None,
    colorbar_label: str | None = None,
) -> Path:
    """Sources (rows, ``order``) x periods (columns): colour = ``column``, each cell annotated
    with its number of articles; a period without articles of a source is left blank (hatched).

    ``table`` has ``source``, ``period``, ``n_articles`` and ``column``
    (:func:`stance.evaluation.corpus.period_table`).
    """
    idx = {s: i for i, s in enumerate(order)}
    pcol = {p: j for j, p in enumerate(periods)}
    values = np.full((len(order), len(periods)), np.nan)
    counts = np.zeros((len(order), len(periods)), dtype=int)
    for _, r in table.iterrows():
        i, j = idx.get(str(r["source"])), pcol.get(str(r["period"]))
        if i is None or j is None:
            continue
        values[i, j] = float(r[column]) if _finite(r[column]) else np.nan
        counts[i, j] = int(r["n_articles"])
    width = min(16.0, 3.6 + 0.9 * len(periods))
    fig = _new_figure(width, _height_for(len(order), per_row=0.34, base=2.2))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor("#f2f2f2")
    masked = np.ma.masked_invalid(values)
    im = ax.imshow(masked, cmap=cmap, vmin=vlim[0], vmax=vlim[1], aspect="auto", interpolation="nearest")
    annotate = len(periods) <= MAX_ANNOTATED_PERIODS  # more columns: too narrow for numbers
    for i in range(len(order)):
        for j in range(len(periods)):
            if counts[i, j] and annotate:
                v = values[i, j]
                dark = _finite(v) and abs(float(v)) > 0.55 * max(abs(vlim[0]), abs(vlim[1]))
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if dark else "#222222")
            elif not counts[i, j]:
                ax.add_patch(_hatch_cell(j, i))
    _source_ticks(ax, order, low or set())
    step = _tick_step(len(periods))
    ax.set_xticks(range(0, len(periods), step))
    ax.set_xticklabels([period_tick(p) for p in periods[::step]], rotation=45, ha="right", fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(title + (" (numbers: articles; hatched: none)" if annotate else " (hatched: no article)"), fontsize=10)
    fig.colorbar(im, ax=ax, shrink=min(1.0, 8.0 / max(1, len(order))) if len(order) > 8 else 0.9,
                 label=colorbar_label or column.replace("_", " "), pad=0.02)
    return _save(fig, path)


MAX_ANNOTATED_PERIODS = 30
"""Beyond this many periods the heatmap cells are too narrow to carry article counts."""


def _tick_step(n: int, max_ticks: int = 26) -> int:
    """Label every k-th period so that at most ``max_ticks`` labels share the axis."""
    return max(1, -(-n // max_ticks))


def _hatch_cell(x: int, y: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#d0d0d0", lw=0)


def period_tick(period: str) -> str:
    """A week ``2025-10-06/2025-10-12`` shown by its first day; other periods as they are."""
    return period.split("/")[0]


def plot_period_lines(
    table: pd.DataFrame,
    path: str | Path,
    periods: Sequence[str],
    series: Sequence[tuple[str, str]],
    colors: Mapping[str, str] | None = None,
    ylabel: str = "slant",
    ylim: tuple[float, float] = (-1.0, 1.0),
    title: str = "All sources, per period (95% article-bootstrap CI)",
) -> Path:
    """Corpus-wide lines over ``periods``: one per ``(column, legend name)`` in ``series``, each
    with its ``<column>_low``/``_high`` band; bars below give the number of articles per period
    (a period without articles is a gap, not a zero)."""
    by_period = table.set_index(table["period"].astype(str))
    x = np.arange(len(periods))
    fig = _new_figure(min(12.0, 4.5 + 0.55 * len(periods)), 4.4)
    ax, axn = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    for column, name in series:
        y = np.array([float(by_period.loc[p, column]) if p in by_period.index else np.nan for p in periods])
        lo = np.array([float(by_period.loc[p, f"{column}_low"]) if p in by_period.index else np.nan for p in periods])
        hi = np.array([float(by_period.loc[p, f"{column}_high"]) if p in by_period.index else np.nan for p in periods])
        color = (colors or {}).get(column, PRED_STYLE["color"])
        ax.plot(x, y, marker="o", ms=4, color=color, label=name)
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0)
    ax.set_ylim(*ylim)
    if ylim[0] < 0 < ylim[1]:
        ax.axhline(0.0, color="#555555", lw=0.8)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.grid(axis="y", color="#e3e3e3", lw=0.6)
    ax.set_title(title, fontsize=10)
    if len(series) > 1:  # outside the axes: label names never cover the lines
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    n = np.array([int(by_period.loc[p, "n_articles"]) if p in by_period.index else 0 for p in periods])
    axn.bar(x, n, color="#9aa5b1", width=0.6)
    axn.set_ylabel("articles", fontsize=8)
    step = _tick_step(len(periods))
    axn.set_xticks(x[::step])
    axn.set_xticklabels([period_tick(p) for p in periods[::step]], rotation=45, ha="right", fontsize=8)
    return _save(fig, path)
