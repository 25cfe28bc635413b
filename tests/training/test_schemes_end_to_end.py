"""Two more schemes end to end: a two-label stance scheme (with poles) from a CSV and a
five-frame framing scheme (no poles) from a JSONL with a split column. Each is built,
trained with TF-IDF and the tiny transformer, evaluated, compared, reported and scored."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

import stance
from stance.cli.evaluate import evaluate
from stance.errors import ConfigError
from stance.evaluation.compare import compare_runs
from stance.reporting.report import write_report
from stance.scoring.to_file import score_to_file
from stance.training import train
from tests.training.conftest import MINI_SPLIT

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
CASES = {
    "two_way": ("border_trade.csv", ["favor", "against"], True),
    "frames5": ("frames5.jsonl", ["security", "sovereignty", "humanitarian", "economic", "diplomacy"], False),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def runs(request, tmp_path_factory) -> dict:
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    import stance.cli._hydra  # noqa: F401
    from stance.resources import config_dir

    name = request.param
    fixture, labels, poles = CASES[name]
    root = tmp_path_factory.mktemp(name)
    out = {"name": name, "labels": labels, "poles": poles, "root": root}
    for model in ("tfidf", "tiny"):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("train", overrides=[
                "data=sentences", f"data.path={EXAMPLES / fixture}", f"scheme={name}", f"model={model}",
                "trainer.n_boot=50", "trainer.min_sentences=2", "trainer.min_articles=1"])
        with open_dict(cfg):
            cfg.run_dir = str(root / model)
        train(cfg)
        out[model] = root / model
    return out


@pytest.mark.slow
def test_runs_record_the_scheme_and_its_metrics(runs: dict) -> None:
    for model in ("tfidf", "tiny"):
        info = json.loads((runs[model] / "run_info.json").read_text())
        manifest = json.loads((runs[model] / "model" / "manifest.json").read_text())
        report = json.loads((runs[model] / "dataset" / "build_report.json").read_text())
        for rec in (info, manifest, report):
            assert rec["scheme"]["name"] == runs["name"] and rec["labels"] == runs["labels"]
        metrics = json.loads((runs[model] / "metrics.json").read_text())
        assert set(metrics["test"]["per_class"]) == set(runs["labels"])
        per_source = metrics["test"]["per_source"]
        assert per_source and all("distribution_error" in r for r in per_source)
        assert all(("slant_error" in r) == runs["poles"] for r in per_source)
        card = (runs[model] / "model" / "README.md").read_text()
        assert f"scheme `{runs['name']}`" in card and "Islamic Emirate" not in card  # not pak_afghan's definitions
        model_obj = stance.load_model(runs[model] / "model")
        assert list(model_obj.classes_) == runs["labels"] and model_obj.scheme_.name == runs["name"]


@pytest.mark.slow
def test_evaluate_compare_and_report(runs: dict, tmp_path: Path) -> None:
    res = evaluate(runs["tfidf"] / "model", runs["tfidf"] / "dataset", tmp_path / "eval", n_boot=30,
                   min_sentences=2, min_articles=1)
    per_source = res["per_source"]
    assert ("slant_error" in per_source) == runs["poles"]
    assert {f"over_{lab}_pred" for lab in runs["labels"]} <= set(per_source.columns)
    assert {f"share_{lab}_low_pred" for lab in runs["labels"]} <= set(per_source.columns)
    cmp = compare_runs([runs["tfidf"], runs["tiny"]], n_boot=30)
    assert cmp["labels"] == runs["labels"] and len(cmp["table"]) == 2
    (pair,) = cmp["pairs"]
    if not runs["poles"]:  # no slant to correlate (with poles it needs three test sources)
        assert math.isnan(pair["slant_spearman"])
    assert pair["diff"]["low"] <= pair["diff"]["estimate"] <= pair["diff"]["high"]
    paths = write_report([runs["tfidf"], runs["tiny"]], tmp_path / "report", n_boot=30)
    html = Path(paths["html"]).read_text(encoding="utf-8")
    assert "Per-source bias" in html and "Comparison of runs" in html
    pngs = {p.name for p in (tmp_path / "report").glob("*.png")}
    assert ("slant_test.png" in pngs) == runs["poles"]
    assert "distribution_test.png" in pngs
    if not runs["poles"]:
        assert "has no poles, so no slant" in html and "vs corpus" in html


@pytest.mark.slow
def test_scoring_with_the_models_scheme(runs: dict, tmp_path: Path) -> None:
    model = stance.load_model(runs["tiny"] / "model")
    rows = pd.read_json(EXAMPLES / "frames5.jsonl", lines=True) if runs["name"] == "frames5" else \
        pd.read_csv(EXAMPLES / "border_trade.csv")
    articles = [{"id": aid, "source": g["source"].iloc[0], "text": " ".join(g["text"])}
                for aid, g in rows.groupby("article_id")]
    result = score_to_file(model, articles, tmp_path / "scores.parquet",
                           source_options={"min_sentences": 2, "min_articles": 1, "n_boot": 20})
    run = json.loads(result.paths["run"].read_text())
    assert run["scheme"]["name"] == runs["name"] and run["labels"] == runs["labels"]
    table = pd.read_csv(result.paths["sources"])
    assert ("slant" in table) == runs["poles"]
    assert {f"share_{lab}" for lab in runs["labels"]} <= set(table.columns)
    recs = pd.read_parquet(result.paths["records"])
    assert set(recs["label"]) <= set(runs["labels"]) and len(recs) >= len(rows)


@pytest.mark.slow
def test_a_model_and_data_of_different_schemes_are_refused(runs: dict, tmp_path: Path) -> None:
    other = "frames5" if runs["name"] == "two_way" else "two_way"
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from stance.resources import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=[f"dataset_dir={runs['tfidf'] / 'dataset'}", f"scheme={other}"])
    with open_dict(cfg):
        cfg.run_dir = str(tmp_path / "run")
    with pytest.raises(ConfigError, match=rf"scheme '{other}'.*scheme '{runs['name']}'"):
        train(cfg)
    pak = tmp_path / "pak"
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=[f"data.corpora.synthetic.path={FIXTURES / 'mini_articles.jsonl'}",
                                          *MINI_SPLIT, "trainer.n_boot=20"])
    with open_dict(cfg):
        cfg.run_dir = str(pak)
    train(cfg)
    with pytest.raises(ConfigError, match=rf"scheme 'pak_afghan'.*scheme '{runs['name']}'"):
        evaluate(pak / "model", runs["tfidf"] / "dataset", tmp_path / "eval")
