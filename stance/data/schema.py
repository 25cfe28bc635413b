"""Plain records passed between the dataset-building steps."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Article:
    """One article as read from a corpus, before cleaning."""

    id: str
    text: str
    source: str
    title: str | None = None
    date: str | None = None
    url: str | None = None
    origin: str | None = None  # file (and line) the article came from, for error messages

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Sentence:
    """One body sentence with its provenance and attribution."""

    sentence_id: str
    article_id: str
    source: str
    index: int  # position of the sentence in the cleaned article body
    text: str
    title: str | None = None
    date: str | None = None
    attributed: bool = False
    speaker: str | None = None
    speaker_side: str | None = None
    cues: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SENTENCE_COLUMNS: tuple[str, ...] = (
    "sentence_id",
    "article_id",
    "source",
    "index",
    "text",
    "title",
    "date",
    "attributed",
    "speaker",
    "speaker_side",
)
