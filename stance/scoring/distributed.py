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

This module is the driver; the input and the cluster connection are
:mod:`stance.scoring.ray_input`'s, the actor :mod:`stance.scoring.ray_actor`'s.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from stance.data.readers import Skipped
from stance.errors import ConfigError, InputError, StanceError
from stance.scoring.ray_actor import FAULT_ENV, ScoreActor, raise_error_row
from stance.scoring.ray_input import InputSpec, connect, ray_module, read_dataset, resolve_input
from stance.scoring.score import ScoreStats, scheme_of
from stance.scoring.to_file import COUNT_KEYS, ScoreRun, output_fingerprint, resolve_preprocessing

__all__ = ["FAULT_ENV", "InputSpec", "ScoreActor", "connect", "resolve_input", "score_dataset_ray"]

READ_CPUS = 1.0
"""CPUs the read tasks need beside the actor pool (a pool that takes every CPU starves them)."""


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
                raise_error_row(row)
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
    ray = ray_module()
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

