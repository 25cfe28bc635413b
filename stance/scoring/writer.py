"""Streaming, resumable output of scored sentences (JSONL or Parquet, chosen by extension).

Layout for ``--output scores.jsonl`` (the same with ``.parquet``)::

    scores.jsonl            one record per sentence (see stance.scoring.score.record_columns)
    scores.articles.jsonl   one row per article: sentence counts per label, slant
    scores.sources.csv      per-source bias metrics of the predicted labels
    scores.run.json         model fingerprint, counts, warnings, skipped records

While a run is in progress everything goes to ``scores.jsonl.parts/``: every chunk of
articles becomes a completed part file (written to a temporary name, fsynced and renamed),
and ``state.json`` (rewritten atomically after each part) lists the committed parts and the
model fingerprint. A run that is interrupted (Ctrl-C, kill, crash) resumes from there: the
articles of committed parts are skipped. The final files are assembled from the parts at the
end, each written to a temporary sibling and atomically renamed, so no output file is ever
half-written. Rerunning on a completed output with the same model scores only articles that
are not in it yet (and leaves the files alone when there are none); an output written by a
different model is refused unless ``overwrite=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import stance
from stance.data.readers import Skipped
from stance.errors import ConfigError, InputError
from stance.jsonio import to_jsonable
from stance.scheme import Scheme
from stance.scoring.score import (
    UNKNOWN_SOURCE,
    ScoreStats,
    article_summary,
    confusion_of,
    empty_article_rows,
    model_preprocessing,
    record_columns,
    scheme_of,
    score_articles,
    score_sentences,
    source_summary,
)

__all__ = [
    "FORMATS",
    "ScoreRun",
    "ScoreWriter",
    "model_fingerprint",
    "output_format",
    "output_paths",
    "read_records",
    "score_to_file",
]

FORMATS: dict[str, str] = {".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
STATE_VERSION = 1
FINGERPRINT_KEYS = ("kind", "data_fingerprint", "manifest_sha256", "fast", "level", "preprocessing_sha256")
"""Fingerprint fields that must match to resume or extend an output (``path`` is informative)."""


# --------------------------------------------------------------------------- names


def output_format(path: str | Path, fmt: str = "auto") -> str:
    """``jsonl`` or ``parquet``: ``fmt`` if given, else from the file extension."""
    if fmt not in ("auto", "jsonl", "parquet"):
        raise ConfigError(f"--format {fmt!r}: expected auto, jsonl or parquet")
    if fmt != "auto":
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(
            f"cannot tell the output format from {Path(path).name!r}: "
            f"use an extension among {', '.join(FORMATS)} or --format jsonl|parquet"
        )
    return FORMATS[suffix]


def output_paths(output: str | Path, fmt: str = "auto") -> dict[str, Path]:
    """Every file a scoring run writes for ``output``."""
    out = Path(output)
    ext = "jsonl" if output_format(out, fmt) == "jsonl" else "parquet"
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return {
        "records": out,
        "articles": out.with_name(f"{stem}.articles.{ext}"),
        "sources": out.with_name(f"{stem}.sources.csv"),
        "run": out.with_name(f"{stem}.run.json"),
        "parts": out.with_name(f"{out.name}.parts"),
    }


def model_fingerprint(
    model: Any, model_dir: str | Path | None = None, fast: str = "none", level: str = "article"
) -> dict[str, Any]:
    """What identifies the model behind an output: manifest kind, data fingerprint, a hash of
    the whole manifest (params, metadata, training config), the ``--fast`` mode, the level
    and (for information) the model directory."""
    manifest = getattr(model, "manifest_", None)
    if not manifest:
        manifest = {
            "kind": getattr(model, "kind", type(model).__name__),
            "labels": [str(c) for c in model.classes_],
            "params": to_jsonable(model.get_params()) if hasattr(model, "get_params") else None,
            "metadata": to_jsonable(getattr(model, "metadata_", None)),
        }
    return {
        "kind": manifest.get("kind"),
        "data_fingerprint": manifest.get("data_fingerprint"),
        "manifest_sha256": _sha256(manifest),
        "fast": fast,
        "level": level,
        "path": str(Path(model_dir).resolve()) if model_dir is not None else None,
    }


def _sha256(obj: Any) -> str:
    blob = json.dumps(to_jsonable(obj), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _same_model(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in FINGERPRINT_KEYS)


def _describe(fp: Mapping[str, Any]) -> str:
    data = (fp.get("data_fingerprint") or "?")[:12]
    return (f"{fp.get('kind')} model (data {data}, manifest {str(fp.get('manifest_sha256'))[:12]}, "
            f"fast={fp.get('fast')}, level={fp.get('level')}, path {fp.get('path')})")


# --------------------------------------------------------------------------- atomic files


def _fsync_replace(tmp: Path, final: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def _tmp_sibling(final: Path) -> Path:
    """A new empty file beside ``final`` (same folder, so the final rename is atomic)."""
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    os.chmod(name, _FILE_MODE)  # mkstemp creates 0600; outputs get the usual permissions
    return Path(name)


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = _tmp_sibling(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        _fsync_replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _json_value(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if f != f else round(f, 6)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _record_schema(labels: Sequence[str]) -> Any:
    import pyarrow as pa

    fields = [pa.field(c, pa.string()) for c in ("article_id", "sentence_id", "source", "text", "label")]
    fields += [pa.field(f"proba_{c}", pa.float32()) for c in labels]
    fields += [pa.field("attributed", pa.bool_()), pa.field("speaker_side", pa.string())]
    return pa.schema(fields)


def _article_schema(labels: Sequence[str]) -> Any:
    import pyarrow as pa

    fields = [pa.field("article_id", pa.string()), pa.field("source", pa.string()),
              pa.field("n_sentences", pa.int64())]
    fields += [pa.field(f"n_{c}", pa.int64()) for c in labels]
    fields += [pa.field("n_attributed", pa.int64()), pa.field("slant", pa.float64()),
               pa.field("dominant", pa.string())]
    return pa.schema(fields)


def _write_rows(path: Path, rows: list[dict[str, Any]], columns: list[str], fmt: str, schema: Any) -> None:
    """Write ``rows`` (dicts) to ``path`` atomically as JSONL or Parquet."""
    tmp = _tmp_sibling(path)
    try:
        if fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as fh:
                for r in rows:
                    fh.write(json.dumps({c: _json_value(r.get(c)) for c in columns}, ensure_ascii=False))
                    fh.write("\n")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            cols = {c: [r.get(c) for r in rows] for c in columns}
            for c in columns:  # NaN -> null for float columns, numpy scalars -> python
                cols[c] = [None if (isinstance(v, float) and v != v) else _json_value(v) for v in cols[c]]
            table = pa.Table.from_pydict(cols, schema=schema)
            pq.write_table(table, tmp)
        _fsync_replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _frame_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    return df.astype(object).where(df.notna(), None).to_dict(orient="records")


def read_records(path: str | Path, columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """Stream the rows of a JSONL or Parquet file written here (optionally only ``columns``)."""
    path = Path(path)
    if output_format(path) == "jsonl":
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    rec = json.loads(line)
                    yield rec if columns is None else {c: rec.get(c) for c in columns}
    else:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        cols = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
        for batch in pf.iter_batches(columns=cols, batch_size=8192):
            for rec in batch.to_pylist():
                yield rec if columns is None else {c: rec.get(c) for c in columns}


def _concat(sources: list[Path], final: Path, fmt: str, schema: Any) -> None:
    """Concatenate part files into ``final`` (temporary sibling, then atomic rename)."""
    tmp = _tmp_sibling(final)
    try:
        if fmt == "jsonl":
            with open(tmp, "wb") as out:
                for src in sources:
                    with open(src, "rb") as fh:
                        shutil.copyfileobj(fh, out, 1 << 20)
        else:
            import pyarrow.parquet as pq

            with pq.ParquetWriter(tmp, schema) as writer:
                for src in sources:
                    pf = pq.ParquetFile(src)
                    for batch in pf.iter_batches(batch_size=65536):
                        writer.write_batch(batch.cast(schema) if batch.schema != schema else batch)
        _fsync_replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- writer


class ScoreWriter:
    """Chunked, resumable writer of scored records for one output path.

    Use :meth:`open` (returns the ids already written), :meth:`write_chunk` per chunk and
    :meth:`finalize` at the end. ``ids`` are article ids at ``level="article"`` and sentence
    ids at ``level="sentence"``.
    """

    def __init__(
        self,
        output: str | Path,
        *,
        fingerprint: Mapping[str, Any],
        scheme: Scheme,
        level: str = "article",
        fmt: str = "auto",
        overwrite: bool = False,
    ) -> None:
        if level not in ("article", "sentence"):
            raise ConfigError(f"level {level!r}: expected article or sentence")
        self.fmt = output_format(output, fmt)
        self.paths = output_paths(output, self.fmt)
        self.fingerprint = dict(fingerprint)
        self.scheme = scheme
        self.labels = scheme.label_list
        self.level = level
        self.overwrite = overwrite
        self.columns = record_columns(self.labels)
        self.article_columns = list(empty_article_rows([], self.labels).columns)
        self.ext = "jsonl" if self.fmt == "jsonl" else "parquet"
        self.state: dict[str, Any] | None = None
        self._base_ids: list[str] | None = None  # ids of a completed output to be extended
        self.done: set[str] = set()

    # ------------------------------------------------------------------ state
    @property
    def parts_dir(self) -> Path:
        return self.paths["parts"]

    def _state_path(self) -> Path:
        return self.parts_dir / "state.json"

    def _save_state(self) -> None:
        _write_text_atomic(self._state_path(), json.dumps(self.state, indent=1, ensure_ascii=False))

    def _refuse(self, existing: Mapping[str, Any], what: str) -> None:
        raise InputError(
            f"{what} was written by a different {_describe(existing)}; this run uses a "
            f"{_describe(self.fingerprint)}",
            path=self.paths["records"],
            hint="choose another --output, or pass --overwrite to replace it",
        )

    def _remove_outputs(self) -> None:
        if self.parts_dir.exists():
            shutil.rmtree(self.parts_dir)
        for key in ("records", "articles", "sources", "run"):
            self.paths[key].unlink(missing_ok=True)

    def open(self) -> set[str]:
        """Prepare the output; returns the ids already written (skipped by this run)."""
        out = self.paths["records"]
        if out.exists() and out.is_dir():
            raise InputError("the output path is a directory", path=out, hint="give a file name ending in .jsonl or .parquet")
        out.parent.mkdir(parents=True, exist_ok=True)
        if self.overwrite:
            self._remove_outputs()
        parts = self.parts_dir
        state_file = self._state_path()
        if parts.exists() and not state_file.is_file():
            shutil.rmtree(parts)  # created by a run stopped before its first commit: nothing in it
        if parts.exists():
            try:
                state = json.loads(state_file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as e:
                raise InputError(f"unreadable resume state {state_file}: {e}",
                                 hint="pass --overwrite to start again") from e
            if not _same_model(state.get("fingerprint", {}), self.fingerprint):
                self._refuse(state.get("fingerprint", {}), "the interrupted run in " + str(parts))
            if state.get("format") != self.fmt or state.get("labels") != self.labels:
                raise InputError(f"the interrupted run in {parts} wrote {state.get('format')} with labels "
                                 f"{state.get('labels')}", hint="pass --overwrite to start again")
            self.state = state
            self._adopt_base_files()
            if state.get("base"):
                self.done.update(json.loads((parts / "base.ids.json").read_text(encoding="utf-8")))
            for name in self._part_names():
                self.done.update(json.loads((parts / f"{name}.ids.json").read_text(encoding="utf-8")))
            return set(self.done)
        if out.exists():
            run_file = self.paths["run"]
            try:
                run = json.loads(run_file.read_text(encoding="utf-8"))
                existing = run["fingerprint"]
            except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
                raise InputError(
                    f"the output exists but was not written by stance-score (no readable {run_file.name})",
                    path=out, hint="choose another --output, or pass --overwrite to replace it",
                ) from e
            if not _same_model(existing, self.fingerprint):
                self._refuse(existing, "the existing output")
            if run.get("format") not in (None, self.fmt) or run.get("labels") not in (None, self.labels):
                raise InputError("the existing output has another format or label set", path=out,
                                 hint="pass --overwrite to replace it")
            key = "article_id" if self.level == "article" else "sentence_id"
            src = self.paths["articles"] if self.level == "article" else out
            if self.level == "article" and not src.exists():
                raise InputError(f"the existing output lacks {src.name}", path=out,
                                 hint="pass --overwrite to replace it")
            self._base_ids = [r[key] for r in read_records(src, [key])]
            self.done.update(self._base_ids)
        return set(self.done)

    def _part_names(self) -> list[str]:
        return [p["name"] for p in (self.state or {}).get("parts", [])]

    def _new_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "package_version": stance.__version__,
            "fingerprint": self.fingerprint,
            "format": self.fmt,
            "level": self.level,
            "labels": self.labels,
            "base": None,
            "parts": [],
            "totals": {"items": 0, "sentences": 0, "empty_articles": 0,
                       "truncated_articles": 0, "truncated_sentences": 0},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }

    def _begin(self) -> None:
        """Create the parts folder on the first chunk (adopting a completed output to extend)."""
        if self.state is not None:
            return
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        self.state = self._new_state()
        if self._base_ids is not None:
            (self.parts_dir / "base.ids.json").write_text(json.dumps(self._base_ids, ensure_ascii=False))
            run = json.loads(self.paths["run"].read_text(encoding="utf-8"))
            self.state["base"] = {"ids": len(self._base_ids)}
            self.state["totals"] = {**self.state["totals"], **run.get("totals", {})}
        self._save_state()  # commit point: from here on the base files belong to the parts folder
        self._adopt_base_files()

    def _base_files(self) -> list[tuple[Path, Path]]:
        return [(self.paths["records"], self.parts_dir / f"base.{self.ext}"),
                (self.paths["articles"], self.parts_dir / f"base.articles.{self.ext}")]

    def _adopt_base_files(self) -> None:
        if not (self.state or {}).get("base"):
            return
        for final, inside in self._base_files():
            if not inside.exists() and final.exists():
                os.replace(final, inside)
        self.paths["run"].unlink(missing_ok=True)

    def write_chunk(
        self,
        ids: Sequence[str],
        records: Sequence[Mapping[str, Any]],
        empty: Sequence[tuple[str, str]] = (),
        counts: Mapping[str, int] | None = None,
    ) -> None:
        """Commit one chunk: its ``ids`` (every item of the chunk, even those without
        sentences), their sentence ``records``, ``empty`` articles as ``(id, source)`` and
        ``counts`` to add to the running totals."""
        self._begin()
        assert self.state is not None
        name = f"part-{len(self.state['parts']) + 1:06d}"
        rows = [dict(r) for r in records]
        _write_rows(self.parts_dir / f"{name}.{self.ext}", rows, self.columns, self.fmt,
                    _record_schema(self.labels))
        if self.level == "article":
            summary = article_summary(pd.DataFrame(rows, columns=self.columns), self.scheme)
            summary = pd.concat([summary, empty_article_rows(empty, self.labels)], ignore_index=True) \
                if len(empty) else summary
            if len(summary) and len(empty):  # keep input order of the chunk
                pos = {aid: i for i, aid in enumerate(ids)}
                summary = summary.sort_values("article_id", key=lambda s: s.map(pos), kind="stable")
            _write_rows(self.parts_dir / f"{name}.articles.{self.ext}", _frame_rows(summary),
                        self.article_columns, self.fmt, _article_schema(self.labels))
        ids_file = self.parts_dir / f"{name}.ids.json"
        _write_text_atomic(ids_file, json.dumps(list(ids), ensure_ascii=False))
        self.state["parts"].append({"name": name, "items": len(ids), "sentences": len(rows)})
        totals = self.state["totals"]
        totals["items"] = totals.get("items", 0) + len(ids)
        totals["sentences"] = totals.get("sentences", 0) + len(rows)
        for k, v in (counts or {}).items():
            totals[k] = totals.get(k, 0) + int(v)
        self._save_state()  # commit point of this chunk
        self.done.update(ids)

    # ------------------------------------------------------------------ finish
    def _record_files(self) -> list[Path]:
        files = [self.parts_dir / f"base.{self.ext}"] if (self.state or {}).get("base") else []
        return files + [self.parts_dir / f"{n}.{self.ext}" for n in self._part_names()]

    def _article_files(self) -> list[Path]:
        files = [self.parts_dir / f"base.articles.{self.ext}"] if (self.state or {}).get("base") else []
        return files + [self.parts_dir / f"{n}.articles.{self.ext}" for n in self._part_names()]

    def _minimal_frame(self, files: Iterable[Path]) -> pd.DataFrame:
        cols = ["sentence_id", "article_id", "source", "label", "attributed", "speaker_side"]
        data: dict[str, list[Any]] = {c: [] for c in cols}
        for f in files:
            for rec in read_records(f, cols):
                for c in cols:
                    data[c].append(rec[c])
        df = pd.DataFrame(data)
        for c in ("source", "label", "speaker_side"):
            df[c] = df[c].astype("category") if len(df) else df[c]
        return df

    def finalize(
        self,
        *,
        confusion: Any = None,
        run_info: Mapping[str, Any] | None = None,
        source_options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Assemble the final files from the parts (nothing to do when no chunk was written).

        Returns ``written`` (whether files were (re)written), ``paths``, ``totals``,
        ``source_table`` (DataFrame or None) and ``notes``.
        """
        notes: list[str] = []
        if self.state is None:
            done = self.paths["records"].exists()
            if not done:  # an empty input: write empty, valid files
                self._begin()
            else:
                totals = json.loads(self.paths["run"].read_text(encoding="utf-8")).get("totals", {})
                return {"written": False, "paths": self.paths, "totals": totals,
                        "source_table": None, "notes": ["nothing new to score: the output is complete"]}
        assert self.state is not None
        record_files = self._record_files()
        _concat(record_files, self.paths["records"], self.fmt, _record_schema(self.labels))
        df = self._minimal_frame(record_files)
        if self.level == "article":
            _concat(self._article_files(), self.paths["articles"], self.fmt, _article_schema(self.labels))
        else:
            with_article = df[df["article_id"].notna()]
            summary = article_summary(with_article.assign(source=with_article["source"].astype(object),
                                                          label=with_article["label"].astype(object)),
                                      self.scheme)
            _write_rows(self.paths["articles"], _frame_rows(summary), self.article_columns, self.fmt,
                        _article_schema(self.labels))
        table = None
        if len(df):
            try:
                plain = df.astype({c: object for c in ("source", "label", "speaker_side")})
                plain["source"] = plain["source"].fillna(UNKNOWN_SOURCE)
                table = source_summary(plain, self.scheme, confusion=confusion, **dict(source_options or {}))
            except ValueError as e:
                notes.append(f"no per-source table: {e}")
        tmp = _tmp_sibling(self.paths["sources"])
        try:
            (table if table is not None else pd.DataFrame(columns=["source"])).to_csv(tmp, index=False)
            _fsync_replace(tmp, self.paths["sources"])
        finally:
            tmp.unlink(missing_ok=True)
        totals = dict(self.state["totals"])
        totals["sentences"] = int(len(df))
        run = {
            "package_version": stance.__version__,
            "fingerprint": self.fingerprint,
            "format": self.fmt,
            "level": self.level,
            "labels": self.labels,
            "scheme": self.scheme.to_dict(),
            "totals": totals,
            "prevalence_corrected": confusion is not None and table is not None,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **to_jsonable(dict(run_info or {})),
        }
        _write_text_atomic(self.paths["run"], json.dumps(run, indent=2, ensure_ascii=False, default=str))
        shutil.rmtree(self.parts_dir, ignore_errors=True)
        self.state = None
        return {"written": True, "paths": self.paths, "totals": totals, "source_table": table, "notes": notes}


# --------------------------------------------------------------------------- orchestration


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
    max_sentence_chars: int = 2000,
    max_article_chars: int = 200_000,
    run_info: Mapping[str, Any] | None = None,
    source_options: Mapping[str, Any] | None = None,
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

    Items already in the output are skipped; an item id seen twice in the input is skipped
    (and reported) the second time. KeyboardInterrupt or any error leaves the committed
    chunks in place for the next run.
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk size must be >= 1, got {chunk_size}")
    if predictor is None:
        from stance.scoring.fast import accelerate

        predictor = accelerate(model)  # the feature-identical fast TF-IDF; other models as they are
    stats = stats if stats is not None else ScoreStats()
    prep = model_preprocessing(model, preprocessing)
    if not attribution:
        prep.attributor, prep.origin["attribution"] = None, "off (--no-attribution)"
    fingerprint = {**model_fingerprint(model, model_dir, fast, level),
                   "preprocessing_sha256": _sha256(prep.to_dict())}
    writer = ScoreWriter(output, fingerprint=fingerprint, scheme=scheme_of(model), level=level, fmt=fmt,
                         overwrite=overwrite)
    done = writer.open()
    cleaner, segmenter, att = prep.cleaner, prep.segmenter, prep.attributor or False
    run_info = {**dict(run_info or {}), "preprocessing": {**prep.to_dict(), "origin": prep.origin}}
    already = 0
    seen: set[str] = set()

    def fresh() -> Iterator[Any]:
        nonlocal already
        for pos, item in enumerate(items, 1):
            iid = _item_id(item, level)
            if iid is None:
                stats.skipped.append(Skipped(f"item #{pos}", "missing id: the record has no id"))
                continue
            if iid in done:
                already += 1
                continue
            if iid in seen:
                stats.skipped.append(Skipped(f"item #{pos}", f"duplicate id: {iid!r} seen earlier in the input"))
                continue
            seen.add(iid)
            yield item

    def chunks() -> Iterator[list[Any]]:
        buf: list[Any] = []
        for item in fresh():
            buf.append(item)
            if len(buf) >= chunk_size:
                yield buf
                buf = []
        if buf:
            yield buf

    def tick(chunk: list[Any]) -> Iterator[Any]:
        for item in chunk:
            yield item
            if on_item is not None:
                on_item(stats)

    for chunk in chunks():
        before = (stats.empty_articles, stats.truncated_articles, stats.truncated_sentences)
        if level == "article":
            records = list(score_articles(
                predictor, tick(chunk), batch_size=batch_size, cleaner=cleaner, segmenter=segmenter,
                attributor=att, max_sentence_chars=max_sentence_chars,
                max_article_chars=max_article_chars, stats=stats))
        else:
            records = list(score_sentences(predictor, tick(chunk), batch_size=batch_size, attributor=att,
                                           max_sentence_chars=max_sentence_chars, stats=stats))
        ids = [_item_id(it, level) for it in chunk]
        with_sentences = {r["article_id"] for r in records} if level == "article" else set()
        empty = [(i, _item_source(it)) for i, it in zip(ids, chunk) if i not in with_sentences] \
            if level == "article" else []
        after = (stats.empty_articles, stats.truncated_articles, stats.truncated_sentences)
        delta = dict(zip(("empty_articles", "truncated_articles", "truncated_sentences"),
                         (a - b for a, b in zip(after, before))))
        writer.write_chunk(ids, records, empty, delta)
    result = writer.finalize(
        confusion=confusion_of(model),
        run_info={"last_run": {**stats.summary(), "already_in_output": already,
                               "skipped": [s.__dict__ for s in stats.skipped[:1000]]},
                  **dict(run_info or {})},
        source_options=source_options,
    )
    return ScoreRun(paths=result["paths"], stats=stats, already_done=already, totals=result["totals"],
                    written=result["written"], source_table=result["source_table"], notes=result["notes"])
