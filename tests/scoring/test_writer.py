"""Streaming, resumable output (stance.scoring.writer)."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

import stance
from stance.errors import ConfigError, InputError
from stance.scoring.fast import accelerate
from stance.scoring.score import score_articles
from stance.scoring.writer import (
    ScoreWriter,
    model_fingerprint,
    output_format,
    output_paths,
    read_records,
    score_to_file,
)
from tests.scoring import article_rows, tfidf_model_dir


@pytest.fixture(scope="session")
def model():
    return stance.load_model(tfidf_model_dir())


@pytest.fixture(scope="session")
def other_model():
    return stance.load_model(tfidf_model_dir(C=0.5))


@pytest.fixture(scope="session")
def rows():
    return article_rows(12)


class Interrupt:
    """Yields the items, then raises KeyboardInterrupt when item ``k + 1`` is requested."""

    def __init__(self, items, k):
        self.items, self.k = items, k

    def __iter__(self):
        for i, item in enumerate(self.items):
            if i == self.k:
                raise KeyboardInterrupt
            yield item


def _records(path):
    return list(read_records(path))


def _score(model, items, out, **kw):
    kw.setdefault("chunk_size", 3)
    return score_to_file(model, items, out, predictor=accelerate(model), model_dir=tfidf_model_dir(), **kw)


def test_output_format_and_paths(tmp_path):
    assert output_format("x.jsonl") == "jsonl" and output_format("x.parquet") == "parquet"
    assert output_format("x.out", "parquet") == "parquet"
    with pytest.raises(ConfigError):
        output_format("x.csv")
    p = output_paths(tmp_path / "scores.parquet")
    assert p["articles"].name == "scores.articles.parquet"
    assert p["sources"].name == "scores.sources.csv"
    assert p["parts"].name == "scores.parquet.parts"


@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
def test_end_to_end_matches_the_pipeline(model, rows, tmp_path, ext):
    out = tmp_path / f"scores.{ext}"
    run = _score(model, rows, out)
    expected = list(score_articles(model, rows))
    got = _records(out)
    assert [r["sentence_id"] for r in got] == [r["sentence_id"] for r in expected]
    assert [r["label"] for r in got] == [r["label"] for r in expected]
    for g, e in zip(got, expected):
        for c in model.classes_:
            assert g[f"proba_{c}"] == pytest.approx(e[f"proba_{c}"], abs=1e-6)
        assert (g["attributed"], g["speaker_side"], g["source"]) == (e["attributed"], e["speaker_side"], e["source"])
    arts = _records(run.paths["articles"])
    assert [a["article_id"] for a in arts] == [r["id"] for r in rows]
    assert sum(a["n_sentences"] for a in arts) == len(expected)
    sources = pd.read_csv(run.paths["sources"])
    assert sorted(sources["source"]) == sorted({r["source"] for r in rows})
    assert "adj_slant" in sources  # the manifest has a validation confusion matrix
    info = json.loads(run.paths["run"].read_text())
    assert info["fingerprint"]["kind"] == "tfidf" and info["totals"]["sentences"] == len(expected)
    assert not run.paths["parts"].exists()
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary files left behind
    assert run.written and run.stats.sentences == len(expected)


@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
def test_interrupted_run_resumes_to_exactly_the_uninterrupted_output(model, rows, tmp_path, ext):
    ref = tmp_path / "ref" / f"s.{ext}"
    _score(model, rows, ref)
    out = tmp_path / "run" / f"s.{ext}"
    with pytest.raises(KeyboardInterrupt):
        _score(model, Interrupt(rows, 7), out)
    paths = output_paths(out)
    assert not out.exists()  # never a half-written output
    state = json.loads((paths["parts"] / "state.json").read_text())
    assert [p["items"] for p in state["parts"]] == [3, 3]  # two chunks committed, the third lost
    resumed = _score(model, rows, out)
    assert resumed.already_done == 6
    assert resumed.stats.articles == len(rows) - 6
    if ext == "jsonl":
        assert out.read_bytes() == ref.read_bytes()
        assert paths["articles"].read_bytes() == output_paths(ref)["articles"].read_bytes()
    else:
        assert pq.read_table(out).equals(pq.read_table(ref))
        assert pq.read_table(paths["articles"]).equals(pq.read_table(output_paths(ref)["articles"]))
    assert paths["sources"].read_text() == output_paths(ref)["sources"].read_text()
    assert not paths["parts"].exists()


def test_interrupt_on_the_first_chunk_leaves_no_parts(model, rows, tmp_path):
    out = tmp_path / "s.jsonl"
    with pytest.raises(KeyboardInterrupt):
        _score(model, Interrupt(rows, 1), out)
    assert not out.exists()
    run = _score(model, rows, out)
    assert run.already_done == 0 and len(_records(out)) == len(list(score_articles(model, rows)))


def test_other_model_is_refused_unless_overwrite(model, other_model, rows, tmp_path):
    out = tmp_path / "s.jsonl"
    with pytest.raises(KeyboardInterrupt):
        _score(model, Interrupt(rows, 4), out)
    with pytest.raises(InputError, match="different"):  # an interrupted run of another model
        _score(other_model, rows, out)
    _score(model, rows, out)
    with pytest.raises(InputError, match="different"):  # a completed output of another model
        _score(other_model, rows, out)
    run = _score(other_model, rows, out, overwrite=True)
    info = json.loads(run.paths["run"].read_text())
    expected = model_fingerprint(other_model, tfidf_model_dir(), "none", "article")
    assert {k: info["fingerprint"][k] for k in expected} == expected
    assert info["fingerprint"]["preprocessing_sha256"]  # how the articles were prepared is part of it
    assert run.already_done == 0


def test_fingerprint_distinguishes_fast_mode_and_level(model):
    a = model_fingerprint(model, None, "none", "article")
    assert a["data_fingerprint"] == "test-corpus-v1"
    assert a != model_fingerprint(model, None, "onnx-int8", "article")
    assert a["manifest_sha256"] == model_fingerprint(model, "/elsewhere", "none", "article")["manifest_sha256"]


def test_completed_output_is_extended_with_new_articles_only(model, rows, tmp_path):
    out = tmp_path / "s.jsonl"
    _score(model, rows[:5], out)
    mtime = out.stat().st_mtime_ns
    again = _score(model, rows[:5], out)  # nothing new: files untouched
    assert not again.written and again.already_done == 5 and out.stat().st_mtime_ns == mtime
    more = _score(model, rows, out)
    assert more.already_done == 5 and more.stats.articles == len(rows) - 5
    ref = tmp_path / "ref.jsonl"
    _score(model, rows, ref)
    assert out.read_bytes() == ref.read_bytes()
    assert json.loads(output_paths(out)["run"].read_text())["totals"]["items"] == len(rows)


def test_foreign_file_at_the_output_path_is_refused(model, rows, tmp_path):
    out = tmp_path / "s.jsonl"
    out.write_text('{"something": "else"}\n')
    with pytest.raises(InputError, match="not written by stance-score"):
        _score(model, rows, out)
    _score(model, rows, out, overwrite=True)
    assert _records(out)[0]["article_id"] == rows[0]["id"]


def test_duplicate_and_missing_ids_are_skipped_and_reported(model, rows, tmp_path):
    items = [rows[0], dict(rows[0]), {"text": "no id", "source": "S"}, rows[1]]
    run = _score(model, items, tmp_path / "s.jsonl")
    reasons = sorted(s.reason.split(":")[0] for s in run.stats.skipped)
    assert reasons == ["duplicate id", "missing id"]
    assert {a["article_id"] for a in _records(run.paths["articles"])} == {rows[0]["id"], rows[1]["id"]}


def test_articles_without_sentences_are_listed_in_order(model, rows, tmp_path):
    items = [rows[0], {"id": "empty", "source": "Dawn", "text": "Share this article"}, rows[1]]
    run = _score(model, items, tmp_path / "s.parquet", chunk_size=10)
    arts = _records(run.paths["articles"])
    assert [a["article_id"] for a in arts] == [rows[0]["id"], "empty", rows[1]["id"]]
    assert arts[1]["n_sentences"] == 0 and arts[1]["slant"] is None
    assert run.totals["empty_articles"] == 1


def test_empty_input_writes_valid_empty_files(model, tmp_path):
    run = _score(model, [], tmp_path / "s.parquet")
    assert pq.read_table(run.paths["records"]).num_rows == 0
    assert run.paths["sources"].exists() and run.paths["run"].exists()


def test_sentence_level_output(model, tmp_path):
    recs = [{"id": f"s{i}", "text": t, "source": "Wire", "article_id": f"a{i // 2}"}
            for i, t in enumerate(["Trade fell sharply during the month.",
                                   "Afghan forces bravely repelled the Pakistani incursion.",
                                   "Pakistan's forces gave a crushing response to aggression.",
                                   "Qatar and Turkey offered to mediate."])]
    run = _score(model, recs, tmp_path / "s.jsonl", level="sentence", chunk_size=3)
    got = _records(run.paths["records"])
    assert [r["sentence_id"] for r in got] == ["s0", "s1", "s2", "s3"]
    arts = _records(run.paths["articles"])
    assert [(a["article_id"], a["n_sentences"]) for a in arts] == [("a0", 2), ("a1", 2)]


def test_writer_rejects_a_directory_as_output(model, tmp_path):
    w = ScoreWriter(tmp_path / "d.jsonl", fingerprint={}, scheme=model.scheme_)
    (tmp_path / "d.jsonl").mkdir()
    with pytest.raises(InputError, match="directory"):
        w.open()
