"""Attribution: is a sentence reported speech, and if so who speaks and for which side.

Pure logic driven by a configurable gazetteer of actors (``configs/data/attribution/``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stance.errors import ConfigError

DEFAULT_REPORTING_VERBS: tuple[str, ...] = (
    "said", "says", "say", "told", "tells", "claimed", "claims", "claim", "alleged", "alleges",
    "stated", "states", "insisted", "insists", "denied", "denies", "deny", "accused", "accuses",
    "warned", "warns", "added", "adds", "noted", "notes", "argued", "argues", "maintained",
    "maintains", "confirmed", "confirms", "asserted", "asserts", "revealed", "reveals",
    "stressed", "stresses", "urged", "urges", "described", "describes", "announced",
    "announces", "declared", "declares", "reiterated", "reiterates", "emphasized",
    "emphasised", "acknowledged", "admitted", "rejected", "rejects", "cautioned", "explained",
    "suggested", "suggests", "conveyed", "echoed", "highlighted", "expressed", "reported",
    "tweeted", "wrote", "posted",
)
DEFAULT_PHRASES: tuple[str, ...] = (
    "according to", "in a statement", "in an official statement", "quoted as saying",
    "speaking to", "speaking anonymously", "told reporters", "sources said",
)
_LOCATIVE = re.compile(r"\b(in|from|inside|into|across|near|at|to|towards|against|on|over|with)\s+(the\s+)?$", re.I)
_ACCORDING = re.compile(r"according\s+to\s+(the\s+)?$", re.I)
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'"})
_QUOTE = re.compile(r"[“\"]([^”\"]{3,})[”\"]|‘([^’]{3,})’")


@dataclass
class Actor:
    """A speaker the gazetteer knows: a canonical name, its side and the phrases naming it."""

    name: str
    side: str
    aliases: list[str] = field(default_factory=list)


@dataclass
class Attribution:
    """Result of attributing one sentence."""

    attributed: bool
    speaker: str | None = None
    speaker_side: str | None = None
    cues: list[str] = field(default_factory=list)


class Attributor:
    """Detects reported speech and resolves the speaker's side.

    Args:
        actors: list of ``{name, side, aliases}`` (the scheme's gazetteer). Aliases are matched
            case-insensitively on word boundaries; the longest match wins where two overlap.
        sides: the speaker sides an actor may have (the scheme's ``sides``); None = any.
        reporting_verbs: verbs that mark reported speech ("said", "claimed", ...).
        phrases: multi-word cues ("according to", ...).
        min_quote_words: a quotation of at least this many words marks a sentence as attributed
            on its own; shorter (scare) quotes need a reporting verb too.
    """

    def __init__(
        self,
        actors: Sequence[Mapping[str, object]] = (),
        sides: Sequence[str] | None = None,
        reporting_verbs: Sequence[str] = DEFAULT_REPORTING_VERBS,
        phrases: Sequence[str] = DEFAULT_PHRASES,
        min_quote_words: int = 4,
    ) -> None:
        self.actors: list[Actor] = []
        self.sides = None if sides is None else [str(s) for s in sides]
        for a in actors:
            side = str(a["side"])
            if self.sides is not None and side not in self.sides:
                raise ConfigError(f"actor {a.get('name')!r}: side {side!r} is not one of {self.sides}")
            aliases = [str(x) for x in a.get("aliases", []) or []]  # type: ignore[union-attr]
            self.actors.append(Actor(str(a["name"]), side, aliases or [str(a["name"])]))
        alias_map = {al.lower(): actor for actor in self.actors for al in actor.aliases}
        self._alias = alias_map
        alts = sorted(alias_map, key=len, reverse=True)
        self._actor_rx = (
            re.compile(r"(?<![\w-])(" + "|".join(re.escape(a) for a in alts) + r")(?![\w-])", re.I)
            if alts
            else None
        )
        self.reporting_verbs = [str(v) for v in reporting_verbs]
        self.phrases = [str(p) for p in phrases]
        self._verb_rx = re.compile(r"\b(" + "|".join(map(re.escape, reporting_verbs)) + r")\b", re.I)
        self._phrase_rx = re.compile("|".join(re.escape(p) for p in phrases), re.I) if phrases else None
        self.min_quote_words = min_quote_words

    def params(self) -> dict[str, object]:
        """Settings besides the gazetteer (which the scheme holds), recorded with models."""
        return {"reporting_verbs": list(self.reporting_verbs), "phrases": list(self.phrases),
                "min_quote_words": self.min_quote_words}

    def mentions(self, text: str) -> list[tuple[int, int, Actor]]:
        """Actor mentions as (start, end, actor), in order of appearance."""
        if self._actor_rx is None:
            return []
        flat = text.translate(_APOSTROPHES)  # same length: positions stay valid
        return [(m.start(), m.end(), self._alias[m.group(1).lower()]) for m in self._actor_rx.finditer(flat)]

    def speaker_sides(self, text: str, anchors: re.Pattern[str] | None = None, window_before: int = 60,
                      window_after: int = 25) -> set[str]:
        """Sides of every speaker named next to a reporting verb or phrase (all of them, where
        :meth:`attribute` picks one).

        A speaker is an actor mention at most ``window_before`` characters before a verb
        ("Afghan officials said"), else at most ``window_after`` after it ("said the Foreign
        Office"), or right after a phrase ("according to"). Mentions after a locative
        preposition ("a lecturer in Kabul said") are places, not speakers. ``anchors``
        replaces the reporting verbs.
        """
        mentions = [(s, e, a.side) for s, e, a in self.mentions(text) if not _is_place(text, s)]
        sides: set[str] = set()
        for m in (anchors or _bounded(self.reporting_verbs)).finditer(text):
            before = [x for x in mentions if 0 <= m.start() - x[1] <= window_before]
            after = [x for x in mentions if 0 <= x[0] - m.end() <= window_after]
            if before:
                sides.add(max(before, key=lambda x: x[1])[2])
            elif after:
                sides.add(min(after, key=lambda x: x[0])[2])
        for m in _bounded(self.phrases).finditer(text) if self.phrases else ():
            after = [x for x in mentions if 0 <= x[0] - m.end() <= window_after + 15]
            if after:
                sides.add(min(after, key=lambda x: x[0])[2])
        return sides

    def attribute(self, text: str) -> Attribution:
        """Attribute one sentence."""
        cues: list[str] = []
        phrase_ends: list[int] = []
        verb_starts: list[int] = []
        if self._phrase_rx:
            for m in self._phrase_rx.finditer(text):
                cues.append(m.group(0).lower())
                phrase_ends.append(m.end())
        for m in self._verb_rx.finditer(text):
            cues.append(m.group(0).lower())
            verb_starts.append(m.start())
        quotes = [(m.start(), m.end()) for m in _QUOTE.finditer(text)]
        long_quote = any(len(text[s:e].split()) >= self.min_quote_words for s, e in quotes)
        if long_quote:
            cues.append("quotation")
        if not (phrase_ends or verb_starts or long_quote):
            return Attribution(False)
        # speakers are named outside quotation marks
        candidates = [
            (s, e, a) for s, e, a in self.mentions(text) if not any(qs <= s < qe for qs, qe in quotes)
        ]
        actor = _pick_speaker(candidates, phrase_ends, verb_starts)
        if actor is None:
            return Attribution(True, cues=cues)
        return Attribution(True, actor.name, actor.side, cues)


@functools.lru_cache(maxsize=32)
def _bounded_cached(terms: tuple[str, ...]) -> re.Pattern[str]:
    alts = "|".join(f"(?:{re.escape(t)})" for t in terms)
    return re.compile(rf"(?<![\w-])(?:{alts})(?![\w])", re.I)


def _bounded(terms: Sequence[str]) -> re.Pattern[str]:
    """One case-insensitive regex of the literal ``terms``, not inside a longer word."""
    return _bounded_cached(tuple(terms))


def _is_place(text: str, start: int) -> bool:
    """A mention right after a locative preposition ("in Kabul") names a place, not a speaker."""
    prefix = text[max(0, start - 20) : start]
    return bool(_LOCATIVE.search(prefix)) and not _ACCORDING.search(prefix)


def _pick_speaker(
    candidates: list[tuple[int, int, Actor]], phrase_ends: list[int], verb_starts: list[int]
) -> Actor | None:
    """The mention that is most likely the speaker.

    In order: the mention right after "according to"; the subject just before the first
    reporting verb; the name right after it ("..., said the spokesman"); else the first mention.
    """
    if not candidates:
        return None
    for p in phrase_ends:
        after = [c for c in candidates if 0 <= c[0] - p <= 40]
        if after:
            return min(after, key=lambda c: c[0])[2]
    for v in verb_starts:
        before = [c for c in candidates if 0 <= v - c[1] <= 80]
        if before:
            return max(before, key=lambda c: c[1])[2]
        after = [c for c in candidates if 0 <= c[0] - v <= 40]
        if after:
            return min(after, key=lambda c: c[0])[2]
    return candidates[0][2]
