"""Readers for article collections: a directory of .txt/.md/.html files, or a table
(JSONL, CSV, Parquet) of articles. I/O only; cleaning happens later.

Every reader returns a :class:`ReadResult`: the articles read plus a list of what was
skipped and why. With ``on_error="raise"`` (the default) the first bad record raises an
:class:`~stance.errors.InputError` naming file, line and field; with ``on_error="skip"``
bad records are skipped, counted and reported, and reading goes on.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stance.data.schema import Article
from stance.errors import InputError

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
TABLE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
OnError = Literal["raise", "skip"]


@dataclass
class Skipped:
    """One record that was not read, with where it was and why."""

    where: str
    reason: str


@dataclass
class ReadResult:
    """Articles read from one corpus plus what was skipped."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    decoded_with_fallback: int = 0

    def skip_counts(self) -> Counter:
        """Skips counted by reason."""
        return Counter(s.reason.split(":")[0] for s in self.skipped)

    def extend(self, other: ReadResult) -> None:
        self.articles.extend(other.articles)
        self.skipped.extend(other.skipped)
        self.decoded_with_fallback += other.decoded_with_fallback


def _fail(result: ReadResult, on_error: OnError, err: InputError, reason: str) -> None:
    if on_error == "raise":
        raise err
    where = err.path or "?"
    if err.line is not None:
        where = f"{where}:{err.line}"
    result.skipped.append(Skipped(where, f"{reason}: {err}"))


def decode_bytes(raw: bytes) -> tuple[str, bool]:
    """Decode UTF-8 (with or without BOM); fall back to cp1252 so no text is lost.

    Returns the text and whether the fallback was used.
    """
    try:
        return raw.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), True


def _clean_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from pandas
        return None
    text = str(value).strip()
    return text or None


# --------------------------------------------------------------------------- directories


def _read_manifest(path: Path) -> dict[str, dict[str, str | None]]:
    rows: dict[str, dict[str, str | None]] = {}
    for line_no, rec in _iter_table_records(path, on_error="raise", result=ReadResult()):
        name = _clean_str(rec.get("file") or rec.get("path"))
        if not name:
            raise InputError(
                "manifest row has no file name",
                path=path,
                line=line_no,
                field="file",
                hint="give each row a 'file' column with the path relative to the directory",
            )
        if name in rows:
            raise InputError(f"file {name!r} listed twice", path=path, line=line_no, field="file")
        rows[name] = {k: _clean_str(rec.get(k)) for k in ("id", "source", "title", "date", "url")}
    return rows


def _html_to_text(html: str, path: Path) -> tuple[str, dict[str, str | None]]:
    import trafilatura

    doc = trafilatura.bare_extraction(html, include_comments=False, include_tables=False, with_metadata=True)
    if doc is None:
        return "", {}
    get = doc.get if isinstance(doc, dict) else lambda k, d=None: getattr(doc, k, d)
    meta = {k: _clean_str(get(k)) for k in ("title", "date", "url")}
    return get("text") or "", meta


def read_directory(
    path: str | Path,
    manifest: str | Path | None = None,
    default_source: str | None = None,
    suffixes: tuple[str, ...] = TEXT_SUFFIXES + HTML_SUFFIXES,
    recursive: bool = True,
    on_error: OnError = "raise",
) -> ReadResult:
    """Read every article file under ``path``.

    Args:
        path: directory of ``.txt``/``.md``/``.html`` files (one article per file).
        manifest: optional CSV/JSONL with a ``file`` column (relative path) and any of
            ``id``, ``source``, ``title``, ``date``, ``url``.
        default_source: source for files the manifest does not name; otherwise the name of
            the sub-directory a file sits in is used.
        suffixes: file endings read; other files are counted as skipped.
        recursive: descend into sub-directories.
        on_error: ``"raise"`` on the first bad file, or ``"skip"`` and report it.
    """
    root = Path(path)
    if not root.exists():
        raise InputError("directory does not exist", path=root, hint="check data paths in the config")
    if not root.is_dir():
        raise InputError("expected a directory of article files", path=root)
    meta = _read_manifest(Path(manifest)) if manifest else {}
    result = ReadResult()
    for name in sorted(meta):
        if not (root / name).is_file():
            _fail(
                result,
                on_error,
                InputError(f"manifest lists {name!r} but there is no such file in {root}", path=manifest),
                "missing file",
            )
    files = sorted(root.rglob("*") if recursive else root.iterdir())
    manifest_name = Path(manifest).resolve() if manifest else None
    for file in files:
        if not file.is_file() or file.resolve() == manifest_name:
            continue
        rel = file.relative_to(root).as_posix()
        if file.suffix.lower() not in suffixes:
            result.skipped.append(Skipped(str(file), f"unsupported file type: {file.suffix or 'none'}"))
            continue
        try:
            raw = file.read_bytes()
        except OSError as e:
            _fail(result, on_error, InputError(f"cannot read file: {e.strerror}", path=file), "unreadable")
            continue
        text, fallback = decode_bytes(raw)
        result.decoded_with_fallback += fallback
        info = dict(meta.get(rel, {}))
        if file.suffix.lower() in HTML_SUFFIXES:
            text, html_meta = _html_to_text(text, file)
            for k, v in html_meta.items():
                info[k] = info.get(k) or v
        if not text.strip():
            _fail(result, on_error, InputError("file has no text", path=file), "empty")
            continue
        source = info.get("source") or default_source
        if source is None:
            source = file.parent.relative_to(root).as_posix() if file.parent != root else None
        if source is None:
            _fail(
                result,
                on_error,
                InputError(
                    "no source (outlet) for this file",
                    path=file,
                    field="source",
                    hint="list the file in a manifest with a 'source', put it in a sub-directory "
                    "named after its outlet, or set default_source",
                ),
                "missing source",
            )
            continue
        result.articles.append(
            Article(
                id=info.get("id") or file.relative_to(root).with_suffix("").as_posix(),
                text=text,
                source=source,
                title=info.get("title"),
                date=info.get("date"),
                url=info.get("url"),
                origin=str(file),
            )
        )
    return result


# --------------------------------------------------------------------------- tables


def _iter_table_records(
    path: Path, on_error: OnError, result: ReadResult
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Yield (line or row number, record) from a JSONL/JSON/CSV/Parquet file."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        raw = path.read_bytes()
        text, fallback = decode_bytes(raw)
        result.decoded_with_fallback += fallback
        if suffix == ".json" and text.lstrip().startswith("["):
            try:
                records = json.loads(text)
            except json.JSONDecodeError as e:
                raise InputError(f"invalid JSON: {e.msg}", path=path, line=e.lineno) from e
            yield from enumerate(records, 1)
            return
        for n, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                _fail(
                    result,
                    on_error,
                    InputError(f"malformed JSON ({e.msg} at column {e.colno})", path=path, line=n,
                               hint="each line must be one JSON object"),
                    "malformed record",
                )
                continue
            if not isinstance(rec, dict):
                _fail(result, on_error,
                      InputError(f"expected a JSON object, got {type(rec).__name__}", path=path, line=n),
                      "malformed record")
                continue
            yield n, rec
    elif suffix == ".csv":
        text, fallback = decode_bytes(path.read_bytes())
        result.decoded_with_fallback += fallback
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for rec in reader:
            if None in rec:  # more cells than header columns
                _fail(result, on_error,
                      InputError("row has more cells than the header", path=path, line=reader.line_num,
                                 hint="quote fields that contain commas"),
                      "malformed record")
                continue
            yield reader.line_num, rec
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        for i, rec in enumerate(table.to_pylist(), 1):
            yield i, rec
    else:
        raise InputError(
            f"unsupported table format {suffix!r}",
            path=path,
            hint=f"use one of {', '.join(TABLE_SUFFIXES)} or a directory of article files",
        )


def iter_table(
    path: str | Path,
    required: tuple[str, ...],
    on_error: OnError = "raise",
    result: ReadResult | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield validated records (line number, record) that carry every ``required`` field."""
    path = Path(path)
    if not path.exists():
        raise InputError("file does not exist", path=path, hint="check the input path")
    result = result if result is not None else ReadResult()
    for line, rec in _iter_table_records(path, on_error, result):
        missing = [f for f in required if _clean_str(rec.get(f)) is None]
        if missing:
            _fail(
                result,
                on_error,
                InputError(
                    "required field missing or empty",
                    path=path,
                    line=line,
                    field=missing[0],
                    hint=f"every record needs {', '.join(required)}",
                ),
                f"missing {missing[0]}",
            )
            continue
        yield line, dict(rec)


def read_table(
    path: str | Path,
    id_field: str = "id",
    text_field: str = "text",
    source_field: str = "source",
    default_source: str | None = None,
    on_error: OnError = "raise",
) -> ReadResult:
    """Read a JSONL/CSV/Parquet table of articles (``id``, ``text``, ``source``; optional
    ``title``, ``date``, ``url``). Field names are configurable."""
    path = Path(path)
    result = ReadResult()
    required = (id_field, text_field) + (() if default_source else (source_field,))
    for line, rec in iter_table(path, required, on_error, result):
        result.articles.append(
            Article(
                id=str(rec[id_field]).strip(),
                text=str(rec[text_field]),
                source=_clean_str(rec.get(source_field)) or str(default_source),
                title=_clean_str(rec.get("title")),
                date=_clean_str(rec.get("date")),
                url=_clean_str(rec.get("url")),
                origin=f"{path}:{line}",
            )
        )
    return result


def read_corpus(
    path: str | Path,
    manifest: str | Path | None = None,
    default_source: str | None = None,
    on_error: OnError = "raise",
) -> ReadResult:
    """Read a directory or a table, whichever ``path`` is."""
    p = Path(path)
    if p.is_dir():
        return read_directory(p, manifest=manifest, default_source=default_source, on_error=on_error)
    return read_table(p, default_source=default_source, on_error=on_error)
