"""``stance-select``: pick the unlabelled sentences most worth annotating and export them.

Example::

    stance-select --model outputs/stance-train/<run>/model --input corpus_dataset/ \\
        --n 200 --output to_annotate.json --format labelstudio

The input is a stance-build dataset folder (or its sentences.parquet) or any sentence table
(Parquet/JSONL/CSV with ``text`` and ideally ``sentence_id``, ``article_id``, ``source``,
``index``, ``title``). Sentences are ranked by the model's uncertainty and picked
round-robin over sources, at most ``--per-article`` per article, then exported with their
title and neighbouring sentences as context:

* ``labelstudio``: a tasks JSON (with the model's guess as a pre-annotation) and
  ``<output stem>.labeling_config.xml`` beside it;
* ``doccano``: JSONL with ``text`` and ``meta``;
* ``jsonl``: one plain record per sentence with context, prediction and uncertainty.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stance.cli.common import console, exit_on_user_error


def select(model_dir: Path, input_path: Path, n: int, output: Path, fmt: str = "labelstudio",
           method: str = "entropy", per_article: int | None = 2, include_labelled: bool = False,
           splits: list[str] | None = None) -> Path:
    """Select ``n`` sentences and write them to ``output`` in ``fmt``; returns the path."""
    import stance
    from stance.annotation.exchange import with_context, write_doccano, write_labelstudio
    from stance.annotation.select import load_sentence_table, select_for_annotation

    model = stance.load_model(model_dir)
    sentences = load_sentence_table(input_path)
    picked = select_for_annotation(model, sentences, n, method=method, per_article=per_article,  # type: ignore[arg-type]
                                   include_labelled=include_labelled, splits=splits)
    extra = ["uncertainty", "pred"]
    if fmt == "labelstudio":
        picked["pred_score"] = picked[[f"proba_{c}" for c in model.classes_]].max(axis=1)
        write_labelstudio(output, picked, sentences, labels=[str(c) for c in model.classes_],
                          extra_fields=extra, prediction_col="pred", score_col="pred_score",
                          model_version=str(model_dir))
    elif fmt == "doccano":
        write_doccano(output, picked, sentences, extra_fields=extra)
    elif fmt == "jsonl":
        df = with_context(picked, sentences)
        cols = [c for c in ("pick", "sentence_id", "article_id", "source", "title", "prev", "text", "next",
                            "pred", "uncertainty") if c in df.columns]
        cols += [c for c in df.columns if c.startswith("proba_")]
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "w", encoding="utf-8") as fh:
            for rec in df[cols].to_dict("records"):
                fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
    else:  # argparse restricts choices; kept for direct calls
        raise ValueError(f"unknown format {fmt!r}")
    by_source = picked["source"].value_counts().to_dict()
    console.print(f"selected {len(picked)} sentence(s) from {picked['article_id'].nunique()} article(s) "
                  f"and {len(by_source)} source(s) (mean {method} {picked['uncertainty'].mean():.3f})")
    console.print(f"written to [bold]{output}[/bold] ({fmt})")
    return output


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    ap = argparse.ArgumentParser(prog="stance-select", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="saved model directory (RUN_DIR/model)")
    ap.add_argument("--input", type=Path, required=True, help="stance-build dataset folder or sentence table")
    ap.add_argument("--n", type=int, required=True, help="number of sentences to select")
    ap.add_argument("--output", type=Path, required=True, help="file to write")
    ap.add_argument("--format", choices=["labelstudio", "doccano", "jsonl"], default="labelstudio")
    ap.add_argument("--method", choices=["entropy", "margin", "least_confidence"], default="entropy",
                    help="uncertainty measure (default entropy)")
    ap.add_argument("--per-article", type=int, default=2, help="at most this many per article (0 = no cap)")
    ap.add_argument("--include-labelled", action="store_true",
                    help="also consider sentences that already have a gold label (re-annotation)")
    ap.add_argument("--split", action="append", default=None,
                    help="only sentences of this split (repeatable; needs a split column)")
    args = ap.parse_args(argv)
    if args.n <= 0:
        ap.error("--n must be positive")
    with exit_on_user_error():
        select(args.model, args.input, args.n, args.output, args.format, args.method,
               args.per_article or None, args.include_labelled, args.split)


if __name__ == "__main__":
    sys.exit(main())
