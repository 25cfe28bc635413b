"""Training throughput and main-job time: the old hand-written loop vs the Trainer, back to back.

The old loop is the package as of ``--old-ref`` (default ``1cbb6f0``, the last commit with the
hand-written loop), checked out into a ``git worktree``; the new one is this checkout. For each,
in a fresh process: fine-tune the packaged MiniLM on the bundled sample with the main job's
settings (``model=transformer``: 6 epochs, frozen embeddings, mean pooling, seed 0), then
optionally run the whole main job (``scripts/main_job.sh``). Prints sentences/s of fine-tuning
(training sentences x epochs run / fit seconds, evaluation and calibration included), the
validation and test macro-F1 and the main job's wall time.

Usage: python scripts/bench_train.py [--old-ref REV] [--no-main-job] [--seeds 0,1,2]
       [--trainer-overrides OVERRIDE ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _worktree(ref: str, where: Path) -> Path:
    if not (where / "stance").is_dir():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(where), ref], check=True,
                       capture_output=True)
    return where


def _train(tree: Path, run_dir: Path, seed: int = 0, overrides: tuple[str, ...] = ()) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    # cwd and PYTHONPATH are the tree, so its ``stance`` is imported ahead of the editable install's finder.
    code = ("import sys, stance; from stance.cli.train import main; "
            f"assert stance.__file__.startswith({str(tree)!r}), stance.__file__; "
            f"sys.argv = ['stance-train', 'model=transformer', 'model.classifier.progress=false', "
            f"'seed={seed}', 'hydra.run.dir={run_dir}', *{list(overrides)!r}]; main()")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    meta = json.loads((run_dir / "model" / "manifest.json").read_text())["metadata"]
    epochs = len(meta.get("history") or []) or 6
    return {
        "wall_s": wall,
        "fit_s": metrics["train_seconds"],
        "n_train": metrics["n_train"],
        "epochs": epochs,
        "sent_per_s": metrics["n_train"] * epochs / metrics["train_seconds"],
        "val_f1": metrics["validation"]["macro_f1"],
        "test_f1": metrics["test"]["macro_f1"],
    }


def _main_job(tree: Path, out: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    subprocess.run(["bash", str(tree / "scripts" / "main_job.sh"), str(out)], cwd=tree, env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-ref", default="1cbb6f0", help="commit with the hand-written loop")
    ap.add_argument("--no-main-job", action="store_true", help="skip the two main-job runs")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds; the first gives the throughput row, "
                    "all of them the test macro-F1 per seed")
    ap.add_argument("--trainer-overrides", nargs="*", default=[],
                    help="Hydra overrides for this checkout's runs only, e.g. the old loop's recipe on "
                         "today's data: data/input=plain model.classifier.epochs=6")
    ap.add_argument("--out", type=Path, default=Path("/tmp/stance-bench-train"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    trees = {"old loop": _worktree(args.old_ref, args.out / "old-tree"), "Trainer": ROOT}
    over = {"old loop": (), "Trainer": tuple(args.trainer_overrides)}
    rows = {}
    # Back to back: the two throughput fits first, then the main jobs, then the other seeds.
    for name, tree in trees.items():
        rows[name] = _train(tree, args.out / f"run-{name.replace(' ', '-')}", seeds[0], over[name])
        print(f"{name}: {json.dumps({k: round(v, 3) for k, v in rows[name].items()})}", flush=True)
    if not args.no_main_job:
        for name, tree in trees.items():
            rows[name]["main_job_s"] = _main_job(tree, args.out / f"main-{name.replace(' ', '-')}")
            print(f"{name}: main job {rows[name]['main_job_s']:.0f} s", flush=True)
    per_seed = {name: {seeds[0]: rows[name]["test_f1"]} for name in trees}
    for seed in seeds[1:]:
        for name, tree in trees.items():
            r = _train(tree, args.out / f"run-{name.replace(' ', '-')}-seed{seed}", seed, over[name])
            per_seed[name][seed] = r["test_f1"]
            print(f"{name} seed {seed}: {json.dumps({k: round(v, 3) for k, v in r.items()})}", flush=True)
    print()
    print(f"{'':10} {'sent/s':>8} {'fit s':>7} {'epochs':>6} {'val F1':>7} {'test F1':>7} {'main job s':>10}")
    for name, r in rows.items():
        job = f"{r['main_job_s']:.0f}" if "main_job_s" in r else "-"
        print(f"{name:10} {r['sent_per_s']:8.1f} {r['fit_s']:7.1f} {r['epochs']:6d} {r['val_f1']:7.3f} "
              f"{r['test_f1']:7.3f} {job:>10}")
    ratio = rows["Trainer"]["sent_per_s"] / rows["old loop"]["sent_per_s"]
    print(f"\nTrainer / old loop throughput: {ratio:.2f}x  (training sentences x epochs / fit seconds; "
          f"{rows['Trainer']['n_train']} training sentences; machine: {os.cpu_count()} CPUs)")
    if len(seeds) > 1:
        print(f"\ntest macro-F1 by seed ({', '.join(map(str, seeds))}):")
        for name, by_seed in per_seed.items():
            vals = [by_seed[s] for s in seeds]
            mean = sum(vals) / len(vals)
            print(f"{name:10} " + " ".join(f"{v:.3f}" for v in vals) + f"   mean {mean:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
