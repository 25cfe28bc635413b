"""The per-source bias section of the run report (:mod:`stance.reporting.report`).

:func:`bias_section` computes, from a run directory's test predictions, each source's slant
(or label distribution, for a scheme without poles) from the gold labels and from the model's
predictions (:func:`stance.evaluation.bias.source_bias_table`), and lays them out as figures and
tables: gold vs predicted slant, editorial vs quoted slant, label shares and voice balance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from stance.evaluation.bias import source_bias_table
from stance.evaluation.runs import RunData, RunDirError
from stance.reporting import plots
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

__all__ = ["BIAS_SPLIT", "bias_section"]

BIAS_SPLIT = "test"
DEFAULT_MIN_SENTENCES = 30
DEFAULT_MIN_ARTICLES = 3


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
        raise RunDirError(
            f"cannot compute per-source bias from predictions_{BIAS_SPLIT}.parquet: {e}",
            path=run.dir,
        ) from e
    return gold, pred, min_s, min_a


def bias_section(run: RunData, out: Path, figs: dict[str, Path], n_boot: int) -> Section:
    """The per-source bias section of ``run`` (figures written to ``out`` and added to ``figs``)."""
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
                     *(fmt_pct(p.loc[s, f"voice_{side}"]) for side in (*scheme.side_names, "unresolved"))])
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
        est = fmt_num(t.loc[s, col], signed=signed)
        return est if est == DASH else f"{est} (1 article)"
    return fmt_ci(t.loc[s, col], t.loc[s, f"{col}_low"], t.loc[s, f"{col}_high"], signed=signed)


def _metrics_per_source(run: RunData) -> dict[str, dict[str, Any]]:
    """The per-source rows of ``metrics.json`` for the bias split, by source."""
    return {str(r.get("source")): r for r in run.metrics.get(BIAS_SPLIT, {}).get("per_source", [])
            if isinstance(r, dict)}


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
    per_source = _metrics_per_source(run)
    rank_col = g if g is not None else p
    rows = []
    for s in order:
        rank = rank_col.loc[s, "rank"]
        err = (p.loc[s, "slant"] - g.loc[s, "slant"]) if g is not None else float("nan")
        rows.append([
            s, str(int(p.loc[s, "n_sentences"])), str(int(p.loc[s, "n_articles"])),
            _cell(g, "slant", s), _cell(p, "slant", s), fmt_num(err, signed=True),
            fmt_num(per_source.get(s, {}).get("macro_f1")),
            "low support" if s in low else (str(int(rank)) if pd.notna(rank) else DASH),
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
    per_source = _metrics_per_source(run)
    rows = [[s, str(int(p.loc[s, "n_sentences"])), str(int(p.loc[s, "n_articles"])),
             *(_cell(p, f"share_{lab}", s, signed=False) for lab in labels),
             fmt_num(p.loc[s, "js_divergence"]), fmt_num(g.loc[s, "js_divergence"]) if g is not None else DASH,
             fmt_num(per_source.get(s, {}).get("distribution_error"))] for s in order]
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
