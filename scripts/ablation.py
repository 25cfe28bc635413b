"""Ablation on the bundled sample: training data (with / without round 3) x model input x model.

Every configuration is trained by ``stance-train`` (one process each, so timings are clean)
and judged on the **validation** split: seven whole round-3 outlets that no configuration
trains on (``configs/data/sample.yaml``). The seed-test figure (five real articles) is printed
beside it for information only; choose on validation.

"Without round 3" trains on rounds 1-2 only: the script builds the sample once, writes its
sentences as a labelled table with a ``split`` column, leaves out the round-3 *training* rows
(the validation outlets stay) and trains on that table (``data=sentences``), so both variants
are validated on exactly the same sentences.

Usage:
    python scripts/ablation.py --models tfidf --inputs plain,speaker,context --data all,no_round3
    python scripts/ablation.py --models transformer --inputs plain,speaker --data all \\
        --extra model.classifier.epochs=3
Prints a Markdown table and writes OUT/ablation.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
ROUND3 = "3"


def _round3_sources() -> set[str]:
    outlets = json.loads((ROOT / "data" / "sample" / "synthetic" / "outlets.json").read_text())["outlets"]
    return {o["source"] for o in outlets if str(o.get("round")) == ROUND3}


def _tables(out: Path) -> dict[str, Path]:
    """The sample as sentence tables: ``all`` and ``no_round3`` (round-3 training rows left out)."""
    from hydra import compose, initialize_config_dir

    import stance.cli._hydra  # noqa: F401  (registers the ${stance_sample:} resolver)
    from stance.data.from_config import build_from_config, scheme_from_config
    from stance.resources import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="build", overrides=["output_dir=unused"])
    built = build_from_config(cfg.data, scheme=scheme_from_config(cfg.get("scheme")))
    df = built.labelled.sort_values(["article_id", "index"], kind="stable")
    cols = ["sentence_id", "article_id", "source", "title", "date", "text", "label", "split"]
    tables = {}
    r3 = _round3_sources()
    for name, keep in (("all", pd.Series(True, index=df.index)),
                       ("no_round3", ~(df["source"].isin(r3) & (df["split"] == "train")))):
        path = out / f"sentences_{name}.parquet"
        part = df[keep][cols]
        part.to_parquet(path, index=False)
        tables[name] = path
        print(f"{name}: {len(part)} sentences, split {part['split'].value_counts().to_dict()}", flush=True)
    return tables


def _run(model: str, data: Path, input_: str, seed: int, extra: list[str], run_dir: Path) -> dict:
    cmd = [sys.executable, "-m", "stance.cli.train", f"model={model}", "data=sentences",
           f"data.path={data}", "scheme=pak_afghan", f"data/input={input_}", f"seed={seed}",
           f"hydra.run.dir={run_dir}", *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    m = json.loads((run_dir / "metrics.json").read_text())
    return {"model": model, "input": input_, "seed": seed, "wall_s": round(wall, 1),
            "fit_s": m["train_seconds"], "n_train": m["n_train"],
            "val": m["validation"]["macro_f1"], "val_ci": [m["validation"]["macro_f1_ci"]["low"],
                                                          m["validation"]["macro_f1_ci"]["high"]],
            "val_per_class": {k: v["f1"] for k, v in m["validation"]["per_class"].items()},
            "test": m["test"]["macro_f1"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="tfidf")
    ap.add_argument("--inputs", default="plain,speaker,context")
    ap.add_argument("--data", default="all,no_round3")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--extra", nargs="*", default=[], help="more stance-train overrides")
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "ablation")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tables = _tables(args.out)
    rows = []
    for data in args.data.split(","):
        for model in args.models.split(","):
            for input_ in args.inputs.split(","):
                for seed in map(int, args.seeds.split(",")):
                    run_dir = args.out / f"{model}-{data}-{input_}-s{seed}"
                    r = {"data": data, **_run(model, tables[data], input_, seed, args.extra, run_dir)}
                    rows.append(r)
                    print(f"{data:9} {model:11} {input_:8} seed {seed}: validation macro-F1 {r['val']:.3f} "
                          f"[{r['val_ci'][0]:.3f}, {r['val_ci'][1]:.3f}]  seed-test {r['test']:.3f}  "
                          f"fit {r['fit_s']:.0f} s", flush=True)
    (args.out / "ablation.json").write_text(json.dumps(rows, indent=2))
    df = pd.DataFrame(rows)
    print("\n| training data | model | input | seed | validation macro-F1 [95% CI] | F1 isl / kab / neu "
          "| seed-test macro-F1 | fit s |\n|---|---|---|---|---|---|---|---|")
    for r in df.to_dict(orient="records"):
        pc = r["val_per_class"]
        print(f"| {r['data']} | {r['model']} | {r['input']} | {r['seed']} | {r['val']:.3f} "
              f"[{r['val_ci'][0]:.3f}, {r['val_ci'][1]:.3f}] | {pc.get('pro_islamabad', float('nan')):.3f} / "
              f"{pc.get('pro_kabul', float('nan')):.3f} / {pc.get('neutral', float('nan')):.3f} | "
              f"{r['test']:.3f} | {r['fit_s']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
