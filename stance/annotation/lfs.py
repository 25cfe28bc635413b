"""Labelling functions (LFs): small, pure rules that vote for a stance label or abstain.

Every LF is a callable object ``lf(sentence) -> label | None`` with a ``name``. ``sentence`` is
a mapping with at least ``text``; the attribution LFs also read ``attributed`` and
``speaker_side`` (as written by ``stance-build``), and the prototype LF may read
``sentence_id`` and ``article_id``. ``None`` means *abstain*. An LF keeps no state between
calls: its behaviour is fixed by its constructor arguments (and, for :class:`PrototypeLF`,
by the one-off :meth:`PrototypeLF.fit` that picks prototypes), so applying it twice to the
same sentence gives the same vote.

The definitions follow the labelling contract (docs/LABELING.md); every word list is a
constructor argument, and ``configs/annotation/default.yaml`` builds the default set with Hydra.
Term lists are regular-expression fragments, matched case-insensitively on word boundaries
after curly quotes are straightened.

Kinds of LF:

* :class:`AttributionLF` -- the speaker's side (from the attribution gazetteer) decides the
  label of reported speech, unless the sentence carries a claim together with its rebuttal.
* :class:`LexiconLF` -- one label whenever a term of its lexicon occurs (each side's
  vocabulary and framing devices, neutral procedural vocabulary, "both sides" phrasing).
* :class:`ClaimRebuttalLF` -- "X accuses Y of ..., a charge Y denies" is ``neutral`` (rule 3).
* :class:`PatternLF` -- several labels, each with its own patterns; abstains when patterns of
  two labels match.
* :class:`RetaliationLF` -- "in retaliation for / in response to": the responder's side
  (rule 7), the actor resolved with the attribution gazetteer.
* :class:`PrototypeLF` -- cosine similarity of MiniLM sentence embeddings to labelled
  prototype sentences; abstains when the best label does not win by a margin.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from stance.data.attribution import Attributor
from stance.data.segment import straighten
from stance.errors import ConfigError

__all__ = [
    "AttributionLF",
    "ClaimRebuttalLF",
    "LabelingFunction",
    "LexiconLF",
    "PatternLF",
    "PrototypeLF",
    "RetaliationLF",
    "apply_lfs",
    "text_of",
]


#: "..., a claim Kabul denies" / "..., which the Taliban reject": a claim with its rebuttal.
DEFAULT_REBUTTAL_PATTERNS: tuple[str, ...] = (
    r"\b(a|the|an)\s+(claim|charge|allegation|accusation)s?\b[^.;]{0,70}?"
    r"\b(den(y|ies|ied)|reject(s|ed)?|dismiss(es|ed)?|refute(s|d)?)\b",
    r"\b(accus\w*|blam\w*|alleg\w*|claim\w*)\b[^.;]{0,160}?,\s*which\s+[^.;]{0,50}?"
    r"\b(den(y|ies|ied)|reject(s|ed)?|dismiss(es|ed)?|refute(s|d)?)\b",
    r"\b(claim|charge|allegation|accusation)s?\s+(that\s+)?[^.;]{0,40}?\b(has|have)\s+(consistently\s+|repeatedly\s+)?"
    r"(denied|rejected)\b",
)


def text_of(sentence: Mapping[str, Any] | str) -> str:
    """The sentence text, NFKC-normalised with straight quotes and dashes (offsets may shift)."""
    text = sentence if isinstance(sentence, str) else sentence.get("text") or ""
    return straighten(str(text))


def _get(sentence: Mapping[str, Any] | str, key: str) -> Any:
    if isinstance(sentence, str):
        return None
    value = sentence.get(key)
    if isinstance(value, float) and value != value:  # NaN from pandas
        return None
    return value


@functools.lru_cache(maxsize=512)
def _compile(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any of ``terms`` on word boundaries."""
    if not terms:
        return None
    alts = "|".join(f"(?:{t})" for t in terms)
    return re.compile(rf"(?<![\w-])(?:{alts})(?![\w])", re.I)


def _terms(values: Sequence[str] | None) -> tuple[str, ...]:
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
    training rows; see :class:`PrototypeLF`).
    """

    name: str

    def __call__(self, sentence: Mapping[str, Any]) -> str | None: ...


class _RegexLF:
    """Shared plumbing of the LF classes (a readable repr)."""

    name: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


# --------------------------------------------------------------------------- attribution


class AttributionLF(_RegexLF):
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
        self.reporting_verbs = _terms(reporting_verbs)
        self.rebuttal_patterns = tuple(rebuttal_patterns or ())
        self.require_attributed = require_attributed
        self.resolve_speaker = resolve_speaker
        self.window_before = int(window_before)
        self.window_after = int(window_after)
        self._verbs = _compile(self.reporting_verbs)
        self._rebuttal = [re.compile(p, re.I) for p in self.rebuttal_patterns]
        if resolve_speaker:
            self._gazetteer = Attributor(actors=[*_actors(name, actors), *extra_actors])

    def speaker_sides(self, sentence: Mapping[str, Any] | str) -> set[str]:
        """Sides of the speakers found next to reporting verbs (``resolve_speaker`` mode;
        :meth:`stance.data.attribution.Attributor.speaker_sides`)."""
        return self._gazetteer.speaker_sides(text_of(sentence), self._verbs, self.window_before,
                                             self.window_after)

    def __call__(self, sentence: Mapping[str, Any]) -> str | None:
        if self.require_attributed and not _get(sentence, "attributed"):
            return None
        if self.resolve_speaker:
            sides = self.speaker_sides(sentence)
            if len(sides) != 1:
                return None
            side = next(iter(sides))
        else:
            side = _get(sentence, "speaker_side")
        if side not in self.side_labels:
            return None
        text = text_of(sentence)
        if self._verbs is not None and not self._verbs.search(text):
            return None
        if any(rx.search(text) for rx in self._rebuttal):
            return None
        return self.side_labels[side]


# --------------------------------------------------------------------------- lexicons


class LexiconLF(_RegexLF):
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
        self.terms = _terms(terms)
        self.exclude = _terms(exclude)
        if not self.terms:
            raise ValueError(f"LF {name!r}: the term list is empty")
        self.min_matches = int(min_matches)
        self._rx = _compile(self.terms)
        self._ex = _compile(self.exclude)

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


class PatternLF(_RegexLF):
    """Several labels, each with its own patterns; abstains when two labels' patterns match.

    Args:
        name: LF name.
        patterns: label -> regex fragments (case-insensitive, on word boundaries).
    """

    def __init__(self, name: str, patterns: Mapping[str, Sequence[str]]) -> None:
        self.name = name
        self.patterns = {str(k): _terms(v) for k, v in patterns.items()}
        self._rx = {k: _compile(v) for k, v in self.patterns.items() if v}
        if not self._rx:
            raise ValueError(f"LF {name!r}: no patterns")

    def __call__(self, sentence: Mapping[str, Any]) -> str | None:
        text = text_of(sentence)
        hits = [lab for lab, rx in self._rx.items() if rx is not None and rx.search(text)]
        return hits[0] if len(hits) == 1 else None


class ClaimRebuttalLF(_RegexLF):
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


# --------------------------------------------------------------------------- cause and response


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


class RetaliationLF(_RegexLF):
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
        self.cues = _terms(cues)
        self.exclude = _terms(exclude)
        self.side_labels = _side_labels(name, side_labels)
        self._gazetteer = Attributor(actors=[*_actors(name, actors), *extra_actors])
        self._cue = _compile(self.cues)
        self._ex = _compile(self.exclude)

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


# --------------------------------------------------------------------------- embeddings


@functools.lru_cache(maxsize=2)
def _load_encoder(path: str) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    model.eval()
    return tok, model


def embed_texts(texts: Sequence[str], encoder: str | None = None, batch_size: int = 64,
                max_length: int = 128) -> np.ndarray:
    """L2-normalised mean-pooled sentence embeddings (MiniLM by default), shape (n, dim)."""
    import torch

    from stance.models.pooling import mean_pool
    from stance.resources import default_encoder

    tok, model = _load_encoder(str(encoder or default_encoder()))
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            batch = tok(list(texts[i : i + batch_size]), padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt")
            pooled = mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])
            out.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    dim = model.config.hidden_size
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, dim), dtype=np.float32)


class PrototypeLF(_RegexLF):
    """Nearest labelled prototypes in MiniLM embedding space.

    Each label scores the mean cosine similarity of its ``k`` most similar prototypes; the LF
    votes for the best label when it beats the runner-up by at least ``margin`` and reaches
    ``min_similarity``, else abstains.

    Prototypes come from ``prototypes`` (``{label, text}`` records given in the config) and,
    when ``gold_per_label`` is not 0, from gold labels of the TRAIN split picked by
    :meth:`fit` (``-1`` = all of them). :meth:`fit` never reads other splits: rows whose
    ``split`` is not ``train`` are ignored, so test (and validation) gold never becomes a
    prototype. A prototype from the same article as the sentence being labelled (or the
    sentence itself) is ignored (``exclude_same_article``), so accuracies measured on training
    gold are not inflated by self-matches.

    Args:
        name: LF name.
        labels: the scheme's labels (the score columns; prototypes must use them).
        prototypes: ``[{label, text}, ...]`` given by hand.
        gold_per_label: training-gold prototypes per label taken by :meth:`fit` (0 = none).
        k: prototypes averaged per label.
        margin: minimum lead of the best label's score over the second.
        min_similarity: minimum score of the best label.
        encoder: model folder or hub id; None = the packaged MiniLM.
        batch_size: sentences per forward pass.
        exclude_same_article: ignore prototypes from the sentence's own article.
        seed: seed of the gold sample.
    """

    def __init__(
        self,
        name: str = "prototype",
        labels: Sequence[str] = (),
        prototypes: Sequence[Mapping[str, str]] = (),
        gold_per_label: int = 0,
        k: int = 3,
        margin: float = 0.03,
        min_similarity: float = 0.0,
        encoder: str | None = None,
        batch_size: int = 64,
        exclude_same_article: bool = True,
        seed: int = 0,
    ) -> None:
        self.name = name
        self.labels = tuple(str(x) for x in labels)
        if len(self.labels) < 2:
            raise ConfigError(f"labelling function {name!r}: give the scheme's labels (e.g. ${{scheme.labels}})")
        bad = sorted({str(p["label"]) for p in prototypes} - set(self.labels))
        if bad:
            raise ConfigError(f"labelling function {name!r}: prototype labels {bad} are not in {list(self.labels)}")
        self.prototypes = [{"label": str(p["label"]), "text": str(p["text"])} for p in prototypes]
        self.gold_per_label = int(gold_per_label)
        self.k = int(k)
        self.margin = float(margin)
        self.min_similarity = float(min_similarity)
        self.encoder = encoder
        self.batch_size = int(batch_size)
        self.exclude_same_article = exclude_same_article
        self.seed = int(seed)
        self._set_prototypes(self.prototypes)

    def _set_prototypes(self, protos: list[dict[str, Any]]) -> None:
        self.prototypes_ = protos
        self._emb: np.ndarray | None = None  # embedded lazily

    @property
    def needs_fit(self) -> bool:
        return self.gold_per_label != 0

    def fit(self, sentences: Any) -> PrototypeLF:
        """Add training-gold prototypes (TRAIN split only); returns ``self``.

        ``sentences`` is a DataFrame (or list of mappings) with ``text``, ``label`` and
        ``split``; only rows with ``split == "train"`` and a gold label are used.
        """
        import pandas as pd

        protos = list(self.prototypes)
        if self.gold_per_label != 0:
            df = sentences if isinstance(sentences, pd.DataFrame) else pd.DataFrame(list(sentences))
            if "split" not in df.columns:
                raise ValueError("PrototypeLF.fit needs a 'split' column (only train rows are used)")
            train = df[(df["split"] == "train") & df["label"].notna()]
            rng = random.Random(self.seed)
            for lab in self.labels:
                rows = train[train["label"] == lab].to_dict("records")
                if 0 < self.gold_per_label < len(rows):
                    rows = rng.sample(rows, self.gold_per_label)
                protos.extend(
                    {"label": lab, "text": r["text"], "sentence_id": r.get("sentence_id"),
                     "article_id": r.get("article_id")}
                    for r in rows
                )
        self._set_prototypes(protos)
        return self

    def _proto_embeddings(self) -> np.ndarray:
        if self._emb is None:
            self._emb = embed_texts([p["text"] for p in self.prototypes_], self.encoder, self.batch_size)
        return self._emb

    def scores(self, sentences: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Per-label scores, shape (n, len(labels)); NaN where a label has no usable prototype."""
        if not self.prototypes_:
            raise ValueError(f"LF {self.name!r} has no prototypes: give some or set gold_per_label")
        sims = embed_texts([text_of(s) for s in sentences], self.encoder, self.batch_size) @ self._proto_embeddings().T
        labels = np.array([p["label"] for p in self.prototypes_])
        if self.exclude_same_article:
            p_art = np.array([p.get("article_id") for p in self.prototypes_], dtype=object)
            p_sid = np.array([p.get("sentence_id") for p in self.prototypes_], dtype=object)
            for i, s in enumerate(sentences):
                art, sid = _get(s, "article_id"), _get(s, "sentence_id")
                mask = np.zeros(len(self.prototypes_), dtype=bool)
                if art is not None:
                    mask |= p_art == art
                if sid is not None:
                    mask |= p_sid == sid
                sims[i, mask] = np.nan
        out = np.full((len(sentences), len(self.labels)), np.nan)
        for j, lab in enumerate(self.labels):
            col = sims[:, labels == lab]
            if col.shape[1] == 0:
                continue
            col = np.where(np.isnan(col), -np.inf, col)
            top = -np.sort(-col, axis=1)[:, : max(1, min(self.k, col.shape[1]))]
            valid = np.isfinite(top)
            total = np.where(valid, top, 0.0).sum(axis=1)
            out[:, j] = np.where(valid.any(axis=1), total / np.maximum(valid.sum(axis=1), 1), np.nan)
        return out

    def apply_batch(self, sentences: Sequence[Mapping[str, Any]]) -> list[str | None]:
        """Votes for many sentences (one encoder pass)."""
        sentences = list(sentences)
        if not sentences:
            return []
        sc = self.scores(sentences)
        votes: list[str | None] = []
        for row in sc:
            ok = ~np.isnan(row)
            if ok.sum() == 0:
                votes.append(None)
                continue
            order = np.argsort(-np.where(ok, row, -np.inf))
            best = row[order[0]]
            second = row[order[1]] if ok.sum() > 1 else -np.inf
            if best >= self.min_similarity and best - second >= self.margin:
                votes.append(self.labels[order[0]])
            else:
                votes.append(None)
        return votes

    def __call__(self, sentence: Mapping[str, Any]) -> str | None:
        return self.apply_batch([sentence])[0]


# --------------------------------------------------------------------------- applying


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
