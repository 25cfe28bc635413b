"""Sentence tables: one sentence per row (CSV, JSONL, Parquet), labelled or not.

The one reader for both uses: labelled tables train and evaluate (``stance-train
data=sentences data.path=FILE``: ``text`` and ``label`` required), unlabelled ones are scored
(``stance-score --level sentence``: ``text`` required). Optional columns: ``id`` (or
``sentence_id``), ``article_id``, ``source``, ``title``, ``date``, ``split``, ``index``.

Ids: a row without an id gets the package's stable sentence id,
``sentence_id(article_id, text, occurrence)`` (:func:`stance.data.segment.sentence_id`), so
re-ordering the table never moves a label; a row without an article id is its own article
(its ``article_id`` is its sentence id). Values are checked per field: text, ids and sources
must be strings (ids may be integers, which are written in decimal), never silently coerced.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stance.data.readers import OnError, ReadResult, Skipped, field_string, field_text, iter_table
from stance.data.segment import normalise, sentence_id
from stance.errors import InputError

SPLIT_ALIASES: dict[str, str] = {
    "train": "train", "training": "train",
    "validation": "validation", "valid": "validation", "val": "validation", "dev": "validation",
    "test": "test", "testing": "test",
}
"""Accepted values of a ``split`` column and the split they name."""


@dataclass(frozen=True)
class SentenceFields:
    """Column names of a sentence table (all configurable)."""

    text: str = "text"
    label: str = "label"
    id: str = "id"
    article_id: str = "article_id"
    source: str = "source"
    title: str = "title"
    date: str = "date"
    split: str = "split"


def read_sentence_table(
    path: str | Path,
    *,
    labelled: bool,
    fields: SentenceFields | Mapping[str, str] | None = None,
    default_source: str = "unknown",
    own_article: bool = True,
    on_error: OnError = "raise",
    result: ReadResult | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one normalised record per valid row, in file order.

    Records have ``sentence_id``, ``article_id``, ``source``, ``index``, ``text``, ``title``,
    ``date``, ``label`` (None when ``labelled`` is False) and ``split`` (None without a split
    column), plus ``origin`` (file:line). A row without an article id is its own article
    (``own_article``) or keeps ``article_id=None``. Bad rows raise (``on_error="raise"``) or
    are skipped and listed in ``result.skipped``.
    """
    f = fields if isinstance(fields, SentenceFields) else SentenceFields(**dict(fields or {}))
    path = Path(path)
    result = result if result is not None else ReadResult()
    required = (f.text, f.label) if labelled else (f.text,)
    occurrences: Counter = Counter()
    position: Counter = Counter()
    seen_ids: dict[str, int] = {}
    for line, rec in iter_table(path, required, on_error, result):
        try:
            out = _record(rec, f, path, line, labelled, default_source)
        except InputError as e:
            if on_error == "raise":
                raise
            result.skipped.append(Skipped(f"{path}:{line}", f"bad field {e.field}: {e}"))
            continue
        if out["sentence_id"] is None:
            key = (out["article_id"] or "", normalise(out["text"]))
            out["sentence_id"] = sentence_id(key[0], out["text"], occurrences[key])
            occurrences[key] += 1
        sid = out["sentence_id"]
        if sid in seen_ids:
            err = InputError(f"duplicate sentence id {sid!r} (first at line {seen_ids[sid]})", path=path,
                             line=line, field=f.id, hint="give every row its own id, or drop the id column")
            if on_error == "raise":
                raise err
            result.skipped.append(Skipped(f"{path}:{line}", f"duplicate id: {err}"))
            continue
        seen_ids[sid] = line
        if out["article_id"] is None and own_article:
            out["article_id"] = sid
        out["index"] = position[out["article_id"]] if out["article_id"] is not None else 0
        if out["article_id"] is not None:
            position[out["article_id"]] += 1
        yield out


def _record(rec: Mapping[str, Any], f: SentenceFields, path: Path, line: int, labelled: bool,
            default_source: str) -> dict[str, Any]:
    raw_text = field_text(rec.get(f.text), f.text, path, line) or ""
    split = field_string(rec.get(f.split), f.split, path, line)
    if split is not None:
        if split.lower() not in SPLIT_ALIASES:
            raise InputError(f"unknown split {split!r}", path=path, line=line, field=f.split,
                             hint="use train, validation or test (or leave the column empty)")
        split = SPLIT_ALIASES[split.lower()]
    sid = field_string(rec.get(f.id, rec.get("sentence_id") if f.id == "id" else None), f.id, path, line, ids=True)
    return {
        "sentence_id": sid,
        "article_id": field_string(rec.get(f.article_id), f.article_id, path, line, ids=True),
        "source": field_string(rec.get(f.source), f.source, path, line) or default_source,
        "text": raw_text.strip(),
        "title": field_string(rec.get(f.title), f.title, path, line),
        "date": field_string(rec.get(f.date), f.date, path, line),
        "label": field_string(rec.get(f.label), f.label, path, line, ids=True) if labelled else None,
        "split": split,
        "origin": f"{path}:{line}",
    }


@dataclass
class SentenceRows:
    """The rows of a labelled sentence table and what was skipped."""

    path: str
    rows: list[dict[str, Any]]
    skipped: list[Skipped]


def read_labelled_sentences(
    path: str | Path,
    fields: Mapping[str, str] | None = None,
    default_source: str = "unknown",
    on_error: OnError = "raise",
) -> SentenceRows:
    """Read a labelled sentence table (the ``data.sentences`` node of ``data=sentences``).

    Args:
        path: CSV, JSONL or Parquet file; ``text`` and ``label`` required.
        fields: column names that differ from the defaults, e.g. ``{text: sentence, label: stance}``
            (keys: text, label, id, article_id, source, title, date, split).
        default_source: source of rows without one.
        on_error: ``raise`` on the first bad row, or ``skip`` it and report it.
    """
    res = ReadResult()
    rows = list(read_sentence_table(path, labelled=True, fields=fields, default_source=default_source,
                                    on_error=on_error, result=res))
    return SentenceRows(str(path), rows, res.skipped)
