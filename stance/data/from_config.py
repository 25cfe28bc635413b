"""Glue between a ``data`` config node and :func:`stance.data.build.build_dataset` (does I/O)."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate as _hydra_instantiate
from omegaconf import DictConfig, OmegaConf

from stance.data.annotations import load_annotations
from stance.data.build import BuildResult, build_dataset
from stance.data.readers import ReadResult
from stance.errors import ConfigError, StanceError


def instantiate(node: Any, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` that lets a target's user error (StanceError) through unwrapped.

    Hydra wraps anything a target raises in ``InstantiationException``; without unwrapping, a
    reader's InputError would escape ``exit_on_user_error`` as a Hydra traceback.
    """
    try:
        return _hydra_instantiate(node, **kwargs)
    except InstantiationException as e:
        if isinstance(e.__cause__, StanceError):
            raise e.__cause__ from None
        raise


def build_from_config(data: DictConfig | dict[str, Any]) -> BuildResult:
    """Read the corpora and gold files a data config names and build the dataset."""
    if not isinstance(data, DictConfig):
        data = OmegaConf.create(data)
    if not data.get("corpora"):
        raise ConfigError("data.corpora is empty: name at least one corpus to read")
    corpora: dict[str, ReadResult] = {}
    for name, node in data.corpora.items():
        res = instantiate(node)
        if not isinstance(res, ReadResult):
            raise ConfigError(f"data.corpora.{name} must be a reader returning ReadResult, got {type(res)}")
        corpora[str(name)] = res
    annotations = load_annotations(list(data.get("annotations") or []))
    return build_dataset(
        corpora,
        annotations,
        cleaner=instantiate(data.cleaning),
        segmenter=instantiate(data.segmenter),
        attributor=instantiate(data.attribution, _convert_="all") if data.get("attribution") else None,
        splitter=instantiate(data.split, _convert_="all"),
        deduplicator=instantiate(data.dedup) if data.get("dedup") else None,
    )
