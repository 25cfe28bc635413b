"""The preprocessing of a dataset: cleaning rules, segmenter, attribution and model-input settings.

A build records it (``build_report.json``) and training copies it into the model's manifest,
so that scoring prepares new articles exactly as the training data were prepared (no
train/serve skew): :func:`Preprocessing.from_dict` rebuilds the three steps; the attribution
gazetteer comes from the scheme, which travels beside it. A part that was not recorded (a model
trained on a sentence table has no cleaning or segmentation of its own, a model saved before
this record existed has none) falls back to the class defaults, and :attr:`Preprocessing.origin`
says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stance.data.attribution import Attributor
from stance.data.cleaning import Cleaner
from stance.data.model_input import ModelInput
from stance.data.segment import Segmenter
from stance.errors import ConfigError
from stance.scheme import Scheme

PARTS = ("cleaning", "segmenter", "attribution", "input")


@dataclass
class Preprocessing:
    """Cleaner, segmenter, attributor (None = no attribution) and model input, and where each
    came from."""

    cleaner: Cleaner
    segmenter: Segmenter
    attributor: Attributor | None
    origin: dict[str, str] = field(default_factory=dict)  # part -> "recorded" | "default" | "override"
    model_input: ModelInput = field(default_factory=ModelInput)

    def to_dict(self) -> dict[str, Any]:
        """Plain record of the settings (the gazetteer excepted: the scheme holds it)."""
        return {
            "cleaning": self.cleaner.params(),
            "segmenter": self.segmenter.params(),
            "attribution": self.attributor.params() if self.attributor is not None else None,
            "input": self.model_input.params(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, scheme: Scheme, *, origin: str = "recorded") -> Preprocessing:
        """Rebuild the steps from a record (missing parts: the defaults)."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(PARTS))
        if unknown:
            raise ConfigError(f"unknown preprocessing part(s) {unknown}; expected {', '.join(PARTS)}")
        try:
            cleaner = Cleaner(**data["cleaning"]) if data.get("cleaning") else Cleaner()
            segmenter = Segmenter(**data["segmenter"]) if data.get("segmenter") else Segmenter()
            attributor = None
            if "attribution" not in data or data["attribution"] is not None:
                attributor = Attributor(actors=list(scheme.actors), sides=scheme.side_names or None,
                                        **dict(data.get("attribution") or {}))
            model_input = ModelInput.from_dict(data.get("input"))
        except TypeError as e:
            raise ConfigError(f"invalid preprocessing settings: {e}") from e
        made = {part: origin if data.get(part) is not None else "default" for part in PARTS}
        if "attribution" in data and data["attribution"] is None:
            made["attribution"] = f"{origin} (none)"
        return cls(cleaner, segmenter, attributor, made, model_input)

    def describe(self) -> str:
        """One line: where each step came from."""
        return ", ".join(f"{part}: {self.origin.get(part, '?')}" for part in PARTS)


def preprocessing_of(steps: Mapping[str, Any]) -> dict[str, Any]:
    """The record of already-built steps (``cleaner``, ``segmenter``, ``attributor``,
    ``model_input``; any may be None), as :meth:`Preprocessing.to_dict` writes it."""
    out: dict[str, Any] = {}
    for part, key in zip(PARTS, ("cleaner", "segmenter", "attributor", "model_input"), strict=True):
        step = steps.get(key)
        out[part] = step.params() if step is not None else None
    return out
