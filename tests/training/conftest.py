"""Compose the real config tree for training tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

import stance.cli._hydra  # noqa: F401  (registers ${stance_sample:} and ${stance_encoder:})
from stance.resources import config_dir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MINI_SPLIT = ["data.split.by=article", "data.split.val_sources=[]", "data.split.val_fraction=0.2"]
"""The mini corpus has none of the sample's held-out validation outlets: split it by article."""


def compose_train(*overrides: str, run_dir: Path, mini: bool = True) -> DictConfig:
    """``train.yaml`` with overrides, ``run_dir`` set; the small mini corpus by default."""
    ov = list(overrides)
    if mini:  # the mini corpus has none of the sample's held-out validation outlets
        ov += [f"data.corpora.synthetic.path={FIXTURES / 'mini_articles.jsonl'}", *MINI_SPLIT]
    ov += ["trainer.n_boot=50"]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=ov)
    with open_dict(cfg):
        cfg.run_dir = str(run_dir)
    return cfg


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose ``train.yaml`` with overrides; run_dir under tmp_path; small mini corpus by default."""

    def make(*overrides: str, mini: bool = True, run_dir: Path | None = None) -> DictConfig:
        return compose_train(*overrides, run_dir=run_dir or tmp_path / "run", mini=mini)

    return make
