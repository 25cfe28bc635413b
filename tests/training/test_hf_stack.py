"""Training on the Hugging Face stack: resume after a kill, two CPU processes, tracking files,
standard artefacts, preprocessing that travels with the model, device-agnostic loading."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import stance
from stance.training import train
from tests.training.conftest import MINI_SPLIT

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "fixtures" / "mini_articles.jsonl"
ADVERT = "Sponsored by the Karachi Chamber of Trade and Industry."


def _overrides(*extra: str) -> list[str]:
    return [f"data.corpora.synthetic.path={MINI}", *MINI_SPLIT, "trainer.n_boot=20", *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1"}


def _cli(run_dir: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "stance.cli.train", *_overrides(*overrides), f"hydra.run.dir={run_dir}"]


# --------------------------------------------------------------------------- resume


TINY_LONG = ("model=tiny", "model.classifier.epochs=25", "model.classifier.save_strategy=steps",
             "model.classifier.save_steps=5", "model.classifier.save_total_limit=null", "model.classifier.patience=0")


@pytest.mark.slow
def test_a_run_killed_mid_training_resumes_to_the_uninterrupted_result(make_cfg, tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    subprocess.run(_cli(whole, *TINY_LONG), check=True, env=_env(), capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cli(killed, *TINY_LONG), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not (killed / "checkpoints" / "checkpoint-15").is_dir():
        assert proc.poll() is None, "the run finished before it could be killed: make it longer"
        time.sleep(0.05)
    time.sleep(0.3)  # let the checkpoint finish writing, then kill mid-training
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists()
    done = subprocess.run(_cli(killed, *TINY_LONG, "resume=true"), env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    a = json.loads((whole / "metrics.json").read_text())
    b = json.loads((killed / "metrics.json").read_text())
    for split in ("validation", "test"):
        assert b[split]["macro_f1"] == pytest.approx(a[split]["macro_f1"], abs=1e-6)
        pa = pd.read_parquet(whole / f"predictions_{split}.parquet")
        pb = pd.read_parquet(killed / f"predictions_{split}.parquet")
        cols = [c for c in pa.columns if c.startswith("proba_")]
        np.testing.assert_allclose(pb[cols].to_numpy(), pa[cols].to_numpy(), atol=1e-6)
    manifest = json.loads((killed / "model" / "manifest.json").read_text())
    assert manifest["metadata"]["steps"] == json.loads((whole / "model" / "manifest.json").read_text())["metadata"]["steps"]
    assert not (killed / "checkpoints").exists()  # removed once the run finished (keep_checkpoints=false)


@pytest.mark.slow
def test_resume_needs_a_checkpoint_and_a_transformer(make_cfg) -> None:
    from stance.errors import ConfigError

    with pytest.raises(ConfigError, match="holds no checkpoint"):
        train(make_cfg("model=tiny", "resume=true"))
    with pytest.raises(ConfigError, match="trains in one go"):
        train(make_cfg("model=tfidf", "resume=true"))


# --------------------------------------------------------------------------- several processes / devices


@pytest.mark.slow
def test_two_cpu_processes_with_torchrun(tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "stance.cli.train", *_overrides("model=tiny", "model.classifier.epochs=2"), f"hydra.run.dir={run}"]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manifest = json.loads((run / "model" / "manifest.json").read_text())
    assert manifest["metadata"]["world_size"] == 2  # gloo data parallel, one process per rank
    assert (run / "metrics.json").is_file() and (run / "predictions_test.parquet").is_file()


def test_cuda_smoke(make_cfg) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine: the CUDA smoke test runs where a GPU exists")
    train(make_cfg("model=tiny", "model.classifier.device=cuda", "model.classifier.precision=auto"))


# --------------------------------------------------------------------------- tracking


@pytest.mark.slow
def test_tensorboard_and_mlflow_write_their_files(make_cfg, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "tb"
    train(make_cfg("model=tiny", "logger=tensorboard", run_dir=run))
    acc = EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert "final/test/macro_f1" in tags and any(t.startswith("eval/") for t in tags), tags
    store = tmp_path / "mlruns"
    train(make_cfg("model=tiny", "logger=mlflow", f"logger.tracking_uri=file:{store}", run_dir=tmp_path / "ml"))
    metric_files = {p.relative_to(store).parts[-1] for p in store.rglob("*") if "metrics" in p.parts and p.is_file()}
    assert "macro_f1" in metric_files and "eval_macro_f1" in metric_files, metric_files


# --------------------------------------------------------------------------- artefacts and loading


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    import stance.cli._hydra  # noqa: F401
    from stance.resources import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=_overrides("model=tiny", "model.classifier.pooling=cls"))
    run = tmp_path_factory.mktemp("tiny") / "run"
    with open_dict(cfg):
        cfg.run_dir = str(run)
    train(cfg)
    return run


@pytest.mark.slow
def test_the_model_folder_opens_with_standard_tooling(tiny_run: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    model = stance.load_model(tiny_run / "model")
    texts = pd.read_parquet(tiny_run / "predictions_test.parquet")["text"].tolist()[:12]
    ours = torch.softmax(torch.from_numpy(model.logits(texts)), dim=1).numpy()  # before the temperature
    weights = tiny_run / "model" / "weights"
    pipe = pipeline("text-classification", model=str(weights), top_k=None, device="cpu")
    got = [{d["label"]: d["score"] for d in row} for row in pipe(texts)]
    theirs = np.array([[row[c] for c in model.classes_] for row in got])
    np.testing.assert_allclose(theirs, ours, atol=1e-5)
    auto = AutoModelForSequenceClassification.from_pretrained(weights).eval()
    tok = AutoTokenizer.from_pretrained(weights)
    with torch.no_grad():
        logits = auto(**tok(texts, padding=True, truncation=True, max_length=model._max_len,
                            return_tensors="pt")).logits.numpy()
    np.testing.assert_allclose(logits, model.logits(texts), atol=1e-4)
    card = (tiny_run / "model" / "README.md").read_text()
    assert card.startswith("---\n") and "pipeline_tag: text-classification" in card and "library_name: transformers" in card


@pytest.mark.slow
def test_loading_is_device_agnostic_and_leaves_torch_settings_alone(tiny_run: Path, tmp_path: Path) -> None:
    import shutil

    import torch

    copy = tmp_path / "model"
    shutil.copytree(tiny_run / "model", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["params"]["device"] = "cuda"  # as if trained and saved on a GPU machine
    (copy / "manifest.json").write_text(json.dumps(manifest))
    before = torch.get_num_threads()
    model = stance.load_model(copy)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert model.device_.type == expected
    model.predict(["The talks resumed in Doha."])
    assert torch.get_num_threads() == before  # num_threads: 1 applies per call, not globally


def test_early_stopping_uses_the_reported_macro_f1(tiny_run: Path) -> None:
    from stance.metrics import macro_f1
    from stance.models.hf_training import macro_f1_metric

    labels = ["pro_islamabad", "pro_kabul", "neutral"]

    class Pred:  # a validation set without one label: averaged over all three anyway
        predictions = np.array([[3.0, 0, 0], [0, 3, 0], [0, 0, 3], [3, 0, 0]])
        label_ids = np.array([0, 1, 0, 0])

    got = macro_f1_metric(labels)(Pred())["macro_f1"]
    assert got == pytest.approx(macro_f1(["pro_islamabad", "pro_kabul", "pro_islamabad", "pro_islamabad"],
                                         ["pro_islamabad", "pro_kabul", "neutral", "pro_islamabad"], labels))
    assert got == pytest.approx((0.8 + 1.0 + 0.0) / 3)
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    meta = json.loads((tiny_run / "model" / "manifest.json").read_text())["metadata"]
    assert meta["best_val_macro_f1"] == pytest.approx(metrics["validation"]["macro_f1"], abs=1e-9)


@pytest.mark.slow
def test_preprocessing_travels_with_the_model(make_cfg, tmp_path: Path) -> None:
    from stance.scoring.to_file import score_to_file

    run = tmp_path / "run"
    train(make_cfg("model=tfidf", "+data.cleaning.extra_patterns={advert: '^Sponsored by'}", run_dir=run))
    manifest = json.loads((run / "model" / "manifest.json").read_text())
    assert manifest["preprocessing"]["cleaning"]["furniture_patterns"]["advert"] == "^Sponsored by"
    model = stance.load_model(run / "model")
    article = {"id": "n1", "source": "S", "text": f"The talks resumed in Doha on Monday.\n{ADVERT}\n"
                                                   "Both delegations said they would meet again."}
    texts = [r["text"] for r in stance.score_articles(model, [article])]
    assert ADVERT not in texts and len(texts) == 2  # the model's own cleaning rules
    out = score_to_file(model, [article], tmp_path / "s.jsonl")
    info = json.loads(out.paths["run"].read_text())
    assert info["preprocessing"]["origin"]["cleaning"] == "recorded"
    plain = score_to_file(model, [article], tmp_path / "o.jsonl", preprocessing={"cleaning": {}})
    recs = [json.loads(line) for line in plain.paths["records"].read_text().splitlines()]
    assert ADVERT in [r["text"] for r in recs]  # an explicit override (the default rules) is applied...
    info = json.loads(plain.paths["run"].read_text())
    assert info["preprocessing"]["origin"]["cleaning"] == "override"  # ...and recorded
    assert "advert" not in info["preprocessing"]["cleaning"]["furniture_patterns"]
