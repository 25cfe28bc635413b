"""Annotation round trip on the bundled sample: select -> export -> (simulated) annotation ->
import -> agreement -> adjudication -> label audit.

    python scripts/annotation_roundtrip.py [--out DIR] [--n 30] [--noise 0.15] [--seed 0]

1. builds the sample dataset (configs/data/sample.yaml) and fits a TF-IDF model on its train split;
2. selects the ``--n`` most uncertain sentences (spread over sources, <= 2 per article) and
   exports them as Label Studio tasks (+ labelling config) and doccano JSONL;
3. simulates three annotators by writing Label Studio export JSON (annotator 1 and 2 copy the
   gold label but flip it with probability ``--noise``; annotator 3 flips twice as often) and
   one doccano export file, then imports them back;
4. reports Cohen's kappa (pairwise) and Krippendorff's alpha, overall and per class, for the
   simulated annotators and for the two real annotators of the five seed articles
   (data/sample/annotations/seed_annotator_{1,2}.jsonl);
5. adjudicates the simulated labels by majority;
6. audits the sample's gold labels with cleanlab on article-grouped out-of-fold TF-IDF
   probabilities and prints the most suspicious ones.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import pandas as pd

from stance.resources import bundled_scheme

LABELS = tuple(bundled_scheme("pak_afghan").label_list)


def build_sample() -> pd.DataFrame:
    from hydra import compose, initialize_config_dir

    import stance.cli._hydra  # noqa: F401 - registers ${stance_sample:}
    from stance.data.from_config import build_from_config
    from stance.resources import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="build", overrides=["hydra.run.dir=."])
    df = build_from_config(cfg.data).sentences
    return df[df["duplicate_of"].isna()].reset_index(drop=True)


def simulate_labelstudio_export(tasks: list[dict], gold: dict[str, str], annotators: dict[int, float],
                                rng: random.Random) -> list[dict]:
    """Label Studio export JSON: each annotator copies gold, flipped with its noise rate."""
    out = []
    for n, task in enumerate(tasks, 1):
        t = json.loads(json.dumps(task))
        t["id"] = n
        t["annotations"] = []
        for user, noise in annotators.items():
            lab = gold[t["data"]["sentence_id"]]
            if rng.random() < noise:
                lab = rng.choice([x for x in LABELS if x != lab])
            t["annotations"].append({
                "id": len(t["annotations"]) + 1, "completed_by": user, "was_cancelled": False,
                "result": [{"from_name": "stance", "to_name": "text", "type": "choices",
                            "value": {"choices": [lab]}}],
            })
        out.append(t)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("outputs/annotation_roundtrip"))
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--noise", type=float, default=0.15)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 90)

    from stance.annotation.agreement import agreement_report, audit_label_issues, pairwise_kappa
    from stance.annotation.exchange import (
        adjudicate,
        labelstudio_tasks,
        read_doccano,
        read_labelstudio,
        write_doccano,
        write_labelstudio,
    )
    from stance.annotation.select import select_for_annotation
    from stance.data.annotations import load_annotations, write_annotations
    from stance.models.tfidf import TfidfClassifier
    from stance.resources import sample_dir

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)

    # 1-2. select and export
    df = build_sample()
    train = df[df["split"] == "train"]
    model = TfidfClassifier(seed=args.seed).fit(train["text"].tolist(), train["label"].tolist())
    picked = select_for_annotation(model, df, args.n, include_labelled=True, splits=["validation", "test"])
    write_labelstudio(out / "tasks.json", picked, df, extra_fields=["uncertainty"])
    write_doccano(out / "tasks_doccano.jsonl", picked, df)
    print(f"exported {len(picked)} sentences from {picked['source'].nunique()} sources "
          f"to {out / 'tasks.json'} (+ labeling_config.xml) and {out / 'tasks_doccano.jsonl'}")

    # 3. simulated annotation, then import
    gold = dict(zip(df["sentence_id"], df["label"], strict=True))
    tasks = labelstudio_tasks(picked, df)
    export = simulate_labelstudio_export(tasks, gold, {1: args.noise, 2: args.noise, 3: 2 * args.noise}, rng)
    (out / "labelstudio_export.json").write_text(json.dumps(export, indent=1, ensure_ascii=False))
    doc_lines = []
    for line in (out / "tasks_doccano.jsonl").read_text().splitlines():
        rec = json.loads(line)
        lab = gold[rec["meta"]["sentence_id"]]
        rec["label"] = [lab if rng.random() >= args.noise else rng.choice([x for x in LABELS if x != lab])]
        rec["annotator"] = "doccano_user"
        doc_lines.append(json.dumps(rec, ensure_ascii=False))
    (out / "doccano_export.jsonl").write_text("\n".join(doc_lines) + "\n")
    records = read_labelstudio(out / "labelstudio_export.json") + read_doccano(out / "doccano_export.jsonl")
    print(f"imported {len(records)} annotations from {len({r.annotator for r in records})} annotators")

    # 4. agreement
    noise = f"{args.noise:.2f}"
    print(f"\n== agreement, simulated annotators (noise {noise} / {noise} / {2 * args.noise:.2f} / {noise})")
    print(pairwise_kappa(records).round(3).to_string(index=False))
    print(agreement_report(records).round(3).to_string(index=False))
    ann = sample_dir() / "annotations"
    real = []
    for k in (1, 2):
        for a in load_annotations(ann / f"seed_annotator_{k}.jsonl"):
            a.annotator = f"annotator_{k}"
            real.append(a)
    print("\n== agreement, the two real annotators of the seed articles")
    print(agreement_report(real).round(3).to_string(index=False))

    # 5. adjudication
    adjudicated, unresolved = adjudicate(records)
    write_annotations(out / "adjudicated.jsonl", adjudicated)
    agree = sum(r["label"] == gold[r["sentence_id"]] for r in adjudicated)
    print(f"\nadjudicated {len(adjudicated)} sentences by majority ({agree} equal to gold), "
          f"{len(unresolved)} left for a human; written to {out / 'adjudicated.jsonl'}")

    # 6. audit of the gold labels
    issues = audit_label_issues(df)
    issues.to_csv(out / "label_issues.csv", index=False)
    print(f"\n== cleanlab audit: {len(issues)} of {issues.attrs['n_checked']} gold labels flagged "
          f"(article-grouped 5-fold TF-IDF); top 10:")
    print(issues.head(10)[["source", "label", "suggested_label", "self_confidence", "text"]].round(3).to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())
