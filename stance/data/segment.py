"""Sentence segmentation (pysbd) and stable sentence ids."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

import pysbd

_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
_SPACE = re.compile(r"\s+")
# pysbd keeps `... jurisdiction.” “We have ...` together: a closed quote followed by a new one.
_QUOTE_BOUNDARY = re.compile(r"(?<=[.!?][”\"])\s+(?=[“\"][A-Z])")


def normalise(text: str) -> str:
    """Normalised form of a sentence used for ids and duplicate checks.

    NFKC, straight quotes and dashes, lower case, collapsed whitespace.
    """
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    return _SPACE.sub(" ", text).strip()


def sentence_id(article_id: str, text: str, occurrence: int = 0) -> str:
    """Stable id from the article id, the normalised text and its occurrence in the article.

    Re-splitting or re-ordering an article does not move a label to another sentence:
    the id changes exactly when the sentence text (after normalisation) changes.
    """
    key = f"{article_id}\x1f{normalise(text)}\x1f{occurrence}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def assign_ids(article_id: str, sentences: Iterable[str]) -> list[tuple[str, str]]:
    """Pair each sentence with its stable id, counting repeated sentences in order."""
    seen: Counter = Counter()
    out = []
    for s in sentences:
        norm = normalise(s)
        out.append((sentence_id(article_id, s, seen[norm]), s))
        seen[norm] += 1
    return out


class Segmenter:
    """Splits body lines into sentences with pysbd; a line break always ends a sentence.

    Args:
        language: pysbd language code.
        min_chars: sentences shorter than this (after stripping) are merged into the previous one.
    """

    def __init__(self, language: str = "en", min_chars: int = 3) -> None:
        self.language = language
        self.min_chars = min_chars
        self._seg = pysbd.Segmenter(language=language, clean=False)

    def params(self) -> dict[str, object]:
        """Constructor arguments that rebuild this segmenter (recorded with datasets and models)."""
        return {"language": self.language, "min_chars": self.min_chars}

    def split_line(self, line: str) -> list[str]:
        """Sentences of one line (paragraph)."""
        out: list[str] = []
        pieces = [p for s in self._seg.segment(line) for p in _QUOTE_BOUNDARY.split(s)]
        for s in pieces:
            s = s.strip()
            if not s:
                continue
            if out and len(s) < self.min_chars:
                out[-1] = f"{out[-1]} {s}"
            else:
                out.append(s)
        return out

    def split(self, lines: Iterable[str]) -> list[str]:
        """Sentences of a cleaned article body."""
        return [s for line in lines for s in self.split_line(line)]
