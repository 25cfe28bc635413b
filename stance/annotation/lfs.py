"""Labelling functions (LFs): the shared base -- what an LF is, the text and term-list helpers
every LF kind uses, and :func:`apply_lfs`, which runs a set of LFs over sentences.

Every LF is a callable object ``lf(sentence) -> label | None`` with a ``name``. ``sentence`` is
a mapping with at least ``text``; the attribution LFs also read ``attributed`` and
``speaker_side`` (as written by ``stance-build``), and the prototype LF may read
``sentence_id`` and ``article_id``. ``None`` means *abstain*. An LF keeps no state between
calls: its behaviour is fixed by its constructor arguments (and, for
:class:`~stance.annotation.lfs_prototype.PrototypeLF`, by the one-off ``fit`` that picks
prototypes), so applying it twice to the same sentence gives the same vote.

The definitions follow the labelling contract (docs/LABELING.md); every word list is a
constructor argument, and ``configs/annotation/default.yaml`` builds the default set with Hydra.
Term lists are regular-expression fragments, matched case-insensitively on word boundaries
after curly quotes are straightened.

The LF kinds live beside this module:

* :mod:`stance.annotation.lfs_lexicon` -- :class:`LexiconLF` (one label whenever a term of its
  lexicon occurs), :class:`PatternLF` (several labels, each with its own patterns) and
  :class:`ClaimRebuttalLF` ("X accuses Y of ..., a charge Y denies" is ``neutral``, rule 3);
* :mod:`stance.annotation.lfs_attribution` -- :class:`AttributionLF` (the speaker's side
  decides the label of reported speech) and :class:`RetaliationLF` ("in retaliation for": the
  responder's side, rule 7), both resolving actors with the attribution gazetteer;
* :mod:`stance.annotation.lfs_prototype` -- :class:`PrototypeLF` (cosine similarity of MiniLM
  sentence embeddings to labelled prototype sentences) and :func:`embed_texts`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from stance.data.segment import straighten

__all__ = [
    "BaseLF",
    "LabelingFunction",
    "apply_lfs",
    "checked_terms",
    "compile_terms",
    "field_of",
    "text_of",
]


def text_of(sentence: Mapping[str, Any] | str) -> str:
    """The sentence text, NFKC-normalised with straight quotes and dashes (offsets may shift)."""
    text = sentence if isinstance(sentence, str) else sentence.get("text") or ""
    return straighten(str(text))


def field_of(sentence: Mapping[str, Any] | str, key: str) -> Any:
    """The sentence's ``key`` field, None when missing, NaN (from pandas) or ``sentence`` is text."""
    if isinstance(sentence, str):
        return None
    value = sentence.get(key)
    if isinstance(value, float) and value != value:  # NaN from pandas
        return None
    return value


@functools.lru_cache(maxsize=512)
def compile_terms(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any of ``terms`` on word boundaries."""
    if not terms:
        return None
    alts = "|".join(f"(?:{t})" for t in terms)
    return re.compile(rf"(?<![\w-])(?:{alts})(?![\w])", re.I)


def checked_terms(values: Sequence[str] | None) -> tuple[str, ...]:
    """A term list as a tuple of non-blank strings; an invalid regular expression is a ValueError."""
    out = tuple(str(v) for v in (values or ()) if str(v).strip())
    for t in out:
        try:
            re.compile(t)
        except re.error as e:
            raise ValueError(f"invalid regular expression {t!r} in an LF term list: {e}") from e
    return out


@runtime_checkable
class LabelingFunction(Protocol):
    """What every LF offers: a ``name`` and ``__call__(sentence) -> label | None``.

    An LF may also offer ``apply_batch(sentences) -> list[label | None]`` (same result as
    calling it on each sentence, faster) and ``fit(sentences) -> LF`` (a one-off set-up step on
    training rows; see :class:`~stance.annotation.lfs_prototype.PrototypeLF`).
    """

    name: str

    def __call__(self, sentence: Mapping[str, Any]) -> str | None: ...


class BaseLF:
    """Shared plumbing of the LF classes (a readable repr)."""

    name: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def apply_lfs(lfs: Sequence[LabelingFunction], sentences: Any) -> Any:
    """Votes of every LF on every sentence: a DataFrame (one column per LF, None = abstain).

    ``sentences`` is a DataFrame or a sequence of mappings; the result keeps its index.
    """
    import pandas as pd

    df = sentences if isinstance(sentences, pd.DataFrame) else pd.DataFrame(list(sentences))
    names = [lf.name for lf in lfs]
    if len(set(names)) != len(names):
        raise ValueError(f"LF names must be unique, got {names}")
    records = df.to_dict("records")
    out = {}
    for lf in lfs:
        batch = getattr(lf, "apply_batch", None)
        votes = batch(records) if callable(batch) else [lf(r) for r in records]
        out[lf.name] = pd.Series(votes, index=df.index, dtype=object)
    return pd.DataFrame(out, index=df.index, columns=names)
