"""``stance-score`` end to end: formats, levels, bad input, model and output checks."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from stance.cli.score import main
from stance.data.segment import sentence_id
from stance.scoring.records import output_paths, read_records
from tests.scoring import article_rows, tfidf_model_dir, write_article_dir, write_jsonl


@pytest.fixture(scope="session")
def model_dir():
    return str(tfidf_model_dir())


@pytest.fixture(scope="session")
def other_model_dir():
    return str(tfidf_model_dir(C=0.5))


@pytest.fixture(scope="session")
def rows():
    return article_rows(9)


def score(capsys, *args):
    """Run the CLI; returns (exit code, stdout)."""
    code = 0
    try:
        main(["--no-progress", *map(str, args)])
    except SystemExit as e:
        code = e.code or 0
    return code, capsys.readouterr().out


def _run_info(out):
    return json.loads(output_paths(out)["run"].read_text())


@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
@pytest.mark.slow
def test_directory_end_to_end(capsys, tmp_path, model_dir, rows, ext):
    corpus = write_article_dir(tmp_path / "corpus", rows)
    out = tmp_path / f"scores.{ext}"
    code, text = score(capsys, "--model", model_dir, "--input", corpus, "--output", out, "--chunk-articles", 4)
    assert code == 0, text
    recs = list(read_records(out))
    assert recs and {r["article_id"].split("/")[0] for r in recs} == {"Dawn", "Tolo_News", "Wire"}
    arts = list(read_records(output_paths(out)["articles"]))
    assert len(arts) == len(rows)
    assert all(a["n_sentences"] > 0 for a in arts)
    # the title line is not scored
    assert not any(r["text"].startswith("Story number") for r in recs)
    table = pd.read_csv(output_paths(out)["sources"])
    assert sorted(table["source"]) == ["Dawn", "Tolo_News", "Wire"]
    assert "stance-score summary" in text and "sentences/s" in text
    assert _run_info(out)["totals"]["items"] == len(rows)


def test_table_input_and_rerun_is_a_no_op(capsys, tmp_path, model_dir, rows):
    inp = write_jsonl(tmp_path / "articles.jsonl", rows)
    out = tmp_path / "scores.jsonl"
    assert score(capsys, "--model", model_dir, "--input", inp, "--output", out)[0] == 0
    before = out.read_bytes()
    code, text = score(capsys, "--model", model_dir, "--input", inp, "--output", out)
    assert code == 0 and out.read_bytes() == before
    assert "nothing new" in text


def test_sentence_level(capsys, tmp_path, model_dir):
    inp = tmp_path / "sentences.csv"
    inp.write_text(
        "id,text,source,article_id\n"
        "s1,\"Qatar and Turkey offered to mediate. Talks resume next week.\",Wire,a1\n"
        "s2,Afghan forces bravely repelled the Pakistani incursion.,Tolo,a2\n"
        ",A sentence without an id.,Tolo,a2\n",
        encoding="utf-8",
    )
    out = tmp_path / "s.parquet"
    code, text = score(capsys, "--model", model_dir, "--input", inp, "--output", out, "--level", "sentence")
    assert code == 0, text
    recs = list(read_records(out))
    # a row without an id gets the package's stable sentence id (article id, text, occurrence)
    assert [r["sentence_id"] for r in recs] == ["s1", "s2", sentence_id("a2", "A sentence without an id.", 0)]
    assert recs[0]["text"] == "Qatar and Turkey offered to mediate. Talks resume next week."
    assert _run_info(out)["last_run"]["skipped"] == []


def test_malformed_jsonl_line_is_skipped_and_reported(capsys, tmp_path, model_dir, rows):
    inp = write_jsonl(tmp_path / "articles.jsonl", rows[:3], raw_lines={2: '{"id": "broken", "text": '})
    out = tmp_path / "s.jsonl"
    code, text = score(capsys, "--model", model_dir, "--input", inp, "--output", out)
    assert code == 0, text
    assert "skipped records" in text and "malformed record=1" in text
    skipped = _run_info(out)["last_run"]["skipped"]
    assert skipped[0]["where"] == f"{inp}:2"
    assert {a["article_id"] for a in read_records(output_paths(out)["articles"])} == {r["id"] for r in rows[:3]}


def test_missing_source_is_skipped_or_defaulted(capsys, tmp_path, model_dir, rows):
    bad = dict(rows[1])
    bad.pop("source")
    inp = write_jsonl(tmp_path / "articles.jsonl", [rows[0], bad])
    out = tmp_path / "s.jsonl"
    code, text = score(capsys, "--model", model_dir, "--input", inp, "--output", out)
    assert code == 0 and "missing source=1" in text
    code, _ = score(capsys, "--model", model_dir, "--input", inp, "--output", tmp_path / "t.jsonl",
                    "--default-source", "Unknown Wire")
    assert code == 0
    assert {a["source"] for a in read_records(output_paths(tmp_path / "t.jsonl")["articles"])} == \
        {rows[0]["source"], "Unknown Wire"}


def test_on_error_raise_stops_with_file_and_line(capsys, tmp_path, model_dir, rows):
    inp = write_jsonl(tmp_path / "articles.jsonl", rows[:2], raw_lines={2: "not json"})
    code, text = score(capsys, "--model", model_dir, "--input", inp, "--output", tmp_path / "s.jsonl",
                       "--on-error", "raise")
    assert code == 2 and "articles.jsonl:2" in text.replace("\n", "")
    assert "Traceback" not in text


def test_non_utf8_file_is_decoded_with_fallback(capsys, tmp_path, model_dir):
    corpus = tmp_path / "corpus" / "Dawn"
    corpus.mkdir(parents=True)
    text = "Pakistan\u2019s forces gave a crushing response to unprovoked aggression from across the border.\n"
    (corpus / "cp1252.txt").write_bytes(text.encode("cp1252"))
    (corpus / "utf8.txt").write_text("Qatar and Turkey offered to mediate between the neighbours.\n", encoding="utf-8")
    out = tmp_path / "s.jsonl"
    code, out_text = score(capsys, "--model", model_dir, "--input", tmp_path / "corpus", "--output", out)
    assert code == 0, out_text
    assert "cp1252 fallback" in out_text
    recs = {r["article_id"]: r for r in read_records(out)}
    assert recs["Dawn/cp1252"]["text"].startswith("Pakistan\u2019s forces")


def test_extremely_long_sentence_is_truncated_and_counted(capsys, tmp_path, model_dir):
    long = "Pakistan " + " ".join(["escalation"] * 5000) + "."
    inp = write_jsonl(tmp_path / "a.jsonl", [{"id": "long", "source": "S", "text": long}])
    out = tmp_path / "s.jsonl"
    code, text = score(capsys, "--model", model_dir, "--input", inp, "--output", out,
                       "--max-sentence-chars", "1000")
    assert code == 0, text
    # the 50,000-character line is first cut into pieces at whitespace (segmenter.max_line_chars),
    # then each over-long piece is cut to --max-sentence-chars and counted
    recs = list(read_records(out))
    assert all(len(r["text"]) <= 1000 for r in recs) and len(recs) > 1
    n_cut = _run_info(out)["totals"]["truncated_sentences"]
    assert len(recs) - 1 <= n_cut <= len(recs)  # every piece but perhaps the last was over the limit
    assert "truncated 0 article(s)" in text and f"{n_cut} sentence(s)" in text


def test_model_dir_that_is_not_a_classifier(capsys, tmp_path, rows):
    inp = write_jsonl(tmp_path / "a.jsonl", rows[:1])
    (tmp_path / "notamodel").mkdir()
    (tmp_path / "notamodel" / "weights.bin").write_bytes(b"\0")
    code, text = score(capsys, "--model", tmp_path / "notamodel", "--input", inp, "--output", tmp_path / "s.jsonl")
    assert code == 2 and "not a stance classifier" in text and "Traceback" not in text
    code, text = score(capsys, "--model", tmp_path / "missing", "--input", inp, "--output", tmp_path / "s.jsonl")
    assert code == 2 and "does not exist" in text


@pytest.mark.slow
def test_output_of_another_model_is_refused_without_overwrite(capsys, tmp_path, model_dir, other_model_dir, rows):
    inp = write_jsonl(tmp_path / "a.jsonl", rows[:3])
    out = tmp_path / "s.jsonl"
    assert score(capsys, "--model", model_dir, "--input", inp, "--output", out)[0] == 0
    code, text = score(capsys, "--model", other_model_dir, "--input", inp, "--output", out)
    assert code == 2 and "different" in text and "--overwrite" in text
    code, text = score(capsys, "--model", other_model_dir, "--input", inp, "--output", out, "--overwrite")
    assert code == 0, text
    assert _run_info(out)["fingerprint"]["path"].endswith("tfidf-C0.5")


def test_bad_options_are_user_errors(capsys, tmp_path, model_dir, rows):
    inp = write_jsonl(tmp_path / "a.jsonl", rows[:1])
    code, text = score(capsys, "--model", model_dir, "--input", inp, "--output", tmp_path / "s.csv")
    assert code == 2 and "format" in text
    code, text = score(capsys, "--model", model_dir, "--input", inp, "--output", tmp_path / "s.jsonl",
                       "--fast", "onnx-int8")
    assert code == 2 and "transformer" in text
    code, text = score(capsys, "--model", model_dir, "--input", tmp_path / "nope.jsonl", "--output",
                       tmp_path / "s.jsonl")
    assert code == 2 and "does not exist" in text


@pytest.mark.slow
def test_keyboard_interrupt_exits_130_and_resumes(capsys, tmp_path, model_dir, rows, monkeypatch):
    import stance.scoring.writer as writer_mod

    inp = write_jsonl(tmp_path / "a.jsonl", rows)
    out = tmp_path / "s.jsonl"
    real = writer_mod.ScoreWriter.write_chunk
    calls = {"n": 0}

    def flaky(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(writer_mod.ScoreWriter, "write_chunk", flaky)
    code, text = score(capsys, "--model", model_dir, "--input", inp, "--output", out, "--chunk-articles", 3)
    assert code == 130 and "resume" in text and not out.exists()
    monkeypatch.setattr(writer_mod.ScoreWriter, "write_chunk", real)
    code, text = score(capsys, "--model", model_dir, "--input", inp, "--output", out, "--chunk-articles", 3)
    assert code == 0
    assert _run_info(out)["last_run"]["already_in_output"] == 3
    assert len(list(read_records(output_paths(out)["articles"]))) == len(rows)


@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
def test_article_table_carries_title_date_url_and_run_json_the_model_info(capsys, tmp_path, model_dir, rows, ext):
    dated = [{**r, "date": f"2025-10-{1 + i:02d}", "url": f"https://news.example/{r['id']}"} if i % 3 else r
             for i, r in enumerate(rows)]
    inp = write_jsonl(tmp_path / "articles.jsonl", dated)
    out = tmp_path / f"scores.{ext}"
    assert score(capsys, "--model", model_dir, "--input", inp, "--output", out, "--chunk-articles", 4)[0] == 0
    arts = {a["article_id"]: a for a in read_records(output_paths(out)["articles"])}
    for i, r in enumerate(rows):
        a = arts[r["id"]]
        assert a["title"] == r["title"]
        assert (a["date"], a["url"]) == ((f"2025-10-{1 + i:02d}", f"https://news.example/{r['id']}") if i % 3
                                         else (None, None))
    info = _run_info(out)["model_info"]
    assert info["kind"] == "tfidf" and info["validation_confusion_matrix"] == [[18, 1, 1], [1, 17, 2], [1, 1, 18]]


def test_extending_an_output_whose_article_table_predates_the_metadata_columns(capsys, tmp_path, model_dir, rows):
    import pyarrow.parquet as pq

    inp = write_jsonl(tmp_path / "a.jsonl", rows[:4])
    out = tmp_path / "scores.parquet"
    assert score(capsys, "--model", model_dir, "--input", inp, "--output", out)[0] == 0
    art_file = output_paths(out)["articles"]
    old = pq.read_table(art_file)
    pq.write_table(old.drop_columns(["title", "date", "url"]), art_file)  # as an older version wrote it
    inp2 = write_jsonl(tmp_path / "b.jsonl", [{**r, "date": "2025-11-01"} for r in rows])
    assert score(capsys, "--model", model_dir, "--input", inp2, "--output", out)[0] == 0
    arts = {a["article_id"]: a for a in read_records(art_file)}
    assert len(arts) == len(rows)
    assert all(arts[r["id"]]["date"] is None for r in rows[:4])
    assert all(arts[r["id"]]["date"] == "2025-11-01" for r in rows[4:])


@pytest.mark.slow
def test_from_stance_score_to_the_report_in_two_commands(capsys, tmp_path, model_dir, rows):
    from stance.cli.report import main as report_main

    inp = write_jsonl(tmp_path / "articles.jsonl", [{**r, "date": f"2025-10-{1 + 2 * i:02d}"} for i, r in enumerate(rows)])
    out = tmp_path / "scores.jsonl"
    assert score(capsys, "--model", model_dir, "--input", inp, "--output", out)[0] == 0
    assert report_main(["--scores", str(out), "--n-boot", "50", "--min-sentences", "5", "--min-articles", "2"]) == 0
    md = (tmp_path / "scores.jsonl.report" / "report.md").read_text(encoding="utf-8")
    assert "## Over time (by week)" in md and "## Evidence" in md
    for source in ("Dawn", "Tolo News", "Wire"):
        assert f"| {source} |" in md


def test_model_summary_reads_the_validation_figures_of_the_run_directory(tmp_path, model_dir):
    import shutil

    import stance
    from stance.scoring.records import model_summary

    run = tmp_path / "run"
    shutil.copytree(model_dir, run / "model")
    val = {"n": 40, "n_articles": 8, "macro_f1": 0.8, "macro_f1_ci": {"low": 0.7, "high": 0.9},
           "accuracy": 0.82, "ece": 0.05, "per_class": {}}
    (run / "metrics.json").write_text(json.dumps({"validation": val, "test": {**val, "n": 50}}))
    info = model_summary(stance.load_model(run / "model"), run / "model")
    assert info["metrics"]["validation"]["macro_f1"] == 0.8 and info["metrics"]["test"]["n"] == 50
    assert "per_class" not in info["metrics"]["validation"]
    assert model_summary(stance.load_model(model_dir), model_dir)["metrics"] == {}
