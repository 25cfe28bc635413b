"""Score outputs on disk: names, formats, schemas, and reading and writing their rows.

Layout for ``--output scores.jsonl`` (the same with ``.parquet``: every side file is named
after the full output name, so a ``.jsonl`` and a ``.parquet`` output side by side never share
one)::

    scores.jsonl                  one record per sentence (stance.scoring.score.record_columns)
    scores.jsonl.articles.jsonl   one row per article: sentence counts per label, slant, and
                                  the article's title, date and url when the input had them
    scores.jsonl.sources.csv      per-source metrics of the predicted labels
    scores.jsonl.run.json         model fingerprint, scheme, preprocessing, counts, skips
    scores.jsonl.parts/           while a run is in progress (resume state)
    scores.jsonl.lock             while a process writes the output
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stance.atomic import atomic_file
from stance.errors import ConfigError, InputError
from stance.jsonio import to_jsonable

FORMATS: dict[str, str] = {".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
ARTICLE_META = ("title", "date", "url")
"""Article fields copied from the input into the article table (None where the input had none)."""
FINGERPRINT_KEYS = ("kind", "data_fingerprint", "model_sha256", "fast", "level", "preprocessing_sha256")
"""Fingerprint fields that must match to resume or extend an output (``path`` is informative)."""


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
    return {
        "records": out,
        "articles": out.with_name(f"{out.name}.articles.{ext}"),
        "sources": out.with_name(f"{out.name}.sources.csv"),
        "run": out.with_name(f"{out.name}.run.json"),
        "parts": out.with_name(f"{out.name}.parts"),
        "lock": out.with_name(f"{out.name}.lock"),
    }


def sha256_of(obj: Any) -> str:
    """sha256 of an object's canonical JSON."""
    blob = json.dumps(to_jsonable(obj), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def model_fingerprint(
    model: Any, model_dir: str | Path | None = None, fast: str = "none", level: str = "article"
) -> dict[str, Any]:
    """What identifies the model behind an output: its kind, data fingerprint and content
    fingerprint (weights, labels, scheme, preprocessing; not timings or paths, so a retrained
    byte-identical model is the same model), the ``--fast`` mode, the level and (for
    information) the model directory."""
    manifest = getattr(model, "manifest_", None) or {}
    content = manifest.get("fingerprint")
    if not content:  # a model that was fitted here, or saved before fingerprints existed
        content = sha256_of({"kind": getattr(model, "kind", type(model).__name__),
                             "labels": [str(c) for c in model.classes_],
                             "params": to_jsonable(model.get_params()) if hasattr(model, "get_params") else None,
                             "weights": manifest.get("metadata", {}).get("n_features")})
    return {
        "kind": manifest.get("kind", getattr(model, "kind", type(model).__name__)),
        "data_fingerprint": manifest.get("data_fingerprint"),
        "model_sha256": content,
        "fast": fast,
        "level": level,
        "path": str(Path(model_dir).resolve()) if model_dir is not None else None,
    }


def same_model(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two output fingerprints name the same model, mode and preparation."""
    return all(a.get(k) == b.get(k) for k in FINGERPRINT_KEYS)


def describe_fingerprint(fp: Mapping[str, Any]) -> str:
    data = (fp.get("data_fingerprint") or "?")[:12]
    return (f"{fp.get('kind')} model (data {data}, weights {str(fp.get('model_sha256'))[:12]}, "
            f"fast={fp.get('fast')}, level={fp.get('level')}, path {fp.get('path')})")


# --------------------------------------------------------------------------- schemas


def record_schema(labels: Sequence[str]) -> Any:
    import pyarrow as pa

    fields = [pa.field(c, pa.string()) for c in ("article_id", "sentence_id", "source", "text", "label")]
    fields += [pa.field(f"proba_{c}", pa.float32()) for c in labels]
    fields += [pa.field("attributed", pa.bool_()), pa.field("speaker_side", pa.string())]
    return pa.schema(fields)


def article_schema(labels: Sequence[str]) -> Any:
    import pyarrow as pa

    fields = [pa.field("article_id", pa.string()), pa.field("source", pa.string()),
              pa.field("n_sentences", pa.int64())]
    fields += [pa.field(f"n_{c}", pa.int64()) for c in labels]
    fields += [pa.field("n_attributed", pa.int64()), pa.field("slant", pa.float64()),
               pa.field("dominant", pa.string())]
    fields += [pa.field(c, pa.string()) for c in ARTICLE_META]
    return pa.schema(fields)


# --------------------------------------------------------------------------- rows


def _json_value(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if f != f else round(f, 6)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def write_rows(path: Path, rows: list[dict[str, Any]], columns: list[str], fmt: str, schema: Any) -> None:
    """Write ``rows`` (dicts) to ``path`` atomically as JSONL or Parquet."""
    with atomic_file(path) as tmp:
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
            pq.write_table(pa.Table.from_pydict(cols, schema=schema), tmp)


def frame_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame's rows as dicts with None for missing values."""
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


def record_frames(paths: Sequence[Path], columns: Sequence[str], batch_rows: int = 16384) -> Iterator[pd.DataFrame]:
    """Stream the rows of output files written here (all JSONL or all Parquet), in file and
    row order, as DataFrames of at most ``batch_rows`` rows holding only ``columns``.

    Parquet is read file by file and batch by batch with column projection
    (``pyarrow.parquet.ParquetFile.iter_batches``) rather than through one
    ``pyarrow.dataset`` over all parts: the dataset scanner keeps state for every fragment it
    has read, so its memory grew with the number of part files (measured: +25 MB over 200
    parts, +82 MB over 1,000), where file by file stays flat. JSONL is read line by line
    (:func:`read_records`) into column lists: pyarrow's JSON reader needs every line to fit
    in one read block, and a record can be as long as the longest sentence allowed.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        return
    cols = list(columns)
    if output_format(paths[0]) == "parquet":
        import pyarrow.parquet as pq

        for path in paths:
            pf = pq.ParquetFile(path)
            present = [c for c in cols if c in pf.schema_arrow.names]
            for batch in pf.iter_batches(columns=present, batch_size=batch_rows):
                if batch.num_rows:
                    yield batch.to_pandas().reindex(columns=cols)
        return
    data: dict[str, list[Any]] = {c: [] for c in cols}
    for path in paths:
        for rec in read_records(path, cols):
            for c in cols:
                data[c].append(rec[c])
            if len(data[cols[0]]) >= batch_rows:
                yield pd.DataFrame(data, columns=cols)
                data = {c: [] for c in cols}
    if data[cols[0]]:
        yield pd.DataFrame(data, columns=cols)


def concat(sources: list[Path], final: Path, fmt: str, schema: Any) -> None:
    """Concatenate part files into ``final`` (temporary sibling, then atomic rename)."""
    with atomic_file(final) as tmp:
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
                        writer.write_batch(batch if batch.schema == schema else _conform(batch, schema))


def _conform(batch: Any, schema: Any) -> Any:
    """``batch`` with ``schema``'s columns: cast, and null columns for fields it lacks (a part or
    base file written by an older version without the article metadata columns)."""
    import pyarrow as pa

    names = batch.schema.names
    cols = [batch.column(names.index(f.name)).cast(f.type) if f.name in names else pa.nulls(batch.num_rows, f.type)
            for f in schema]
    return pa.RecordBatch.from_arrays(cols, schema=schema)


# --------------------------------------------------------------------------- model summary

_VALIDATION_KEYS = ("n", "n_articles", "macro_f1", "macro_f1_ci", "accuracy", "ece")


def model_summary(model: Any, model_dir: str | Path | None = None) -> dict[str, Any]:
    """What ``run.json`` records about the model so that a corpus report can say how far to
    trust it: the training data's name and label source, the calibration temperature, the
    validation confusion matrix and, when the model directory sits in a ``stance-train`` run
    directory, the validation and test figures of its ``metrics.json``."""
    manifest = getattr(model, "manifest_", None) or {}
    meta = manifest.get("metadata") or getattr(model, "metadata_", None) or {}
    data_cfg = ((manifest.get("config") or {}).get("data") or {})
    out: dict[str, Any] = {
        "kind": manifest.get("kind", getattr(model, "kind", type(model).__name__)),
        "data_name": data_cfg.get("name"),
        "label_source": data_cfg.get("labels"),
        "temperature": meta.get("temperature"),
        "validation_confusion_matrix": manifest.get("validation_confusion_matrix"),
        "metrics": {},
    }
    if model_dir is not None:
        metrics_file = Path(model_dir).resolve().parent / "metrics.json"
        try:
            metrics = json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.is_file() else {}
        except (OSError, json.JSONDecodeError):
            metrics = {}
        for split in ("validation", "test"):
            m = metrics.get(split) if isinstance(metrics, dict) else None
            if isinstance(m, dict):
                out["metrics"][split] = {k: m.get(k) for k in _VALIDATION_KEYS}
        if out["metrics"]:
            out["metrics_file"] = str(metrics_file)
    return to_jsonable(out)


# --------------------------------------------------------------------------- reading an output


@dataclass
class ScoreOutput:
    """A finished score output read back: sentence records, article table, ``run.json``."""

    path: Path
    records: pd.DataFrame
    articles: pd.DataFrame
    run: dict[str, Any]
    scheme: Any  # stance.scheme.Scheme

    @property
    def name(self) -> str:
        return self.path.name


def read_output(output: str | Path) -> ScoreOutput:
    """Read what ``stance-score --output OUTPUT`` wrote (records, article table, ``run.json``).

    Raises :class:`~stance.errors.InputError` naming the file for a missing, unfinished or
    malformed output.
    """
    out = Path(output)
    paths = output_paths(out)
    run, scheme = _read_run(out, paths)
    records = _read_scored(out, scheme.label_list)
    if paths["articles"].is_file():
        articles = pd.DataFrame(list(read_records(paths["articles"])))
    else:
        articles = pd.DataFrame(columns=["article_id", "source"])
    for c in ARTICLE_META:
        if c not in articles.columns:
            articles[c] = None
    return ScoreOutput(path=out, records=records, articles=articles, run=run, scheme=scheme)


def _read_run(out: Path, paths: Mapping[str, Path]) -> tuple[dict[str, Any], Any]:
    """``run.json`` of a finished output and the scheme it records."""
    from stance.scheme import Scheme

    hint = "give the path that stance-score --output was given (the records file, e.g. scores.jsonl)"
    if out.is_dir():
        raise InputError("is a directory, not a score output", path=out, hint=hint)
    if paths["parts"].exists():
        raise InputError("the scoring run into this output has not finished (its .parts folder exists)",
                         path=out, hint="run the same stance-score command again to complete it")
    if not out.is_file():
        raise InputError("no such score output", path=out, hint=hint)
    if not paths["run"].is_file():
        raise InputError(f"no {paths['run'].name} beside the records: not written by stance-score",
                         path=out, hint=hint)
    try:
        run = json.loads(paths["run"].read_text(encoding="utf-8"))
        scheme = Scheme.from_dict(run["scheme"]) if run.get("scheme") else Scheme.from_labels(run["labels"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise InputError(f"unreadable run file: {e}", path=paths["run"], hint="score again with --overwrite") from e
    return run, scheme


def _read_scored(out: Path, labels: Sequence[str]) -> pd.DataFrame:
    """The sentence records, checked against the scheme's labels, with defaults filled in."""
    try:
        records = pd.DataFrame(list(read_records(out)), columns=None)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"unreadable records: {e}", path=out, hint="score again with --overwrite") from e
    if records.empty:
        raise InputError("the output holds no scored sentences", path=out,
                         hint="check the stance-score input (every article may have been skipped)")
    missing = [c for c in record_columns_for(labels) if c not in records.columns]
    if missing:
        raise InputError(f"records lack column(s) {missing}", path=out, field=missing[0],
                         hint="score again with this version of stance-score")
    bad = sorted(set(records["label"].dropna().astype(str)) - set(labels))
    if bad or records["label"].isna().any():
        raise InputError(f"labels outside the scheme {list(labels)}: {bad or ['(missing)']}", path=out,
                         field="label")
    for c in ("article_id", "source"):
        records[c] = records[c].astype(object)
    records["article_id"] = records["article_id"].where(records["article_id"].notna(), records["sentence_id"])
    records["source"] = records["source"].where(records["source"].notna(), "unknown")
    records["attributed"] = records["attributed"].fillna(False).astype(bool)
    return records


def record_columns_for(labels: Sequence[str]) -> list[str]:
    """The record columns of :func:`stance.scoring.score.record_columns` (imported lazily:
    ``score`` imports the data pipeline, which reading an output does not need)."""
    from stance.scoring.score import record_columns

    return record_columns(labels)
