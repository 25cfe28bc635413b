"""``score_to_file``: read items, score them in chunks and write a resumable output."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stance.data.preprocessing import Preprocessing
from stance.data.readers import Skipped
from stance.errors import ConfigError, InputError
from stance.scoring.records import ARTICLE_META, model_fingerprint, model_summary, sha256_of
from stance.scoring.score import (
    UNKNOWN_SOURCE,
    ScoreStats,
    confusion_of,
    model_preprocessing,
    scheme_of,
    score_articles,
    score_sentences,
)
from stance.scoring.writer import ScoreWriter

__all__ = ["ScoreRun", "output_fingerprint", "resolve_preprocessing", "score_to_file"]


@dataclass
class ScoreRun:
    """Outcome of :func:`score_to_file`."""

    paths: dict[str, Path]
    stats: ScoreStats
    already_done: int
    totals: dict[str, Any]
    written: bool
    source_table: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def _item_id(item: Any, level: str) -> str | None:
    if level == "article":
        value = getattr(item, "id", None) if not isinstance(item, Mapping) else item.get("id", item.get("article_id"))
    else:
        value = item.get("id", item.get("sentence_id")) if isinstance(item, Mapping) else None
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _item_source(item: Any) -> str:
    src = item.get("source") if isinstance(item, Mapping) else getattr(item, "source", None)
    return str(src) if src not in (None, "") else UNKNOWN_SOURCE


def item_meta(item: Any) -> dict[str, str | None]:
    """The article's title, date and url (as stripped strings, None where absent)."""
    out: dict[str, str | None] = {}
    for key in ARTICLE_META:
        v = item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)
        out[key] = None if v is None or (isinstance(v, float) and v != v) or not str(v).strip() else str(v).strip()
    return out


def resolve_preprocessing(
    model: Any,
    preprocessing: Mapping[str, Any] | None = None,
    *,
    attribution: bool = True,
    max_sentence_chars: int | None = None,
    max_article_chars: int | None = None,
) -> Preprocessing:
    """The preprocessing a scoring run applies: the model's own (or ``preprocessing``), with
    attribution switched off and the length limits replaced as asked (see :func:`score_to_file`)."""
    prep = model_preprocessing(model, preprocessing)
    if not attribution:
        prep.attributor, prep.origin["attribution"] = None, "off (--no-attribution)"
    if max_article_chars is not None:
        prep.cleaner.max_article_chars, prep.origin["cleaning"] = int(max_article_chars), "override"
    if max_sentence_chars is not None:
        prep.segmenter.max_sentence_chars, prep.origin["segmenter"] = int(max_sentence_chars), "override"
    return prep


def output_fingerprint(model: Any, prep: Preprocessing, model_dir: str | Path | None, fast: str,
                       level: str) -> dict[str, Any]:
    """The fingerprint a score output records (model, mode, level and preprocessing)."""
    return {**model_fingerprint(model, model_dir, fast, level), "preprocessing_sha256": sha256_of(prep.to_dict())}


def score_to_file(
    model: Any,
    items: Iterable[Any],
    output: str | Path,
    *,
    predictor: Any = None,
    level: str = "article",
    fmt: str = "auto",
    chunk_size: int = 100,
    overwrite: bool = False,
    batch_size: int = 256,
    model_dir: str | Path | None = None,
    fast: str = "none",
    stats: ScoreStats | None = None,
    on_item: Callable[[ScoreStats], None] | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    attribution: bool = True,
    max_sentence_chars: int | None = None,
    max_article_chars: int | None = None,
    run_info: Mapping[str, Any] | None = None,
    source_options: Mapping[str, Any] | None = None,
    on_error: str = "skip",
) -> ScoreRun:
    """Score ``items`` into ``output`` in chunks, resuming a previous interrupted run.

    Args:
        model: the loaded classifier (labels, manifest/fingerprint, confusion matrix).
        items: ``Article`` objects / article dicts (``level="article"``) or sentence records
            with ``id`` and ``text`` (``level="sentence"``).
        predictor: what computes the probabilities, e.g. the result of
            :func:`stance.scoring.fast.accelerate` (default: ``accelerate(model)``).
        chunk_size: items per committed part (memory is bounded by one chunk).
        on_item: called with the running stats after each item is taken from ``items``
            (progress display).
        preprocessing: cleaning / segmenter / attribution settings that replace the model's own
            (:func:`stance.scoring.score.model_preprocessing`); recorded in ``run.json``.
        attribution: False = no reported-speech attribution (``--no-attribution``).
        max_sentence_chars, max_article_chars: limits that replace the model's segmenter and
            cleaner limits (None = the model's).

    Items already in the output are skipped; an item id seen twice in the input is skipped
    and reported by its file and line the second time (``on_error="raise"``: an error). KeyboardInterrupt or any error leaves the committed
    chunks in place for the next run.
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk size must be >= 1, got {chunk_size}")
    if predictor is None:
        from stance.scoring.fast import accelerate

        predictor = accelerate(model)  # the feature-identical fast TF-IDF; other models as they are
    stats = stats if stats is not None else ScoreStats()
    prep = resolve_preprocessing(model, preprocessing, attribution=attribution,
                                 max_sentence_chars=max_sentence_chars, max_article_chars=max_article_chars)
    fingerprint = output_fingerprint(model, prep, model_dir, fast, level)
    writer = ScoreWriter(output, fingerprint=fingerprint, scheme=scheme_of(model), level=level, fmt=fmt,
                         overwrite=overwrite)
    run_info = {**dict(run_info or {}), "model_info": model_summary(model, model_dir)}
    done = writer.open()
    try:
        return _score_chunks(model, items, writer, done, prep, predictor=predictor, level=level, chunk_size=chunk_size,
                             batch_size=batch_size, stats=stats, on_item=on_item, on_error=on_error,
                             run_info=run_info, source_options=source_options)
    finally:
        writer.close()


def _where(item: Any, pos: int) -> str:
    """Where an input item came from (file:line), else its position in the input."""
    origin = item.get("origin") if isinstance(item, Mapping) else getattr(item, "origin", None)
    return str(origin) if origin else f"input item {pos}"


class _NewItems:
    """The input items not yet in the output, each id once (duplicates and id-less records
    reported in ``stats.skipped``, or raised with ``on_error="raise"``); ``already`` counts the
    items the output holds."""

    def __init__(self, items: Iterable[Any], done: set[str], level: str, on_error: str,
                 stats: ScoreStats) -> None:
        self.items, self.done, self.level, self.on_error, self.stats = items, done, level, on_error, stats
        self.already = 0
        self.seen: dict[str, str] = {}

    def _bad(self, where: str, kind: str, msg: str, hint: str | None = None) -> None:
        if self.on_error == "raise":
            raise InputError(f"{where}: {msg}", field="id", hint=hint)
        self.stats.skipped.append(Skipped(where, f"{kind}: {msg}"))

    def __iter__(self) -> Iterator[Any]:
        for pos, item in enumerate(self.items, 1):
            iid = _item_id(item, self.level)
            where = _where(item, pos)
            if iid is None:
                self._bad(where, "missing id", "the record has no id")
            elif iid in self.done:
                self.already += 1
            elif iid in self.seen:
                self._bad(where, "duplicate id", f"duplicate id {iid!r} (first at {self.seen[iid]})",
                          hint="give every record its own id")
            else:
                self.seen[iid] = where
                yield item


def _chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of ``size`` items (the last shorter); itertools.batched needs Python 3.12."""
    buf: list[Any] = []
    for item in items:
        buf.append(item)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


COUNT_KEYS = ("empty_articles", "truncated_articles", "truncated_sentences")


def _score_chunk(chunk: list[Any], writer: ScoreWriter, prep: Any, *, predictor: Any, level: str,
                 batch_size: int, stats: ScoreStats, on_item: Callable[[ScoreStats], None] | None) -> None:
    """Score one chunk and commit it with the counts it added."""
    def tick() -> Iterator[Any]:
        for item in chunk:
            yield item
            if on_item is not None:
                on_item(stats)

    before = [getattr(stats, k) for k in COUNT_KEYS]
    att = prep.attributor or False
    if level == "article":
        records = list(score_articles(predictor, tick(), batch_size=batch_size, cleaner=prep.cleaner,
                                      segmenter=prep.segmenter, attributor=att, stats=stats))
    else:
        records = list(score_sentences(predictor, tick(), batch_size=batch_size, attributor=att,
                                       max_sentence_chars=prep.segmenter.max_sentence_chars, stats=stats))
    ids = [_item_id(it, level) for it in chunk]
    empty, meta = [], None
    if level == "article":
        with_sentences = {r["article_id"] for r in records}
        empty = [(i, _item_source(it)) for i, it in zip(ids, chunk) if i not in with_sentences]
        meta = {i: item_meta(it) for i, it in zip(ids, chunk)}
    delta = {k: getattr(stats, k) - b for k, b in zip(COUNT_KEYS, before)}
    writer.write_chunk(ids, records, empty, delta, meta=meta)


def _score_chunks(model: Any, items: Iterable[Any], writer: ScoreWriter, done: set[str], prep: Any, *,
                  predictor: Any, level: str, chunk_size: int, batch_size: int, stats: ScoreStats,
                  on_item: Callable[[ScoreStats], None] | None, on_error: str,
                  run_info: Mapping[str, Any] | None, source_options: Mapping[str, Any] | None) -> ScoreRun:
    run_info = {**dict(run_info or {}), "preprocessing": {**prep.to_dict(), "origin": prep.origin}}
    new = _NewItems(items, done, level, on_error, stats)
    for chunk in _chunked(new, chunk_size):
        _score_chunk(chunk, writer, prep, predictor=predictor, level=level, batch_size=batch_size, stats=stats,
                     on_item=on_item)
    result = writer.finalize(
        confusion=confusion_of(model),
        run_info={"last_run": {**stats.summary(), "already_in_output": new.already,
                               "skipped": [s.__dict__ for s in stats.skipped[:1000]]},
                  **run_info},
        source_options=source_options,
    )
    return ScoreRun(paths=result["paths"], stats=stats, already_done=new.already, totals=result["totals"],
                    written=result["written"], source_table=result["source_table"], notes=result["notes"])
