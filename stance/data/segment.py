"""Sentence segmentation (pysbd) and stable sentence ids."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import pysbd

from stance.errors import ConfigError

_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
_SPACE = re.compile(r"\s+")
# pysbd keeps `... jurisdiction.” “We have ...` together: a closed quote followed by a new one.
_QUOTE_BOUNDARY = re.compile(r"(?<=[.!?][”\"])\s+(?=[“\"][A-Z])")


def straighten(text: str) -> str:
    """NFKC with straight quotes and dashes: the one quote normalisation of the package."""
    return unicodedata.normalize("NFKC", text).translate(_QUOTES)


def normalise(text: str) -> str:
    """Normalised form of a sentence used for ids and duplicate checks.

    NFKC, straight quotes and dashes, lower case, collapsed whitespace.
    """
    text = straighten(text).lower()
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


# a sentence end followed by the start of the next one: a safe place to cut an over-long line
_SAFE_CUT = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"“‘(]?[A-Z0-9])")


def truncate_text(text: str, max_chars: int) -> tuple[str, bool]:
    """Cut ``text`` to at most ``max_chars`` characters, at the last whitespace when there is
    one in the second half; returns the text and whether it was cut."""
    if max_chars <= 0 or len(text) <= max_chars:
        return text, False
    cut = text[:max_chars]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(), True


def chunk_line(line: str, max_chars: int) -> list[str]:
    """``line`` in pieces of at most ``max_chars`` characters, cut after a sentence end where
    there is one in the second half of a piece, else at whitespace, else hard. pysbd's time grows
    faster than linearly with line length (28 s for one 200,000-character line), so over-long
    lines are split first; lines up to ``max_chars`` are untouched."""
    out: list[str] = []
    rest = line
    while len(rest) > max_chars:
        window = rest[:max_chars]
        ends = [m.end() for m in _SAFE_CUT.finditer(window) if m.end() > max_chars // 2]
        cut = ends[-1] if ends else (window.rfind(" ") + 1 if window.rfind(" ") > max_chars // 2 else max_chars)
        out.append(rest[:cut].strip())
        rest = rest[cut:]
    out.append(rest)
    return [p for p in out if p.strip()]


@dataclass
class Segmented:
    """Sentences of an article body and how many were cut to ``max_sentence_chars``."""

    sentences: list[str]
    truncated: int = 0


class Segmenter:
    """Splits body lines into sentences with pysbd; a line break always ends a sentence.

    Args:
        language: pysbd language code.
        min_chars: sentences shorter than this (after stripping) are merged into the previous one.
        max_line_chars: longer lines are first cut at sentence ends (:func:`chunk_line`), so
            that segmentation time stays linear in the article's length.
        max_sentence_chars: longer sentences are cut (at whitespace) and counted.
    """

    def __init__(self, language: str = "en", min_chars: int = 3, max_line_chars: int = 5_000,
                 max_sentence_chars: int = 2_000) -> None:
        if max_line_chars < 100 or max_sentence_chars < 10:
            raise ConfigError("segmenter.max_line_chars must be >= 100 and max_sentence_chars >= 10")
        self.language = language
        self.min_chars = min_chars
        self.max_line_chars = max_line_chars
        self.max_sentence_chars = max_sentence_chars
        self._seg = pysbd.Segmenter(language=language, clean=False)

    def params(self) -> dict[str, object]:
        """Constructor arguments that rebuild this segmenter (recorded with datasets and models)."""
        return {"language": self.language, "min_chars": self.min_chars, "max_line_chars": self.max_line_chars,
                "max_sentence_chars": self.max_sentence_chars}

    def split_line(self, line: str) -> list[str]:
        """Sentences of one line (paragraph)."""
        out: list[str] = []
        parts = chunk_line(line, self.max_line_chars) if len(line) > self.max_line_chars else [line]
        pieces = [p for part in parts for s in self._seg.segment(part) for p in _QUOTE_BOUNDARY.split(s)]
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
        """Sentences of a cleaned article body (over-long sentences cut)."""
        return self.segment(lines).sentences

    def segment(self, lines: Iterable[str]) -> Segmented:
        """Sentences of a cleaned article body and the number cut to ``max_sentence_chars``."""
        out = Segmented([])
        for line in lines:
            for s in self.split_line(line):
                s, cut = truncate_text(s, self.max_sentence_chars)
                out.sentences.append(s)
                out.truncated += cut
        return out
