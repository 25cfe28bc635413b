"""Batch scoring: articles (or single sentences) -> one labelled record per sentence.

Pure-ish pipeline (no file I/O except reading the default cleaning/attribution configs):

* :func:`score_articles` cleans, segments and attributes each article with
  :func:`stance.data.build.sentences_of` (the same code the dataset build uses), gathers
  sentences across articles into batches of ``batch_size`` and yields one record per sentence;
* :func:`score_sentences` scores ready-made sentence records (``--level sentence``), no splitting;
* :func:`article_summary` and :func:`source_summary` turn records into per-article and
  per-source tables (the latter through :func:`stance.evaluation.bias.source_bias_table`,
  plus prevalence-corrected shares when the model carries a validation confusion matrix).

A record is a plain dict with the keys of :func:`record_columns`: ``article_id``,
``sentence_id``, ``source``, ``text``, ``label``, ``proba_<label>`` per label, ``attributed``
and ``speaker_side``. Over-long articles and sentences are truncated (never an error) and
counted in a :class:`ScoreStats`.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stance.data.attribution import Attributor
from stance.data.build import sentences_of
from stance.data.cleaning import Cleaner
from stance.data.model_input import ModelInput
from stance.data.preprocessing import Preprocessing
from stance.data.readers import Skipped
from stance.data.schema import Article
from stance.data.segment import Segmenter, truncate_text
from stance.errors import InputError
from stance.scheme import Scheme

__all__ = [
    "UNKNOWN_SOURCE",
    "ScoreStats",
    "StreamingSummaries",
    "article_summary",
    "confusion_of",
    "model_preprocessing",
    "empty_article_rows",
    "scheme_of",
    "record_columns",
    "score_articles",
    "score_sentences",
    "source_summary",
    "truncate_text",
]

UNKNOWN_SOURCE = "unknown"


# --------------------------------------------------------------------------- statistics


@dataclass
class ScoreStats:
    """What a scoring run did: counts, truncations (warnings), skipped input records, time.

    ``seconds`` is wall time spent inside the scoring generators (cleaning, segmentation,
    attribution and the model), so ``sentences_per_second`` excludes reading and writing.
    """

    articles: int = 0
    sentences: int = 0
    empty_articles: int = 0
    truncated_articles: int = 0
    truncated_sentences: int = 0
    decoded_with_fallback: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    removed_lines: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def warnings(self) -> dict[str, int]:
        """Warning counts by kind (only the non-zero ones)."""
        w = {
            "truncated_articles": self.truncated_articles,
            "truncated_sentences": self.truncated_sentences,
            "decoded_with_fallback": self.decoded_with_fallback,
        }
        return {k: v for k, v in w.items() if v}

    @property
    def sentences_per_second(self) -> float:
        return self.sentences / self.seconds if self.seconds > 0 else math.nan

    def skip_counts(self) -> Counter:
        """Skipped records counted by reason (the part before the first colon)."""
        return Counter(s.reason.split(":")[0] for s in self.skipped)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "articles": self.articles,
            "sentences": self.sentences,
            "empty_articles": self.empty_articles,
            "truncated_articles": self.truncated_articles,
            "truncated_sentences": self.truncated_sentences,
            "decoded_with_fallback": self.decoded_with_fallback,
            "skipped_records": len(self.skipped),
            "skipped_by_reason": dict(self.skip_counts()),
            "removed_lines": dict(self.removed_lines),
            "seconds": round(self.seconds, 3),
            "sentences_per_second": (
                round(self.sentences_per_second, 1) if self.seconds > 0 else None
            ),
        }


# --------------------------------------------------------------------------- preprocessing


def model_preprocessing(model: Any, override: Mapping[str, Any] | None = None) -> Preprocessing:
    """How to prepare articles for ``model``: the cleaning, segmentation and attribution
    settings its training data were built with (its manifest's ``preprocessing``), or
    ``override`` (same shape) when given; parts recorded nowhere fall back to the defaults."""
    scheme = scheme_of(model)
    if override is not None:
        return Preprocessing.from_dict(override, scheme, origin="override")
    manifest = getattr(model, "manifest_", None) or {}
    return Preprocessing.from_dict(manifest.get("preprocessing"), scheme)


# --------------------------------------------------------------------------- helpers


def record_columns(labels: Sequence[str]) -> list[str]:
    """Column order of a scored sentence record."""
    return [
        "article_id",
        "sentence_id",
        "source",
        "text",
        "label",
        *(f"proba_{c}" for c in labels),
        "attributed",
        "speaker_side",
    ]


def _clean_str(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    s = str(value).strip()
    return s or None


def _as_article(obj: Any, position: int) -> Article:
    """An ``Article`` from an ``Article`` or a mapping with ``id``, ``text`` and ``source``."""
    if isinstance(obj, Article):
        return obj
    if not isinstance(obj, Mapping):
        raise InputError(f"article #{position}: expected an Article or a dict, got {type(obj).__name__}")
    aid = _clean_str(obj.get("id", obj.get("article_id")))
    if aid is None:
        raise InputError(f"article #{position} has no id", field="id")
    text = obj.get("text")
    if not isinstance(text, str):
        raise InputError(f"article {aid!r} has no text", field="text")
    return Article(
        id=aid,
        text=text,
        source=_clean_str(obj.get("source")) or UNKNOWN_SOURCE,
        title=_clean_str(obj.get("title")),
        date=_clean_str(obj.get("date")),
        url=_clean_str(obj.get("url")),
        origin=_clean_str(obj.get("origin")),
    )


def _labels_of(model: Any) -> list[str]:
    return [str(c) for c in model.classes_]


def scheme_of(model: Any) -> Scheme:
    """The scheme a (loaded or fitted) classifier was trained with."""
    scheme = getattr(model, "scheme_", None)
    return scheme if isinstance(scheme, Scheme) else Scheme.from_labels(_labels_of(model))


def _emit(model: Any, pending: list[dict[str, Any]], labels: list[str]) -> list[dict[str, Any]]:
    """Fill label and probabilities of ``pending`` records (one predict_proba call)."""
    if not pending:
        return pending
    proba = np.asarray(model.predict_proba([r.get("input", r["text"]) for r in pending]), dtype=np.float64)
    if proba.shape != (len(pending), len(labels)):
        raise ValueError(f"predict_proba returned shape {proba.shape}, expected {(len(pending), len(labels))}")
    best = proba.argmax(axis=1)
    out = []
    for rec, row, b in zip(pending, proba.tolist(), best.tolist()):
        probs = {f"proba_{c}": p for c, p in zip(labels, row)}
        out.append({
            "article_id": rec["article_id"],
            "sentence_id": rec["sentence_id"],
            "source": rec["source"],
            "text": rec["text"],
            "label": labels[b],
            **probs,
            "attributed": rec["attributed"],
            "speaker_side": rec["speaker_side"],
        })
    return out


# --------------------------------------------------------------------------- scoring


def score_articles(
    model: Any,
    articles: Iterable[Any],
    *,
    batch_size: int = 256,
    cleaner: Cleaner | None = None,
    segmenter: Segmenter | None = None,
    attributor: Attributor | None | bool = None,
    stats: ScoreStats | None = None,
) -> Iterator[dict[str, Any]]:
    """Score articles, yielding one record per body sentence in input order.

    Args:
        model: anything with ``classes_`` and ``predict_proba(texts)`` (a ``StanceClassifier``
            or a :mod:`stance.scoring.fast` wrapper).
        articles: ``Article`` objects or dicts with ``id``, ``text`` and ``source`` (optional
            ``title``, ``date``); a dict without source gets ``"unknown"``.
        batch_size: sentences per ``predict_proba`` call (gathered across articles).
        cleaner, segmenter: default to the model's preprocessing (:func:`model_preprocessing`).
        attributor: ``None`` -> the model's (the scheme's gazetteer); ``False`` -> no attribution.
        stats: a :class:`ScoreStats` updated as articles are scored; over-long articles and
            sentences are cut by the cleaner's and segmenter's limits and counted there.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    prep = model_preprocessing(model)
    cleaner = cleaner or prep.cleaner
    segmenter = segmenter or prep.segmenter
    att = prep.attributor if attributor is None else (attributor or None)
    stats = stats if stats is not None else ScoreStats()

    def rows() -> Iterator[dict[str, Any]]:
        for pos, obj in enumerate(articles, 1):
            article = _as_article(obj, pos)
            got = sentences_of(article, cleaner, segmenter, att)
            stats.articles += 1
            stats.truncated_articles += got.truncated_article
            stats.truncated_sentences += got.truncated_sentences
            stats.removed_lines.update(got.removed)
            if not got.sentences:
                stats.empty_articles += 1
            recs = [{
                "article_id": s.article_id,
                "sentence_id": s.sentence_id,
                "source": s.source,
                "text": s.text,
                "attributed": bool(s.attributed),
                "speaker_side": s.speaker_side,
            } for s in got.sentences]
            if prep.model_input.active:
                _add_inputs(recs, prep.model_input, got.title)
            yield from recs

    yield from _score_stream(model, rows(), batch_size, stats)


def score_sentences(
    model: Any,
    records: Iterable[Mapping[str, Any]],
    *,
    batch_size: int = 256,
    attributor: Attributor | None | bool = None,
    max_sentence_chars: int | None = None,
    stats: ScoreStats | None = None,
) -> Iterator[dict[str, Any]]:
    """Score ready-made sentences (no cleaning or splitting), one output record per input.

    Each input record needs ``id`` (or ``sentence_id``) and ``text``; ``source`` and
    ``article_id`` are optional (``"unknown"`` and ``None``). ``attributor`` as in
    :func:`score_articles`; sentences longer than ``max_sentence_chars`` (None = the model's
    segmenter limit) are cut and counted. A model trained with context
    (:mod:`stance.data.model_input`) reads consecutive records of one ``article_id`` as that
    article in reading order (and an optional ``title``).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    prep = model_preprocessing(model)
    att = prep.attributor if attributor is None else (attributor or None)
    limit = int(max_sentence_chars or prep.segmenter.max_sentence_chars)
    stats = stats if stats is not None else ScoreStats()

    def rows() -> Iterator[dict[str, Any]]:
        for pos, rec in enumerate(records, 1):
            sid = _clean_str(rec.get("id", rec.get("sentence_id")))
            text = rec.get("text")
            if sid is None or not isinstance(text, str):
                raise InputError(f"sentence record #{pos} needs an id and a text",
                                 field="id" if sid is None else "text")
            text, cut = truncate_text(text.strip(), limit)
            stats.truncated_sentences += cut
            a = att.attribute(text) if att else None
            yield {
                "article_id": _clean_str(rec.get("article_id")),
                "sentence_id": sid,
                "source": _clean_str(rec.get("source")) or UNKNOWN_SOURCE,
                "text": text,
                "attributed": bool(a and a.attributed),
                "speaker_side": a.speaker_side if a else None,
                "title": _clean_str(rec.get("title")),
            }

    fmt = prep.model_input
    yield from _score_stream(model, _compose_by_article(rows(), fmt) if fmt.active else rows(), batch_size, stats)


def _add_inputs(recs: list[dict[str, Any]], fmt: ModelInput, title: str | None = None) -> list[dict[str, Any]]:
    """Set the model ``input`` of one article's records, in reading order (``title``: the
    article's; None = the records' own ``title`` field)."""
    for r, x in zip(recs, fmt.compose_records(recs, title), strict=True):
        r["input"] = x
    return recs


def _compose_by_article(rows: Iterator[dict[str, Any]], fmt: ModelInput) -> Iterator[dict[str, Any]]:
    """Add each row's model ``input``; consecutive rows of one ``article_id`` are one article in
    reading order (its neighbours and title), a row without an article id stands alone. Only
    one article is held in memory at a time."""
    group: list[dict[str, Any]] = []

    def flush() -> list[dict[str, Any]]:
        return _add_inputs(group, fmt)

    for row in rows:
        if group and (row["article_id"] is None or row["article_id"] != group[0]["article_id"]):
            yield from flush()
            group = []
        group.append(row)
    if group:
        yield from flush()


def _score_stream(
    model: Any, rows: Iterator[dict[str, Any]], batch_size: int, stats: ScoreStats
) -> Iterator[dict[str, Any]]:
    """Gather unscored rows into batches of ``batch_size`` across articles and yield the
    scored records in input order; time spent reading and scoring is added to ``stats``."""
    labels = _labels_of(model)
    pending: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for row in rows:
        pending.append(row)
        if len(pending) >= batch_size:
            done, pending = _emit(model, pending, labels), []
            stats.sentences += len(done)
            stats.seconds += time.perf_counter() - t0
            yield from done
            t0 = time.perf_counter()
    done = _emit(model, pending, labels)
    stats.sentences += len(done)
    stats.seconds += time.perf_counter() - t0
    yield from done


# --------------------------------------------------------------------------- summaries


def _frame(records: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    return records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))


def article_summary(
    records: Iterable[Mapping[str, Any]] | pd.DataFrame,
    scheme: Scheme,
) -> pd.DataFrame:
    """One row per article (in order of first appearance): ``article_id``, ``source``,
    ``n_sentences``, ``n_<label>`` per label, ``n_attributed``, ``slant`` (share of the
    scheme's first pole minus share of its second; NaN without sentences or without poles)
    and ``dominant`` (most frequent label, ties broken by label order)."""
    df = _frame(records)
    labels = scheme.label_list
    if df.empty:
        return pd.DataFrame(columns=_article_columns(labels))
    key = df["article_id"].fillna(df["sentence_id"]) if "sentence_id" in df else df["article_id"]
    df = df.assign(_key=key)
    counts = pd.crosstab(df["_key"], df["label"]).reindex(columns=labels, fill_value=0)
    order = pd.unique(df["_key"])
    counts = counts.reindex(order, fill_value=0)
    first = df.groupby("_key", sort=False).agg(source=("source", "first"),
                                                n_attributed=("attributed", "sum"))
    return _article_table(order, first.loc[order, "source"].to_numpy(), counts.to_numpy(),
                          first.loc[order, "n_attributed"].to_numpy(), scheme)


def _article_columns(labels: Sequence[str]) -> list[str]:
    return ["article_id", "source", "n_sentences", *(f"n_{c}" for c in labels), "n_attributed",
            "slant", "dominant"]


def _article_table(order: Any, sources: Any, counts: np.ndarray, n_attributed: Any, scheme: Scheme) -> pd.DataFrame:
    """The :func:`article_summary` frame from per-article label counts (rows in ``order``)."""
    labels = scheme.label_list
    out = pd.DataFrame({"article_id": order})
    out["source"] = sources
    out["n_sentences"] = counts.sum(axis=1).astype(int)
    for j, c in enumerate(labels):
        out[f"n_{c}"] = counts[:, j].astype(int)
    out["n_attributed"] = np.asarray(n_attributed).astype(int)
    if scheme.poles is not None:
        pos, neg = scheme.poles
        out["slant"] = (out[f"n_{pos}"] - out[f"n_{neg}"]) / out["n_sentences"].where(out["n_sentences"] > 0)
    else:
        out["slant"] = np.nan
    out["dominant"] = [labels[i] for i in counts.argmax(axis=1)]
    return out[_article_columns(labels)]


def empty_article_rows(articles: Iterable[tuple[str, str]], labels: Sequence[str]) -> pd.DataFrame:
    """Summary rows for articles without body sentences (``(article_id, source)`` pairs)."""
    rows = [
        {"article_id": aid, "source": src, "n_sentences": 0, **{f"n_{c}": 0 for c in labels},
         "n_attributed": 0, "slant": np.nan, "dominant": None}
        for aid, src in articles
    ]
    return pd.DataFrame(rows, columns=_article_columns(labels))


def confusion_of(model: Any) -> list[list[float]] | None:
    """The validation confusion matrix saved in a model's manifest, if any."""
    manifest = getattr(model, "manifest_", None) or {}
    cm = manifest.get("validation_confusion_matrix")
    return cm if cm else None


def source_summary(
    records: Iterable[Mapping[str, Any]] | pd.DataFrame,
    scheme: Scheme,
    confusion: Sequence[Sequence[float]] | np.ndarray | None = None,
    min_sentences: int = 30,
    min_articles: int = 3,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-source bias metrics of the predicted labels.

    :func:`stance.evaluation.bias.source_bias_table` on the ``label`` column (sentences without
    ``article_id`` count as their own article), joined with the prevalence-corrected
    ``adj_share_<label>`` and ``adj_slant`` of
    :func:`stance.evaluation.bias.corrected_source_table` when ``confusion`` (the model's
    validation confusion matrix, rows = true labels in the scheme's order) is given.
    """
    from stance.evaluation.bias import corrected_source_table, source_bias_table

    df = _frame(records)
    if df.empty:
        raise ValueError("no scored sentences: nothing to summarise per source")
    df = _source_rows(df)
    table = source_bias_table(df, scheme, label_col="label", min_sentences=min_sentences,
                              min_articles=min_articles, n_boot=n_boot, seed=seed)
    corr = corrected_source_table(df, "label", confusion, scheme) if confusion is not None else None
    return _with_correction(table, corr)


def _source_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The columns :func:`source_summary` reads, with its defaults: a sentence without
    ``article_id`` is its own article, a missing source is ``unknown``, ``attributed``
    missing is False."""
    cols = ["source", "article_id", "label", "attributed", "speaker_side"]
    df = df.reindex(columns=cols + (["sentence_id"] if "sentence_id" in df else [])).copy()
    if "sentence_id" in df:
        df["article_id"] = df["article_id"].fillna(df["sentence_id"])
    df["source"] = df["source"].fillna(UNKNOWN_SOURCE)
    df["attributed"] = df["attributed"].fillna(False).astype(bool)
    return df


def _with_correction(table: pd.DataFrame, corr: pd.DataFrame | None) -> pd.DataFrame:
    if corr is None:
        return table
    adj = [c for c in corr.columns if c.startswith("adj_")]
    return table.merge(corr[["source", *adj]], on="source", how="left")


class StreamingSummaries:
    """:func:`article_summary` and :func:`source_summary` of scored records fed batch by batch
    (e.g. a streaming pass over the part files of an output), never holding the records.

    Keeps per-article counts only (:class:`stance.evaluation.bias.SourceCountsBuilder` for
    the sources; label counts, first source and attributed count per article for the article
    table), which give the same tables as the in-memory functions on the same records in
    the same order. ``articles=False`` skips the article table (the article level writes it
    per chunk). Hand-written for the article table for the same reason as the builder: a
    pandas groupby cannot be updated batch by batch.
    """

    def __init__(self, scheme: Scheme, articles: bool = True) -> None:
        from stance.evaluation.bias import SourceCountsBuilder

        self.scheme = scheme
        self.labels = scheme.label_list
        self.n_sentences = 0
        self._sources = SourceCountsBuilder(scheme)
        self._source_error: ValueError | None = None
        self._articles = articles
        self._article_rows: dict[Any, int] = {}
        self._article_source: list[Any] = []
        self._article_counts = np.zeros((1024 if articles else 0, len(self.labels) + 1), dtype=np.int64)

    def add(self, frame: pd.DataFrame) -> None:
        """Count one batch of records (columns ``sentence_id``, ``article_id``, ``source``,
        ``label``, ``attributed``, ``speaker_side``)."""
        if frame.empty:
            return
        self.n_sentences += len(frame)
        if self._articles:
            self._add_articles(frame[frame["article_id"].notna()])
        if self._source_error is None:
            df = _source_rows(frame)
            try:
                self._sources.add(df["source"], df["article_id"], df["label"], df["attributed"],
                                  df["speaker_side"])
            except ValueError as e:  # reported by source_table, like source_summary's errors
                self._source_error = e

    def _add_articles(self, df: pd.DataFrame) -> None:
        index, k = self._article_rows, len(self.labels)
        before = len(index)
        rows = np.fromiter((index.setdefault(a, len(index)) for a in df["article_id"]), dtype=np.int64,
                           count=len(df))
        if len(index) > len(self._article_counts):
            grown = np.zeros((max(len(index), 2 * len(self._article_counts)), k + 1), dtype=np.int64)
            grown[: len(self._article_counts)] = self._article_counts
            self._article_counts = grown
        self._article_source.extend([None] * (len(index) - before))
        for row, src in zip(rows, df["source"]):  # the first non-missing source, as groupby's first
            if self._article_source[row] is None and not (pd.api.types.is_scalar(src) and pd.isna(src)):
                self._article_source[row] = src
        codes = pd.Categorical(df["label"], categories=self.labels).codes
        known = codes >= 0  # labels outside the scheme are not counted (as article_summary)
        np.add.at(self._article_counts, (rows[known], codes[known]), 1)
        att = df["attributed"].fillna(False).to_numpy(dtype=bool)
        np.add.at(self._article_counts, (rows[att], k), 1)

    def article_table(self) -> pd.DataFrame:
        """The per-article table (:func:`article_summary`) of the records added so far."""
        if not self._article_rows:
            return pd.DataFrame(columns=_article_columns(self.labels))
        n = len(self._article_rows)
        counts = self._article_counts[:n]
        return _article_table(list(self._article_rows), self._article_source, counts[:, :-1], counts[:, -1],
                              self.scheme)

    def source_table(self, confusion: Sequence[Sequence[float]] | np.ndarray | None = None,
                     min_sentences: int = 30, min_articles: int = 3, n_boot: int = 1000,
                     seed: int = 0) -> pd.DataFrame:
        """The per-source table (:func:`source_summary`) of the records added so far."""
        from stance.evaluation.bias import corrected_from_counts, source_bias_from_counts

        if self._source_error is not None:
            raise self._source_error
        if not self.n_sentences:
            raise ValueError("no scored sentences: nothing to summarise per source")
        counts = self._sources.result()
        table = source_bias_from_counts(counts, self.scheme, min_sentences=min_sentences,
                                        min_articles=min_articles, n_boot=n_boot, seed=seed)
        corr = corrected_from_counts(counts, confusion, self.scheme) if confusion is not None else None
        return _with_correction(table, corr)
