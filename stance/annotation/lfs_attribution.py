"""Attribution labelling functions: votes decided by who speaks or acts, resolved with the
attribution gazetteer (the scheme's ``actors``).

* :class:`AttributionLF` -- the speaker's side decides the label of reported speech, unless
  the sentence carries a claim together with its rebuttal (contract rules 1 and 3).
* :class:`RetaliationLF` -- "in retaliation for / in response to": the responder's side
  (rule 7).

The shared protocol and term-list helpers are in :mod:`stance.annotation.lfs`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from stance.annotation.lfs import BaseLF, checked_terms, compile_terms, field_of, text_of
from stance.annotation.lfs_lexicon import DEFAULT_REBUTTAL_PATTERNS
from stance.data.attribution import Attributor
from stance.errors import ConfigError

__all__ = ["AttributionLF", "RetaliationLF"]


def _actors(name: str, actors: Sequence[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    """The gazetteer an LF resolves speakers with (the scheme's ``actors``)."""
    if actors is None:
        raise ConfigError(f"labelling function {name!r} needs a gazetteer: set actors (e.g. ${{scheme.actors}})")
    return list(actors)


def _side_labels(name: str, side_labels: Mapping[str, str]) -> dict[str, str]:
    out = {str(k): str(v) for k, v in dict(side_labels or {}).items()}
    if not out:
        raise ConfigError(f"labelling function {name!r}: side_labels is empty "
                          "(map speaker sides to labels, e.g. {islamabad: pro_islamabad})")
    return out


class AttributionLF(BaseLF):
    """Reported speech takes its speaker's side (contract rule 1).

    Fires when the sentence is attributed (``attributed`` true), the speaker's side is a key of
    ``side_labels`` and, if ``reporting_verbs`` is given, one of those verbs occurs; abstains
    when a claim-plus-rebuttal pattern matches (rule 3: such sentences are neutral).

    With ``resolve_speaker`` the LF does not trust the row's ``speaker_side`` (the dataset
    builder falls back to the first actor mentioned, which is often not the speaker) and
    resolves speakers itself with the gazetteer: an actor mention just before a reporting verb
    ("Afghan officials said"), right after it ("said the Foreign Office") or after "according
    to". Mentions after a locative preposition ("a lecturer in Kabul said") are places, not
    speakers. Speakers of two different sides in one sentence make it abstain.

    Args:
        name: LF name (column name in the vote table).
        side_labels: speaker side -> label, e.g. ``{islamabad: pro_islamabad, kabul: pro_kabul}``
            or ``{third_party: neutral}`` for mediators and analysts (rule 5); the sides are
            the scheme's speaker sides.
        reporting_verbs: if given, a verb from this list must occur as well (regex fragments);
            with ``resolve_speaker`` they also anchor the speaker (default: the attribution
            module's list).
        rebuttal_patterns: patterns of a claim with its rebuttal; a match makes the LF abstain.
        require_attributed: also require the builder's ``attributed`` flag (default true).
        resolve_speaker: resolve the speaker from the text (see above) instead of
            ``speaker_side``.
        actors: gazetteer ``{name, side, aliases}`` for ``resolve_speaker`` (the scheme's actors).
        extra_actors: more gazetteer entries (e.g. the adjectives "Afghan", "Pakistani").
        window_before: characters between a speaker mention and the verb after it.
        window_after: characters between a verb and a speaker mention after it.
    """

    def __init__(
        self,
        name: str = "attribution",
        side_labels: Mapping[str, str] = (),  # type: ignore[assignment]
        reporting_verbs: Sequence[str] | None = None,
        rebuttal_patterns: Sequence[str] | None = DEFAULT_REBUTTAL_PATTERNS,
        require_attributed: bool = True,
        resolve_speaker: bool = False,
        actors: Sequence[Mapping[str, Any]] | None = None,
        extra_actors: Sequence[Mapping[str, Any]] = (),
        window_before: int = 60,
        window_after: int = 25,
    ) -> None:
        self.name = name
        self.side_labels = _side_labels(name, side_labels)
        self.reporting_verbs = checked_terms(reporting_verbs)
        self.rebuttal_patterns = tuple(rebuttal_patterns or ())
        self.require_attributed = require_attributed
        self.resolve_speaker = resolve_speaker
        self.window_before = int(window_before)
        self.window_after = int(window_after)
        self._verbs = compile_terms(self.reporting_verbs)
        self._rebuttal = [re.compile(p, re.I) for p in self.rebuttal_patterns]
        if resolve_speaker:
            self._gazetteer = Attributor(actors=[*_actors(name, actors), *extra_actors])

    def speaker_sides(self, sentence: Mapping[str, Any] | str) -> set[str]:
        """Sides of the speakers found next to reporting verbs (``resolve_speaker`` mode;
        :meth:`stance.data.attribution.Attributor.speaker_sides`)."""
        return self._gazetteer.speaker_sides(text_of(sentence), self._verbs, self.window_before,
                                             self.window_after)

    def __call__(self, sentence: Mapping[str, Any]) -> str | None:
        if self.require_attributed and not field_of(sentence, "attributed"):
            return None
        if self.resolve_speaker:
            sides = self.speaker_sides(sentence)
            if len(sides) != 1:
                return None
            side = next(iter(sides))
        else:
            side = field_of(sentence, "speaker_side")
        if side not in self.side_labels:
            return None
        text = text_of(sentence)
        if self._verbs is not None and not self._verbs.search(text):
            return None
        if any(rx.search(text) for rx in self._rebuttal):
            return None
        return self.side_labels[side]


class RetaliationLF(BaseLF):
    """"In retaliation for" / "in response to": the side that responded (contract rule 7).

    The responder is resolved with the attribution gazetteer (plus ``extra_actors``, e.g. the
    adjectives "Pakistani" and "Afghan"): the first side mention before the cue (the subject:
    "Afghan forces responded to Pakistani shelling"); if the cue opens the sentence ("In
    retaliation, Taliban fighters attacked ..."), the first side mention after the cue's
    opening clause. Third parties are ignored. Abstains when no side can be resolved or when
    an ``exclude`` pattern matches ("did not respond to").

    Args:
        name: LF name.
        cues: regex fragments marking a response.
        actors: gazetteer entries ``{name, side, aliases}`` (the scheme's actors).
        extra_actors: more entries (adjectives, unit names) added to ``actors``.
        side_labels: side -> label of the responder.
        exclude: regex fragments that make the LF abstain.
    """

    def __init__(
        self,
        name: str = "retaliation",
        cues: Sequence[str] = (
            r"in retaliation", r"retaliat\w*", r"in response to", r"responded (to|by|with)",
            r"hit back", r"struck back", r"striking back", r"counter-?(attack|offensive)\w*",
        ),
        actors: Sequence[Mapping[str, Any]] | None = None,
        extra_actors: Sequence[Mapping[str, Any]] = (),
        side_labels: Mapping[str, str] = (),  # type: ignore[assignment]
        exclude: Sequence[str] = (
            r"(did not|didn't|has not|have not|had not|declined to|failed to|yet to) respond\w*",
            r"warn\w* of retaliation", r"threat\w* of retaliation",
        ),
    ) -> None:
        from stance.data.attribution import Attributor

        self.name = name
        self.cues = checked_terms(cues)
        self.exclude = checked_terms(exclude)
        self.side_labels = _side_labels(name, side_labels)
        self._gazetteer = Attributor(actors=[*_actors(name, actors), *extra_actors])
        self._cue = compile_terms(self.cues)
        self._ex = compile_terms(self.exclude)

    def responder(self, sentence: Mapping[str, Any] | str) -> str | None:
        """The side that responds, or None."""
        text = text_of(sentence)
        m = self._cue.search(text) if self._cue else None
        if m is None or (self._ex is not None and self._ex.search(text)):
            return None
        mentions = [(s, e, a.side) for s, e, a in self._gazetteer.mentions(text) if a.side in self.side_labels]
        before = [x for x in mentions if x[1] <= m.start()]
        if before:
            return before[0][2]
        # the cue opens the sentence: skip its own clause ("In response to X, Y attacked")
        comma = text.find(",", m.end())
        start = comma if comma != -1 else m.end()
        after = [x for x in mentions if x[0] >= start]
        return after[0][2] if after else None

    def __call__(self, sentence: Mapping[str, Any]) -> str | None:
        side = self.responder(sentence)
        return self.side_labels.get(side) if side else None
