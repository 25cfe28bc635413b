"""Glue between a ``data`` config node and :func:`stance.data.build.build_dataset` (does I/O)."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate as _hydra_instantiate
from omegaconf import DictConfig, OmegaConf

from stance.data.annotations import load_annotations
from stance.data.build import BuildResult, build_dataset, build_from_sentences
from stance.data.model_input import ModelInput
from stance.data.preprocessing import preprocessing_of
from stance.data.readers import ReadResult
from stance.errors import ConfigError, StanceError
from stance.scheme import Scheme


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


def scheme_from_config(node: Any) -> Scheme:
    """The ``scheme`` config node as a :class:`~stance.scheme.Scheme` (None = labels from the data)."""
    if node is None:
        return Scheme("inferred")
    scheme = instantiate(node, _convert_="all")
    if not isinstance(scheme, Scheme):
        raise ConfigError(f"scheme must instantiate stance.scheme.Scheme, got {type(scheme).__name__}")
    return scheme


def build_from_config(data: DictConfig | dict[str, Any], scheme: Scheme | None = None) -> BuildResult:
    """Read the corpora (or the sentence table) and gold files a data config names and build
    the dataset with ``scheme`` (None: labels from the data)."""
    if not isinstance(data, DictConfig):
        data = OmegaConf.create(data)
    if not data.get("corpora") and not data.get("sentences"):
        raise ConfigError("data.corpora is empty: name at least one corpus to read (or data.sentences)")
    split = instantiate(data.split, _convert_="all")
    attributor = instantiate(data.attribution, _convert_="all") if data.get("attribution") else None
    dedup = instantiate(data.dedup) if data.get("dedup") else None
    model_input = instantiate(data.input, _convert_="all") if data.get("input") else ModelInput()
    if not isinstance(model_input, ModelInput):
        raise ConfigError(f"data.input must instantiate stance.data.model_input.ModelInput, got {type(model_input)}")
    if data.get("sentences"):
        from stance.data.sentence_table import SentenceRows

        table = instantiate(data.sentences, _convert_="all")
        if not isinstance(table, SentenceRows):
            raise ConfigError(f"data.sentences must be a reader returning SentenceRows, got {type(table)}")
        result = build_from_sentences(table.rows, skipped=table.skipped, splitter=split, attributor=attributor,
                                      deduplicator=dedup, scheme=scheme, where=table.path)
        result.preprocessing = preprocessing_of({"attributor": attributor, "model_input": model_input})
        return _with_inputs(result, model_input)
    corpora: dict[str, ReadResult] = {}
    for name, node in data.corpora.items():
        res = instantiate(node)
        if not isinstance(res, ReadResult):
            raise ConfigError(f"data.corpora.{name} must be a reader returning ReadResult, got {type(res)}")
        corpora[str(name)] = res
    annotations = load_annotations(list(data.get("annotations") or []), scheme=scheme)
    steps = {"cleaner": instantiate(data.cleaning, _convert_="all"), "segmenter": instantiate(data.segmenter),
             "attributor": attributor}
    result = build_dataset(corpora, annotations, **steps, splitter=split, deduplicator=dedup, scheme=scheme)
    result.preprocessing = preprocessing_of({**steps, "model_input": model_input})
    return _with_inputs(result, model_input)


def _with_inputs(result: BuildResult, model_input: ModelInput) -> BuildResult:
    """Add the ``input`` column: what the classifier reads for each sentence."""
    result.sentences["input"] = model_input.compose_frame(result.sentences)
    return result
