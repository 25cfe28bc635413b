"""The writer of score outputs: chunked, resumable, one writer per output.

Use :meth:`ScoreWriter.open` (takes the output's lock and returns the ids already written),
:meth:`~ScoreWriter.write_chunk` per chunk and :meth:`~ScoreWriter.finalize` at the end, then
:meth:`~ScoreWriter.close`. While a run is in progress everything goes to
``<output>.parts/``: every chunk becomes a completed part file (written to a temporary name,
fsynced and renamed), and ``state.json`` (rewritten atomically after each part) lists the
committed parts and the model fingerprint. A run that is interrupted (Ctrl-C, SIGTERM, kill,
crash, a full disk) resumes from there; a second writer of the same output is refused while
the first is alive, and a lock left by a dead process is taken over. The final files are
assembled from the parts, each written to a temporary sibling and atomically renamed. Rerunning
on a completed output with the same model scores only items that are not in it yet; an output
written by a different model is refused unless ``overwrite=True``. File names:
:mod:`stance.scoring.records`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

import stance
from stance.atomic import OutputLock, atomic_file, remove_stale_temps, write_text_atomic, writing
from stance.errors import ConfigError, InputError
from stance.jsonio import to_jsonable
from stance.scheme import Scheme
from stance.scoring.records import (
    ARTICLE_META,
    article_schema,
    concat,
    describe_fingerprint,
    frame_rows,
    output_format,
    output_paths,
    read_records,
    record_frames,
    record_schema,
    same_model,
    write_rows,
)
from stance.scoring.score import (
    StreamingSummaries,
    article_summary,
    empty_article_rows,
    record_columns,
)

__all__ = ["STATE_VERSION", "ScoreWriter"]

STATE_VERSION = 2
SUMMARY_COLUMNS = ("sentence_id", "article_id", "source", "label", "attributed", "speaker_side")
"""The record columns the summaries read."""


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
        self.article_columns = [*empty_article_rows([], self.labels).columns, *ARTICLE_META]
        self.ext = "jsonl" if self.fmt == "jsonl" else "parquet"
        self.state: dict[str, Any] | None = None
        self._base_ids: list[str] | None = None  # ids of a completed output to be extended
        self.done: set[str] = set()
        self.lock = OutputLock(self.paths["lock"], f"the output {self.paths['records']}")
        self.stale_temps = 0

    # ------------------------------------------------------------------ state
    @property
    def parts_dir(self) -> Path:
        return self.paths["parts"]

    def _state_path(self) -> Path:
        return self.parts_dir / "state.json"

    def _save_state(self) -> None:
        write_text_atomic(self._state_path(), json.dumps(self.state, indent=1, ensure_ascii=False))

    def _refuse(self, existing: Mapping[str, Any], what: str) -> None:
        raise InputError(
            f"{what} was written by a different {describe_fingerprint(existing)}; this run uses a "
            f"{describe_fingerprint(self.fingerprint)}",
            path=self.paths["records"],
            hint="choose another --output, or pass --overwrite to replace it",
        )

    def _remove_outputs(self) -> None:
        if self.parts_dir.exists():
            shutil.rmtree(self.parts_dir)
        for key in ("records", "articles", "sources", "run"):
            self.paths[key].unlink(missing_ok=True)

    def open(self) -> set[str]:
        """Take the output's lock, clear what a killed run left half-written, and prepare the
        output; returns the ids already written (skipped by this run)."""
        out = self.paths["records"]
        if out.exists() and out.is_dir():
            raise InputError("the output path is a directory", path=out, hint="give a file name ending in .jsonl or .parquet")
        with writing(out.parent):
            out.parent.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()
        try:
            return self._open()
        except BaseException:
            self.lock.release()
            raise

    def close(self) -> None:
        """Release the output's lock (after :meth:`finalize`, or when a run stops early)."""
        self.lock.release()

    def _open(self) -> set[str]:
        """Clear leftovers of killed runs, then resume the interrupted run or extend the output."""
        self._remove_stale_temps()
        if self.overwrite:
            self._remove_outputs()
        parts = self.parts_dir
        if parts.exists() and not self._state_path().is_file():
            shutil.rmtree(parts)  # created by a run stopped before its first commit: nothing in it
        if parts.exists():
            self._resume_parts()
        elif self.paths["records"].exists():
            self._extend_output()
        return set(self.done)

    def _remove_stale_temps(self) -> None:
        out = self.paths["records"]
        self.stale_temps = remove_stale_temps(out.parent, out.name)
        for key in ("articles", "sources", "run"):
            self.stale_temps += remove_stale_temps(out.parent, self.paths[key].name)
        if self.parts_dir.is_dir():
            for f in self.parts_dir.glob(".*.tmp"):
                f.unlink(missing_ok=True)
                self.stale_temps += 1

    def _resume_parts(self) -> None:
        """Adopt the committed parts of an interrupted run (same model, format and labels)."""
        parts, state_file = self.parts_dir, self._state_path()
        try:
            state = json.loads(state_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(f"unreadable resume state {state_file}: {e}",
                             hint="pass --overwrite to start again") from e
        if not same_model(state.get("fingerprint", {}), self.fingerprint):
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

    def _extend_output(self) -> None:
        """Take a finished output of the same model as the base that new records extend."""
        out = self.paths["records"]
        run_file = self.paths["run"]
        try:
            run = json.loads(run_file.read_text(encoding="utf-8"))
            existing = run["fingerprint"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(
                f"the output exists but was not written by stance-score (no readable {run_file.name})",
                path=out, hint="choose another --output, or pass --overwrite to replace it",
            ) from e
        if not same_model(existing, self.fingerprint):
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
        meta: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Commit one chunk: its ``ids`` (every item of the chunk, even those without
        sentences), their sentence ``records``, ``empty`` articles as ``(id, source)``,
        ``counts`` to add to the running totals and ``meta``: per article id its ``title``,
        ``date`` and ``url`` (:data:`~stance.scoring.records.ARTICLE_META`) for the article table."""
        self._begin()
        assert self.state is not None
        name = f"part-{len(self.state['parts']) + 1:06d}"
        rows = [dict(r) for r in records]
        write_rows(self.parts_dir / f"{name}.{self.ext}", rows, self.columns, self.fmt,
                    record_schema(self.labels))
        if self.level == "article":
            summary = article_summary(pd.DataFrame(rows, columns=self.columns), self.scheme)
            summary = pd.concat([summary, empty_article_rows(empty, self.labels)], ignore_index=True) \
                if len(empty) else summary
            if len(summary) and len(empty):  # keep input order of the chunk
                pos = {aid: i for i, aid in enumerate(ids)}
                summary = summary.sort_values("article_id", key=lambda s: s.map(pos), kind="stable")
            for c in ARTICLE_META:
                summary[c] = [(meta or {}).get(a, {}).get(c) for a in summary["article_id"]]
            write_rows(self.parts_dir / f"{name}.articles.{self.ext}", frame_rows(summary),
                        self.article_columns, self.fmt, article_schema(self.labels))
        ids_file = self.parts_dir / f"{name}.ids.json"
        write_text_atomic(ids_file, json.dumps(list(ids), ensure_ascii=False))
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
        concat(record_files, self.paths["records"], self.fmt, record_schema(self.labels))
        if self.level == "article":
            concat(self._article_files(), self.paths["articles"], self.fmt, article_schema(self.labels))
        # one streaming pass over the parts for what is not written per chunk: the per-source
        # table, and at the sentence level the per-article one (articles may span chunks)
        sums = StreamingSummaries(self.scheme, articles=self.level == "sentence")
        for frame in record_frames(record_files, SUMMARY_COLUMNS):
            sums.add(frame)
        if self.level == "sentence":
            write_rows(self.paths["articles"], frame_rows(sums.article_table()), self.article_columns, self.fmt,
                       article_schema(self.labels))
        table = None
        if sums.n_sentences:
            try:
                table = sums.source_table(confusion=confusion, **dict(source_options or {}))
            except ValueError as e:
                notes.append(f"no per-source table: {e}")
        with atomic_file(self.paths["sources"]) as tmp:
            (table if table is not None else pd.DataFrame(columns=["source"])).to_csv(tmp, index=False)
        totals = dict(self.state["totals"])
        totals["sentences"] = int(sums.n_sentences)
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
        write_text_atomic(self.paths["run"], json.dumps(run, indent=2, ensure_ascii=False, default=str))
        shutil.rmtree(self.parts_dir, ignore_errors=True)
        self.state = None
        if self.lock.took_over:
            notes.append(f"took over the lock of a process that had stopped: {self.lock.took_over}")
        if self.stale_temps:
            notes.append(f"removed {self.stale_temps} temporary file(s) a stopped run had left")
        return {"written": True, "paths": self.paths, "totals": totals, "source_table": table, "notes": notes}


