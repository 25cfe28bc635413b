"""Labelled and unlabelled sentence tables: one reader, stable ids, splits, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from stance.data.build import build_from_sentences
from stance.data.readers import ReadResult
from stance.data.segment import sentence_id
from stance.data.sentence_table import read_labelled_sentences, read_sentence_table
from stance.data.splits import Splitter
from stance.errors import InputError
from stance.scheme import Scheme
from tests.schemes import PAK

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_ids_are_stable_sentence_ids_and_do_not_depend_on_row_order(tmp_path: Path) -> None:
    rows = "text,label,article_id\nA first.,x,a1\nA second.,y,a1\nA first.,x,a1\nAlone.,y,\n"
    recs = list(read_sentence_table(_csv(tmp_path / "t.csv", rows), labelled=True))
    assert [r["sentence_id"] for r in recs[:3]] == [
        sentence_id("a1", "A first.", 0), sentence_id("a1", "A second.", 0), sentence_id("a1", "A first.", 1)]
    assert [r["index"] for r in recs[:3]] == [0, 1, 2]
    # no article id: the row is its own article
    assert recs[3]["article_id"] == recs[3]["sentence_id"] == sentence_id("", "Alone.", 0)
    lines = rows.splitlines()
    shuffled = _csv(tmp_path / "s.csv", "\n".join([lines[0], lines[4], lines[2], lines[1], lines[3]]) + "\n")
    again = {r["text"] + str(r["index"]): r["sentence_id"] for r in read_sentence_table(shuffled, labelled=True)}
    assert set(again.values()) == {r["sentence_id"] for r in recs}


def test_given_ids_integers_and_field_names(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"sid": 7, "sentence": "Talks resumed.", "stance": "neutral"}) + "\n")
    (rec,) = read_sentence_table(path, labelled=True, fields={"id": "sid", "text": "sentence", "label": "stance"})
    assert (rec["sentence_id"], rec["text"], rec["label"], rec["source"]) == ("7", "Talks resumed.", "neutral", "unknown")


@pytest.mark.parametrize(("row", "field", "match"), [
    ({"text": 12, "label": "a"}, "text", "expected a string, got int"),
    ({"text": ["x"], "label": "a"}, "text", "expected a string, got list"),
    ({"text": "ok", "label": "a", "source": 3}, "source", "expected a string, got int"),
    ({"text": "ok", "label": ["a"]}, "label", "got list"),
    ({"text": "ok", "label": "a", "split": "holdout"}, "split", "unknown split 'holdout'"),
    ({"text": "ok", "label": "a", "id": True}, "id", "got bool"),
])
def test_bad_fields_name_file_line_and_field(tmp_path: Path, row: dict, field: str, match: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"text": "fine", "label": "a"}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(InputError, match=match) as info:
        list(read_sentence_table(path, labelled=True))
    assert (info.value.line, info.value.field) == (2, field)
    res = ReadResult()
    kept = list(read_sentence_table(path, labelled=True, on_error="skip", result=res))
    assert len(kept) == 1 and len(res.skipped) == 1 and res.skipped[0].where == f"{path}:2"


def test_missing_label_and_duplicate_ids(tmp_path: Path) -> None:
    path = _csv(tmp_path / "t.csv", "id,text,label\n1,One.,a\n2,Two.,\n1,Again.,b\n")
    with pytest.raises(InputError, match="required field missing or empty") as info:
        list(read_sentence_table(path, labelled=True))
    assert (info.value.line, info.value.field) == (3, "label")
    res = ReadResult()
    recs = list(read_sentence_table(path, labelled=True, on_error="skip", result=res))
    assert [r["sentence_id"] for r in recs] == ["1"]
    assert sorted(s.reason.split(":")[0] for s in res.skipped) == ["duplicate id", "missing label"]
    # unlabelled (scoring) tables do not need a label
    assert len(list(read_sentence_table(path, labelled=False, on_error="skip"))) == 2


def test_split_column_is_honoured_and_must_not_tear_articles(tmp_path: Path) -> None:
    table = read_labelled_sentences(EXAMPLES / "frames5.jsonl")
    result = build_from_sentences(table.rows, splitter=Splitter(), scheme=None)
    by_article = pd.DataFrame(table.rows).groupby("article_id")["split"].first()
    assert result.sentences.set_index("sentence_id")["split"].to_dict() == {
        r["sentence_id"]: by_article[r["article_id"]] for r in table.rows}
    assert result.labels == ("diplomacy", "economic", "humanitarian", "security", "sovereignty")  # sorted
    torn = [dict(r) for r in table.rows]
    torn[1]["split"] = "test" if torn[0]["split"] != "test" else "train"
    with pytest.raises(InputError, match="several splits"):
        build_from_sentences(torn, splitter=Splitter(), scheme=None)
    partial = [dict(r) for r in table.rows]
    partial[0]["split"] = None
    with pytest.raises(InputError, match="have no split while others do"):
        build_from_sentences(partial, splitter=Splitter(), scheme=None)


def test_labels_outside_the_scheme_name_the_row(tmp_path: Path) -> None:
    path = _csv(tmp_path / "t.csv", "text,label\nOne.,neutral\nTwo.,pro_delhi\n")
    table = read_labelled_sentences(path)
    with pytest.raises(InputError, match=r"t\.csv:3, field 'label': unknown label 'pro_delhi'"):
        build_from_sentences(table.rows, splitter=Splitter(), scheme=PAK)
    single = read_labelled_sentences(_csv(tmp_path / "one.csv", "text,label\nOne.,a\nTwo.,a\n"))
    with pytest.raises(InputError, match="single label"):
        build_from_sentences(single.rows, splitter=Splitter(), scheme=Scheme("inferred"))
    with pytest.raises(InputError, match="the sentence table is empty"):
        build_from_sentences([], splitter=Splitter())
