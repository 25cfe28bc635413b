"""``stance-label``: weak labels from labelling functions, with their diagnostics (Hydra).

Builds the data config's sentences (or reads ``dataset_dir``), fits the LFs that need it on
the TRAIN split (prototypes) and the aggregator on train+validation votes, labels every
sentence, and writes into the run directory:

* ``weak_labels.parquet`` / ``weak_labels.jsonl`` -- ``sentence_id``, ids, ``split``, ``text``,
  ``gold_label``, ``weak_label``, ``weak_proba_<label>`` and one ``vote_<lf>`` per LF (JSONL:
  ``weak_proba`` and ``votes`` objects);
* ``lf_analysis.csv`` -- coverage, overlap, conflict and accuracy on gold per LF and of the
  aggregate (all gold, then per split);
* ``label_summary.json`` -- counts and the aggregator's parameters.

The analysis table is printed whenever gold labels exist.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import hydra
import pandas as pd
from omegaconf import DictConfig
from rich.table import Table

from stance.cli._hydra import CONFIG_PATH
from stance.cli.common import console, exit_on_user_error
from stance.errors import InputError


def _sentences(cfg: DictConfig) -> pd.DataFrame:
    if cfg.get("dataset_dir"):
        from stance.data.dataset_dir import read_dataset

        df = read_dataset(cfg.dataset_dir).sentences
    else:
        from stance.data.from_config import build_from_config, scheme_from_config

        df = build_from_config(cfg.data, scheme=scheme_from_config(cfg.get("scheme"))).sentences
    if "duplicate_of" in df.columns:
        df = df[df["duplicate_of"].isna()]
    if df.empty:
        raise InputError("there are no sentences to label")
    return df.reset_index(drop=True)


def print_analysis(table: pd.DataFrame, title: str) -> None:
    """The LF analysis as a rich table."""
    t = Table(title=title)
    cols = ["name", "kind", "polarity", "coverage", "overlap", "conflict", "n_gold", "accuracy", "macro_f1"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("name", "kind", "polarity") else "right")
    for row in table.itertuples(index=False):
        cells = []
        for c in cols:
            v = getattr(row, c)
            if isinstance(v, float):
                cells.append("" if v != v else f"{v:.3f}")
            else:
                cells.append(str(v))
        t.add_row(*cells)
    console.print(t)


def label(cfg: DictConfig) -> dict[str, Any]:
    """Weak-label the configured sentences and write the outputs; returns a summary."""
    from stance.annotation.analysis import lf_analysis
    from stance.annotation.training_labels import labeler_from_config, labels_config

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = _sentences(cfg)
    labeler = labeler_from_config(labels_config(cfg))
    wl = labeler.fit_apply(df)
    frame = wl.frame(df)
    frame.to_parquet(out / "weak_labels.parquet", index=False)
    vote_cols = [f"vote_{n}" for n in wl.votes.columns]
    proba_cols = [f"weak_proba_{lab}" for lab in wl.label_set]
    with open(out / "weak_labels.jsonl", "w", encoding="utf-8") as fh:
        for rec in frame.to_dict("records"):
            base = {k: v for k, v in rec.items() if k not in vote_cols and k not in proba_cols}
            base["weak_proba"] = {lab: round(float(rec[f"weak_proba_{lab}"]), 4) for lab in wl.label_set}
            base["votes"] = {c[len("vote_"):]: rec[c] for c in vote_cols}
            fh.write(json.dumps(base, ensure_ascii=False, default=str) + "\n")
    agg_name = f"aggregate ({type(labeler.aggregator).__name__})"
    summary: dict[str, Any] = {
        "sentences": len(df),
        "weak_labelled": int(wl.labels.notna().sum()),
        "abstained": int(wl.labels.isna().sum()),
        "weak_label_counts": {lab: int((wl.labels == lab).sum()) for lab in wl.label_set},
        "lfs": list(wl.votes.columns),
        "aggregator": {"name": type(labeler.aggregator).__name__, **wl.extra},
    }
    gold = df["label"] if "label" in df.columns else pd.Series([None] * len(df))
    has_gold = bool(gold.notna().any())
    tables = []
    if has_gold:
        table = lf_analysis(wl.votes, gold, {agg_name: wl.labels}, labels=wl.label_set)
        tables.append(table.assign(split="all"))
        print_analysis(table, f"weak labels vs gold: all {int(gold.notna().sum())} gold sentences")
        if "split" in df.columns:
            per_split = []
            for split in ("train", "validation", "test"):
                m = (df["split"] == split).to_numpy()
                if not (m & gold.notna().to_numpy()).any():
                    continue
                t = lf_analysis(wl.votes[m], gold[m], {agg_name: wl.labels[m]}, labels=wl.label_set)
                tables.append(t.assign(split=split))
                per_split.append(t[t["kind"] == "aggregate"].assign(name=f"{split}: {agg_name}"))
            if per_split:
                print_analysis(pd.concat(per_split, ignore_index=True), "aggregate per split")
        pd.concat(tables, ignore_index=True).to_csv(out / "lf_analysis.csv", index=False)
        agg_row = table[table["kind"] == "aggregate"].iloc[0]
        summary["aggregate_coverage"] = float(agg_row["coverage"])
        summary["aggregate_accuracy"] = float(agg_row["accuracy"])
        summary["aggregate_macro_f1"] = float(agg_row["macro_f1"])
    else:
        table = lf_analysis(wl.votes, None, {agg_name: wl.labels}, labels=wl.label_set)
        table.to_csv(out / "lf_analysis.csv", index=False)
        print_analysis(table, "labelling functions (no gold labels: coverage only)")
    (out / "label_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    console.print(
        f"{summary['weak_labelled']} of {summary['sentences']} sentences weak-labelled "
        f"({summary['abstained']} abstained): {summary['weak_label_counts']}"
    )
    console.print(f"weak labels written to [bold]{out / 'weak_labels.parquet'}[/bold] (and .jsonl)")
    return summary


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="label")
def _main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        label(cfg)


def main() -> None:
    """Console-script entry point."""
    _main()


if __name__ == "__main__":
    sys.exit(main())
