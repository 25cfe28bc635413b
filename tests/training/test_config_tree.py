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
        if (skip_readers and path.startswith("data.corpora")) or path.startswith("annotation."):
            continue
        obj = instantiate(node, _convert_="all")
        assert obj is not None, path
        n += 1
    if cfg.get("annotation") is not None and cfg.scheme.name == "pak_afghan":
        # labelling functions take their name from their key: built by their own factory;
        # the packaged LF file is written for the pak_afghan scheme
        from stance.annotation.training_labels import labeler_from_config

        labeler = labeler_from_config(cfg.annotation)
        n += len(labeler.lfs)
    return n


EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
ROOTS = ("train", "build", "label")
NEEDS = {  # overrides an option needs to compose (a required path)
    "data=corpus": ["data.corpora.main.path=/nonexistent"],
    "data=sentences": [f"data.path={EXAMPLES / 'border_trade.csv'}"],
}
SKIP = {"hparams_search", "hydra/launcher"}
"""Need the optuna sweeper / launcher plugins: test_hparams_search_composes, test_sweeps.py."""


def _groups_on_disk() -> dict[str, list[str]]:
    """Every config group folder (nested ones as ``data/cleaning``) and its option files."""
    out: dict[str, list[str]] = {}
    for f in sorted(CONFIGS.rglob("*.yaml")):
        if f.parent != CONFIGS:
            out.setdefault(f.parent.relative_to(CONFIGS).as_posix(), []).append(f.stem)
    return out


def _choices() -> dict[str, set[str]]:
    """The groups each root config's defaults tree selects (Hydra's runtime choices)."""
    out = {}
    for root in ROOTS:
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            out[root] = set(compose(root, return_hydra_config=True).hydra.runtime.choices)
    return out


CHOICES = _choices()


def _root_for(group: str) -> str:
    """A root config that selects ``group`` ("train" for optional groups such as experiment,
    which only the command line selects)."""
    return next((root for root in ROOTS if group in CHOICES[root]), "train")


CASES = [
    (_root_for(group), [f"{group}={option}", *NEEDS.get(f"{group}={option}", [])])
    for group, options in _groups_on_disk().items() if group not in SKIP
    for option in options
] + [(root, []) for root in ROOTS]


def test_cases_cover_every_option_file_on_disk() -> None:
    composed = {o[0] for _, o in CASES if o}
    on_disk = {f"{g}={o}" for g, opts in _groups_on_disk().items() if g not in SKIP for o in opts}
    assert composed == on_disk
    assert {"scheme=pak_afghan", "scheme=two_way", "scheme=frames5", "data=sentences"} <= composed


@pytest.mark.parametrize(("name", "overrides"), CASES, ids=lambda x: str(x))
@pytest.mark.slow
def test_composes_and_instantiates(name: str, overrides: list[str]) -> None:
    cfg = _compose(name, overrides)
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    custom = any(o.startswith("data=corpus") for o in overrides)
    n = _instantiate_all(cfg, skip_readers=custom)
    assert n >= 3


@pytest.mark.parametrize("search", _options("hparams_search"))
def test_hparams_search_composes(search: str) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")  # tfidf_optuna's launcher
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=[f"hparams_search={search}"], return_hydra_config=True)
    assert cfg.hydra.sweeper.params
    assert cfg.optimized_metric == "validation.macro_f1"
    assert "Optuna" in cfg.hydra.sweeper._target_ or "optuna" in cfg.hydra.sweeper._target_


def test_unknown_model_lists_choices() -> None:
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException, match="tfidf"), initialize_config_dir(
        config_dir=str(CONFIGS), version_base="1.3"
    ):
        compose("train", overrides=["model=nonexistent"])


GROUP_HOME = {  # config group -> the part of the package its options configure
    "data": "data", "model": "models", "annotation": "annotation", "scheme": "scheme.py",
    "trainer": "training", "logger": "training", "cv": "training", "hparams_search": "training",
    "experiment": "training", "paths": "training", "hydra": "cli",
}


def test_config_groups_mirror_packages() -> None:
    pkg = Path(__file__).resolve().parents[2] / "stance"
    groups = {p.name for p in CONFIGS.iterdir() if p.is_dir()}
    assert groups == set(GROUP_HOME), "a config group without a home in the package (or gone)"
    assert all((pkg / home).exists() for home in GROUP_HOME.values())
