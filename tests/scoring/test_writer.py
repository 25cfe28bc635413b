"""Streaming, resumable output (stance.scoring.writer, records, to_file)."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest

import stance
from stance.atomic import OutputError
from stance.errors import ConfigError, InputError
from stance.scoring.fast import accelerate
from stance.scoring.records import model_fingerprint, output_format, output_paths, read_records
from stance.scoring.score import score_articles
from stance.scoring.to_file import score_to_file
from stance.scoring.writer import ScoreWriter
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
    assert p["articles"].name == "scores.parquet.articles.parquet"
    assert p["sources"].name == "scores.parquet.sources.csv"
    assert p["parts"].name == "scores.parquet.parts" and p["lock"].name == "scores.parquet.lock"
    # a .jsonl and a .parquet output beside each other share no side file
    q = output_paths(tmp_path / "scores.jsonl")
    assert not {v.name for v in p.values()} & {v.name for v in q.values()}


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
    assert a["model_sha256"] == model_fingerprint(model, "/elsewhere", "none", "article")["model_sha256"]


@pytest.mark.slow
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


# --------------------------------------------------------------------------- one writer per output


class SecondWriterInside:
    """Yields the items; while the first writer holds the output, starts a second run into the
    same output and keeps what it raised."""

    def __init__(self, model, items, out):
        self.model, self.items, self.out, self.raised = model, items, out, None

    def __iter__(self):
        for i, item in enumerate(self.items):
            if i == 4:
                try:
                    _score(self.model, self.items[:2], self.out)
                except Exception as e:  # noqa: BLE001 - the test looks at what was raised
                    self.raised = e
            yield item


def test_a_second_writer_into_the_same_output_is_refused(model, rows, tmp_path):
    out = tmp_path / "scores.jsonl"
    second = SecondWriterInside(model, rows, out)
    _score(model, second, out)
    assert isinstance(second.raised, OutputError), second.raised
    assert "another process" in str(second.raised) and str(os.getpid()) in str(second.raised)
    # the first run's output is whole and its own: every article once, nothing from the second run
    ids = [r["article_id"] for r in _records(out)]
    assert sorted(set(ids)) == sorted(r["id"] for r in rows)
    assert not output_paths(out)["lock"].exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(model, rows, tmp_path):
    out = tmp_path / "scores.jsonl"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = output_paths(out)["lock"]
    lock.write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "since": "earlier"}))
    run = _score(model, rows, out)
    assert any("took over the lock" in n and dead.stdout.strip() in n for n in run.notes), run.notes
    assert len({r["article_id"] for r in _records(out)}) == len(rows)
    assert not lock.exists()


def test_temp_files_of_a_killed_run_are_removed_on_resume(model, rows, tmp_path):
    out = tmp_path / "scores.jsonl"
    with pytest.raises(KeyboardInterrupt):
        _score(model, Interrupt(rows, 7), out)
    junk = [tmp_path / f".{out.name}.1234.tmp", tmp_path / f".{output_paths(out)['sources'].name}.99.tmp"]
    for j in junk:
        j.write_text("half-written")
    run = _score(model, rows, out)
    assert any("removed 2 temporary file(s)" in n for n in run.notes), run.notes
    assert not any(j.exists() for j in junk)


def test_jsonl_and_parquet_outputs_of_one_name_do_not_share_sidecars(model, rows, tmp_path):
    a, b = output_paths(tmp_path / "x.jsonl"), output_paths(tmp_path / "x.parquet")
    assert not {a[k] for k in ("sources", "run", "parts", "lock", "articles")} & {
        b[k] for k in ("sources", "run", "parts", "lock", "articles")}
    _score(model, rows[:4], tmp_path / "x.jsonl")
    _score(model, rows[4:], tmp_path / "x.parquet")
    assert len({r["article_id"] for r in _records(tmp_path / "x.jsonl")}) == 4
    assert len({r["article_id"] for r in _records(tmp_path / "x.parquet")}) == len(rows) - 4
    assert json.loads(a["run"].read_text())["totals"]["items"] == 4


@pytest.mark.slow
def test_a_full_disk_is_a_clear_error_and_the_run_stays_resumable(model, rows, tmp_path, monkeypatch):
    out = tmp_path / "scores.jsonl"
    import stance.atomic as atomic_mod

    real, calls = os.fsync, {"n": 0}

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] == 9:  # a few chunks in
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(atomic_mod.os, "fsync", fsync)
    with pytest.raises(OutputError, match="No space left on device") as e:
        _score(model, rows, out)
    assert str(tmp_path) in str(e.value) and "run the same command again" in str(e.value)
    monkeypatch.setattr(atomic_mod.os, "fsync", real)
    run = _score(model, rows, out)
    assert run.already_done > 0
    assert sorted({r["article_id"] for r in _records(out)}) == sorted(r["id"] for r in rows)
    assert not list(tmp_path.glob(".*.tmp")) and not output_paths(out)["lock"].exists()
