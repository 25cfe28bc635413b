"""Distributed scoring on Ray Data (``stance-score --engine ray``).

:func:`score_dataset_ray` reads a Parquet or JSONL dataset (a file or a folder, a local path
or any fsspec URL) with ``ray.data.read_parquet`` / ``ray.data.read_text``, scores it in
``map_batches`` on a pool of actors (:class:`ScoreActor`: each loads the model once, fp32 or
``--fast onnx-int8``, and runs the same :func:`~stance.scoring.score.score_articles` /
:func:`~stance.scoring.score.score_sentences` code as local scoring: cleaning, segmentation,
attribution, model) and streams the scored chunks back to the driver, which commits each one
as a part file of the usual resumable output (:class:`~stance.scoring.writer.ScoreWriter`) and
writes the same summaries (``articles``, ``sources.csv``, ``run.json``) at the end. The
records are those of local scoring (same ids, labels and probabilities), in input order; an
output written by one engine can be resumed or extended by the other (same fingerprint).

Without ``address`` a local Ray runtime is started (or the one already running in this process
is used); ``address="auto"`` or ``"ray://HEAD:10001"`` connects to an existing cluster. Each
actor reserves ``num_cpus`` / ``num_gpus``; an actor that dies is restarted and its batch is
retried (``max_restarts`` / ``max_task_retries``), and the driver keeps one record per id.

Where Ray Data differs from the local readers: rows carry their file, not their line number;
at ``--level sentence`` every row needs an ``id`` (the local reader derives missing ids from
occurrence counts over the whole file, which needs one ordered pass); JSON input must be JSON
lines (``.jsonl``), not a ``.json`` document.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stance.data.readers import Skipped, article_from_record, field_string, field_text
from stance.data.schema import Article
from stance.errors import ConfigError, InputError, ModelError, StanceError
from stance.scoring.records import same_model
from stance.scoring.score import (
    ScoreStats,
    scheme_of,
    score_articles,
    score_sentences,
)
from stance.scoring.to_file import ScoreRun, item_meta, output_fingerprint, resolve_preprocessing

__all__ = ["FAULT_ENV", "InputSpec", "ScoreActor", "connect", "resolve_input", "score_dataset_ray"]

RAY_INSTALL = "pip install 'stance[ray]'  (or: pip install 'ray[data]')"
FAULT_ENV = "STANCE_RAY_FAULT_ONCE"
"""Fault injection for tests of the retry path: when this environment variable names a file
that does not exist, the first actor batch creates it and kills its own process."""
COUNT_KEYS = ("empty_articles", "truncated_articles", "truncated_sentences")
_LOCAL_PROTOCOLS = ("file", "local")
READ_CPUS = 1.0
"""CPUs the read tasks need beside the actor pool (a pool that takes every CPU starves them)."""


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"--engine ray needs Ray Data, which is not installed ({e}); {RAY_INSTALL}") from e
    return ray


# --------------------------------------------------------------------------- input


@dataclass
class InputSpec:
    """Where and how Ray Data reads the input: ``path`` (without the URL protocol for fsspec
    filesystems), ``filesystem`` (a pyarrow filesystem, None = local), ``fmt`` (parquet or
    jsonl) and ``display`` (the input as the user gave it)."""

    path: str
    filesystem: Any
    fmt: str
    display: str


_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
JSONL_EXTENSIONS = ["jsonl", "ndjson"]


def _backend_package(protocol: str, err: ImportError) -> str:
    """The package that provides an fsspec protocol (``s3`` -> ``s3fs``), from fsspec's registry
    of known implementations, or the module that failed to import."""
    from fsspec.registry import known_implementations

    module = str(known_implementations.get(protocol, {}).get("class", "")).split(".")[0]
    if module and module != "fsspec":
        return module
    cause = err.__cause__ or err
    return getattr(cause, "name", None) or module or protocol


def _filesystem(url: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    """(fsspec filesystem, path without protocol) for a URL; a missing backend is an
    :class:`InputError` that names the package to install."""
    import fsspec
    from fsspec.utils import get_protocol

    protocol = get_protocol(url)
    try:
        fsspec.get_filesystem_class(protocol)
    except ImportError as e:
        pkg = _backend_package(protocol, e)
        raise InputError(f"reading {protocol}:// URLs needs the fsspec backend {pkg!r}, which is not installed ({e})",
                         path=url, hint=f"pip install {pkg} (on the driver and on every Ray worker)") from e
    except ValueError as e:
        raise InputError(f"unknown URL protocol {protocol!r}: {e}", path=url,
                         hint="give a local path or an fsspec URL (s3://, gs://, abfs://, hf://, ...)") from e
    try:
        return fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as e:  # e.g. an optional dependency of the backend itself
        pkg = _backend_package(protocol, e)
        raise InputError(f"the {protocol}:// backend cannot start: {e}", path=url, hint=f"pip install {pkg}") from e


def resolve_input(input: str | Path, input_format: str = "auto",
                  storage_options: Mapping[str, Any] | None = None) -> InputSpec:
    """Check the input (path or fsspec URL) and tell its format: Parquet or JSON lines, from
    the extension of the file or of the files in the folder (``input_format`` overrides)."""
    if input_format not in ("auto", "parquet", "jsonl", "json"):
        raise ConfigError(f"input format {input_format!r}: expected auto, parquet or jsonl")
    display = str(input)
    if "://" in display:
        fs, path = _filesystem(display, storage_options)
        from fsspec.utils import get_protocol

        if get_protocol(display) in _LOCAL_PROTOCOLS:
            filesystem = None
        else:
            from pyarrow.fs import FSSpecHandler, PyFileSystem

            filesystem = PyFileSystem(FSSpecHandler(fs))
    else:
        from fsspec.implementations.local import LocalFileSystem

        fs, path, filesystem = LocalFileSystem(), str(Path(display).resolve()), None
    try:
        exists, is_dir = fs.exists(path), fs.isdir(path)
    except Exception as e:  # noqa: BLE001 - any backend error (credentials, network) is the user's to fix
        raise InputError(f"cannot access the input: {type(e).__name__}: {e}", path=display,
                         hint="check the URL and the credentials of its filesystem") from e
    if not exists:
        raise InputError("input does not exist", path=display, hint="check --input")
    fmt = input_format
    if fmt == "json":
        raise ConfigError("input format json: the Ray engine reads JSON lines (jsonl) or parquet")
    if fmt == "auto":
        if is_dir:
            found = Counter(_SUFFIXES[s] for f in fs.find(path) if (s := Path(str(f)).suffix.lower()) in _SUFFIXES)
            if len(found) != 1:
                what = "no Parquet or JSONL files" if not found else "both Parquet and JSONL files"
                raise InputError(f"the input folder holds {what}", path=display,
                                 hint="the Ray engine reads .parquet or .jsonl files (a directory of "
                                      ".txt/.html articles needs --engine local)")
            fmt = next(iter(found))
        else:
            suffix = Path(path).suffix.lower()
            if suffix == ".json":
                raise InputError("the Ray engine reads JSON lines (.jsonl, one object per line), not a .json "
                                 "document", path=display, hint="convert it to JSONL or Parquet, or use --engine local")
            if suffix not in _SUFFIXES:
                raise InputError(f"the Ray engine reads Parquet or JSONL, not {suffix or 'a file without extension'}",
                                 path=display, hint="convert the table to Parquet or JSONL, or use --engine local")
            fmt = _SUFFIXES[suffix]
    return InputSpec(path=path, filesystem=filesystem, fmt=fmt, display=display)


def read_dataset(spec: InputSpec) -> Any:
    """The input as a Ray Dataset with a ``path`` column (the file each row came from).

    JSONL is read as text lines (``read_text``) and parsed by the actors, line by line with the
    local reader's rules: a malformed line is skipped and reported instead of failing the whole
    read, and a column whose type changes between rows (which pyarrow's JSON reader refuses)
    is judged per field."""
    ray = _ray()
    if spec.fmt == "parquet":
        return ray.data.read_parquet(spec.path, filesystem=spec.filesystem, include_paths=True)
    return ray.data.read_text(spec.path, filesystem=spec.filesystem, include_paths=True,
                              file_extensions=JSONL_EXTENSIONS, drop_empty_lines=True)


# --------------------------------------------------------------------------- cluster


def _host_port(address: str) -> tuple[str, int] | None:
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def connect(address: str | None = None, *, num_cpus: int | None = None, timeout: float = 5.0) -> bool:
    """Make sure this process is connected to Ray; returns True when it started a runtime
    (which the caller shuts down).

    ``address=None``: use the runtime already running in this process, else start a local
    one (``num_cpus``: its size, default all cores). ``"auto"``, ``"HOST:PORT"`` (the GCS) or
    ``"ray://HOST:10001"`` (Ray Client): connect to that cluster; an address that does not
    answer within ``timeout`` seconds is a :class:`ConfigError` naming it.
    """
    ray = _ray()
    hint = ("start the cluster (ray start --head) or check the host and port: ray://HEAD:10001 for "
            "Ray Client, HEAD:6379 for the GCS, auto for a cluster started on this machine; leave "
            "--ray-address out to start a local Ray runtime")
    if address not in (None, "auto", "local"):
        hp = _host_port(address)
        if hp is None:
            raise ConfigError(f"--ray-address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
        try:
            socket.create_connection(hp, timeout=timeout).close()
        except OSError as e:
            raise ConfigError(f"cannot reach the Ray cluster at --ray-address {address!r} "
                              f"({hp[0]}:{hp[1]}: {e}) (fix: {hint})") from e
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING"}
    if address is None and num_cpus is not None:
        kwargs["num_cpus"] = max(int(num_cpus), os.cpu_count() or 1)
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as e:
        raise ConfigError(f"cannot connect to the Ray cluster at --ray-address {address!r}: {e} (fix: {hint})") from e
    return True


# --------------------------------------------------------------------------- the actor


def _counts(stats: ScoreStats) -> dict[str, Any]:
    return {**{k: getattr(stats, k) for k in COUNT_KEYS}, "removed": dict(stats.removed_lines)}


def _delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    out = {k: after[k] - before[k] for k in COUNT_KEYS}
    out["removed"] = dict(Counter(after["removed"]) - Counter(before["removed"]))
    return out


def _tracked(items: list[dict[str, Any]], stats: ScoreStats, deltas: list[dict[str, Any]]) -> Iterator[Any]:
    """Yield ``items`` and append to ``deltas`` what each one added to ``stats``.

    The scoring generators update ``stats`` for an item before they ask for the next one, so
    the difference taken when the next item is requested belongs to the previous item; the
    driver needs per-item counts to drop an item whose id an earlier batch already had.
    """
    for item in items:
        before = _counts(stats)
        yield item["value"]
        deltas.append(_delta(_counts(stats), before))


def _fault_injection() -> None:
    flag = os.environ.get(FAULT_ENV)
    if not flag:
        return
    try:
        os.close(os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os._exit(17)  # the first batch of the run dies with its actor (tests of the retry path)


class ScoreActor:
    """The ``map_batches`` callable: loads the model once per actor and scores batches of
    input rows with the local scoring code.

    A batch comes as a ``pyarrow.Table`` (``batch_format="pyarrow"``: integer ids with nulls
    stay integers, which pandas would turn into floats) and goes back as one table of tagged
    rows: ``record`` (a scored sentence), ``item`` (each kept input item with its counts),
    ``skip`` (a bad or duplicate row and why) and a final ``end`` row (time and items already
    in the output). Bad rows are judged by the readers' own field rules
    (:func:`stance.data.readers.field_string` / ``field_text``).
    """

    def __init__(self, model_dir: str, *, fast: str, level: str, batch_size: int, threads: int | None,
                 fallback_margin: float | None, prep_args: Mapping[str, Any], fingerprint: Mapping[str, Any],
                 done: Any, default_source: str | None, on_error: str, jsonl: bool = False) -> None:
        import stance
        from stance.scoring.fast import accelerate

        model = stance.load_model(model_dir)
        if hasattr(model, "progress"):
            model.progress = False
        if threads and getattr(model, "kind", None) == "transformer":
            import torch

            torch.set_num_threads(int(threads))  # the actor's CPUs, not the node's
        self.prep = resolve_preprocessing(model, **dict(prep_args))
        self.labels = [str(c) for c in model.classes_]
        mine = output_fingerprint(model, self.prep, model_dir, fast, level)
        self.error: StanceError | None = None
        if not same_model(mine, fingerprint):
            # reported by the first batch (an error row): raised here, Ray would restart the actor
            # and hand the driver an ActorDiedError that no longer holds this message
            self.error = ModelError(
                f"the Ray worker on {socket.gethostname()} loaded another model or preprocessing from "
                f"{model_dir} than the driver (weights {str(mine.get('model_sha256'))[:12]}, expected "
                f"{str(fingerprint.get('model_sha256'))[:12]}); fix: give every node the same model directory")
            return
        self.predictor = accelerate(model, fast, threads=threads, fallback_margin=fallback_margin)
        self.level, self.batch_size = level, batch_size
        self.default_source, self.on_error, self.jsonl = default_source, on_error, jsonl
        import ray

        self.done = set(ray.get(done) if isinstance(done, ray.ObjectRef) else (done or ()))

    # ------------------------------------------------------------------ rows
    def _fail(self, err: InputError, reason: str, skips: list[tuple[str, str]]) -> None:
        if self.on_error == "raise":
            raise err
        skips.append((err.path or "?", f"{reason}: {err}"))

    def _parse(self, line: str, path: str, skips: list[tuple[str, str]]) -> dict[str, Any] | None:
        """One JSONL line as a record (None: skipped), by the local reader's rules."""
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            err = InputError(f"malformed JSON ({e.msg} at column {e.colno})", path=path,
                             hint="each line must be one JSON object")
        except RecursionError:
            err = InputError("JSON nested too deeply", path=path)
        else:
            if isinstance(rec, dict):
                return rec
            err = InputError(f"expected a JSON object, got {type(rec).__name__}", path=path)
        self._fail(err, "malformed record", skips)
        return None

    def _article(self, rec: Mapping[str, Any], path: str) -> Article:
        required = ("id", "text") + (() if self.default_source else ("source",))
        missing = [f for f in required if rec.get(f) is None or (isinstance(rec.get(f), str) and not rec[f].strip())]
        if missing:
            raise _Missing(missing[0], f"every record needs {', '.join(required)}")
        return article_from_record(rec, path, None, path, default_source=self.default_source)

    def _sentence(self, rec: Mapping[str, Any], path: str) -> dict[str, Any]:
        sid = field_string(rec.get("id", rec.get("sentence_id")), "id", path, None, ids=True)
        text = field_text(rec.get("text"), "text", path, None)
        if text is None:
            raise _Missing("text", "every record needs text")
        if sid is None:
            raise _Missing("id", "the Ray engine needs an id per sentence row (or use --engine local)")
        return {"id": sid, "text": text.strip(),
                "source": field_string(rec.get("source"), "source", path, None) or self.default_source or "unknown",
                "article_id": field_string(rec.get("article_id"), "article_id", path, None, ids=True),
                "title": field_string(rec.get("title"), "title", path, None)}

    def __call__(self, batch: Any) -> Any:
        """Score one batch; a user error (``on_error="raise"``, a model mismatch) comes back as
        one ``error`` row that the driver raises: Ray would wrap a raised one in its own
        exception types and lose it (the driver would see a RayTaskError or ActorDiedError)."""
        if self.error is not None:
            return _tagged_table([_error_row(self.error)], self.labels)
        try:
            return self._score(batch)
        except StanceError as e:
            return _tagged_table([_error_row(e)], self.labels)

    def _score(self, batch: Any) -> Any:
        _fault_injection()
        t0 = time.perf_counter()
        items: list[dict[str, Any]] = []
        skips: list[tuple[str, str]] = []
        seen: dict[str, str] = {}
        already = 0
        for rec in batch.to_pylist():
            path = str(rec.pop("path", None) or "input")
            if self.jsonl:
                rec = self._parse(rec["text"], path, skips)
                if rec is None:
                    continue
            try:
                value: Any = self._article(rec, path) if self.level == "article" else self._sentence(rec, path)
            except _Missing as m:
                self._fail(InputError("required field missing or empty", path=path, field=m.field, hint=m.hint),
                           f"missing {m.field}", skips)
                continue
            except InputError as e:
                self._fail(e, f"bad field {e.field}", skips)
                continue
            iid = value.id if self.level == "article" else value["id"]
            if iid in self.done:
                already += 1
                continue
            if iid in seen:
                msg = f"duplicate id {iid!r} (first at {seen[iid]})"
                if self.on_error == "raise":
                    raise InputError(f"{path}: {msg}", field="id", hint="give every record its own id")
                skips.append((path, f"duplicate id: {msg}"))
                continue
            seen[iid] = path
            source = value.source if self.level == "article" else value["source"]
            items.append({"id": iid, "source": source, "where": path, "value": value})
        stats = ScoreStats()
        deltas: list[dict[str, Any]] = []
        att = self.prep.attributor or False
        if self.level == "article":
            records = list(score_articles(self.predictor, _tracked(items, stats, deltas), batch_size=self.batch_size,
                                          cleaner=self.prep.cleaner, segmenter=self.prep.segmenter,
                                          attributor=att, stats=stats))
        else:
            records = list(score_sentences(self.predictor, _tracked(items, stats, deltas),
                                           batch_size=self.batch_size, attributor=att,
                                           max_sentence_chars=self.prep.segmenter.max_sentence_chars, stats=stats))
        rows = [{**r, "_kind": "record", "_meta": None} for r in records]
        key = "article_id" if self.level == "article" else "sentence_id"
        rows += [{key: it["id"], "source": it["source"], "_kind": "item",
                  "_meta": json.dumps({"where": it["where"], "counts": d, "article": item_meta(it["value"])})}
                 for it, d in zip(items, deltas)]
        rows += [{"_kind": "skip", "_meta": json.dumps({"where": w, "reason": r})} for w, r in skips]
        rows.append({"_kind": "end", "_meta": json.dumps({"seconds": time.perf_counter() - t0, "already": already})})
        return _tagged_table(rows, self.labels)


def _error_row(err: StanceError) -> dict[str, Any]:
    fields = {k: getattr(err, k) for k in ("message", "path", "line", "field", "hint")} \
        if isinstance(err, InputError) else {"message": str(err)}
    return {"_kind": "error", "_meta": json.dumps({"type": type(err).__name__, **fields})}


_ERRORS: dict[str, type[StanceError]] = {c.__name__: c for c in (InputError, ModelError, ConfigError)}


def _raise_error_row(row: Mapping[str, Any]) -> None:
    """Raise the user error an actor reported (see :meth:`ScoreActor.__call__`)."""
    meta = json.loads(row["_meta"])
    cls = _ERRORS.get(meta.pop("type"), StanceError)
    if cls is InputError:
        raise InputError(meta.pop("message"), **meta)
    raise cls(meta["message"])


@dataclass
class _Missing(Exception):
    field: str
    hint: str


def _tagged_schema(labels: list[str]) -> Any:
    import pyarrow as pa

    from stance.scoring.records import record_schema

    fields = [f if not f.name.startswith("proba_") else pa.field(f.name, pa.float64())
              for f in record_schema(labels)]
    return pa.schema([*fields, pa.field("_kind", pa.string()), pa.field("_meta", pa.string())])


def _tagged_table(rows: list[dict[str, Any]], labels: list[str]) -> Any:
    import pyarrow as pa

    schema = _tagged_schema(labels)
    return pa.Table.from_pylist(rows, schema=schema)


# --------------------------------------------------------------------------- the driver


def _check_resources(ray: Any, cpus: float, gpus: float, *, autoscaling: bool) -> None:
    """Refuse a pool that can never be scheduled (the run would wait forever): the actors'
    CPUs plus :data:`READ_CPUS` for the read tasks, and their GPUs. A cluster given by address
    may autoscale, so there it is only a warning."""
    have = ray.cluster_resources()
    short = [f"{need:g} {kind} (the cluster has {have.get(kind, 0):g})"
             for kind, need in (("CPU", cpus), ("GPU", gpus)) if need > have.get(kind, 0) + 1e-9]
    if not short:
        return
    msg = (f"the Ray actor pool needs {' and '.join(short)}: --workers x --worker-cpus / --worker-gpus, plus "
           f"{READ_CPUS:g} CPU for the read tasks")
    if not autoscaling:
        raise ConfigError(msg + " (fix: fewer --workers, smaller --worker-cpus, or a larger Ray runtime)")
    import logging

    logging.getLogger(__name__).warning("%s; waiting for the cluster to scale up", msg)


def _cause(exc: BaseException, module: str) -> BaseException | None:
    """The first exception of ``module`` (or a StanceError for ``"stance"``) in the chain of a
    Ray task failure (``__cause__``, ``__context__`` and Ray's ``cause``)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, StanceError) if module == "stance" else type(e).__module__.startswith(module):
            return e
        stack += [e.__cause__, e.__context__, getattr(e, "cause", None)]
    return None


def _stance_error(exc: BaseException) -> StanceError | None:
    """The user error (bad input, model mismatch) behind a Ray task failure, if any."""
    err = _cause(exc, "stance")
    return err if isinstance(err, StanceError) else None


def _chunks(batches: Iterator[Any]) -> Iterator[list[dict[str, Any]]]:
    """The rows of one actor batch at a time (up to and including its ``end`` row), however
    Ray Data cut the output into blocks."""
    buf: list[dict[str, Any]] = []
    for table in batches:
        for row in table.to_pylist():
            if row["_kind"] == "error":
                _raise_error_row(row)
            buf.append(row)
            if row["_kind"] == "end":
                yield buf
                buf = []
    if buf:
        raise RuntimeError("the Ray output ended inside a batch (no end row)")


def score_dataset_ray(
    model_dir: str | Path,
    input: str | Path,
    output: str | Path,
    *,
    address: str | None = None,
    num_workers: int = 2,
    num_cpus: float = 1.0,
    num_gpus: float = 0.0,
    batch_size: int = 1024,
    chunk_size: int = 100,
    fast: str = "none",
    fallback_margin: float | None = None,
    threads: int | None = None,
    level: str = "article",
    fmt: str = "auto",
    input_format: str = "auto",
    overwrite: bool = False,
    default_source: str | None = None,
    on_error: str = "skip",
    preprocessing: Mapping[str, Any] | None = None,
    attribution: bool = True,
    max_sentence_chars: int | None = None,
    max_article_chars: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    max_restarts: int = 3,
    max_task_retries: int = 3,
    ray_remote_args: Mapping[str, Any] | None = None,
    run_info: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> ScoreRun:
    """Score a Parquet/JSONL dataset on Ray Data into ``output`` (the layout of
    :mod:`stance.scoring.records`); returns the same :class:`~stance.scoring.to_file.ScoreRun`
    as local scoring.

    Args:
        model_dir: the saved model; every Ray node must see it at this path (shared storage
            or the same path in the worker image).
        input: a Parquet/JSONL file or folder, local or an fsspec URL (``s3://``, ``gs://``...;
            ``storage_options`` go to fsspec). Articles need ``id``, ``text`` and ``source``
            (or ``default_source``); sentences (``level="sentence"``) ``id`` and ``text``.
        output: a local ``.jsonl`` / ``.parquet`` file on the driver (resumable like local).
        address: None (local runtime, or the one this process runs), ``"auto"`` or
            ``"ray://HEAD:10001"``.
        num_workers: actors in the pool; ``num_cpus`` / ``num_gpus``: what each reserves.
        batch_size: sentences per model call; ``chunk_size``: input items per actor batch
            (and per committed part file).
        fast: ``none`` or ``onnx-int8`` / ``bf16`` (transformers), ``fallback_margin`` as in
            :func:`stance.scoring.fast.accelerate`; ``threads``: torch/onnxruntime threads
            per actor (default ``num_cpus``).
        max_restarts, max_task_retries: how often a dead actor is restarted and its batch
            retried; ``ray_remote_args``: more actor options (``runtime_env``, ``resources``...).
        Other arguments as in :func:`stance.scoring.to_file.score_to_file`.
    """
    import stance
    from stance.scoring.score import confusion_of
    from stance.scoring.writer import ScoreWriter

    if level not in ("article", "sentence"):
        raise ConfigError(f"level {level!r}: expected article or sentence")
    for name, value in (("num_workers", num_workers), ("batch_size", batch_size), ("chunk_size", chunk_size)):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    if num_cpus < 0 or num_gpus < 0:
        raise ConfigError("num_cpus and num_gpus per actor must be >= 0")
    ray = _ray()
    spec = resolve_input(input, input_format, storage_options)
    model_dir = str(Path(model_dir).resolve())
    model = stance.load_model(model_dir)  # labels, scheme, fingerprint, confusion matrix
    prep_args = {"preprocessing": dict(preprocessing) if preprocessing else None, "attribution": attribution,
                 "max_sentence_chars": max_sentence_chars, "max_article_chars": max_article_chars}
    prep = resolve_preprocessing(model, **prep_args)
    fingerprint = output_fingerprint(model, prep, model_dir, fast, level)
    if fast != "none":
        from stance.scoring.fast import FAST_MODES

        if fast not in FAST_MODES:
            raise ConfigError(f"--fast {fast!r}: expected one of {', '.join(FAST_MODES)}")
        if getattr(model, "kind", None) == "tfidf":
            raise ConfigError(f"--fast {fast} applies to transformer models; this is a TF-IDF model")
    need = num_workers * num_cpus + READ_CPUS
    started = connect(address, num_cpus=math.ceil(need))  # an unreachable cluster fails before the output is touched
    try:
        _check_resources(ray, need, num_workers * num_gpus, autoscaling=address is not None)
        writer = ScoreWriter(output, fingerprint=fingerprint, scheme=scheme_of(model), level=level, fmt=fmt,
                             overwrite=overwrite)
        done = writer.open()
        try:
            stats = ScoreStats()
            t0 = time.perf_counter()
            already = _run(ray, spec, writer, done, stats, model_dir=model_dir, level=level, fast=fast,
                           batch_size=batch_size, chunk_size=chunk_size, threads=threads or max(1, int(num_cpus)),
                           fallback_margin=fallback_margin, prep_args=prep_args, fingerprint=fingerprint,
                           default_source=default_source, on_error=on_error, num_workers=num_workers,
                           num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=max_restarts,
                           max_task_retries=max_task_retries, ray_remote_args=ray_remote_args, progress=progress)
            wall = time.perf_counter() - t0
            info = {"engine": {"name": "ray", "ray_version": ray.__version__, "address": address,
                               "workers": num_workers, "num_cpus": num_cpus, "num_gpus": num_gpus,
                               "wall_seconds": round(wall, 3)},
                    "input": spec.display,
                    "preprocessing": {**prep.to_dict(), "origin": prep.origin}, **dict(run_info or {})}
            result = writer.finalize(
                confusion=confusion_of(model),
                run_info={"last_run": {**stats.summary(), "already_in_output": already,
                                       "skipped": [s.__dict__ for s in stats.skipped[:1000]]}, **info},
            )
        finally:
            writer.close()
    finally:
        if started:
            ray.shutdown()
    return ScoreRun(paths=result["paths"], stats=stats, already_done=already, totals=result["totals"],
                    written=result["written"], source_table=result["source_table"], notes=result["notes"])


def _run(ray: Any, spec: InputSpec, writer: Any, done: set[str], stats: ScoreStats, *, model_dir: str,
         level: str, fast: str, batch_size: int, chunk_size: int, threads: int | None,
         fallback_margin: float | None, prep_args: Mapping[str, Any], fingerprint: Mapping[str, Any],
         default_source: str | None, on_error: str, num_workers: int, num_cpus: float, num_gpus: float,
         max_restarts: int, max_task_retries: int, ray_remote_args: Mapping[str, Any] | None,
         progress: bool) -> int:
    """Run the Ray pipeline and commit its chunks; returns the items already in the output."""
    ctx = ray.data.DataContext.get_current()
    saved = (ctx.execution_options.preserve_order, ctx.enable_progress_bars)
    ctx.execution_options.preserve_order = True  # records in input order, as local scoring writes them
    ctx.enable_progress_bars = progress
    try:
        with warnings.catch_warnings():
            # Ray 2.5x deprecates **ray_remote_args but names no parameter for actor restarts yet
            warnings.simplefilter("ignore", category=DeprecationWarning)
            actor_kwargs = {
                "model_dir": model_dir, "fast": fast, "level": level, "batch_size": batch_size,
                "threads": threads, "fallback_margin": fallback_margin, "prep_args": dict(prep_args),
                "fingerprint": dict(fingerprint), "done": ray.put(sorted(done)) if done else None,
                "default_source": default_source, "on_error": on_error, "jsonl": spec.fmt == "jsonl",
            }
            remote_args = {"max_restarts": max_restarts, "max_task_retries": max_task_retries,
                           **dict(ray_remote_args or {})}
            ds = _pipeline(ray, spec, num_workers=num_workers, chunk_size=chunk_size, num_cpus=num_cpus,
                           num_gpus=num_gpus, remote_args=remote_args, actor_kwargs=actor_kwargs)
        return _commit(ds.iter_batches(batch_size=None, batch_format="pyarrow"), writer, stats, level)
    except Exception as e:
        err = _stance_error(e)
        if err is not None:
            raise err from None
        if _cause(e, "pyarrow") is not None:  # the read: not valid Parquet
            raise InputError(f"the Ray pipeline failed: {type(e).__name__}: {str(e)[:2000]}", path=spec.display,
                             hint="check that the input is valid Parquet/JSONL with the expected columns "
                                  "(--engine local reads and reports bad lines one by one)") from e
        raise
    finally:
        ctx.execution_options.preserve_order, ctx.enable_progress_bars = saved


def _pipeline(ray: Any, spec: InputSpec, *, num_workers: int, chunk_size: int, num_cpus: float,
              num_gpus: float, remote_args: Mapping[str, Any], actor_kwargs: Mapping[str, Any]) -> Any:
    """read -> ``map_batches(ScoreActor)`` on a fixed pool of ``num_workers`` actors."""
    # blocks of at most one chunk (streaming, order kept): a single-file input read as one block
    # would otherwise go to one actor
    ds = read_dataset(spec).repartition(target_num_rows_per_block=chunk_size)
    return ds.map_batches(
        ScoreActor,
        batch_size=chunk_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=num_workers),
        fn_constructor_kwargs=dict(actor_kwargs),
        num_cpus=num_cpus,
        num_gpus=num_gpus or None,
        **dict(remote_args),
    )


def _commit(batches: Iterator[Any], writer: Any, stats: ScoreStats, level: str) -> int:
    """Commit each actor batch as one chunk of ``writer``; an item whose id an earlier batch
    had is skipped as a duplicate (the local reader's rule), with its records."""
    seen: dict[str, str] = {}
    already = 0
    key = "article_id" if level == "article" else "sentence_id"
    for rows in _chunks(batches):
        records, ids, empty, dup = [], [], [], set()
        article_meta: dict[str, Any] = {}
        delta = dict.fromkeys(COUNT_KEYS, 0)
        with_sentences = {r["article_id"] for r in rows if r["_kind"] == "record"} if level == "article" else set()
        for row in rows:
            kind = row["_kind"]
            if kind == "record":
                continue
            meta = json.loads(row["_meta"])
            if kind == "skip":
                stats.skipped.append(Skipped(meta["where"], meta["reason"]))
            elif kind == "end":
                stats.seconds += float(meta["seconds"])
                already += int(meta["already"])
            else:
                iid, where = row[key], meta["where"]
                if iid in seen:
                    stats.skipped.append(Skipped(where, f"duplicate id: duplicate id {iid!r} (first at {seen[iid]})"))
                    dup.add(iid)
                    continue
                seen[iid] = where
                ids.append(iid)
                article_meta[iid] = meta.get("article") or {}
                counts = meta["counts"]
                for k in COUNT_KEYS:
                    delta[k] += int(counts[k])
                stats.removed_lines.update(counts["removed"])
                stats.articles += level == "article"
                if level == "article" and iid not in with_sentences:
                    empty.append((iid, row["source"]))
        for row in rows:
            if row["_kind"] == "record" and row[key] not in dup:
                records.append({k: v for k, v in row.items() if not k.startswith("_")})
        stats.sentences += len(records)
        for k in COUNT_KEYS:
            setattr(stats, k, getattr(stats, k) + delta[k])
        writer.write_chunk(ids, records, empty, delta, meta=article_meta if level == "article" else None)
    return already

