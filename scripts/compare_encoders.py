"""Encoders at an equal, small budget: a frozen-embedding probe on the sample's validation outlets.

Fine-tuning a 110M-parameter encoder on a 2-core CPU takes far longer than the main job's
600 s budget, so encoders are compared here the way a user can afford on any machine: each
encoder embeds the training and validation sentences once (mean pooling, L2-normalised,
``stance.annotation.lfs_prototype.embed_texts``), the same scikit-learn logistic regression is fitted on the
training embeddings, and the **validation** macro-F1 (seven whole held-out outlets) is
reported with the embedding throughput. A better frozen representation is the usual
predictor of a better fine-tune, but it is not the same number: the default model is
fine-tuned.

Usage:
    python scripts/compare_encoders.py --encoder default --encoder /path/to/all-mpnet-base-v2
    python scripts/compare_encoders.py --encoder default --limit 500    # quick look
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression


def _split(limit: int | None):
    from hydra import compose, initialize_config_dir

    import stance.cli._hydra  # noqa: F401  (registers the ${stance_sample:} resolver)
    from stance.data.from_config import build_from_config, scheme_from_config
    from stance.resources import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="build", overrides=["output_dir=unused"])
    scheme = scheme_from_config(cfg.get("scheme"))
    df = build_from_config(cfg.data, scheme=scheme).labelled
    parts = {s: df[df["split"] == s] for s in ("train", "validation")}
    if limit:
        parts = {s: p.sample(min(limit, len(p)), random_state=0) for s, p in parts.items()}
    return parts, scheme.label_list


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", action="append", required=True,
                    help="'default' (packaged MiniLM), a hub id or a local model folder; repeatable")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--C", type=float, default=4.0, help="inverse regularisation of the probe")
    ap.add_argument("--limit", type=int, default=None, help="sentences per split (default: all)")
    args = ap.parse_args()

    from stance.annotation.lfs_prototype import embed_texts
    from stance.metrics import classification_metrics

    parts, labels = _split(args.limit)
    print(f"train {len(parts['train'])} sentences, validation {len(parts['validation'])} "
          f"(held-out outlets)", flush=True)
    rows = []
    for enc in args.encoder:
        name = None if enc == "default" else enc
        t0 = time.perf_counter()
        X = {s: embed_texts(p["text"].tolist(), name, args.batch_size, args.max_length) for s, p in parts.items()}
        secs = time.perf_counter() - t0
        n = sum(len(p) for p in parts.values())
        clf = LogisticRegression(C=args.C, class_weight="balanced", max_iter=3000)
        clf.fit(X["train"], parts["train"]["label"])
        pred = clf.predict(X["validation"])
        m = classification_metrics(parts["validation"]["label"], pred, labels)
        per = " / ".join(f"{m['per_class'][c]['f1']:.3f}" for c in labels)
        rows.append((enc, X["train"].shape[1], m["macro_f1"], per, n / secs))
        print(f"{enc}: validation macro-F1 {m['macro_f1']:.3f} ({per}); embedding {n / secs:.0f} sentences/s",
              flush=True)
    print(f"\n| encoder | dim | validation macro-F1 (probe) | F1 {' / '.join(labels)} | embedding sentences/s |")
    print("|---|---:|---:|---|---:|")
    for enc, dim, f1, per, rate in rows:
        print(f"| {enc} | {dim} | {f1:.3f} | {per} | {rate:.0f} |")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
