"""Gold annotations: loading and joining to sentences (stance.data.annotations)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stance.data.annotations import Annotation, join_labels, load_annotations, write_annotations
from stance.data.schema import Sentence
from stance.errors import InputError
from stance.resources import sample_dir
from stance.scheme import Scheme
from tests.schemes import LABELS, PAK


def write_gold(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def sent(sid: str, article: str = "a1") -> Sentence:
    return Sentence(sentence_id=sid, article_id=article, source="s", index=0, text=f"text {sid}")


def test_load_jsonl_gold(tmp_path):
    path = write_gold(
        tmp_path / "gold.jsonl",
        [
            {"sentence_id": "s1", "label": "pro_kabul", "article_id": "a1", "source": "Tolo",
             "text": "Kabul said so.", "annotator": "ann1"},
            {"sentence_id": "s2", "label": " neutral "},
        ],
    )
    anns = load_annotations(path)
    assert anns == [
        Annotation("s1", "pro_kabul", "a1", "Tolo", "Kabul said so.", "ann1", f"{path}:1"),
        Annotation("s2", "neutral", origin=f"{path}:2"),
    ]


def test_load_bundled_gold_files():
    paths = sorted((sample_dir() / "annotations").glob("gold_*.jsonl"))
    assert paths
    anns = load_annotations(paths, scheme=PAK)
    n_lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in paths)
    assert len(anns) == n_lines
    assert {a.label for a in anns} <= set(LABELS)


def test_unknown_label_names_file_line_and_field(tmp_path):
    path = write_gold(
        tmp_path / "gold.jsonl",
        [{"sentence_id": "s1", "label": "neutral"}, {"sentence_id": "s2", "label": "pro_delhi"}],
    )
    with pytest.raises(InputError, match=r"gold\.jsonl:2, field 'label': unknown label 'pro_delhi'") as info:
        load_annotations(path, scheme=PAK)
    assert (info.value.line, info.value.field) == (2, "label")
    assert "pro_islamabad, pro_kabul, neutral" in str(info.value)


def test_custom_label_set(tmp_path):
    path = write_gold(tmp_path / "gold.jsonl", [{"sentence_id": "s1", "label": "framing"}])
    assert load_annotations(path, scheme=Scheme("frames", ("framing", "other")))[0].label == "framing"
    with pytest.raises(InputError, match="unknown label 'framing'"):
        load_annotations(path, scheme=PAK)
    # a scheme that takes its labels from the data accepts any label
    assert load_annotations(path, scheme=Scheme("inferred"))[0].label == "framing"


def test_missing_sentence_id_names_field(tmp_path):
    path = write_gold(tmp_path / "gold.jsonl", [{"label": "neutral"}])
    with pytest.raises(InputError, match=r"gold\.jsonl:1, field 'sentence_id'"):
        load_annotations(path)


def test_conflicting_duplicate_labels_across_files(tmp_path):
    first = write_gold(tmp_path / "a.jsonl", [{"sentence_id": "s1", "label": "neutral"}])
    second = write_gold(
        tmp_path / "b.jsonl",
        [{"sentence_id": "s2", "label": "neutral"}, {"sentence_id": "s1", "label": "pro_kabul"}],
    )
    with pytest.raises(InputError, match=r"b\.jsonl:2, field 'label': sentence s1 is labelled 'neutral'") as info:
        load_annotations([first, second])
    assert f"{first}:1" in str(info.value)  # the first record is located too


def test_conflicting_duplicate_labels_in_one_file(tmp_path):
    path = write_gold(
        tmp_path / "g.jsonl",
        [{"sentence_id": "s1", "label": "pro_islamabad"}, {"sentence_id": "s1", "label": "pro_kabul"}],
    )
    with pytest.raises(InputError, match=r"g\.jsonl:2"):
        load_annotations(path)


def test_identical_duplicate_labels_are_merged(tmp_path):
    path = write_gold(
        tmp_path / "g.jsonl",
        [{"sentence_id": "s1", "label": "neutral"}, {"sentence_id": "s1", "label": "neutral"}],
    )
    assert [(a.sentence_id, a.label) for a in load_annotations(path)] == [("s1", "neutral")]


def test_join_reports_orphans_and_unlabelled():
    sentences = [sent("s1"), sent("s2"), sent("s3")]
    anns = [
        Annotation("s1", "pro_kabul"),
        Annotation("s3", "neutral"),
        Annotation("gone", "pro_islamabad", article_id="a1", text="An edited sentence."),
    ]
    report = join_labels(sentences, anns)
    assert report.labels == {"s1": "pro_kabul", "s3": "neutral"}
    assert report.unlabelled == ["s2"]
    assert [o.sentence_id for o in report.orphans] == ["gone"]


def test_join_with_no_gold():
    report = join_labels([sent("s1")], [])
    assert report.labels == {} and report.orphans == [] and report.unlabelled == ["s1"]


def test_write_then_load_round_trip(tmp_path):
    records = [
        {"sentence_id": "s1", "label": "pro_kabul", "text": "“Erdoğan” said so.\u2028Then left."},
        {"sentence_id": "s2", "label": "neutral"},
    ]
    path = tmp_path / "out.jsonl"
    write_annotations(path, records)
    anns = load_annotations(path)
    assert [(a.sentence_id, a.label, a.text) for a in anns] == [
        ("s1", "pro_kabul", "“Erdoğan” said so.\u2028Then left."),
        ("s2", "neutral", None),
    ]
