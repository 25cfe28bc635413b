"""``stance-compare RUN_DIR...``: compare training runs on the same test sentences;
``stance-compare --scores A B``: compare two models' labels of the same unlabelled corpus
(two ``stance-score`` outputs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from stance.atomic import write_json_atomic
from stance.cli.common import console, exit_on_user_error


def print_comparison(result: dict) -> None:
    """Side-by-side table plus pairwise tests."""
    labels = result["labels"]
    t = Table(title=f"test split: {result['n_test']} sentences")
    for col in ["group", "seeds", "macro-F1 (mean ± sd)", *[f"F1 {c}" for c in labels], "train s", "size MB"]:
        t.add_column(col, justify="left" if col == "group" else "right")
    for r in result["table"]:
        t.add_row(
            r["group"], ",".join(str(s) for s in r["seeds"]), f"{r['test_macro_f1_mean']:.3f} ± {r['test_macro_f1_sd']:.3f}",
            *[f"{r[f'test_f1_{c}_mean']:.3f}" for c in labels],
            f"{r['train_seconds_mean']:.1f}", f"{r['model_size_bytes'] / 1e6:.1f}",
        )
    console.print(t)
    for p in result["pairs"]:
        d = p["diff"]
        seeds = ",".join(str(s) for s in p["seeds"])
        console.print(
            f"{p['a']}  −  {p['b']}\n"
            f"  macro-F1 diff {d['estimate']:+.3f} [95% CI {d['low']:+.3f}, {d['high']:+.3f}] "
            f"(article-clustered paired bootstrap over {p['n_seeds']} seed(s) {seeds}), p={d['p_value']:.3f}; "
            f"per seed {', '.join(f'{x:+.3f}' for x in d['per_seed'])}"
        )
        for m in p["mcnemar_per_seed"]:
            t_ = m["mcnemar"]
            console.print(f"  seed {m['seed']}: McNemar b={t_['b']} c={t_['c']} p={t_['p_value']:.3f} "
                          f"({t_['method']}, sentence-level: ignores article clustering)")
        console.print(f"  per-source slant Spearman rho={p['slant_spearman']:.2f} over {p['n_sources']} sources")
        if p.get("note"):
            console.print(f"  note: {p['note']}")


def _f(x: object, digits: int = 3, signed: bool = False) -> str:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"
    if v != v:
        return "-"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _ci(est: float, low: float, high: float, one_article: bool) -> str:
    if one_article:
        return f"{_f(est, signed=True)} (1 article)"
    return f"{_f(est, signed=True)} [{_f(low, signed=True)}, {_f(high, signed=True)}]"


def print_score_comparison(cmp: dict) -> None:
    """The two models on one corpus: alignment, agreement, per-source table, disagreements."""
    from stance.reporting.corpus_compare import alignment_text

    ov = cmp["overall"]
    console.print(f"A = {cmp['a']}  ({cmp['a_path']})\nB = {cmp['b']}  ({cmp['b_path']})")
    console.print(alignment_text(cmp["alignment"]))
    console.print(f"agreement {_f(ov['agreement'])} [95% CI {_f(ov['agreement_low'])}, {_f(ov['agreement_high'])}] "
                  f"(article bootstrap, {ov['n_articles']} articles), Cohen's kappa {_f(ov['kappa'])}")
    slant = cmp["scheme"].has_slant
    t = Table(title="per source (low support in italics)")
    cols = ["source", "sentences", "agreement", "kappa"]
    cols += ["slant A [95% CI]", "slant B [95% CI]", "A - B [95% CI]", "p"] if slant else ["distribution distance"]
    for c in cols:
        t.add_column(c, justify="left" if c == "source" else "right")
    for r in cmp["per_source"].itertuples():
        cells = [str(r.source), str(r.n_sentences), _f(r.agreement), _f(r.kappa)]
        if slant:
            one = r.n_articles < 2
            cells += [_ci(r.slant_a, r.slant_a_low, r.slant_a_high, one), _ci(r.slant_b, r.slant_b_low, r.slant_b_high, one),
                      _ci(r.diff, r.diff_low, r.diff_high, one), _f(r.p_value)]
        else:
            cells.append(_f(r.tv_distance))
        t.add_row(*cells, style="italic dim" if r.low_support else None)
    console.print(t)
    top = cmp["most_disagreeing"]
    if len(top):
        console.print("most disagreeing sources: " + "; ".join(
            f"{r.source} (agreement {_f(r.agreement)}, kappa {_f(r.kappa)})" for r in top.itertuples()))
    elif ov["agreement"] == 1.0:
        console.print("the two models give every compared sentence the same label")
    for r in cmp["sample"].itertuples():
        console.print(f"  [{r.source} / {r.article_id}] A {r.label_a} ({_f(r.proba_a, 2)}), "
                      f"B {r.label_b} ({_f(r.proba_b, 2)}): {r.text}", markup=False, highlight=False)


def _score_comparison_json(cmp: dict) -> dict:
    out = {k: v for k, v in cmp.items() if k not in ("per_source", "most_disagreeing", "sample", "scheme")}
    out["scheme"] = cmp["scheme"].to_dict()
    for k in ("per_source", "most_disagreeing", "sample"):
        out[k] = cmp[k].to_dict(orient="records")
    return out


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    ap = argparse.ArgumentParser(prog="stance-compare", description=__doc__)
    ap.add_argument("run_dirs", nargs="*", type=Path, help="stance-train run directories")
    ap.add_argument("--scores", nargs=2, type=Path, metavar=("A", "B"), default=None,
                    help="two stance-score outputs of the same corpus from two models (the files "
                         "--output named): compared on the sentences both scored")
    ap.add_argument("--min-sentences", type=int, default=30, help="with --scores: support to rank a source")
    ap.add_argument("--min-articles", type=int, default=3, help="with --scores: support to rank a source")
    ap.add_argument("--sample", type=int, default=12, help="with --scores: disagreeing sentences shown")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the comparison as JSON here")
    ap.add_argument("--allow-data-mismatch", action="store_true",
                    help="compare runs of the same seed trained on different data (same test sentences)")
    args = ap.parse_args(argv)
    if args.scores and args.run_dirs:
        ap.error("give run directories or --scores A B, not both")
    if not args.scores and not args.run_dirs:
        ap.error("give run directories, or --scores A B")
    if args.n_boot < 1 or args.sample < 0:
        ap.error("--n-boot must be >= 1 and --sample >= 0")
    if args.scores:
        from stance.reporting.corpus import compare_outputs

        with exit_on_user_error():
            cmp = compare_outputs(*args.scores, n_boot=args.n_boot, seed=args.seed,
                                  min_sentences=args.min_sentences, min_articles=args.min_articles,
                                  n_sample=args.sample)
            print_score_comparison(cmp)
            if args.json:
                write_json_atomic(args.json, _score_comparison_json(cmp))
        return
    from stance.evaluation.compare import compare_runs

    with exit_on_user_error():
        result = compare_runs(args.run_dirs, n_boot=args.n_boot, seed=args.seed,
                              allow_data_mismatch=args.allow_data_mismatch)
        print_comparison(result)
        if args.json:
            write_json_atomic(args.json, result)
