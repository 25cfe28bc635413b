"""Label Studio and doccano: export, fake the annotation by editing the file, import."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from stance.annotation.exchange import (
    adjudicate,
    annotations_frame,
    labelstudio_config,
    read_annotations,
    read_doccano,
    read_labelstudio,
    with_context,
    write_doccano,
    write_labelstudio,
)
from stance.errors import InputError
from tests.schemes import LABELS


@pytest.fixture
def sentences() -> pd.DataFrame:
    rows = []
    for art, src in (("A1", "Outlet X"), ("A2", "Outlet Y")):
        for i in range(3):
            rows.append({"sentence_id": f"{art}-{i}", "article_id": art, "source": src, "index": i,
                         "text": f"{art} sentence {i}.", "title": f"Title of {art}", "label": None})
    return pd.DataFrame(rows)


def test_context_is_the_neighbouring_sentences(sentences: pd.DataFrame) -> None:
    picked = sentences[sentences["sentence_id"].isin(["A1-0", "A1-1", "A2-2"])]
    ctx = with_context(picked, sentences).set_index("sentence_id")
    assert ctx.loc["A1-0", "prev"] == "" and ctx.loc["A1-0", "next"] == "A1 sentence 1."
    assert ctx.loc["A1-1", "prev"] == "A1 sentence 0." and ctx.loc["A1-1", "next"] == "A1 sentence 2."
    assert ctx.loc["A2-2", "prev"] == "A2 sentence 1." and ctx.loc["A2-2", "next"] == ""


def test_labelstudio_config_is_valid_xml_with_the_three_labels() -> None:
    root = ET.fromstring(labelstudio_config(LABELS))
    choices = root.find(".//Choices")
    assert choices is not None and choices.get("toName") == "text" and choices.get("choice") == "single"
    assert [c.get("value") for c in choices.findall("Choice")] == list(LABELS)
    assert {t.get("name") for t in root.iter("Text")} == {"prev", "text", "next"}


def test_labelstudio_round_trip(tmp_path: Path, sentences: pd.DataFrame) -> None:
    picked = sentences.iloc[[0, 1, 4]].assign(pred="neutral", score=0.4)
    path = write_labelstudio(tmp_path / "tasks.json", picked, sentences, labels=LABELS, prediction_col="pred", score_col="score")
    assert (tmp_path / "tasks.labeling_config.xml").is_file()
    tasks = json.loads(path.read_text())
    assert [t["data"]["sentence_id"] for t in tasks] == ["A1-0", "A1-1", "A2-1"]
    assert set(tasks[0]["data"]) >= {"text", "title", "prev", "next", "sentence_id", "article_id", "source"}
    assert tasks[1]["data"]["prev"] == "A1 sentence 0." and tasks[1]["data"]["title"] == "Title of A1"
    assert tasks[0]["predictions"][0]["result"][0]["value"]["choices"] == ["neutral"]
    # fake the annotation as Label Studio exports it
    answers = {"A1-0": "pro_kabul", "A1-1": "neutral", "A2-1": "pro_islamabad"}

    def result(label: str) -> list:
        return [{"from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]

    for n, t in enumerate(tasks, 1):
        t["id"] = n
        sid = t["data"]["sentence_id"]
        t["annotations"] = [
            {"id": 1, "completed_by": 7, "result": result(answers[sid]), "was_cancelled": False},
            {"id": 2, "completed_by": {"id": 9, "email": "b@example.org"}, "result": result(answers[sid])},
            {"id": 3, "completed_by": 11, "result": result("neutral"), "was_cancelled": True},
        ]
    tasks[2]["annotations"].append({"id": 4, "completed_by": 12, "result": []})  # skipped task
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    recs = read_annotations(export, LABELS)
    got = {(r.sentence_id, r.annotator): r.label for r in recs}
    assert got == {**{(k, "7"): v for k, v in answers.items()}, **{(k, "b@example.org"): v for k, v in answers.items()}}
    r0 = next(r for r in recs if r.sentence_id == "A2-1")
    assert (r0.article_id, r0.source, r0.text) == ("A2", "Outlet Y", "A2 sentence 1.")
    frame = annotations_frame(recs)
    assert len(frame) == 6 and set(frame["annotator"]) == {"7", "b@example.org"}


def test_labelstudio_errors(tmp_path: Path) -> None:
    task = {"data": {"sentence_id": "s1", "text": "x"},
            "annotations": [{"completed_by": 1, "result": [{"type": "choices", "value": {"choices": ["bogus"]}}]}]}
    p = tmp_path / "bad.json"
    p.write_text(json.dumps([task]))
    with pytest.raises(InputError, match="unknown label 'bogus'"):
        read_labelstudio(p, LABELS)
    task["annotations"][0]["result"][0]["value"]["choices"] = ["neutral", "pro_kabul"]
    p.write_text(json.dumps([task]))
    with pytest.raises(InputError, match="several choices"):
        read_labelstudio(p, LABELS)
    p.write_text(json.dumps([{"data": {"text": "x"}, "annotations": []}]))
    with pytest.raises(InputError, match="sentence_id"):
        read_labelstudio(p, LABELS)


def test_labelstudio_json_min(tmp_path: Path) -> None:
    p = tmp_path / "min.json"
    p.write_text(json.dumps([{"sentence_id": "s1", "text": "x", "stance": "pro_kabul", "annotator": 3},
                             {"sentence_id": "s2", "text": "y", "annotator": 3}]))
    recs = read_labelstudio(p, LABELS)
    assert [(r.sentence_id, r.label, r.annotator) for r in recs] == [("s1", "pro_kabul", "3")]


def test_doccano_round_trip(tmp_path: Path, sentences: pd.DataFrame) -> None:
    picked = sentences.iloc[[2, 3]]
    path = write_doccano(tmp_path / "tasks.jsonl", picked, sentences)
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert recs[0]["text"] == "A1 sentence 2." and recs[0]["label"] == []
    assert recs[0]["meta"]["prev"] == "A1 sentence 1." and recs[0]["meta"]["sentence_id"] == "A1-2"
    # fake annotation: one record keeps meta (import format), one is flattened (doccano export)
    recs[0]["label"] = ["pro_islamabad"]
    recs[0]["annotator"] = "alice"
    flat = {"id": 2, "text": recs[1]["text"], **recs[1]["meta"], "label": ["neutral"], "user": "bob"}
    out = tmp_path / "export.jsonl"
    out.write_text(json.dumps(recs[0]) + "\n" + json.dumps(flat) + "\n" + json.dumps({**flat, "label": []}) + "\n")
    got = read_doccano(out, LABELS)
    assert [(r.sentence_id, r.label, r.annotator, r.article_id) for r in got] == [
        ("A1-2", "pro_islamabad", "alice", "A1"), ("A2-0", "neutral", "bob", "A2")]
    # no annotator field: the argument, then the file name
    plain = tmp_path / "carol.jsonl"
    plain.write_text(json.dumps({"text": "t", "meta": {"sentence_id": "s9"}, "label": ["neutral"]}) + "\n")
    assert read_doccano(plain, LABELS)[0].annotator == "carol"
    assert read_doccano(plain, LABELS, annotator="dave")[0].annotator == "dave"


def test_doccano_errors(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps({"text": "t", "sentence_id": "s", "label": ["neutral", "pro_kabul"]}) + "\n")
    with pytest.raises(InputError, match="several labels"):
        read_doccano(p, LABELS)
    p.write_text(json.dumps({"text": "t", "label": ["neutral"]}) + "\n")
    with pytest.raises(InputError, match="sentence_id"):
        read_doccano(p, LABELS)


def test_adjudicate_majority(tmp_path: Path) -> None:
    from stance.data.annotations import Annotation

    recs = [Annotation("s1", "neutral", annotator="a"), Annotation("s1", "neutral", annotator="b"),
            Annotation("s2", "pro_kabul", annotator="a"), Annotation("s2", "neutral", annotator="b"),
            Annotation("s3", "pro_kabul", annotator="a"), Annotation("s3", "pro_kabul", annotator="b"),
            Annotation("s3", "neutral", annotator="c"), Annotation("s4", "neutral", annotator="a")]
    gold, unresolved = adjudicate(recs)
    assert {g["sentence_id"]: (g["label"], g["adjudication"]) for g in gold} == {
        "s1": ("neutral", "agreed"), "s3": ("pro_kabul", "majority")}
    assert sorted(unresolved["sentence_id"]) == ["s2", "s4"]
