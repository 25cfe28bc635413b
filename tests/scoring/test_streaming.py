"""Streaming summaries: the output's article and source tables, computed in one pass over the
part files, equal the in-memory tables of all records; the CLI reads its input lazily."""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest

import stance
from stance.cli.score import main
from stance.scoring.records import (
    ARTICLE_META,
    article_schema,
    output_paths,
    read_records,
    write_rows,
)
from stance.scoring.score import article_summary, confusion_of, scheme_of, source_summary
from stance.scoring.to_file import score_to_file
from tests.scoring import article_rows, tfidf_model_dir, write_jsonl

OUTLETS = ["Harbor Ledger", "Valley Courier", "North Gazette", "Plains Herald", "Ridge Observer"]


@pytest.fixture(scope="session")
def model():
    return stance.load_model(tfidf_model_dir())


def _articles(n: int = 36, seed: int = 5) -> list[dict]:
    rows = article_rows(n, seed)
    for i, r in enumerate(rows):
        r["source"] = OUTLETS[(i * 7) % len(OUTLETS)]
    return rows


def _sentences(seed: int = 2) -> list[dict]:
    """Paragraphs of the articles as sentence records, shuffled (an article's sentences land in
    different chunks), a fifth of them without article id (each its own article)."""
    rng = random.Random(seed)
    out = []
    for a in _articles():
        for j, para in enumerate(a["text"].split("\n\n")):
            rec = {"id": f"{a['id']}-{j}", "text": para, "source": a["source"]}
            if rng.random() < 0.8:
                rec["article_id"] = a["id"]
            out.append(rec)
    rng.shuffle(out)
    return out


def _same_rows(tmp_path, expected: pd.DataFrame, actual_path, fmt: str, labels) -> None:
    """``expected`` written as the writer writes a table equals the file at ``actual_path``."""
    exp_path = tmp_path / f"expected.{'jsonl' if fmt == 'jsonl' else 'parquet'}"
    expected = expected.assign(**{c: None for c in ARTICLE_META if c not in expected.columns})
    cols = list(expected.columns)
    write_rows(exp_path, expected.astype(object).where(expected.notna(), None).to_dict("records"), cols, fmt,
               article_schema(labels))
    actual = [{k: v for k, v in r.items() if k not in ARTICLE_META} for r in read_records(actual_path)]
    assert actual == [{k: v for k, v in r.items() if k not in ARTICLE_META} for r in read_records(exp_path)]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("level", ["article", "sentence"])
def test_streaming_summaries_equal_in_memory_tables(tmp_path, model, level, fmt) -> None:
    out = tmp_path / f"scores.{fmt}"
    items = _articles() if level == "article" else _sentences()
    run = score_to_file(model, items, out, level=level, chunk_size=4 if level == "article" else 9,
                        source_options={"n_boot": 100})
    paths = output_paths(out)
    records = pd.DataFrame(list(read_records(out)))
    assert run.totals["sentences"] == len(records) > 100
    scheme = scheme_of(model)
    # the in-memory computation over all records, as finalize did before it streamed
    expected_sources = source_summary(records, scheme, confusion=confusion_of(model), n_boot=100)
    assert paths["sources"].read_text() == expected_sources.to_csv(index=False)
    with_article = records[records["article_id"].notna()]
    assert with_article["article_id"].nunique() > 25
    _same_rows(tmp_path, article_summary(with_article, scheme), paths["articles"], fmt, scheme.label_list)
    if level == "article":  # the input's titles travel into the article table (streamed too)
        titles = {r["article_id"]: r["title"] for r in read_records(paths["articles"])}
        assert titles == {a["id"]: a.get("title") for a in items}
    if level == "sentence":  # articles were split across chunks (of 9 records) and interleaved
        chunks: dict[str, set[int]] = {}
        for i, r in enumerate(items):
            if r.get("article_id"):
                chunks.setdefault(r["article_id"], set()).add(i // 9)
        assert sum(len(c) > 1 for c in chunks.values()) > 10


def test_cli_scores_while_reading_and_resumes_after_a_bad_line(capsys, tmp_path) -> None:
    rows = _articles(12)
    inp = write_jsonl(tmp_path / "articles.jsonl", rows, raw_lines={11: "{not json"})
    out = tmp_path / "s.jsonl"
    args = ["--model", str(tfidf_model_dir()), "--input", str(inp), "--output", str(out), "--no-progress",
            "--chunk-articles", "2"]
    with pytest.raises(SystemExit):
        main([*args, "--on-error", "raise"])
    # the articles before the bad line were scored and committed before the reader reached it
    state = json.loads((output_paths(out)["parts"] / "state.json").read_text())
    assert state["totals"]["items"] == 10
    capsys.readouterr()
    main(args)  # skips the bad line this time and resumes
    text = capsys.readouterr().out
    assert "malformed record=1" in text
    run = json.loads(output_paths(out)["run"].read_text())
    assert run["last_run"]["articles"] == 2 and run["totals"]["items"] == 12
    assert {r["article_id"] for r in read_records(out)} == {r["id"] for r in rows}
