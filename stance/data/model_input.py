"""What the classifier reads for one sentence: the sentence alone, or with its speaker and context.

A sentence such as "He said Pakistan respects Afghanistan's sovereignty" is pro-Islamabad or
pro-Kabul depending on who speaks, and "The ministry rejected the claim" depends on the sentence
before it. :class:`ModelInput` composes, from a sentence and the facts the pipeline already has
about it (the speaker side that attribution resolved, the article title, the neighbouring
sentences), the one string the classifier is trained on and scores. The sentence always comes
first, so truncation to the model's ``max_length`` cuts context, never the sentence::

    <speaker: islamabad> He said ... | before: ... | after: ... | title: ...

With everything off (the default) the input is the sentence itself, byte for byte. The settings
are part of the dataset's preprocessing record (``build_report.json``), travel into the model's
manifest, and scoring composes the same input from the articles or sentence records it is
given (:mod:`stance.scoring.score`), so a model is never shown a different input than it was
trained on.

Hand-written: a string template over the pipeline's own sentence records; no library has it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from stance.errors import ConfigError

NO_SPEAKER = "none"
"""Marker for a sentence whose speaker was not resolved to a side."""


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or str(value).strip() == ""


@dataclass(frozen=True)
class ModelInput:
    """How to compose a sentence's model input (config group ``data/input``).

    Args:
        speaker: prefix the speaker side that attribution resolved (``<speaker: kabul>``;
            ``none`` when the sentence is not attributed to a side).
        context: neighbouring sentences of the same article on each side (0 = none).
        title: append the article title.
    """

    speaker: bool = False
    context: int = 0
    title: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.speaker, bool) or not isinstance(self.title, bool):
            raise ConfigError(f"data.input.speaker and data.input.title must be true/false, got "
                              f"{self.speaker!r} and {self.title!r}")
        if isinstance(self.context, bool) or not isinstance(self.context, int) or not 0 <= self.context <= 5:
            raise ConfigError(f"data.input.context must be an integer 0..5 (sentences on each side), "
                              f"got {self.context!r}")

    @property
    def active(self) -> bool:
        """True when the input is more than the sentence."""
        return self.speaker or self.context > 0 or self.title

    def params(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ModelInput:
        data = dict(data or {})
        unknown = sorted(set(data) - {"speaker", "context", "title"})
        if unknown:
            raise ConfigError(f"unknown data.input setting(s) {unknown}; expected speaker, context, title")
        return cls(**data)

    # ------------------------------------------------------------------ composing
    def compose_article(
        self, texts: Sequence[str], speaker_sides: Sequence[Any] | None = None, title: Any = None
    ) -> list[str]:
        """Inputs for the sentences of one article, in reading order."""
        texts = [str(t) for t in texts]
        if not self.active:
            return texts
        sides = list(speaker_sides) if speaker_sides is not None else [None] * len(texts)
        if len(sides) != len(texts):
            raise ValueError(f"{len(texts)} sentences but {len(sides)} speaker sides")
        out = []
        k = self.context
        for i, text in enumerate(texts):
            parts = []
            if self.speaker:
                side = NO_SPEAKER if _blank(sides[i]) else str(sides[i])
                parts.append(f"<speaker: {side}> {text}")
            else:
                parts.append(text)
            if k:
                before = " ".join(texts[max(0, i - k):i])
                after = " ".join(texts[i + 1:i + 1 + k])
                if before:
                    parts.append(f"before: {before}")
                if after:
                    parts.append(f"after: {after}")
            if self.title and not _blank(title):
                parts.append(f"title: {title}")
            out.append(" | ".join(parts))
        return out

    def compose_records(self, records: Iterable[Mapping[str, Any]], title: Any = None) -> list[str]:
        """Inputs for sentence records of one article (keys ``text``, optional ``speaker_side``
        and ``title``), already in reading order; ``title`` given here wins over the records'."""
        recs = list(records)
        if _blank(title):
            title = next((r.get("title") for r in recs if not _blank(r.get("title"))), None)
        return self.compose_article([r["text"] for r in recs], [r.get("speaker_side") for r in recs], title)

    def compose_frame(self, df: pd.DataFrame) -> pd.Series:
        """Inputs for a sentence table, aligned with ``df``'s index.

        Neighbours are the sentences of the same ``article_id`` ordered by ``index`` (or by row
        order where there is no ``index``); rows without an article id get no context.
        """
        if not self.active:
            return df["text"].astype(str)
        out = pd.Series(index=df.index, dtype=object)
        aid = df["article_id"] if "article_id" in df else pd.Series(None, index=df.index, dtype=object)
        articles = [df.loc[[i]] for i in df.index[aid.isna()]]  # no article id: its own article
        articles += [g for _, g in df[aid.notna()].groupby(aid[aid.notna()], sort=False)]
        for g in articles:
            if "index" in g and g["index"].notna().all():
                g = g.sort_values("index", kind="stable")
            out[g.index] = self.compose_records(g.to_dict("records"))
        return out


def inputs_of(df: pd.DataFrame) -> list[str]:
    """The model inputs of a built sentence table: its ``input`` column, or the sentences
    themselves for a table built before model inputs existed."""
    col = "input" if "input" in df.columns else "text"
    return df[col].astype(str).tolist()


def model_input_of(model: Any) -> ModelInput:
    """The input settings a loaded model was trained with (its manifest's preprocessing
    record); plain sentences for a model without one."""
    manifest = getattr(model, "manifest_", None) or {}
    return ModelInput.from_dict((manifest.get("preprocessing") or {}).get("input"))


def with_model_inputs(labelled: pd.DataFrame, full: pd.DataFrame, model_input: ModelInput) -> pd.DataFrame:
    """``labelled`` with its ``input`` column recomposed for ``model_input``, neighbours taken from
    ``full`` (the whole sentence table the rows come from, so context is never cut by a split
    or by dropped duplicates)."""
    composed = model_input.compose_frame(full)
    by_id = dict(zip(full["sentence_id"], composed, strict=True))
    return labelled.assign(input=labelled["sentence_id"].map(by_id).fillna(labelled["text"]))
