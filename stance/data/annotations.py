"""Gold annotations: reading the versioned JSONL file and joining labels to sentences."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stance.data.readers import OnError, ReadResult, iter_table
from stance.data.schema import Sentence
from stance.errors import InputError
from stance.scheme import Scheme


@dataclass
class Annotation:
    """One gold label keyed by its stable sentence id."""

    sentence_id: str
    label: str
    article_id: str | None = None
    source: str | None = None
    text: str | None = None
    annotator: str | None = None
    origin: str | None = None


def load_annotations(
    paths: str | Path | Sequence[str | Path], scheme: Scheme | None = None, on_error: OnError = "raise"
) -> list[Annotation]:
    """Read gold JSONL/CSV/Parquet files with ``sentence_id`` and ``label`` per record.

    Labels outside ``scheme`` (when it has its labels; any label otherwise) and two different
    labels for one sentence are errors naming file and line.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: dict[str, Annotation] = {}
    for path in paths:
        result = ReadResult()
        for line, rec in iter_table(path, ("sentence_id", "label"), on_error, result):
            label = str(rec["label"]).strip()
            if scheme is not None and scheme.resolved:
                scheme.check_label(label, path=path, line=line)
            ann = Annotation(
                sentence_id=str(rec["sentence_id"]),
                label=label,
                article_id=rec.get("article_id"),
                source=rec.get("source"),
                text=rec.get("text"),
                annotator=rec.get("annotator"),
                origin=f"{path}:{line}",
            )
            prev = out.get(ann.sentence_id)
            if prev is not None and prev.label != ann.label:
                raise InputError(
                    f"sentence {ann.sentence_id} is labelled {prev.label!r} at {prev.origin} "
                    f"and {ann.label!r} here",
                    path=path,
                    line=line,
                    field="label",
                    hint="adjudicate the two labels and keep one record",
                )
            out[ann.sentence_id] = ann
    return list(out.values())


@dataclass
class JoinReport:
    """Labels matched to sentences, plus what could not be matched."""

    labels: dict[str, str] = field(default_factory=dict)
    orphans: list[Annotation] = field(default_factory=list)  # gold whose sentence is gone
    unlabelled: list[str] = field(default_factory=list)  # sentence ids without gold


def join_labels(sentences: Iterable[Sentence], annotations: Iterable[Annotation]) -> JoinReport:
    """Match gold labels to sentences by stable id; report both kinds of leftovers."""
    by_id = {a.sentence_id: a for a in annotations}
    report = JoinReport()
    seen: set[str] = set()
    for s in sentences:
        ann = by_id.get(s.sentence_id)
        if ann is None:
            report.unlabelled.append(s.sentence_id)
        else:
            report.labels[s.sentence_id] = ann.label
            seen.add(s.sentence_id)
    report.orphans = [a for sid, a in by_id.items() if sid not in seen]
    return report


def write_annotations(path: str | Path, records: Iterable[dict]) -> None:
    """Write annotation records as JSONL (UTF-8, one object per line)."""
    Path(path).write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
