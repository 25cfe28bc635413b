"""Distributed scoring on Ray Data (stance.scoring.distributed, ``stance-score --engine ray``).

The runs share one local Ray runtime (a session fixture, started once: about 10 s here) and
are marked slow. The runtime has 3 logical CPUs: the 2 scoring actors reserve one each and
the read tasks need the third (a pool that takes every CPU starves its own reads, which
``score_dataset_ray`` refuses on a local runtime). The bad-address and missing-backend tests
need no runtime and run in the fast suite.
"""

from __future__ import annotations

import importlib.util
import json
import math
import socket

import pandas as pd
import pytest

import stance
from stance.errors import ConfigError, InputError
from stance.scoring.records import output_paths, read_records
from stance.scoring.to_file import score_to_file
from tests.scoring import article_rows, tfidf_model_dir, write_jsonl

ray = pytest.importorskip("ray")

from stance.scoring.distributed import FAULT_ENV, connect, resolve_input, score_dataset_ray  # noqa: E402


@pytest.fixture(scope="module")
def model_dir():
    return tfidf_model_dir()


@pytest.fixture(scope="session")
def ray_runtime():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=3, include_dashboard=False, logging_level="WARNING")
    yield ray
    if started:
        ray.shutdown()


def _rows(n=24):
    rows = article_rows(n)
    rows[3]["text"] = "   "  # no text: skipped by the reader's rule, in both engines
    rows[5]["text"] = "Short."  # no body sentence after cleaning? counted either way
    rows.append(dict(rows[7]))  # a duplicate id: the second is skipped
    rows.append({"id": "no-source", "text": "Talks resume next week."})  # missing source
    return rows


def _local(model_dir, rows, out, level="article"):
    """Local scoring through the CLI's reader rules, for comparison."""
    from stance.data.readers import ReadResult, iter_table_articles

    path = write_jsonl(out.parent / f"{out.stem}-input.jsonl", rows)
    read = ReadResult()
    items = list(iter_table_articles(path, read, on_error="skip"))
    from stance.scoring.score import ScoreStats

    stats = ScoreStats(skipped=read.skipped)
    return score_to_file(stance.load_model(model_dir), items, out, model_dir=model_dir, level=level,
                         chunk_size=5, stats=stats)


def _assert_same_records(a, b):
    assert len(a) == len(b) and a
    for x, y in zip(a, b):
        assert {k: v for k, v in x.items() if not k.startswith("proba_")} == \
               {k: v for k, v in y.items() if not k.startswith("proba_")}
        for k in x:
            if k.startswith("proba_"):
                assert math.isclose(x[k], y[k], abs_tol=1e-6)


@pytest.mark.slow
def test_records_and_summaries_equal_local_scoring(tmp_path, model_dir, ray_runtime):
    rows = _rows()
    local = _local(model_dir, rows, tmp_path / "local.parquet")
    inp = write_jsonl(tmp_path / "articles.jsonl", rows, raw_lines={4: '{"id": "broken", "text": '})
    run = score_dataset_ray(model_dir, inp, tmp_path / "ray.parquet", num_workers=2, chunk_size=5)
    a, b = list(read_records(tmp_path / "local.parquet")), list(read_records(tmp_path / "ray.parquet"))
    _assert_same_records(a, b)
    pa, pb = output_paths(tmp_path / "local.parquet"), output_paths(tmp_path / "ray.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(pa["articles"]), pd.read_parquet(pb["articles"]))
    pd.testing.assert_frame_equal(pd.read_csv(pa["sources"]), pd.read_csv(pb["sources"]))
    ra, rb = json.loads(pa["run"].read_text()), json.loads(pb["run"].read_text())
    assert ra["totals"] == rb["totals"] and ra["fingerprint"]["model_sha256"] == rb["fingerprint"]["model_sha256"]
    assert rb["engine"]["name"] == "ray" and rb["engine"]["workers"] == 2
    # the same records were skipped for the same reasons (the local run read no malformed line)
    assert run.stats.skip_counts() == {**local.stats.skip_counts(), "malformed record": 1} == \
        {"missing text": 1, "duplicate id": 1, "missing source": 1, "malformed record": 1}
    assert run.stats.articles == local.stats.articles and run.stats.sentences == len(b)


@pytest.mark.slow
def test_resume_scores_only_new_articles_and_local_can_extend_a_ray_output(tmp_path, model_dir, ray_runtime):
    rows = article_rows(16)
    out = tmp_path / "scores.jsonl"
    score_dataset_ray(model_dir, write_jsonl(tmp_path / "first.jsonl", rows[:10]), out, num_workers=2,
                      chunk_size=4)
    run = score_dataset_ray(model_dir, write_jsonl(tmp_path / "more.jsonl", rows[:13]), out, num_workers=2,
                            chunk_size=4)
    assert run.already_done == 10 and run.stats.articles == 3
    ext = score_to_file(stance.load_model(model_dir), rows, out, model_dir=model_dir)  # the local engine
    assert ext.already_done == 13 and ext.stats.articles == 3
    full = _local(model_dir, rows, tmp_path / "local.jsonl")
    assert full.totals["sentences"] == ext.totals["sentences"]
    _assert_same_records(list(read_records(tmp_path / "local.jsonl")), list(read_records(out)))
    assert list(read_records(output_paths(out)["articles"])) == \
        list(read_records(output_paths(tmp_path / "local.jsonl")["articles"]))


@pytest.mark.slow
def test_cli_sentence_level_parquet_through_an_fsspec_url(tmp_path, model_dir, ray_runtime, capsys):
    from stance.cli.score import main

    recs = [{"id": f"s{i}", "text": t, "source": ["Dawn", "Wire"][i % 2], "article_id": f"a{i // 3}"}
            for i, t in enumerate(s for r in article_rows(12) for s in r["text"].split("\n\n"))]
    pd.DataFrame(recs).to_parquet(tmp_path / "sentences.parquet")
    model = stance.load_model(model_dir)
    score_to_file(model, recs, tmp_path / "local.parquet", model_dir=model_dir, level="sentence")
    main(["--no-progress", "--engine", "ray", "--workers", "2", "--level", "sentence", "--chunk-articles", "1",
          "--model", str(model_dir), "--input", f"file://{tmp_path}/sentences.parquet",
          "--output", str(tmp_path / "ray.parquet")])
    text = capsys.readouterr().out
    assert "engine: ray (2 workers" in text and "stance-score summary" in text
    assert len(recs) > 20  # more than one chunk of 20 sentences
    _assert_same_records(list(read_records(tmp_path / "local.parquet")), list(read_records(tmp_path / "ray.parquet")))


@pytest.mark.slow
def test_an_actor_that_dies_is_restarted_and_every_record_is_written_once(tmp_path, model_dir, ray_runtime):
    rows = article_rows(20)
    flag = tmp_path / "died"
    _local(model_dir, rows, tmp_path / "local.parquet")
    run = score_dataset_ray(model_dir, write_jsonl(tmp_path / "a.jsonl", rows), tmp_path / "ray.parquet",
                            num_workers=2, chunk_size=4,
                            ray_remote_args={"runtime_env": {"env_vars": {FAULT_ENV: str(flag)}}})
    assert flag.exists()  # an actor did kill itself on its first batch
    recs = list(read_records(tmp_path / "ray.parquet"))
    ids = [r["sentence_id"] for r in recs]
    assert len(ids) == len(set(ids)) == run.totals["sentences"]
    _assert_same_records(list(read_records(tmp_path / "local.parquet")), recs)


@pytest.mark.slow
def test_a_pool_larger_than_the_local_runtime_is_refused(tmp_path, model_dir, ray_runtime):
    inp = write_jsonl(tmp_path / "a.jsonl", article_rows(2))
    with pytest.raises(ConfigError, match="needs 4 CPU"):
        score_dataset_ray(model_dir, inp, tmp_path / "o.parquet", num_workers=3)
    assert not (tmp_path / "o.parquet").exists()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("scheme", ["ray://", ""])
def test_an_unreachable_ray_address_is_a_clear_error(scheme):
    address = f"{scheme}127.0.0.1:{_free_port()}"
    with pytest.raises(ConfigError, match="cannot reach the Ray cluster") as e:
        connect(address, timeout=2)
    assert repr(address) in str(e.value) and "ray start --head" in str(e.value)


def test_the_cli_names_an_unreachable_ray_address(tmp_path, model_dir, capsys):
    from stance.cli.score import main

    inp = write_jsonl(tmp_path / "a.jsonl", article_rows(2))
    address = f"ray://127.0.0.1:{_free_port()}"
    with pytest.raises(SystemExit) as e:
        main(["--no-progress", "--engine", "ray", "--ray-address", address, "--model", str(model_dir),
              "--input", str(inp), "--output", str(tmp_path / "o.parquet")])
    assert e.value.code == 2
    assert address in capsys.readouterr().out.replace("\n", "")
    assert not (tmp_path / "o.parquet").exists()


def test_a_url_without_its_fsspec_backend_names_the_package_to_install():
    from fsspec.registry import known_implementations

    absent = [(p, known_implementations[p]["class"].split(".")[0]) for p in ("s3", "gcs", "abfs", "oci", "webdav")
              if p in known_implementations
              and importlib.util.find_spec(known_implementations[p]["class"].split(".")[0]) is None]
    if not absent:
        pytest.skip("every candidate fsspec backend is installed here")
    protocol, package = absent[0]
    with pytest.raises(InputError, match=f"pip install {package}") as e:
        resolve_input(f"{protocol}://bucket/articles.parquet")
    assert f"{protocol}://bucket/articles.parquet" in str(e.value)


def test_input_format_is_told_from_the_files(tmp_path):
    (tmp_path / "d").mkdir()
    pd.DataFrame({"id": ["a"], "text": ["x"]}).to_parquet(tmp_path / "d" / "part-0.parquet")
    assert resolve_input(tmp_path / "d").fmt == "parquet"
    assert resolve_input(write_jsonl(tmp_path / "a.jsonl", [{"id": "a"}])).fmt == "jsonl"
    with pytest.raises(InputError, match="JSON lines"):
        resolve_input(write_jsonl(tmp_path / "a.json", [{"id": "a"}]))
    (tmp_path / "a.csv").write_text("id,text\n")
    with pytest.raises(InputError, match="Parquet or JSONL"):
        resolve_input(tmp_path / "a.csv")
    with pytest.raises(InputError, match="does not exist"):
        resolve_input(tmp_path / "missing.parquet")


@pytest.mark.slow
def test_on_error_raise_stops_with_the_input_error_naming_the_file(tmp_path, model_dir, ray_runtime):
    inp = write_jsonl(tmp_path / "a.jsonl", article_rows(12), raw_lines={6: '{"id": "broken", "text": '})
    with pytest.raises(InputError, match="malformed JSON") as e:
        score_dataset_ray(model_dir, inp, tmp_path / "o.parquet", num_workers=2, chunk_size=4, on_error="raise",
                          progress=False)
    assert e.value.path.endswith("a.jsonl") and type(e.value) is InputError
    assert not (tmp_path / "o.parquet").exists()  # nothing finished: the committed chunks wait for a rerun


@pytest.mark.slow
def test_a_worker_that_loads_another_model_is_refused(tmp_path, model_dir, ray_runtime, monkeypatch):
    from stance.errors import ModelError
    from stance.scoring import distributed

    real = distributed.output_fingerprint

    def driver_side(*args, **kwargs):  # the driver believes in other weights than the workers load
        return {**real(*args, **kwargs), "model_sha256": "0" * 64}

    monkeypatch.setattr(distributed, "output_fingerprint", driver_side)
    inp = write_jsonl(tmp_path / "a.jsonl", article_rows(8))
    with pytest.raises(ModelError, match="loaded another model .* expected 000000000000"):
        score_dataset_ray(model_dir, inp, tmp_path / "o.parquet", num_workers=2, chunk_size=4, progress=False)


def _actor(model_dir, *, fingerprint=None, on_error="raise"):
    from stance.scoring.distributed import ScoreActor
    from stance.scoring.to_file import output_fingerprint, resolve_preprocessing

    model = stance.load_model(model_dir)
    real = output_fingerprint(model, resolve_preprocessing(model), model_dir, "none", "article")
    return ScoreActor(model_dir, fast="none", level="article", batch_size=8, threads=1, fallback_margin=None,
                      prep_args={}, fingerprint=fingerprint or real, done=None, default_source=None,
                      on_error=on_error, jsonl=True)


def test_actor_errors_travel_as_rows_and_are_raised_by_the_driver(model_dir):
    """In process, no Ray runtime: what an actor returns for a user error, and what the driver does."""
    import pyarrow as pa

    from stance.errors import ModelError
    from stance.scoring.distributed import _chunks

    rows = [json.dumps(r) for r in article_rows(3)]
    batch = pa.table({"text": [rows[0], '{"id": "x", ', rows[2]], "path": ["in.jsonl"] * 3})
    out = _actor(model_dir)(batch)
    assert out.column("_kind").to_pylist() == ["error"]
    with pytest.raises(InputError, match="malformed JSON") as e:
        list(_chunks(iter([out])))
    assert e.value.path == "in.jsonl" and e.value.hint
    skipping = _actor(model_dir, on_error="skip")(batch)
    assert skipping.column("_kind").to_pylist().count("skip") == 1  # the same line, skipped and reported
    assert len(list(_chunks(iter([skipping])))) == 1
    wrong = _actor(model_dir, fingerprint={"model_sha256": "f" * 64})(batch)
    with pytest.raises(ModelError, match="expected ffffffffffff"):
        list(_chunks(iter([wrong])))
