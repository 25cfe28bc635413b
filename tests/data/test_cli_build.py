"""``stance-build`` on the bundled sample (stance.cli.build)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from stance.cli.build import build
from stance.data.from_config import build_from_config
from stance.data.splits import check_no_leak
from stance.errors import ConfigError, InputError
from stance.resources import config_dir
from tests.schemes import LABELS

SEEDS = {f"seed-{i:03d}" for i in range(5)}


@pytest.fixture(scope="module")
def sample_build(tmp_path_factory) -> tuple[Path, str]:
    out_dir = tmp_path_factory.mktemp("cli") / "dataset"
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="build", overrides=[f"output_dir={out_dir}"])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        out = build(cfg)
    assert out == out_dir
    return out, buf.getvalue()


@pytest.mark.slow
def test_dataset_opens_with_load_from_disk(sample_build):
    out, _ = sample_build
    dd = datasets.load_from_disk(str(out / "hf"))
    assert {"train", "validation", "test"} <= set(dd)
    assert all(len(dd[s]) > 0 for s in ("train", "validation", "test"))
    assert dd["train"].features["label"].names == list(LABELS)


@pytest.mark.slow
def test_test_split_is_exactly_the_seed_articles(sample_build):
    out, _ = sample_build
    dd = datasets.load_from_disk(str(out / "hf"))
    assert set(dd["test"]["article_id"]) == SEEDS
    for split in ("train", "validation"):
        assert not set(dd[split]["article_id"]) & SEEDS


def test_no_article_in_two_splits(sample_build):
    out, _ = sample_build
    dd = datasets.load_from_disk(str(out / "hf"))
    seen: dict[str, str] = {}
    for split in dd:
        for aid in set(dd[split]["article_id"]):
            if split != "unlabelled":
                assert seen.setdefault(aid, split) == split, aid
    df = pd.read_parquet(out / "sentences.parquet")
    assert df["split"].notna().all()
    leaks = check_no_leak(dict(zip(df["sentence_id"], df["article_id"])), dict(zip(df["sentence_id"], df["split"])))
    assert leaks == []


def test_every_gold_label_finds_its_sentence(sample_build):
    out, _ = sample_build
    report = json.loads((out / "build_report.json").read_text(encoding="utf-8"))
    assert report["gold_without_sentence"] == 0
    assert report["articles_without_sentences"] == []
    assert report["articles"] == len(pd.read_parquet(out / "sentences.parquet")["article_id"].unique())
    assert report["config"]["name"] == "sample"
    assert report["removed_lines"]["cookie_banner"] >= 1  # the seed pages carry cookie banners


def test_summary_is_printed(sample_build):
    out, text = sample_build
    assert "articles" in text
    assert "removed lines" in text
    assert "fingerprint" in text
    report = json.loads((out / "build_report.json").read_text(encoding="utf-8"))
    assert report["fingerprint"][:16] in text


def _stance_build() -> list[str]:
    exe = Path(sys.executable).with_name("stance-build")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("stance-build")
    if found:
        return [found]
    return [sys.executable, "-c", "from stance.cli.build import main; main()"]


@pytest.mark.slow
def test_console_script_writes_into_the_hydra_run_dir(tmp_path, sample_build):
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [*_stance_build(), f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "120"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "removed lines" in proc.stdout
    dd = datasets.load_from_disk(str(run_dir / "dataset" / "hf"))
    assert set(dd["test"]["article_id"]) == SEEDS
    # same inputs, same dataset
    ours = json.loads((sample_build[0] / "build_report.json").read_text(encoding="utf-8"))["fingerprint"]
    theirs = json.loads((run_dir / "dataset" / "build_report.json").read_text(encoding="utf-8"))["fingerprint"]
    assert ours == theirs


@pytest.mark.slow
def test_console_script_user_error_exits_2_without_traceback(tmp_path):
    proc = subprocess.run(
        [
            *_stance_build(),
            "data=corpus",
            f"data.corpora.main.path={tmp_path / 'missing.jsonl'}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "error:" in proc.stdout and "file does not exist" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "run" / "dataset").exists()


def _data_cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="build", overrides=["output_dir=unused", *overrides]).data


def test_reader_errors_reach_the_caller_unwrapped(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a1", "text": "The talks failed.", "source": "s"}\n{"id": \n', encoding="utf-8")
    data = _data_cfg("data=corpus", f"data.corpora.main.path={bad}")
    with pytest.raises(InputError, match=r"bad\.jsonl:2: malformed JSON"):
        build_from_config(data)


def test_split_config_errors_reach_the_caller_unwrapped(tmp_path):
    table = tmp_path / "t.jsonl"
    table.write_text('{"id": "a1", "text": "The talks failed.", "source": "s"}\n', encoding="utf-8")
    data = _data_cfg("data=corpus", f"data.corpora.main.path={table}", "data.split.by=outlet")
    with pytest.raises(ConfigError, match="by='outlet'"):
        build_from_config(data)


def test_empty_corpora_config():
    with pytest.raises(ConfigError, match="data.corpora is empty"):
        build_from_config({"corpora": {}})
