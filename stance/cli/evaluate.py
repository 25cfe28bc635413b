"""``stance-evaluate``: evaluate a saved model on any labelled dataset.

Writes metrics.json and a per-source table (CSV and Parquet) with gold and predicted slant,
editorial vs quoted slant, voice balance and prevalence-corrected shares.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stance.atomic import write_json_atomic
from stance.cli.common import console, exit_on_user_error
from stance.data.dataset_dir import read_dataset
from stance.data.model_input import model_input_of, with_model_inputs
from stance.errors import InputError
from stance.scheme import check_same_scheme


def preprocessing_note(model_manifest: dict, data_preprocessing: dict | None) -> str | None:
    """A note when the dataset was prepared differently from the model's training data
    (cleaning, segmentation or attribution settings differ), else None."""
    ours, theirs = model_manifest.get("preprocessing"), data_preprocessing
    if not ours or not theirs or ours == theirs:
        return None
    parts = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    return (f"the dataset was prepared with different {', '.join(parts)} settings than the model's training "
            "data: scores may shift for that reason alone (rebuild the dataset with the model's preprocessing "
            "to compare like with like)")


def evaluate(model_dir: Path, dataset: Path, output: Path, split: str = "test", n_boot: int = 1000,
             seed: int = 0, min_sentences: int = 30, min_articles: int = 3) -> dict:
    """Evaluate ``model_dir`` on ``split`` of a stance-build dataset folder; write results to ``output``."""
    import stance
    from stance.evaluation.bias import corrected_source_table, source_bias_table
    from stance.evaluation.evaluate import metrics_of, predict_frame

    model = stance.load_model(model_dir)
    data = read_dataset(dataset)
    table = data.table
    table_frame = data.sentences
    df = data.labelled(split)
    if df.empty:
        raise InputError(f"no labelled sentences in split {split!r}", path=table,
                         hint="choose --split train|validation|test|all")
    scheme = model.scheme_
    data_scheme = data.scheme
    if data_scheme is not None:
        check_same_scheme(scheme, data_scheme, f"the model {model_dir}", f"the dataset {table}")
    unknown = sorted(set(df["label"]) - set(scheme.label_list))
    if unknown:
        raise InputError(f"dataset labels {unknown} are not in the model's scheme {scheme.describe()}",
                         path=table, field="label", hint="evaluate with a model trained on the same scheme")
    labels = scheme.label_list
    # what the model reads: its own input settings, composed on whole articles of the table
    df = with_model_inputs(df, table_frame, model_input_of(model))
    pred = predict_frame(model, df)
    metrics = metrics_of(pred, labels, n_boot=n_boot, seed=seed)
    output.mkdir(parents=True, exist_ok=True)
    pred.to_parquet(output / "predictions.parquet", index=False)
    gold_tab = source_bias_table(pred, scheme, label_col="label", min_sentences=min_sentences,
                                 min_articles=min_articles, n_boot=n_boot, seed=seed)
    pred_tab = source_bias_table(pred, scheme, label_col="pred", min_sentences=min_sentences,
                                 min_articles=min_articles, n_boot=n_boot, seed=seed)
    per_source = gold_tab.merge(pred_tab, on="source", suffixes=("_gold", "_pred"))
    cm = getattr(model, "manifest_", {}).get("validation_confusion_matrix")
    if cm:
        corr = corrected_source_table(pred, "pred", cm, scheme)
        per_source = per_source.merge(corr[["source", *[c for c in corr if c.startswith("adj_")]]], on="source")
    if scheme.has_slant:
        per_source["slant_error"] = per_source["slant_pred"] - per_source["slant_gold"]
    per_source.to_csv(output / "per_source.csv", index=False)
    per_source.to_parquet(output / "per_source.parquet", index=False)
    metrics["model_dir"], metrics["dataset"], metrics["split"] = str(model_dir), str(table), split
    metrics["preprocessing_note"] = preprocessing_note(getattr(model, "manifest_", {}) or {}, data.preprocessing)
    write_json_atomic(output / "metrics.json", metrics)
    return {"metrics": metrics, "per_source": per_source}


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    ap = argparse.ArgumentParser(prog="stance-evaluate", description=__doc__)
    ap.add_argument("--model", type=Path, required=True, help="saved model directory (RUN_DIR/model)")
    ap.add_argument("--dataset", type=Path, required=True, help="stance-build dataset folder")
    ap.add_argument("--split", default="test", help="train | validation | test | all (default test)")
    ap.add_argument("--output", type=Path, default=Path("evaluation"), help="output folder")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-sentences", type=int, default=30, help="per-source minimum support")
    ap.add_argument("--min-articles", type=int, default=3, help="per-source minimum support")
    args = ap.parse_args(argv)
    with exit_on_user_error():
        res = evaluate(args.model, args.dataset, args.output, args.split, args.n_boot, args.seed,
                       args.min_sentences, args.min_articles)
    m = res["metrics"]
    ci = m["macro_f1_ci"]
    console.print(f"{args.split}: n={m['n']} macro-F1 {m['macro_f1']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}] "
                  f"accuracy {m['accuracy']:.3f} ECE {m['ece']:.3f}")
    if m.get("preprocessing_note"):
        console.print(f"[yellow]note:[/yellow] {m['preprocessing_note']}")
    cols = ["source", "n_sentences_gold", "slant_gold", "slant_pred", "slant_error",
            "editorial_slant_gold", "quoted_slant_gold", "low_support_gold", "rank_gold", "rank_pred"]
    print(res["per_source"][[c for c in cols if c in res["per_source"]]].to_string(index=False))
    console.print(f"wrote {args.output}/metrics.json, per_source.csv, per_source.parquet, predictions.parquet")
