"""Slant ranking of the synthetic outlets from GOLD labels vs their intended slants.

Usage: python scripts/slant_ranking.py   (prints the table and Spearman's rho)
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

from stance.evaluation.bias import source_bias_table

ROOT = Path(__file__).resolve().parents[1]


def ranking() -> pd.DataFrame:
    """Per-outlet gold slant table joined with the intended slant."""
    gold = pd.read_json(ROOT / "data/sample/annotations/gold_synthetic.jsonl", lines=True)
    import yaml

    from stance.data.attribution import Attributor

    actors = yaml.safe_load((ROOT / "configs/data/attribution/default.yaml").read_text())["actors"]
    att = Attributor(actors=actors)
    a = [att.attribute(t) for t in gold["text"]]
    gold["attributed"] = [x.attributed for x in a]
    gold["speaker_side"] = [x.speaker_side for x in a]
    table = source_bias_table(gold, label_col="label", n_boot=1000, seed=0)
    outlets = pd.DataFrame(json.loads((ROOT / "data/sample/synthetic/outlets.json").read_text())["outlets"])
    return table.merge(outlets, on="source").sort_values("slant", ascending=False)


def main() -> None:
    t = ranking()
    cols = ["source", "intended_slant", "slant", "slant_low", "slant_high", "editorial_slant",
            "quoted_slant", "rank"]
    print(t[cols].to_string(index=False, float_format=lambda x: f"{x:+.3f}"))
    rho = spearmanr(t["slant"], t["slant_rank"]).statistic
    print(f"\nSpearman rho(gold slant, intended slant rank) = {rho:.3f} over {len(t)} outlets")


if __name__ == "__main__":
    main()
