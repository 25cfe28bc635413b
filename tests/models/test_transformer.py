"""TransformerClassifier on a tiny random BERT (fast) and the packaged MiniLM (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import stance
from stance.errors import ConfigError, ModelError
from stance.models.base import MANIFEST
from stance.models.transformer import TransformerClassifier
from stance.resources import default_encoder
from tests.schemes import LABELS

PI, PK, NE = LABELS
TINY = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "model"

_TEMPLATES = {
    PI: [
        "The Pakistani army rightly struck terrorist hideouts in {place}.",
        "Islamabad says its forces acted in self-defence near {place}.",
        "Pakistan praised its troops for dismantling militant camps around {place}.",
        "Officials in Islamabad blamed Kabul for sheltering fighters in {place}.",
    ],
    PK: [
        "Afghan forces bravely resisted Pakistani aggression in {place}.",
        "Kabul condemned the illegal Pakistani airstrikes on {place}.",
        "The Taliban government vowed to defend Afghan sovereignty at {place}.",
        "Afghan civilians in {place} were killed by Pakistani shelling, Kabul said.",
    ],
    NE: [
        "Delegations from both countries met in Doha to discuss {place}.",
        "The border crossing near {place} reopened on Tuesday for trade.",
        "Aid agencies delivered food to families displaced from {place}.",
        "Weather delayed flights out of {place} this week.",
    ],
}
_PLACES = ["Kurram", "Khost", "Paktika", "Chaman", "Torkham", "Kunar", "Spin Boldak"]


def make_corpus(per_label: int, offset: int = 0) -> tuple[list[str], list[str]]:
    """``per_label`` sentences per label, interleaved, from templates x places."""
    texts, labels = [], []
    for i in range(offset, offset + per_label):
        for label, templates in _TEMPLATES.items():
            place = _PLACES[i % len(_PLACES)]
            texts.append(templates[i % len(templates)].format(place=place) + f" ({i})")
            labels.append(label)
    return texts, labels


def tiny(**kwargs: object) -> TransformerClassifier:
    params = {
        "random_init": True,
        "config_overrides": TINY,
        "max_length": 48,
        "batch_size": 8,
        "epochs": 3,
        "learning_rate": 3e-3,
        "warmup_ratio": 0.0,
        "progress": False,
        "seed": 0,
        "num_threads": 1,  # a model this small trains several times faster on one thread
        "labels": list(LABELS),
    }
    params.update(kwargs)
    return TransformerClassifier(**params)


@pytest.fixture(scope="module", autouse=True)
def _restore_torch_threads() -> object:
    """``num_threads`` sets torch's global thread count: put it back for other test modules."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data() -> dict[str, list[str]]:
    train_x, train_y = make_corpus(20)  # 60 sentences
    val_x, val_y = make_corpus(5, offset=20)  # 15 sentences
    return {"train_x": train_x, "train_y": train_y, "val_x": val_x, "val_y": val_y}


@pytest.fixture(scope="module")
def fitted(data: dict[str, list[str]]) -> TransformerClassifier:
    return tiny().fit(data["train_x"], data["train_y"], data["val_x"], data["val_y"])


# ---------------------------------------------------------------------------- fast: tiny BERT
@pytest.mark.slow
def test_predict_proba_shape_order_and_sum(fitted: TransformerClassifier, data: dict) -> None:
    texts = data["val_x"]
    assert list(fitted.classes_) == list(LABELS)
    proba = fitted.predict_proba(texts)
    assert proba.shape == (len(texts), len(LABELS)) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    # rows follow the input order, whatever the internal length sorting
    np.testing.assert_allclose(fitted.predict_proba(texts[::-1]), proba[::-1], atol=1e-6)
    # a sentence alone (no padding) scores as within a padded batch
    np.testing.assert_allclose(fitted.predict_proba([texts[3]])[0], proba[3], atol=1e-5)
    assert fitted.predict_proba([]).shape == (0, len(LABELS))
    assert list(fitted.predict(texts[:2])) == [LABELS[i] for i in proba[:2].argmax(axis=1)]


@pytest.mark.slow
def test_proba_is_tempered_softmax_of_logits(fitted: TransformerClassifier, data: dict) -> None:
    t = fitted.metadata_["temperature"]
    assert t > 0 and t == fitted.temperature_
    z = fitted.logits(data["val_x"]).astype(np.float64) / t
    by_hand = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)  # independent of the package's softmax
    np.testing.assert_allclose(fitted.predict_proba(data["val_x"]), by_hand, atol=1e-6)
    untempered = np.exp(z * t) / np.exp(z * t).sum(axis=1, keepdims=True)
    if abs(t - 1) > 0.05:  # the temperature really divides the logits
        assert np.abs(fitted.predict_proba(data["val_x"]) - untempered).max() > 1e-4


def test_history_and_metadata(fitted: TransformerClassifier, data: dict) -> None:
    meta = fitted.metadata_
    history = meta["history"]
    assert 1 <= len(history) <= 3
    for i, rec in enumerate(history, start=1):
        assert rec["epoch"] == i and np.isfinite(rec["train_loss"])
        assert 0.0 <= rec["val_macro_f1"] <= 1.0
    assert 1 <= meta["best_epoch"] <= len(history)
    best = history[meta["best_epoch"] - 1]["val_macro_f1"]
    assert best == max(r["val_macro_f1"] for r in history) == meta["best_val_macro_f1"]
    assert meta["val_nll_after"] <= meta["val_nll_before"] + 1e-9
    assert meta["steps"] == len(history) * 8  # ceil(60 / 8) optimiser steps per epoch
    assert meta["encoder"] == default_encoder()
    assert 500_000 < meta["n_parameters"] < 2_000_000  # 30522 x 32 embeddings dominate
    assert meta["train_seconds"] > 0


def test_best_weights_are_restored(fitted: TransformerClassifier, data: dict) -> None:
    from sklearn.metrics import f1_score

    meta = fitted.metadata_
    pred = fitted.predict(data["val_x"])
    f1 = f1_score(data["val_y"], pred, labels=list(LABELS), average="macro", zero_division=0)
    assert f1 == pytest.approx(meta["history"][meta["best_epoch"] - 1]["val_macro_f1"])


def test_save_load_round_trip(fitted: TransformerClassifier, data: dict, tmp_path: Path) -> None:
    out = fitted.save(tmp_path / "model")
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["kind"] == "transformer"
    assert manifest["labels"] == list(LABELS)
    assert manifest["params"]["config_overrides"] == TINY
    assert manifest["metadata"]["temperature"] == fitted.temperature_
    files = {p.name for p in (out / "weights").iterdir()}
    assert {"config.json", "model.safetensors"} <= files
    assert not any(name.endswith((".bin", ".pkl", ".pt")) for name in files)

    loaded = stance.load_model(str(out))
    assert isinstance(loaded, TransformerClassifier)
    assert loaded.get_params() == fitted.get_params()
    assert list(loaded.classes_) == list(LABELS)
    assert loaded.temperature_ == fitted.temperature_
    texts = data["val_x"] + data["train_x"][:5]
    np.testing.assert_allclose(loaded.predict_proba(texts), fitted.predict_proba(texts), atol=1e-6)
    assert list(loaded.predict(texts)) == list(fitted.predict(texts))


@pytest.mark.slow
def test_early_stopping_without_improvement(data: dict) -> None:
    # learning rate 0: the weights never change, validation F1 never improves after epoch 1
    model = tiny(learning_rate=0.0, epochs=6, patience=2, max_length=24)
    model.fit(data["train_x"][:24], data["train_y"][:24], data["val_x"], data["val_y"])
    history = model.metadata_["history"]
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert model.metadata_["best_epoch"] == 1


@pytest.mark.slow
def test_without_validation_trains_all_epochs_and_keeps_absent_labels(data: dict) -> None:
    # no neutral sentences in training: classes_ still holds all three labels
    pairs = [(x, y) for x, y in zip(data["train_x"], data["train_y"]) if y != NE][:20]
    texts, labels = [x for x, _ in pairs], [y for _, y in pairs]
    model = tiny(epochs=2, max_length=24).fit(texts, labels)
    meta = model.metadata_
    assert [r["epoch"] for r in meta["history"]] == [1, 2]
    assert all(r["val_macro_f1"] is None for r in meta["history"])
    assert meta["best_epoch"] == 2
    assert meta["temperature"] == 1.0 and meta["val_nll_before"] is None
    assert list(model.classes_) == list(LABELS)
    assert model.predict_proba(texts[:4]).shape == (4, 3)


@pytest.mark.slow
def test_max_steps_grad_accum_and_seeding(data: dict) -> None:
    texts, labels = data["train_x"][:32], data["train_y"][:32]
    # 32 sentences / batch 4 = 8 batches, 2 per step = 4 steps per epoch; capped at 3
    kwargs = {"batch_size": 4, "grad_accum_steps": 2, "max_steps": 3, "epochs": 5, "max_length": 24}
    a = tiny(**kwargs).fit(texts, labels)
    assert a.metadata_["steps"] == 3 and len(a.metadata_["history"]) == 1
    b = tiny(**kwargs).fit(texts, labels)
    np.testing.assert_allclose(a.logits(texts[:8]), b.logits(texts[:8]), atol=1e-6)


def test_bad_encoder_raises_model_error(tmp_path: Path, data: dict) -> None:
    missing = tmp_path / "no_such_encoder"
    with pytest.raises(ModelError, match="no_such_encoder") as err:
        TransformerClassifier(encoder=str(missing), progress=False).fit(data["train_x"][:3], data["train_y"][:3])
    assert "config.json" in str(err.value)
    empty = tmp_path / "empty_encoder"
    empty.mkdir()
    with pytest.raises(ModelError, match="empty_encoder.*config.json"):
        TransformerClassifier(encoder=str(empty), progress=False).fit(data["train_x"][:3], data["train_y"][:3])


def test_incomplete_model_directory(fitted: TransformerClassifier, tmp_path: Path) -> None:
    out = fitted.save(tmp_path / "model")
    (out / "weights" / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="safetensors"):
        stance.load_model(out)


@pytest.mark.parametrize("name", ["tiny", "transformer"])
def test_hydra_configs_instantiate(name: str) -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"seed": 7, "logger": {"report_to": "none"},
                            "model": OmegaConf.load(CONFIGS / f"{name}.yaml")})
    assert cfg.model.name == name
    model = instantiate(cfg.model.classifier)
    assert isinstance(model, TransformerClassifier)
    params = model.get_params()
    assert set(cfg.model.classifier) - {"_target_", "_convert_"} | {"labels"} == set(params)
    assert params["seed"] == 7 and params["encoder"] is None
    if name == "tiny":
        assert params["random_init"] and params["config_overrides"] == TINY and params["epochs"] == 2
        assert type(params["config_overrides"]) is dict


# ---------------------------------------------------------------------------- slow: MiniLM
@pytest.mark.slow
def test_minilm_fine_tuning_lowers_the_loss() -> None:
    texts, labels = make_corpus(8)  # 24 sentences
    model = TransformerClassifier(
        batch_size=8, epochs=4, learning_rate=1e-4, warmup_ratio=0.0, max_length=48,
        calibrate=False, progress=False, seed=0,
    )  # 3 steps per epoch, 12 in all
    model.fit(texts, labels)
    history = model.metadata_["history"]
    assert model.metadata_["steps"] == 12
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert 20_000_000 < model.metadata_["n_parameters"] < 25_000_000
    print(f"MiniLM: {model.metadata_['train_sentences_per_second']} sentences/s, losses "
          f"{[round(r['train_loss'], 4) for r in history]}")


@pytest.mark.slow
def test_mean_pooling_head_round_trip(data: dict, tmp_path: Path) -> None:
    from stance.models.pooling import HEAD_WEIGHTS, MeanPoolingClassifier

    model = tiny(pooling="mean", epochs=2, max_length=24).fit(
        data["train_x"], data["train_y"], data["val_x"], data["val_y"]
    )
    assert isinstance(model.model_, MeanPoolingClassifier)
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "weights" / HEAD_WEIGHTS).is_file()
    loaded = stance.load_model(tmp_path / "m")
    assert isinstance(loaded.model_, MeanPoolingClassifier)
    np.testing.assert_allclose(loaded.predict_proba(data["val_x"]), model.predict_proba(data["val_x"]), atol=1e-6)


def test_mean_pooling_ignores_padding() -> None:
    import torch

    model = tiny(pooling="mean")
    model.classes_ = np.array(LABELS)
    net = model._build_model(model.resolved_encoder()).eval()
    ids = torch.tensor([[101, 2000, 2001, 102]])
    padded = torch.tensor([[101, 2000, 2001, 102, 0, 0]])
    with torch.inference_mode():
        a = net(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        b = net(input_ids=padded, attention_mask=torch.tensor([[1, 1, 1, 1, 0, 0]])).logits
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_unknown_pooling_is_a_config_error(data: dict) -> None:
    from stance.errors import ConfigError

    with pytest.raises(ConfigError, match="pooling"):
        tiny(pooling="max").fit(data["train_x"][:6], data["train_y"][:6])


def test_concurrent_batches_give_the_same_logits(fitted: TransformerClassifier, data: dict) -> None:
    import torch

    texts = data["val_x"] + [t + " and more words here" for t in data["train_x"][:20]]
    fitted.eval_batch_size = 5
    threads = torch.get_num_threads()
    try:
        fitted.inference_workers = 1
        one = fitted.logits(texts)
        fitted.inference_workers = 3
        many = fitted.logits(texts)
    finally:
        fitted.inference_workers, fitted.eval_batch_size = None, 64
    assert torch.get_num_threads() == threads  # restored after the concurrent pass
    np.testing.assert_allclose(many, one, rtol=1e-5, atol=1e-5)
    # input order is kept although batches are formed longest-first
    np.testing.assert_allclose(fitted.logits(texts[::-1])[::-1], one, rtol=1e-4, atol=1e-4)


def test_inference_workers_must_be_positive(data: dict) -> None:
    from stance.errors import ConfigError

    with pytest.raises(ConfigError, match="inference_workers"):
        tiny(inference_workers=0).fit(data["train_x"], data["train_y"])


def test_training_arguments_carry_the_settings(tmp_path: Path) -> None:
    from stance.models.hf_training import training_arguments

    args = training_arguments(
        str(tmp_path), batch_size=8, eval_batch_size=32, learning_rate=1e-4, weight_decay=0.01, epochs=3,
        max_steps=None, warmup_ratio=0.1, grad_accum_steps=2, max_grad_norm=1.0, seed=5, has_validation=True,
        group_by_length=True, use_cpu=True, precision="auto", gradient_checkpointing=False,
        save_strategy="epoch", save_steps=500, save_total_limit=2, report_to="none", run_name="r",
        progress=False, extra={"logging_first_step": True})
    assert args.train_sampling_strategy == "group_by_length" and args.gradient_accumulation_steps == 2
    assert args.load_best_model_at_end and args.metric_for_best_model == "macro_f1"
    assert (args.bf16, args.fp16) == (False, False) and args.seed == args.data_seed == 5
    assert args.logging_first_step  # extra fields reach TrainingArguments
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        training_arguments(str(tmp_path), **{**_ARGS, "precision": "bf16"})
    with pytest.raises(ConfigError, match="invalid training arguments"):
        training_arguments(str(tmp_path), **{**_ARGS, "extra": {"no_such_field": 1}})


_ARGS = dict(batch_size=8, eval_batch_size=8, learning_rate=1e-4, weight_decay=0.0, epochs=1, max_steps=None,
             warmup_ratio=0.0, grad_accum_steps=1, max_grad_norm=None, seed=0, has_validation=False,
             group_by_length=False, use_cpu=True, precision="auto", gradient_checkpointing=False,
             save_strategy="no", save_steps=10, save_total_limit=None, report_to="none", run_name=None,
             progress=False)


@pytest.mark.slow
def test_freeze_embeddings_keeps_them_fixed(data: dict) -> None:
    import torch
    from transformers import set_seed

    model = tiny(freeze_embeddings=True, epochs=2).fit(data["train_x"], data["train_y"])
    set_seed(0)
    fresh = model._build_model(model.resolved_encoder())
    trained, init = dict(model.model_.named_parameters()), dict(fresh.named_parameters())
    frozen = [n for n in trained if ".embeddings." in f".{n}"]
    assert frozen and all(not trained[n].requires_grad for n in frozen)
    for n in trained:
        same = torch.equal(trained[n].detach(), init[n].detach())
        assert same == (n in frozen), n
    history = model.metadata_["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
