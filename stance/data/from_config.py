"""Glue between a ``data`` config node and :func:`stance.data.build.build_dataset` (does I/O)."""

from __future__ import annotations

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from stance.data.annotations import load_annotations
from stance.data.build import BuildResult, build_dataset
from stance.data.readers import ReadResult
from stance.errors import ConfigError


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
