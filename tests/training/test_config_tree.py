"""Every file in configs/ composes, and every _target_ in it instantiates."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

import stance.cli._hydra  # noqa: F401
from stance.resources import config_dir

CONFIGS = config_dir()


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


def _targets(node, path=""):
    """Yield (path, node) for every config node with a _target_."""
    if isinstance(node, DictConfig):
        if "_target_" in node:
            yield path, node
            return
        for k in node:
            yield from _targets(node[k], f"{path}.{k}" if path else str(k))
    elif isinstance(node, ListConfig):
        for i, v in enumerate(node):
            yield from _targets(v, f"{path}[{i}]")


def _compose(name: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.pop("hydra")
        if "run_dir" in cfg:
            cfg.run_dir = "/tmp/unused"
        if "output_dir" in cfg:
            cfg.output_dir = "/tmp/unused"
    return cfg


def _instantiate_all(cfg: DictConfig, skip_readers: bool = False) -> int:
    n = 0
    for path, node in _targets(cfg):
        if (skip_readers and path.startswith("data.corpora")) or path.startswith("labels_fn."):
            continue
        obj = instantiate(node, _convert_="all")
        assert obj is not None, path
        n += 1
    if cfg.get("labels_fn") is not None:
        # labelling functions take their name from their key: built by their own factory
        from stance.weak.training_labels import labeler_from_config

        labeler = labeler_from_config(cfg.labels_fn)
        n += len(labeler.lfs)
    return n


CASES = (
    [("train", [f"model={m}"]) for m in _options("model")]
    + [("train", [f"data={d}"] + (["data.corpora.main.path=/nonexistent"] if d == "corpus" else []))
       for d in _options("data")]
    + [("train", [f"trainer={t}"]) for t in _options("trainer")]
    + [("train", [f"paths={p}"]) for p in _options("paths")]
    + [("train", [f"experiment={e}"]) for e in _options("experiment")]
    + [("build", [])]
)
if (CONFIGS / "label.yaml").exists():
    CASES.append(("label", []))


@pytest.mark.parametrize(("name", "overrides"), CASES, ids=lambda x: str(x))
def test_composes_and_instantiates(name: str, overrides: list[str]) -> None:
    cfg = _compose(name, overrides)
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    custom = any(o.startswith("data=corpus") for o in overrides)
    n = _instantiate_all(cfg, skip_readers=custom)
    assert n >= 3


@pytest.mark.parametrize("search", _options("hparams_search"))
def test_hparams_search_composes(search: str) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=[f"hparams_search={search}"], return_hydra_config=True)
    assert cfg.hydra.sweeper.params
    assert cfg.optimized_metric == "validation.macro_f1"
    assert "Optuna" in cfg.hydra.sweeper._target_ or "optuna" in cfg.hydra.sweeper._target_


def test_every_config_file_is_covered() -> None:
    groups = {p.parent.name for p in CONFIGS.rglob("*.yaml") if p.parent != CONFIGS}
    covered = {"model", "data", "trainer", "paths", "experiment", "hparams_search", "hydra",
               "cleaning", "attribution", "labels"}
    assert groups <= covered, f"config groups without a composition test: {groups - covered}"


def test_unknown_model_lists_choices() -> None:
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException, match="tfidf"), initialize_config_dir(
        config_dir=str(CONFIGS), version_base="1.3"
    ):
        compose("train", overrides=["model=nonexistent"])


def test_config_groups_mirror_packages() -> None:
    pkg = Path(__file__).resolve().parents[2] / "stance"
    assert (pkg / "data").is_dir() and (CONFIGS / "data").is_dir()
    assert (pkg / "models").is_dir() and (CONFIGS / "model").is_dir()
    assert (pkg / "training").is_dir() and (CONFIGS / "trainer").is_dir()
