"""The Ray Data actor of :mod:`stance.scoring.distributed`: :class:`ScoreActor` loads the model
once per actor and scores batches of input rows with the local scoring code; its output is one
table of tagged rows (records, items with their counts, skips, an end row, or one error row)."""

from __future__ import annotations

import json
import os
import socket
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stance.data.readers import article_from_record, field_string, field_text
from stance.data.schema import Article
from stance.errors import ConfigError, InputError, ModelError, StanceError
from stance.scoring.records import same_model
from stance.scoring.score import ScoreStats, score_articles, score_sentences
from stance.scoring.to_file import COUNT_KEYS, item_meta, output_fingerprint, resolve_preprocessing

FAULT_ENV = "STANCE_RAY_FAULT_ONCE"
"""Fault injection for tests of the retry path: when this environment variable names a file
that does not exist, the first actor batch creates it and kills its own process."""


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


def raise_error_row(row: Mapping[str, Any]) -> None:
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
