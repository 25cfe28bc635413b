"""Lexicon and pattern labelling functions: votes decided by which terms occur in a sentence.

* :class:`LexiconLF` -- one label whenever a term of its lexicon occurs (each side's
  vocabulary and framing devices, neutral procedural vocabulary, "both sides" phrasing).
* :class:`PatternLF` -- several labels, each with its own patterns; abstains when patterns of
  two labels match.
* :class:`ClaimRebuttalLF` -- "X accuses Y of ..., a charge Y denies" is ``neutral`` (rule 3);
  its :data:`DEFAULT_REBUTTAL_PATTERNS` also make the attribution LF abstain.

The shared protocol and term-list helpers are in :mod:`stance.annotation.lfs`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from stance.annotation.lfs import BaseLF, checked_terms, compile_terms, text_of
from stance.errors import ConfigError

__all__ = ["DEFAULT_REBUTTAL_PATTERNS", "ClaimRebuttalLF", "LexiconLF", "PatternLF"]


#: "..., a claim Kabul denies" / "..., which the Taliban reject": a claim with its rebuttal.
DEFAULT_REBUTTAL_PATTERNS: tuple[str, ...] = (
    r"\b(a|the|an)\s+(claim|charge|allegation|accusation)s?\b[^.;]{0,70}?"
    r"\b(den(y|ies|ied)|reject(s|ed)?|dismiss(es|ed)?|refute(s|d)?)\b",
    r"\b(accus\w*|blam\w*|alleg\w*|claim\w*)\b[^.;]{0,160}?,\s*which\s+[^.;]{0,50}?"
    r"\b(den(y|ies|ied)|reject(s|ed)?|dismiss(es|ed)?|refute(s|d)?)\b",
    r"\b(claim|charge|allegation|accusation)s?\s+(that\s+)?[^.;]{0,40}?\b(has|have)\s+(consistently\s+|repeatedly\s+)?"
    r"(denied|rejected)\b",
)


class LexiconLF(BaseLF):
    """Votes ``label`` when any of ``terms`` occurs and none of ``exclude`` does.

    Args:
        name: LF name.
        label: the label voted for.
        terms: regex fragments (case-insensitive, on word boundaries).
        exclude: regex fragments; a match anywhere in the sentence makes the LF abstain
            (e.g. mediators *urging* restraint for a "restraint" lexicon).
        min_matches: number of distinct term matches needed to fire.
    """

    def __init__(
        self,
        name: str,
        label: str,
        terms: Sequence[str],
        exclude: Sequence[str] = (),
        min_matches: int = 1,
    ) -> None:
        self.name = name
        self.label = str(label)
        self.terms = checked_terms(terms)
        self.exclude = checked_terms(exclude)
        if not self.terms:
            raise ValueError(f"LF {name!r}: the term list is empty")
        self.min_matches = int(min_matches)
        self._rx = compile_terms(self.terms)
        self._ex = compile_terms(self.exclude)

    def matches(self, sentence: Mapping[str, Any] | str) -> list[str]:
        """The matched substrings (for debugging a lexicon)."""
        return [m.group(0) for m in self._rx.finditer(text_of(sentence))] if self._rx else []

    def __call__(self, sentence: Mapping[str, Any]) -> str | None:
        text = text_of(sentence)
        if self._ex is not None and self._ex.search(text):
            return None
        if self.min_matches <= 1:
            return self.label if self._rx.search(text) else None
        found = {m.group(0).lower() for m in self._rx.finditer(text)}
        return self.label if len(found) >= self.min_matches else None


class PatternLF(BaseLF):
    """Several labels, each with its own patterns; abstains when two labels' patterns match.

    Args:
        name: LF name.
        patterns: label -> regex fragments (case-insensitive, on word boundaries).
    """

    def __init__(self, name: str, patterns: Mapping[str, Sequence[str]]) -> None:
        self.name = name
        self.patterns = {str(k): checked_terms(v) for k, v in patterns.items()}
        self._rx = {k: compile_terms(v) for k, v in self.patterns.items() if v}
        if not self._rx:
            raise ValueError(f"LF {name!r}: no patterns")

    def __call__(self, sentence: Mapping[str, Any]) -> str | None:
        text = text_of(sentence)
        hits = [lab for lab, rx in self._rx.items() if rx is not None and rx.search(text)]
        return hits[0] if len(hits) == 1 else None


class ClaimRebuttalLF(BaseLF):
    """A claim with its rebuttal in the same sentence is ``neutral`` (contract rule 3).

    "Islamabad accuses Kabul of sheltering TTP fighters, a claim the Taliban deny" -> neutral.

    Args:
        name: LF name.
        label: label voted for (the scheme's none label, e.g. ``neutral``).
        patterns: full regular expressions (case-insensitive) of claim-plus-rebuttal.
    """

    def __init__(
        self,
        name: str = "claim_rebuttal",
        label: str | None = None,
        patterns: Sequence[str] = DEFAULT_REBUTTAL_PATTERNS,
    ) -> None:
        self.name = name
        if not label:
            raise ConfigError(f"labelling function {name!r}: give the label it votes for "
                              "(the scheme's none_label has none)")
        self.label = str(label)
        self.patterns = tuple(patterns)
        self._rx = [re.compile(p, re.I) for p in self.patterns]

    def __call__(self, sentence: Mapping[str, Any]) -> str | None:
        text = text_of(sentence)
        return self.label if any(rx.search(text) for rx in self._rx) else None
