"""Shortcut audit of labelled sentences: the words and phrases that predict a label by themselves.

A classifier trained on data in which ``sovereignty`` occurs almost only in one label's
sentences can learn the word instead of whose account a sentence advances. The audit counts,
for every word n-gram, the sentences of each label that contain it (one count per sentence),
and scores how far that split is from what the rest of the data predicts.

Score: a 2x2 Beta-smoothed log-odds ratio per (term ``w``, label ``y``). With

* ``y_i`` sentences of label ``y`` containing ``w``, out of ``n_i`` sentences of label ``y``,
* ``y_r`` sentences of the other labels containing ``w``, out of ``n_r`` such sentences,
* ``p`` the corpus-wide rate of ``w`` (sentences containing it / all sentences) and ``s`` the
  prior strength (:attr:`AuditSettings.prior_strength`), prior ``a = s*p``, ``b = s*(1-p)``:

    delta = log(c(y_i + a) / c(n_i - y_i + b)) - log(c(y_r + a) / c(n_r - y_r + b))
    var   = 1/c(y_i + a) + 1/c(n_i - y_i + b) + 1/c(y_r + a) + 1/c(n_r - y_r + b),  c(x) = max(x, 0.5)
    z     = delta / sqrt(var)

``delta`` is the (smoothed) log odds ratio of the term in the label against the other labels;
the prior pulls both odds towards the term's corpus-wide odds, so a term seen in 3 sentences
needs a far more lopsided split than one seen in 300 to reach the same ``z``. A term whose
rate is the same in every label has ``delta = 0`` exactly (the prior has that rate too).
``z >= 3`` (:attr:`AuditSettings.z_flag`) is flagged. Every cell is floored at half a
sentence (``c``, the half count of the Haldane-Anscombe correction), in ``delta`` and in
``var`` alike: without the floor, a term that the other labels never use (``y_r = 0``) gets the
tiny cell ``a = s*p``, hence a huge variance and a *lower* ``z`` than a term they use once or
twice, and the most exclusive vocabulary (``airspace`` in 21 pro-Kabul sentences and no other)
is never flagged; flooring the variance alone would over-correct (the rarer the term, the
larger its ``delta``, so a term seen once would be flagged). Cells of half a sentence or more
are unchanged, and an equal-rate term still has ``delta = 0``. Whether a flagged term is a *shortcut*
(a frame, a place, an office that every label's sentences could use) or a legitimate cue
only a reader can tell; hence the example sentences.

:func:`pole_asymmetry` adds the check for schemes with two poles: terms in at least
``pole_min_count`` sentences of one pole whose rate in the other pole's sentences is at most
``pole_max_ratio`` times that: the vocabulary one side "owns" in the data.

Why hand-written: the estimator is a few lines of arithmetic over a 2x2 table that no
well-kept library ships as such. scikit-learn's ``feature_selection.chi2`` is the nearest: it
gives one statistic per term over all labels, computed from feature sums as if they were
frequencies, with no smoothing, no direction and no per-label effect size, so it cannot say
*which* label a term leans to or by how much. The counting itself is scikit-learn's
``CountVectorizer`` (binary, one count per sentence).

Pure logic: DataFrames in, DataFrames out; no file I/O (the command is :mod:`stance.cli.audit`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from stance.errors import ConfigError, InputError

__all__ = ["AuditSettings", "TermCounts", "beta_log_odds", "count_terms", "score_terms", "pole_asymmetry",
           "audit_terms", "STOP_WORDS"]

STOP_WORDS = frozenset(ENGLISH_STOP_WORDS - {"not", "no", "nor", "never", "cannot", "against", "without"})
"""scikit-learn's English stop words less the negations and ``against``/``without``, which can
carry stance. A term made of stop words only (``of the``) is not audited."""

TOKEN_PATTERN = r"(?u)\b\w[\w'-]*\b"
"""Words: letters, digits, inner apostrophes and hyphens (``Pakistan's``, ``cross-border``)."""


def preprocess(text: str) -> str:
    """Lower case, typographic apostrophes as ``'`` (``Pakistan’s`` and ``Pakistan's`` are one word)."""
    return text.lower().replace("\u2019", "'").replace("\u2018", "'")


@dataclass(frozen=True)
class AuditSettings:
    """What the audit counts and flags.

    Args:
        ngram_range: word n-gram lengths (``(1, 3)``: words, bigrams, trigrams).
        min_count: sentences (all labels together) a term must occur in to be scored.
        prior_strength: ``s``, the weight of the Beta prior in pseudo-sentences.
        z_flag: ``z`` at or above which a (term, label) pair is flagged.
        examples: example sentences kept per (term, label).
        pole_min_count: sentences of its pole a pole-asymmetric term must occur in.
        pole_max_ratio: largest rate in the other pole, as a fraction of the owner's rate.
    """

    ngram_range: tuple[int, int] = (1, 3)
    min_count: int = 5
    prior_strength: float = 10.0
    z_flag: float = 3.0
    examples: int = 2
    pole_min_count: int = 5
    pole_max_ratio: float = 0.1

    def __post_init__(self) -> None:
        lo, hi = (int(x) for x in self.ngram_range)
        object.__setattr__(self, "ngram_range", (lo, hi))
        if not 1 <= lo <= hi:
            raise ConfigError(f"ngram_range must be 1 <= min <= max, got {self.ngram_range}")
        if self.min_count < 1 or self.pole_min_count < 1:
            raise ConfigError("min_count and pole_min_count must be at least 1")
        if not self.prior_strength > 0:
            raise ConfigError(f"prior_strength must be positive, got {self.prior_strength}")
        if self.examples < 0:
            raise ConfigError(f"examples must be >= 0, got {self.examples}")
        if not 0 <= self.pole_max_ratio < 1:
            raise ConfigError(f"pole_max_ratio must be in [0, 1), got {self.pole_max_ratio}")


CELL_FLOOR = 0.5
"""Smallest pseudo-count a cell of :func:`beta_log_odds` may have (module docstring)."""


def beta_log_odds(y_i: np.ndarray, n_i: np.ndarray, y_r: np.ndarray, n_r: np.ndarray,
                  prior_strength: float) -> tuple[np.ndarray, np.ndarray]:
    """``(delta, z)`` of the 2x2 Beta-smoothed log-odds ratio (module docstring), elementwise.

    ``p = (y_i + y_r) / (n_i + n_r)``. A term in every sentence (``p = 1``) or in none carries
    no information about the label: its ``delta`` and ``z`` are 0.
    """
    y_i, n_i, y_r, n_r = (np.asarray(v, dtype=float) for v in (y_i, n_i, y_r, n_r))
    y_i, n_i, y_r, n_r = np.broadcast_arrays(y_i, n_i, y_r, n_r)
    p = (y_i + y_r) / np.maximum(n_i + n_r, 1.0)
    a, b = prior_strength * p, prior_strength * (1.0 - p)
    informative = (p > 0) & (p < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cells = [np.maximum(c, CELL_FLOOR) for c in (y_i + a, n_i - y_i + b, y_r + a, n_r - y_r + b)]
        delta = np.log(cells[0] / cells[1]) - np.log(cells[2] / cells[3])
        var = sum(1 / c for c in cells)
        z = delta / np.sqrt(var)
    return np.where(informative, delta, 0.0), np.where(informative, z, 0.0)


@dataclass
class TermCounts:
    """Sentences containing each term, per label.

    Attributes:
        counts: term x label counts (index ``term``, columns the labels in scheme order).
        n_sentences: sentences per label.
        matrix: binary sentence x term matrix (CSC), columns in ``counts`` order.
        texts, labels: the sentences and their labels, in input order.
    """

    counts: pd.DataFrame
    n_sentences: pd.Series
    matrix: object
    texts: list[str]
    labels: np.ndarray
    settings: AuditSettings = field(default_factory=AuditSettings)

    @property
    def label_list(self) -> list[str]:
        return list(self.counts.columns)

    def examples(self, col: int, label: str, k: int) -> list[str]:
        """The first ``k`` sentences of ``label`` containing the term in column ``col``."""
        if k <= 0:
            return []
        m = self.matrix
        rows = m.indices[m.indptr[col]:m.indptr[col + 1]]  # type: ignore[attr-defined]
        out = []
        for i in np.sort(rows):
            if self.labels[i] == label:
                out.append(self.texts[i])
                if len(out) == k:
                    break
        return out


def normalise_term(term: str) -> str:
    """A term as the audit spells it: :func:`preprocess`, tokens joined by one space."""
    return " ".join(re.findall(TOKEN_PATTERN, preprocess(term)))


def _content(term: str) -> bool:
    return any(w not in STOP_WORDS for w in term.split())


def count_terms(df: pd.DataFrame, label_list: Sequence[str], settings: AuditSettings = AuditSettings(), *,
                terms: Sequence[str] | None = None, text_col: str = "text", label_col: str = "label") -> TermCounts:
    """Count the terms of the labelled rows of ``df``.

    Without ``terms``: every n-gram in ``settings.ngram_range`` that occurs in at least
    ``settings.min_count`` sentences and has a word that is not a stop word. With ``terms``:
    exactly those (normalised with :func:`normalise_term`, any length, no minimum count).
    Rows without a label are ignored; a label outside ``label_list`` is an :class:`InputError`.
    """
    label_list = [str(x) for x in label_list]
    for col in (text_col, label_col):
        if col not in df.columns:
            raise InputError(f"the sentence table has no {col!r} column", field=col)
    lab = df[df[label_col].notna()]
    if lab.empty:
        raise InputError("no labelled sentences to audit", field=label_col,
                         hint="give labelled sentences, or another split")
    texts = lab[text_col].astype(str).tolist()
    y = lab[label_col].astype(str).to_numpy(dtype=object)
    unknown = sorted(set(y) - set(label_list))
    if unknown:
        raise InputError(f"labels {unknown} are not in the scheme's labels {label_list}", field=label_col,
                         hint="audit with the scheme the data was labelled with")
    if terms is not None:
        vocab = list(dict.fromkeys(t for t in (normalise_term(x) for x in terms) if t))
        if not vocab:
            raise InputError("no terms to look up", hint="give terms with at least one word")
        lengths = [len(t.split()) for t in vocab]
        vec = CountVectorizer(ngram_range=(min(lengths), max(lengths)), binary=True, preprocessor=preprocess,
                              token_pattern=TOKEN_PATTERN, vocabulary=vocab, dtype=np.int64)
        X = vec.transform(texts)
        names = np.asarray(vocab, dtype=object)
    else:
        vec = CountVectorizer(ngram_range=settings.ngram_range, binary=True, preprocessor=preprocess,
                              token_pattern=TOKEN_PATTERN, min_df=settings.min_count, dtype=np.int64)
        try:
            X = vec.fit_transform(texts)
        except ValueError as e:  # empty vocabulary: no term reaches min_count
            raise InputError(f"nothing to audit: no term occurs in {settings.min_count} sentences",
                             hint="lower the minimum count or give more sentences") from e
        names = vec.get_feature_names_out()
        keep = np.array([_content(t) for t in names], dtype=bool)
        X, names = X[:, keep], names[keep]
        if not len(names):
            raise InputError("nothing to audit: every frequent term is made of stop words only",
                             hint="lower the minimum count or give more sentences")
    X = X.tocsc()
    counts = pd.DataFrame({lab_: np.asarray(X[y == lab_].sum(axis=0)).ravel() for lab_ in label_list},
                          index=pd.Index([str(t) for t in names], name="term"))
    n_sent = pd.Series({lab_: int((y == lab_).sum()) for lab_ in label_list}, dtype=int)
    return TermCounts(counts, n_sent, X, texts, y, settings)


def score_terms(tc: TermCounts) -> pd.DataFrame:
    """One row per (term, label) with sentences of that label: ``term``, ``label``, ``z``,
    ``delta``, ``n`` (sentences with the term), ``n_<label>`` for every label, ``share`` (of
    the term's sentences in this label), ``label_share`` (the label's share of all sentences:
    what ``share`` would be without association), ``flagged`` (``z >= z_flag``) and
    ``examples``. Sorted by ``z``, highest first (ties: more sentences first, then term)."""
    s = tc.settings
    labels = tc.label_list
    Y = tc.counts[labels].to_numpy(dtype=float)
    n = tc.n_sentences[labels].to_numpy(dtype=float)[None, :]
    total, N = Y.sum(axis=1, keepdims=True), float(n.sum())
    delta, z = beta_log_odds(Y, n, total - Y, N - n, s.prior_strength)
    frames = []
    for j, lab in enumerate(labels):
        if n[0, j] == 0:
            continue  # no sentences of this label: nothing to compare
        f = pd.DataFrame({"term": tc.counts.index, "label": lab, "z": z[:, j], "delta": delta[:, j],
                          "n": total[:, 0].astype(int), "_col": np.arange(len(tc.counts))})
        for lab2 in labels:
            f[f"n_{lab2}"] = tc.counts[lab2].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            f["share"] = np.where(total[:, 0] > 0, Y[:, j] / np.maximum(total[:, 0], 1), np.nan)
        f["label_share"] = n[0, j] / N
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out["flagged"] = out["z"] >= s.z_flag
    out = out.sort_values(["z", "n", "term", "label"], ascending=[False, False, True, True], kind="mergesort")
    out["examples"] = [tc.examples(int(c), lab, s.examples) for c, lab in zip(out["_col"], out["label"])]
    return out.drop(columns="_col").reset_index(drop=True)


def pole_asymmetry(tc: TermCounts, poles: Sequence[str]) -> pd.DataFrame:
    """Terms frequent in one pole's sentences and (nearly) absent from the other's.

    A term is listed when it occurs in at least ``pole_min_count`` sentences of one pole (its
    ``owner``) and its rate in the other pole's sentences is at most ``pole_max_ratio`` times
    its rate in the owner's (rates, so poles of different sizes compare fairly). Columns:
    ``term``, ``owner``, ``other``, ``n_owner``, ``n_other``, ``rate_ratio`` (other rate /
    owner rate), ``z`` (the Beta-smoothed log-odds of owner against other pole only, the
    neutral label left out), ``n_<label>`` for every label, ``examples`` (owner's sentences).
    Sorted by ``n_owner`` (most frequent first), then ``rate_ratio``. Not by ``z``: a term the
    other pole never uses has an empty cell, floored at half a sentence, that still adds up to
    2 to the variance, so its ``z`` can be lower than that of a term the other pole uses once.
    """
    poles = [str(p) for p in poles]
    if len(poles) != 2 or poles[0] == poles[1]:
        raise InputError(f"a pole-asymmetry check needs a scheme with two poles, got {poles}")
    missing = [p for p in poles if p not in tc.counts.columns]
    if missing:
        raise InputError(f"poles {missing} are not among the labels {tc.label_list}")
    s = tc.settings
    a, b = poles
    ca, cb = tc.counts[a].to_numpy(dtype=float), tc.counts[b].to_numpy(dtype=float)
    na, nb = float(tc.n_sentences[a]), float(tc.n_sentences[b])
    ra, rb = ca / max(na, 1.0), cb / max(nb, 1.0)
    a_owns = ra >= rb
    c_own, c_oth = np.where(a_owns, ca, cb), np.where(a_owns, cb, ca)
    n_own, n_oth = np.where(a_owns, na, nb), np.where(a_owns, nb, na)
    r_own, r_oth = np.where(a_owns, ra, rb), np.where(a_owns, rb, ra)
    _, z = beta_log_odds(c_own, n_own, c_oth, n_oth, s.prior_strength)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(r_own > 0, r_oth / r_own, np.nan)
    keep = (c_own >= s.pole_min_count) & (ratio <= s.pole_max_ratio)
    owner = np.where(a_owns, a, b)
    out = pd.DataFrame({"term": tc.counts.index, "owner": owner, "other": np.where(a_owns, b, a),
                        "n_owner": c_own.astype(int), "n_other": c_oth.astype(int), "rate_ratio": ratio, "z": z,
                        "_col": np.arange(len(tc.counts))})
    for lab in tc.label_list:
        out[f"n_{lab}"] = tc.counts[lab].to_numpy()
    out = out[keep].sort_values(["n_owner", "rate_ratio", "term"], ascending=[False, True, True], kind="mergesort")
    out["examples"] = [tc.examples(int(c), o, s.examples) for c, o in zip(out["_col"], out["owner"])]
    return out.drop(columns="_col").reset_index(drop=True)


def audit_terms(df: pd.DataFrame, label_list: Sequence[str], settings: AuditSettings = AuditSettings(), *,
                text_col: str = "text", label_col: str = "label") -> pd.DataFrame:
    """:func:`count_terms` then :func:`score_terms`: the ranked (term, label) table."""
    return score_terms(count_terms(df, label_list, settings, text_col=text_col, label_col=label_col))
