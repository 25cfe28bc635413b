"""End to end: train(cfg) on a small fixture; save/load round trip; run-directory contents."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import stance
from stance.errors import InputError, ModelError
from stance.training import train
from tests.schemes import LABELS, PAK

MODELS = ["tfidf", "tiny"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.slow
def test_train_writes_complete_run_dir(make_cfg, tmp_path: Path, model: str) -> None:
    cfg = make_cfg(f"model={model}")
    score = train(cfg)
    run = Path(cfg.run_dir)
    for name in ("config.yaml", "metrics.json", "run_info.json", "predictions_test.parquet",
                 "model/manifest.json", "model/README.md", "dataset/hf", "dataset/build_report.json"):
        assert (run / name).exists(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert score == pytest.approx(metrics["validation"]["macro_f1"])
    test = metrics["test"]
    assert test["n"] == 120  # the five seed articles
    assert set(test["per_class"]) == set(LABELS)
    assert np.array(test["confusion_matrix"]).sum() == test["n"]
    assert test["macro_f1_ci"]["low"] <= test["macro_f1"] <= test["macro_f1_ci"]["high"] + 1e-9
    info = json.loads((run / "run_info.json").read_text())
    manifest = json.loads((run / "model/manifest.json").read_text())
    assert info["data_fingerprint"] == manifest["data_fingerprint"]
    assert manifest["labels"] == list(LABELS) and manifest["package_version"] == stance.__version__
    assert manifest["config"]["model"]["name"] == model

    # round trip: identical probabilities after load, from what the model read (its input)
    pred = pd.read_parquet(run / "predictions_test.parquet")
    assert pred["input"].str.startswith("<speaker: ").all()  # the default input: speaker side first
    loaded = stance.load_model(run / "model")
    proba = loaded.predict_proba(pred["input"].tolist())
    np.testing.assert_allclose(proba, pred[[f"proba_{c}" for c in LABELS]].to_numpy(), atol=1e-5)
    assert list(loaded.predict(pred["input"].tolist())) == pred["pred"].tolist()


@pytest.mark.slow
def test_seed_makes_runs_reproducible(make_cfg, tmp_path: Path) -> None:
    a = make_cfg("model=tiny", "seed=3", run_dir=tmp_path / "a")
    b = make_cfg("model=tiny", "seed=3", run_dir=tmp_path / "b")
    train(a)
    train(b)
    pa = pd.read_parquet(tmp_path / "a/predictions_test.parquet")
    pb = pd.read_parquet(tmp_path / "b/predictions_test.parquet")
    np.testing.assert_allclose(pa.filter(like="proba_").to_numpy(), pb.filter(like="proba_").to_numpy(), atol=1e-6)


@pytest.mark.slow
def test_empty_test_split_is_a_clear_error(make_cfg) -> None:
    cfg = make_cfg("model=tfidf", "data.split.test_articles=[nomatch-*]")
    with pytest.raises(InputError, match="test split is empty"):
        train(cfg)


@pytest.mark.slow
def test_train_from_built_dataset_dir(make_cfg, tmp_path: Path) -> None:
    first = make_cfg("model=tfidf", run_dir=tmp_path / "first")
    train(first)
    again = make_cfg("model=tfidf", f"dataset_dir={tmp_path / 'first/dataset'}", run_dir=tmp_path / "again")
    train(again)
    m1 = json.loads((tmp_path / "first/metrics.json").read_text())
    m2 = json.loads((tmp_path / "again/metrics.json").read_text())
    assert m1["test"]["macro_f1"] == pytest.approx(m2["test"]["macro_f1"])


def test_dataset_dir_that_is_not_a_dataset(make_cfg, tmp_path: Path) -> None:
    cfg = make_cfg("model=tfidf", f"dataset_dir={tmp_path}")
    with pytest.raises(InputError, match="not a stance-build dataset"):
        train(cfg)


def test_load_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        stance.load_model(tmp_path / "missing")
    with pytest.raises(ModelError, match="not a stance classifier directory"):
        stance.load_model(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"kind": "tfidf", "labels": list(LABELS), "package_version": "99.0.0"}))
    with pytest.raises(ModelError, match="newer than this"):
        stance.load_model(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"kind": "svm", "labels": list(LABELS), "package_version": "0.0.1"}))
    with pytest.raises(ModelError, match="unknown model kind 'svm'"):
        stance.load_model(tmp_path)


def test_label_set_mismatch_is_rejected() -> None:
    from stance.models.tfidf import TfidfClassifier

    with pytest.raises(InputError, match="not in the model's label set"):
        TfidfClassifier(labels=list(LABELS)).fit(["a b", "c d"], ["pro_islamabad", "sideways"])
    with pytest.raises(InputError, match="not in the model's label set"):
        TfidfClassifier().fit(["a b", "c d"], ["pro_islamabad", "sideways"], scheme=PAK)
    with pytest.raises(InputError, match="single label"):
        TfidfClassifier().fit(["a b", "c d"], ["neutral", "neutral"])
