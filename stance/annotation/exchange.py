"""Annotation round trip: export sentences with context to Label Studio / doccano, read the
annotated files back as annotation records.

Export: every task carries the sentence (``text``), the article's ``title``, the previous and
next sentence of the same article (``prev``, ``next``; the contract's unit is the sentence,
read with its neighbours), and ``sentence_id``, ``article_id``, ``source``.

Import: one :class:`~stance.data.annotations.Annotation` per (sentence, annotator), with
``sentence_id``, ``label``, ``annotator``, ``article_id``, ``source``, ``text`` and ``origin``
(file and task). Unknown labels and tasks with several choices are errors naming the file
and task; skipped (cancelled) annotations and unannotated tasks are not records.

Formats:

* Label Studio: tasks JSON (a list of ``{"data": {...}}``), a labelling config from
  :func:`labelstudio_config`, and its JSON export (``annotations[].result[].value.choices``;
  ``completed_by`` -> annotator id, an int or a user object with ``email``). The JSON-MIN
  export (flat records with the choice under the control's name) is read too.
* doccano (text classification): JSONL with ``text`` and ``meta`` on export; on import
  ``label`` (a list), the annotator from ``annotator``/``user`` (or the file name), the
  context from ``meta`` or top-level fields (doccano flattens meta on export).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pandas as pd

from stance.data.annotations import Annotation
from stance.errors import InputError

__all__ = [
    "CONTEXT_FIELDS",
    "adjudicate",
    "annotations_frame",
    "doccano_records",
    "labelstudio_config",
    "labelstudio_tasks",
    "read_annotations",
    "read_doccano",
    "read_labelstudio",
    "with_context",
    "write_doccano",
    "write_labelstudio",
]

CONTEXT_FIELDS = ("sentence_id", "article_id", "source", "title", "prev", "next")
FROM_NAME = "stance"


def _clean(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v):
        return None
    if hasattr(v, "item"):  # numpy scalar
        return v.item()
    return v


def with_context(selected: pd.DataFrame, sentences: pd.DataFrame | None = None) -> pd.DataFrame:
    """``selected`` plus ``prev`` and ``next``: the neighbouring sentences of the same article.

    Neighbours are looked up in ``sentences`` (default: ``selected`` itself), ordered by
    ``index`` within ``article_id``; the first/last sentence gets an empty string.
    """
    pool = selected if sentences is None else sentences
    out = selected.copy()
    if "article_id" not in pool.columns or "sentence_id" not in pool.columns:
        out["prev"], out["next"] = "", ""
        return out
    order = ["article_id", "index"] if "index" in pool.columns else ["article_id"]
    p = pool.sort_values(order, kind="stable")
    g = p.groupby("article_id", sort=False)["text"]
    prev = dict(zip(p["sentence_id"], g.shift(1).fillna(""), strict=True))
    nxt = dict(zip(p["sentence_id"], g.shift(-1).fillna(""), strict=True))
    out["prev"] = out["sentence_id"].map(prev).fillna("")
    out["next"] = out["sentence_id"].map(nxt).fillna("")
    return out


def _task_data(row: Mapping[str, Any], extra: Sequence[str]) -> dict[str, Any]:
    data = {"text": _clean(row.get("text")) or ""}
    for f in CONTEXT_FIELDS:
        data[f] = _clean(row.get(f))
        if f in ("title", "prev", "next") and data[f] is None:
            data[f] = ""
    for f in extra:
        if f in row:
            data[f] = _clean(row[f])
    return data


def labelstudio_config(labels: Sequence[str], from_name: str = FROM_NAME) -> str:
    """Label Studio labelling config (XML): title and neighbours shown, one choice of ``labels``."""
    choices = "\n".join(f"    <Choice value={quoteattr(lab)}/>" for lab in labels)
    return (
        "<View>\n"
        '  <Header value="$title"/>\n'
        '  <Text name="prev" value="$prev" granularity="word"/>\n'
        '  <View style="background:#fff7d6; padding:6px; font-weight:bold">\n'
        '    <Text name="text" value="$text"/>\n'
        "  </View>\n"
        '  <Text name="next" value="$next" granularity="word"/>\n'
        f'  <Choices name={quoteattr(from_name)} toName="text" choice="single" showInLine="true" required="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def labelstudio_tasks(
    selected: pd.DataFrame,
    sentences: pd.DataFrame | None = None,
    extra_fields: Sequence[str] = (),
    prediction_col: str | None = None,
    score_col: str | None = None,
    model_version: str = "stance",
    from_name: str = FROM_NAME,
) -> list[dict[str, Any]]:
    """Label Studio tasks (``[{"data": {...}}]``) with context; optional model pre-annotations.

    Args:
        selected: sentences to annotate (``sentence_id``, ``text``, ``article_id``, ...).
        sentences: the full table the context is taken from (default: ``selected``).
        extra_fields: more columns copied into ``data`` (e.g. ``uncertainty``).
        prediction_col: a column with a predicted label, exported as a pre-annotation.
        score_col: a column with the prediction's score.
        model_version: name shown for the pre-annotation.
        from_name: name of the ``Choices`` control (see :func:`labelstudio_config`).
    """
    df = with_context(selected, sentences)
    tasks = []
    for row in df.to_dict("records"):
        task: dict[str, Any] = {"data": _task_data(row, extra_fields)}
        if prediction_col and _clean(row.get(prediction_col)):
            pred = {
                "model_version": model_version,
                "result": [{"from_name": from_name, "to_name": "text", "type": "choices",
                            "value": {"choices": [row[prediction_col]]}}],
            }
            if score_col and _clean(row.get(score_col)) is not None:
                pred["score"] = float(row[score_col])
            task["predictions"] = [pred]
        tasks.append(task)
    return tasks


def write_labelstudio(path: str | Path, selected: pd.DataFrame, sentences: pd.DataFrame | None = None,
                      *, labels: Sequence[str], **kwargs: Any) -> Path:
    """Write tasks JSON to ``path`` and the labelling config beside it (``<stem>.labeling_config.xml``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(labelstudio_tasks(selected, sentences, **kwargs), ensure_ascii=False, indent=1),
                    encoding="utf-8")
    path.with_name(path.stem + ".labeling_config.xml").write_text(labelstudio_config(labels), encoding="utf-8")
    return path


def doccano_records(selected: pd.DataFrame, sentences: pd.DataFrame | None = None,
                    extra_fields: Sequence[str] = ()) -> list[dict[str, Any]]:
    """doccano text-classification import records: ``{"text", "meta": {context}, "label": []}``."""
    df = with_context(selected, sentences)
    out = []
    for row in df.to_dict("records"):
        data = _task_data(row, extra_fields)
        text = data.pop("text")
        out.append({"text": text, "meta": data, "label": []})
    return out


def write_doccano(path: str | Path, selected: pd.DataFrame, sentences: pd.DataFrame | None = None,
                  **kwargs: Any) -> Path:
    """Write doccano JSONL (one record per line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recs = doccano_records(selected, sentences, **kwargs)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- import


def _annotator_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        for key in ("email", "username", "id"):
            if value.get(key) not in (None, ""):
                return str(value[key])
        return None
    return str(value)


def _check_label(label: Any, labels: Sequence[str], path: Path, where: str) -> str:
    if label not in labels:
        raise InputError(f"{where}: unknown label {label!r}", path=path, field="label",
                         hint=f"use one of {', '.join(labels)} (the labelling config's choices)")
    return str(label)


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise InputError("file does not exist", path=path, hint="give the exported annotation file")
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg}", path=path, line=e.lineno) from e


def read_labelstudio(path: str | Path, labels: Sequence[str],
                     from_name: str | None = None) -> list[Annotation]:
    """Annotations from a Label Studio JSON (or JSON-MIN) export.

    Args:
        path: the export file.
        labels: valid labels.
        from_name: only read results of this ``Choices`` control (default: any ``choices``).
    """
    path = Path(path)
    tasks = _load_json(path)
    if isinstance(tasks, Mapping):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise InputError("expected a JSON list of tasks", path=path)
    out: list[Annotation] = []
    for n, task in enumerate(tasks, 1):
        if not isinstance(task, Mapping):
            raise InputError(f"task {n} is not a JSON object", path=path)
        if "data" not in task and "annotations" not in task:  # JSON-MIN
            out.extend(_read_min(task, n, path, labels, from_name or FROM_NAME))
            continue
        data = task.get("data") or {}
        sid = _clean(data.get("sentence_id"))
        if sid is None:
            raise InputError(f"task {n} has no data.sentence_id", path=path, field="sentence_id",
                             hint="import tasks exported by stance (they carry the sentence id)")
        for k, ann in enumerate(task.get("annotations") or [], 1):
            if ann.get("was_cancelled"):
                continue
            choices = [
                c
                for r in ann.get("result") or []
                if r.get("type", "choices") == "choices" and (from_name is None or r.get("from_name") == from_name)
                for c in (r.get("value") or {}).get("choices") or []
            ]
            if not choices:
                continue
            where = f"task {n} (sentence {sid}), annotation {k}"
            if len(set(choices)) > 1:
                raise InputError(f"{where}: several choices {choices}", path=path, field="choices",
                                 hint="the stance task is single-choice")
            out.append(Annotation(
                sentence_id=str(sid),
                label=_check_label(choices[0], labels, path, where),
                article_id=_clean(data.get("article_id")),
                source=_clean(data.get("source")),
                text=_clean(data.get("text")),
                annotator=_annotator_id(ann.get("completed_by")),
                origin=f"{path}:task {n}",
            ))
    return out


def _read_min(rec: Mapping[str, Any], n: int, path: Path, labels: Sequence[str], from_name: str) -> list[Annotation]:
    sid = _clean(rec.get("sentence_id"))
    value = rec.get(from_name)
    if sid is None or value in (None, "", []):
        return []
    if isinstance(value, Mapping):
        value = value.get("choices")
    if isinstance(value, list):
        if len(value) != 1:
            raise InputError(f"record {n}: several choices {value}", path=path, field=from_name)
        value = value[0]
    where = f"record {n} (sentence {sid})"
    return [Annotation(str(sid), _check_label(value, labels, path, where), _clean(rec.get("article_id")),
                       _clean(rec.get("source")), _clean(rec.get("text")), _annotator_id(rec.get("annotator")),
                       f"{path}:record {n}")]


def _field(rec: Mapping[str, Any], key: str) -> Any:
    """``meta[key]`` if present (doccano import format), else the top-level field (export)."""
    meta = rec.get("meta")
    if isinstance(meta, Mapping) and _clean(meta.get(key)) is not None:
        return _clean(meta[key])
    return _clean(rec.get(key))


def read_doccano(path: str | Path, labels: Sequence[str], annotator: str | None = None,
                 annotator_field: str = "annotator") -> list[Annotation]:
    """Annotations from a doccano text-classification JSONL export.

    The annotator is the record's ``annotator_field`` (or ``user``), else ``annotator``, else the
    file name without suffix (doccano exports one file per user). Records with an empty
    ``label`` list are not annotated and are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file does not exist", path=path, hint="give the exported annotation file")
    out: list[Annotation] = []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").split("\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"malformed JSON ({e.msg})", path=path, line=n) from e
        if not isinstance(rec, Mapping):
            raise InputError("expected a JSON object", path=path, line=n)
        sid = _field(rec, "sentence_id")
        if sid is None:
            raise InputError("record has no sentence_id (in meta or top level)", path=path, line=n,
                             field="sentence_id", hint="import records exported by stance")
        items = _doccano_labels(rec)
        if not items:
            continue
        default = _annotator_id(rec.get(annotator_field) or rec.get("user")) or annotator or path.stem
        by_user: dict[str, list[Any]] = {}
        for lab, user in items:
            by_user.setdefault(_annotator_id(user) or default, []).append(lab)
        for user, labs in by_user.items():
            if len(set(labs)) > 1:
                raise InputError(f"several labels {labs} for one sentence", path=path, line=n, field="label",
                                 hint="the stance task is single-label")
            out.append(Annotation(str(sid), _check_label(labs[0], labels, path, f"line {n}"),
                                  _field(rec, "article_id"), _field(rec, "source"), _clean(rec.get("text")), user,
                                  f"{path}:{n}"))
    return out


def _doccano_labels(rec: Mapping[str, Any]) -> list[tuple[Any, Any]]:
    """(label, user) pairs of a doccano record: ``label``/``labels`` (a list or one string), or
    the old format's ``annotations`` list of ``{label, user}``."""
    raw = rec.get("label", rec.get("labels"))
    if isinstance(raw, list):
        return [(lab, None) for lab in raw]
    if isinstance(raw, str):
        return [(raw, None)]
    if isinstance(rec.get("annotations"), list):
        return [(a.get("label"), a.get("user")) for a in rec["annotations"]]
    return []


def read_annotations(path: str | Path, labels: Sequence[str], **kwargs: Any) -> list[Annotation]:
    """Read a Label Studio export (``.json``) or a doccano/stance JSONL (``.jsonl``)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return read_labelstudio(path, labels, **kwargs)
    return read_doccano(path, labels, **kwargs)


def annotations_frame(records: Iterable[Annotation]) -> pd.DataFrame:
    """Annotation records as a DataFrame (one row per sentence and annotator)."""
    cols = ["sentence_id", "label", "annotator", "article_id", "source", "text", "origin"]
    return pd.DataFrame([{c: getattr(r, c) for c in cols} for r in records], columns=cols)


def adjudicate(records: Iterable[Annotation], min_votes: int = 2) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Gold records by majority over annotators, and the sentences left for a human to decide.

    A sentence becomes gold when at least ``min_votes`` annotators labelled it and one label
    has a strict majority. Returns (gold records for ``write_annotations``, unresolved table).
    """
    df = annotations_frame(records)
    gold, open_ = [], []
    for sid, g in df.groupby("sentence_id", sort=False):
        counts = g["label"].value_counts()
        top = counts.index[0]
        resolved = len(g) >= min_votes and (len(counts) == 1 or counts.iloc[0] > counts.iloc[1])
        ann = ",".join(sorted(map(str, g["annotator"].dropna())))
        if resolved:
            first = g.iloc[0]
            gold.append({"sentence_id": sid, "label": top, "article_id": first["article_id"],
                         "source": first["source"], "text": first["text"],
                         "annotator": f"adjudicated({ann})",
                         "adjudication": "agreed" if len(counts) == 1 else "majority"})
        else:
            open_.append({"sentence_id": sid, "labels": dict(counts), "annotators": ann,
                          "text": g.iloc[0]["text"]})
    return gold, pd.DataFrame(open_, columns=["sentence_id", "labels", "annotators", "text"])
