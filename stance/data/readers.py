"""Readers for article collections: a directory of .txt/.md/.html files, or a table (JSONL,
CSV, Parquet, JSON array) of articles. I/O only; cleaning happens later.

Every reader streams (JSONL and CSV line by line, Parquet by record batch, directories file by
file) and keeps what it skipped, and why, in a :class:`ReadResult`. With ``on_error="raise"``
(the default) the first bad record raises an :class:`~stance.errors.InputError` naming file,
line and field; with ``on_error="skip"`` bad records are skipped, counted and listed, and
reading goes on. Nothing is dropped without a line in the skip list.

Rules, the same for every format:

* **Decoding** is per line for line-oriented formats (JSONL, CSV): a line that is not UTF-8 is
  decoded as cp1252 and reported by line; the other lines are untouched. A text/HTML file or a
  JSON array is one record and is decoded as a whole the same way.
* **Types** are checked per field: ``text`` must be a string; ``id`` a string or an integer
  (written in decimal; ``True``, ``1.5``, lists and dicts are refused); ``source``, ``title``,
  ``date`` and ``url`` strings (dates may be date/datetime values, written in ISO form). Blank
  strings and nulls count as missing. Nothing is coerced with ``str()``.
* **CSV** is read strictly: the first row must be a header naming the required columns, a row
  with more cells than the header is refused, an unterminated quote is reported at the line
  where it opened (the rows after it are read normally), and fields may be as long as
  ``max_field_chars``.
* **Directories** never leave their root: symbolic links are not followed unless
  ``follow_symlinks`` is set, and then only when they resolve inside the root; dangling links,
  links out of the root, unreadable, empty and unsupported files and manifest rows that point
  outside the root are skipped and listed with their reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
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
MAX_FIELD_CHARS = 20_000_000
"""Longest CSV field read by default (about 20 MB of text: a whole book, not a news article)."""


@dataclass
class Skipped:
    """One record or file that was not read, with where it was and why."""

    where: str
    reason: str


@dataclass
class ReadResult:
    """Articles read from one corpus, what was skipped, and the lines (or files) that needed the
    cp1252 fallback."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    decoded_with_fallback: int = 0
    fallback_where: list[str] = field(default_factory=list)

    def skip_counts(self) -> Counter:
        """Skips counted by reason (the part before the first colon)."""
        return Counter(s.reason.split(":")[0] for s in self.skipped)

    def extend(self, other: ReadResult) -> None:
        self.articles.extend(other.articles)
        self.skipped.extend(other.skipped)
        self.decoded_with_fallback += other.decoded_with_fallback
        self.fallback_where.extend(other.fallback_where)

    def fallback(self, where: str) -> None:
        """Count one line or file decoded with the cp1252 fallback (the first 1000 are listed)."""
        self.decoded_with_fallback += 1
        if len(self.fallback_where) < 1000:
            self.fallback_where.append(where)


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


def _lines(path: Path, result: ReadResult) -> Iterator[str]:
    """The lines of a file, each decoded on its own (line endings kept)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below; a generator
    except OSError as e:
        raise InputError(f"cannot read file: {e.strerror}", path=path) from e
    with fh:
        for n, raw in enumerate(fh, 1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            text, fallback = decode_bytes(raw)
            if fallback:
                result.fallback(f"{path}:{n}")
            yield text


# --------------------------------------------------------------------------- field values


def field_string(value: Any, name: str, path: Any, line: int | None, *, ids: bool = False) -> str | None:
    """A string field by the rules above: None/NaN/blank -> None; ints allowed for ids (and
    labels), dates as ISO strings; any other type is an :class:`InputError` naming the field."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, (str, int) if ids else str):
        kind = "a string or an integer" if ids else "a string"
        raise InputError(f"expected {kind}, got {type(value).__name__} {value!r:.60}", path=path, line=line,
                         field=name, hint="quote the value, or fix the column's type")
    text = str(value).strip()
    return text or None


def field_text(value: Any, name: str, path: Any, line: int | None) -> str | None:
    """The text field: a string (kept as it is), None when missing or blank."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if not isinstance(value, str):
        raise InputError(f"expected a string, got {type(value).__name__} {value!r:.60}", path=path, line=line,
                         field=name, hint="the text column must hold the article or sentence text")
    return value if value.strip() else None


# --------------------------------------------------------------------------- tables


def _jsonl_records(path: Path, on_error: OnError, result: ReadResult) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for n, line in enumerate(_lines(path, result), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            _fail(result, on_error, InputError(f"malformed JSON ({e.msg} at column {e.colno})", path=path, line=n,
                                               hint="each line must be one JSON object"), "malformed record")
            continue
        except RecursionError:
            _fail(result, on_error, InputError("JSON nested too deeply", path=path, line=n), "malformed record")
            continue
        if not isinstance(rec, dict):
            _fail(result, on_error,
                  InputError(f"expected a JSON object, got {type(rec).__name__}", path=path, line=n),
                  "malformed record")
            continue
        yield n, rec


def _json_records(path: Path, on_error: OnError, result: ReadResult) -> Iterator[tuple[int, Mapping[str, Any]]]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read file: {e.strerror}", path=path) from e
    text, fallback = decode_bytes(raw)
    if fallback:
        result.fallback(str(path))
    if not text.lstrip().startswith("["):
        yield from _jsonl_records(path, on_error, result)
        return
    try:
        records = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg}", path=path, line=e.lineno) from e
    except RecursionError as e:
        raise InputError("JSON nested too deeply", path=path) from e
    for i, rec in enumerate(records, 1):
        if not isinstance(rec, dict):
            _fail(result, on_error, InputError(f"array element {i} is a {type(rec).__name__}, expected a JSON object",
                                               path=path, line=i), "malformed record")
            continue
        yield i, rec


class _Replay:
    """A line iterator that remembers the lines of the record being read, so that a broken
    record (an unterminated quote swallows every line after it) can be re-read without its
    first line."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._src = lines
        self._pending: list[str] = []
        self.record: list[str] = []

    def __iter__(self) -> _Replay:
        return self

    def __next__(self) -> str:
        line = self._pending.pop(0) if self._pending else next(self._src)
        self.record.append(line)
        return line

    def replay(self, lines: list[str]) -> None:
        self._pending = lines + self._pending


def _csv_records(path: Path, required: tuple[str, ...], on_error: OnError, result: ReadResult,
                 max_field_chars: int) -> Iterator[tuple[int, Mapping[str, Any]]]:
    lines = _Replay(_lines(path, result))
    previous = csv.field_size_limit()
    csv.field_size_limit(max(int(max_field_chars), 1))
    try:
        reader = csv.reader(lines, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise InputError(f"unreadable CSV header: {e}", path=path, line=1) from e
        header = [h.strip() for h in header]
        absent = [f for f in required if f not in header]
        if absent:
            raise InputError(
                f"the first row must be a header naming the columns; it has no {', '.join(map(repr, absent))} "
                f"(first row: {', '.join(header)[:120]!r})", path=path, line=1,
                hint=f"add a header row with at least {', '.join(required)}")
        done_line = reader.line_num
        while True:
            lines.record = []
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                start = done_line + 1
                if "unexpected end of data" in str(e) and len(lines.record) > 1:
                    msg = f"unterminated quoted field opened on this line ({len(lines.record)} lines read into it)"
                    lines.replay(lines.record[1:])
                    reader = csv.reader(lines, strict=True)
                    done_line = start
                    _fail(result, on_error, InputError(msg, path=path, line=start,
                                                       hint="close the quote or escape it as \"\""), "malformed record")
                    continue
                _fail(result, on_error, InputError(f"malformed CSV row: {e}", path=path, line=start),
                      "malformed record")
                done_line = start + len(lines.record) - 1
                continue
            done_line += len(lines.record)
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                _fail(result, on_error, InputError("row has more cells than the header", path=path, line=done_line,
                                                   hint="quote fields that contain commas"), "malformed record")
                continue
            yield done_line, dict(zip(header, row, strict=False))
    finally:
        csv.field_size_limit(previous)


def _parquet_records(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 0
    try:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=1024):
            for rec in batch.to_pylist():
                n += 1
                yield n, rec
    except (pa.ArrowException, OSError, ValueError) as e:
        where = f" after row {n}" if n else ""
        raise InputError(f"not a readable Parquet file{where}: {e}", path=path,
                         hint="check that the file is complete; re-export it with pyarrow or pandas") from e


def _table_records(path: Path, required: tuple[str, ...], on_error: OnError, result: ReadResult,
                   max_field_chars: int) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line or row number, record) from a JSONL/JSON/CSV/Parquet file."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _jsonl_records(path, on_error, result)
    if suffix == ".json":
        return _json_records(path, on_error, result)
    if suffix == ".csv":
        return _csv_records(path, required, on_error, result, max_field_chars)
    if suffix == ".parquet":
        return _parquet_records(path)
    raise InputError(f"unsupported table format {suffix!r}", path=path,
                     hint=f"use one of {', '.join(TABLE_SUFFIXES)} or a directory of article files")


def iter_table(
    path: str | Path,
    required: tuple[str, ...],
    on_error: OnError = "raise",
    result: ReadResult | None = None,
    max_field_chars: int = MAX_FIELD_CHARS,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield records (line number, record) that carry every ``required`` field (non-blank)."""
    path = Path(path)
    if not path.exists():
        raise InputError("file does not exist", path=path, hint="check the input path")
    if path.is_dir():
        raise InputError("expected a table file, got a directory", path=path)
    result = result if result is not None else ReadResult()
    for line, rec in _table_records(path, required, on_error, result, max_field_chars):
        missing = [f for f in required if rec.get(f) is None or (isinstance(rec.get(f), str) and not rec[f].strip())
                   or (isinstance(rec.get(f), float) and rec[f] != rec[f])]
        if missing:
            _fail(result, on_error,
                  InputError("required field missing or empty", path=path, line=line, field=missing[0],
                             hint=f"every record needs {', '.join(required)}"),
                  f"missing {missing[0]}")
            continue
        yield line, dict(rec)


def article_from_record(
    rec: Mapping[str, Any],
    path: Any,
    line: int | None,
    origin: str,
    *,
    id_field: str = "id",
    text_field: str = "text",
    source_field: str = "source",
    default_source: str | None = None,
) -> Article:
    """One table record (its required fields present) as an :class:`Article`, every field
    checked (an :class:`InputError` naming ``path``, ``line`` and the field)."""
    return Article(
        id=field_string(rec[id_field], id_field, path, line, ids=True) or "",
        text=field_text(rec[text_field], text_field, path, line) or "",
        source=field_string(rec.get(source_field), source_field, path, line) or str(default_source),
        title=field_string(rec.get("title"), "title", path, line),
        date=field_string(rec.get("date"), "date", path, line),
        url=field_string(rec.get("url"), "url", path, line),
        origin=origin,
    )


def iter_table_articles(
    path: str | Path,
    result: ReadResult,
    id_field: str = "id",
    text_field: str = "text",
    source_field: str = "source",
    default_source: str | None = None,
    on_error: OnError = "raise",
    max_field_chars: int = MAX_FIELD_CHARS,
) -> Iterator[Article]:
    """Stream the articles of a table; skips and fallbacks go to ``result``."""
    path = Path(path)
    required = (id_field, text_field) + (() if default_source else (source_field,))
    for line, rec in iter_table(path, required, on_error, result, max_field_chars):
        try:
            article = article_from_record(rec, path, line, f"{path}:{line}", id_field=id_field,
                                          text_field=text_field, source_field=source_field,
                                          default_source=default_source)
        except InputError as e:
            _fail(result, on_error, e, f"bad field {e.field}")
            continue
        yield article


def read_table(
    path: str | Path,
    id_field: str = "id",
    text_field: str = "text",
    source_field: str = "source",
    default_source: str | None = None,
    on_error: OnError = "raise",
    max_field_chars: int = MAX_FIELD_CHARS,
) -> ReadResult:
    """Read a JSONL/CSV/Parquet table of articles (``id``, ``text``, ``source``; optional
    ``title``, ``date``, ``url``). Field names are configurable."""
    result = ReadResult()
    result.articles = list(iter_table_articles(path, result, id_field, text_field, source_field, default_source,
                                               on_error, max_field_chars))
    return result


# --------------------------------------------------------------------------- directories


def _read_manifest(path: Path) -> dict[str, dict[str, str | None]]:
    rows: dict[str, dict[str, str | None]] = {}
    for line_no, rec in iter_table(path, (), on_error="raise", result=ReadResult()):
        name = field_string(rec.get("file") or rec.get("path"), "file", path, line_no)
        if not name:
            raise InputError("manifest row has no file name", path=path, line=line_no, field="file",
                             hint="give each row a 'file' column with the path relative to the directory")
        name = Path(name).as_posix()
        if name in rows:
            raise InputError(f"file {name!r} listed twice", path=path, line=line_no, field="file")
        rows[name] = {k: field_string(rec.get(k), k, path, line_no, ids=k == "id")
                      for k in ("id", "source", "title", "date", "url")}
        rows[name]["_line"] = str(line_no)
    return rows


def _html_to_text(html: str) -> tuple[str, dict[str, str | None]]:
    import trafilatura

    doc = trafilatura.bare_extraction(html, include_comments=False, include_tables=False, with_metadata=True)
    if doc is None:
        return "", {}
    get = doc.get if isinstance(doc, dict) else lambda k, d=None: getattr(doc, k, d)
    meta = {k: (str(v).strip() or None) if v is not None else None for k, v in
            ((k, get(k)) for k in ("title", "date", "url"))}
    return get("text") or "", meta


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _walk(root: Path, recursive: bool, follow_symlinks: bool, result: ReadResult) -> Iterator[Path]:
    """Files under ``root`` in sorted order; links not followed (or only inside the root) are
    listed in ``result.skipped``."""
    real_root = root.resolve()
    for dirpath, dirs, files in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirs.sort()
        dirs[:] = [d for d in dirs if _descend(here / d, recursive, follow_symlinks, real_root, result)]
        for name in sorted(files):
            if _read_file(here / name, follow_symlinks, real_root, result):
                yield here / name
        if follow_symlinks:
            for d in dirs:
                if (here / d).is_symlink():
                    yield from _walk_linked(here / d, root, recursive, result)
        if not recursive:
            return


def _descend(p: Path, recursive: bool, follow_symlinks: bool, real_root: Path, result: ReadResult) -> bool:
    """Whether the walk keeps directory ``p`` (a followed link is kept for its own walk)."""
    if not p.is_symlink():
        return recursive
    target = p.resolve()
    if follow_symlinks and target.is_dir() and _inside(target, real_root):
        return True  # os.walk does not descend into links: read as its own walk in _walk
    why = "outside the root" if not _inside(target, real_root) else "not followed"
    result.skipped.append(Skipped(str(p), f"symlinked directory: {why} (target {target})"))
    return False


def _read_file(p: Path, follow_symlinks: bool, real_root: Path, result: ReadResult) -> bool:
    """Whether file ``p`` is read; a dangling or unfollowed link is listed as skipped."""
    if not p.is_symlink():
        return True
    target = p.resolve()
    if not target.exists():
        result.skipped.append(Skipped(str(p), f"dangling symlink: points to {target}"))
        return False
    if not (follow_symlinks and _inside(target, real_root)):
        why = "outside the root" if not _inside(target, real_root) else "not followed"
        result.skipped.append(Skipped(str(p), f"symlink not followed: {why} (target {target})"))
        return False
    return True


def _walk_linked(link: Path, root: Path, recursive: bool, result: ReadResult) -> Iterator[Path]:
    for p in sorted(link.rglob("*") if recursive else link.iterdir()):
        if p.is_file() and not p.is_symlink() and _inside(p.resolve(), root.resolve()):
            yield p


def iter_directory_articles(
    path: str | Path,
    result: ReadResult,
    manifest: str | Path | None = None,
    default_source: str | None = None,
    suffixes: tuple[str, ...] = TEXT_SUFFIXES + HTML_SUFFIXES,
    recursive: bool = True,
    follow_symlinks: bool = False,
    on_error: OnError = "raise",
) -> Iterator[Article]:
    """Stream the articles of a directory, one file at a time; skips go to ``result``."""
    root = Path(path)
    if not root.exists():
        raise InputError("directory does not exist", path=root, hint="check data paths in the config")
    if not root.is_dir():
        raise InputError("expected a directory of article files", path=root)
    meta = _read_manifest(Path(manifest)) if manifest else {}
    real_root = root.resolve()
    for name in sorted(meta):
        target = (root / name).resolve()
        if not _inside(target, real_root):
            _fail(result, on_error, InputError(f"manifest row names {name!r}, which is outside the corpus root {root}",
                                               path=manifest, line=int(meta[name]["_line"]), field="file"),
                  "outside the root")
        elif not (root / name).is_file():
            _fail(result, on_error, InputError(f"manifest lists {name!r} but there is no such file in {root}",
                                               path=manifest, line=int(meta[name]["_line"]), field="file"),
                  "missing file")
    manifest_name = Path(manifest).resolve() if manifest else None
    for file in _walk(root, recursive, follow_symlinks, result):
        if manifest_name is not None and file.resolve() == manifest_name:
            continue
        rel = file.relative_to(root).as_posix()
        if file.suffix.lower() not in suffixes:
            result.skipped.append(Skipped(str(file), f"unsupported file type: {file.suffix or 'none'}"))
            continue
        article = _file_article(file, rel, meta.get(rel, {}), root, default_source, on_error, result)
        if article is not None:
            yield article


def _file_article(file: Path, rel: str, info_in: Mapping[str, str | None], root: Path, default_source: str | None,
                  on_error: OnError, result: ReadResult) -> Article | None:
    try:
        raw = file.read_bytes()
    except OSError as e:
        _fail(result, on_error, InputError(f"cannot read file: {e.strerror}", path=file), "unreadable")
        return None
    text, fallback = decode_bytes(raw)
    if fallback:
        result.fallback(str(file))
    info = {k: v for k, v in info_in.items() if k != "_line"}
    if file.suffix.lower() in HTML_SUFFIXES:
        text, html_meta = _html_to_text(text)
        for k, v in html_meta.items():
            info[k] = info.get(k) or v
    if not text.strip():
        _fail(result, on_error, InputError("file has no text", path=file), "empty")
        return None
    source = info.get("source") or default_source
    if source is None and file.parent != root:
        source = file.parent.relative_to(root).as_posix()
    if source is None:
        _fail(result, on_error, InputError(
            "no source (outlet) for this file", path=file, field="source",
            hint="list the file in a manifest with a 'source', put it in a sub-directory named after its outlet, "
                 "or set default_source"), "missing source")
        return None
    return Article(id=info.get("id") or file.relative_to(root).with_suffix("").as_posix(), text=text, source=source,
                   title=info.get("title"), date=info.get("date"), url=info.get("url"), origin=str(file))


def read_directory(
    path: str | Path,
    manifest: str | Path | None = None,
    default_source: str | None = None,
    suffixes: tuple[str, ...] = TEXT_SUFFIXES + HTML_SUFFIXES,
    recursive: bool = True,
    follow_symlinks: bool = False,
    on_error: OnError = "raise",
) -> ReadResult:
    """Read every article file under ``path``.

    Args:
        path: directory of ``.txt``/``.md``/``.html`` files (one article per file).
        manifest: optional CSV/JSONL with a ``file`` column (relative path) and any of
            ``id``, ``source``, ``title``, ``date``, ``url``.
        default_source: source for files the manifest does not name; otherwise the name of
            the sub-directory a file sits in is used.
        suffixes: file endings read; other files are listed as skipped.
        recursive: descend into sub-directories.
        follow_symlinks: read symbolic links (files and directories) that resolve inside the
            root; links are never followed out of it.
        on_error: ``"raise"`` on the first bad file, or ``"skip"`` and report it.
    """
    result = ReadResult()
    result.articles = list(iter_directory_articles(path, result, manifest, default_source, suffixes, recursive,
                                                   follow_symlinks, on_error))
    return result


def iter_corpus(
    path: str | Path,
    result: ReadResult,
    manifest: str | Path | None = None,
    default_source: str | None = None,
    on_error: OnError = "raise",
    max_field_chars: int = MAX_FIELD_CHARS,
    follow_symlinks: bool = False,
) -> Iterator[Article]:
    """Stream the articles of a directory or a table, whichever ``path`` is."""
    p = Path(path)
    if p.is_dir():
        return iter_directory_articles(p, result, manifest=manifest, default_source=default_source,
                                       follow_symlinks=follow_symlinks, on_error=on_error)
    if manifest:
        raise InputError("a manifest goes with a directory of article files, not with a table", path=manifest)
    return iter_table_articles(p, result, default_source=default_source, on_error=on_error,
                               max_field_chars=max_field_chars)


def read_corpus(
    path: str | Path,
    manifest: str | Path | None = None,
    default_source: str | None = None,
    on_error: OnError = "raise",
    follow_symlinks: bool = False,
) -> ReadResult:
    """Read a directory or a table, whichever ``path`` is."""
    result = ReadResult()
    result.articles = list(iter_corpus(path, result, manifest, default_source, on_error,
                                       follow_symlinks=follow_symlinks))
    return result
