"""Two models compared on one scored corpus: :func:`compare_outputs` and its report section.

:func:`compare_outputs` aligns two score outputs of the same corpus on the sentences both scored
and compares their labels (agreement, kappa, per-source slant or distribution differences,
a sample of disagreements); :func:`comparison_section` lays that out for the corpus report
(:mod:`stance.reporting.corpus`) and :func:`alignment_text` says what was compared (also printed
by ``stance-compare --scores``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stance.errors import InputError
from stance.evaluation.corpus import align_outputs, compare_labelings, disagreement_sample
from stance.reporting import plots
from stance.reporting.corpus_tables import fmt_source_ci, model_name, shorten
from stance.reporting.document import (
    Fig,
    FigRow,
    Para,
    Section,
    Table,
    fmt_ci,
    fmt_num,
    fmt_p,
    fmt_pct,
)
from stance.scheme import check_same_scheme
from stance.scoring.records import ScoreOutput, read_output

__all__ = ["alignment_text", "compare_outputs", "comparison_section"]


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
    return {"a": model_name(oa), "b": model_name(ob), "a_path": str(oa.path), "b_path": str(ob.path),
            "scheme": oa.scheme, "alignment": al.to_dict(), "overall": res["overall"], "per_source": ps,
            "most_disagreeing": top, "sample": disagreement_sample(al.frame, n=n_sample, seed=seed)}


def alignment_text(al: dict[str, int]) -> str:
    """What the comparison covers: the sentences compared and those left out on each side."""
    left = al["only_a"] + al["only_b"]
    text = f"Compared on the {al['n_common']} sentences both outputs scored"
    if left:
        text += (f"; left out: {al['only_a']} only in A and {al['only_b']} only in B"
                 + (f" (of which {al['text_mismatch']} share an id but not the text, counted on both sides)"
                    if al["text_mismatch"] else ""))
    else:
        text += " (the same sentence set; nothing left out)"
    return text + "."


def comparison_section(cmp: dict[str, Any], outdir: Path, figs: dict[str, Path]) -> Section:
    """The report section of :func:`compare_outputs`' result (figures written to ``outdir``)."""
    scheme = cmp["scheme"]
    sec = Section("comparison", "Two models on this corpus")
    ov, ps = cmp["overall"], cmp["per_source"]
    sec.blocks.append(Para(f"A = {cmp['a']}, B = {cmp['b']}. " + alignment_text(cmp["alignment"])))
    sec.blocks.append(Para(
        f"Sentence-level agreement {fmt_ci(ov['agreement'], ov['agreement_low'], ov['agreement_high'])} "
        f"(95% article-bootstrap CI over {ov['n_articles']} articles); Cohen's kappa {fmt_num(ov['kappa'])} "
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
        rows = [[s, str(int(p.loc[s, "n_sentences"])), fmt_pct(p.loc[s, "agreement"]), fmt_num(p.loc[s, "kappa"]),
                 fmt_source_ci(p, s, "slant_a"), fmt_source_ci(p, s, "slant_b"), fmt_source_ci(p, s, "diff"),
                 fmt_p(p.loc[s, "p_value"])] for s in order]
        sec.blocks.append(Table(["source", "sentences", "agreement", "kappa", "slant A [95% CI]", "slant B [95% CI]",
                                 "A \u2212 B [95% CI]", "p"], rows, numeric={1, 2, 3, 4, 5, 6, 7}, muted_rows=muted,
                                caption="Per source: agreement, kappa, each model's slant and their difference "
                                        "(paired article bootstrap: both models' labels of the same resampled "
                                        "articles; p two-sided)."))
    else:
        rows = [[s, str(int(p.loc[s, "n_sentences"])), fmt_pct(p.loc[s, "agreement"]), fmt_num(p.loc[s, "kappa"]),
                 fmt_num(p.loc[s, "tv_distance"])] for s in order]
        sec.blocks.append(Table(["source", "sentences", "agreement", "kappa", "distribution distance"], rows,
                                numeric={1, 2, 3, 4}, muted_rows=muted,
                                caption="Per source: agreement, kappa and the total variation distance between "
                                        "the two models' label distributions (0 = the same shares)."))
    top = cmp["most_disagreeing"]
    if len(top):
        sec.blocks.append(Para("Where the models disagree most (sources with enough support, lowest agreement): "
                               + "; ".join(f"{r.source} ({fmt_pct(r.agreement)} agreement, kappa {fmt_num(r.kappa)})"
                                           for r in top.itertuples()) + "."))
    sample = cmp["sample"]
    if len(sample):
        rows = [[r.source, shorten(r.text), f"{r.label_a} ({fmt_num(r.proba_a, 2)})", f"{r.label_b} ({fmt_num(r.proba_b, 2)})",
                 str(r.article_id)] for r in sample.itertuples()]
        sec.blocks.append(Table(["source", "sentence", "A says", "B says", "article"], rows,
                                caption=f"A random sample of {len(sample)} sentences the models label differently "
                                        "(each model's probability in brackets)."))
    else:
        sec.blocks.append(Para("The two models give every compared sentence the same label.", "note"))
    return sec
