"""Fast paths (stance.scoring.fast): feature-identical TF-IDF, ONNX int8 / bf16 transformer."""

from __future__ import annotations

import copy
import json
import re
import shutil

import numpy as np
import pytest
import torch

import stance
from stance.errors import ConfigError
from stance.scoring.fast import FastTransformer, accelerate, parity
from tests.schemes import PAK
from tests.scoring import article_texts, tfidf_model_dir, training_corpus, write_jsonl

TINY = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}

ODD_TEXTS = [
    "",
    "   ",
    "A",
    "Pakistan's  forces\tgave a\n\ncrushing   response!!",
    "ÜBER-LOUD CAPITALS and ünïcödé, İstanbul, ß, ﬁnance, Ǆ digraph",
    "Emoji 🙂 and CJK 中文 and Arabic كابل and Urdu اسلام آباد",
    "a b c d e f g (short words) -- dashes — and “quotes” ‘single’",
    "non\u00a0breaking\u2003spaces\u2028line separator\x1c\x1d control separators",
    "x" * 300,
    "Kabul said Pakistan's military was blaming Afghanistan for its own security failures.",
]


@pytest.fixture(scope="session")
def model():
    return stance.load_model(tfidf_model_dir())


def _eval_texts(n_articles: int = 40) -> list[str]:
    return [s for a in article_texts(n_articles, seed=5) for s in re.split(r"(?<=\.)\s+", a) if s]


# --------------------------------------------------------------------------- TF-IDF


def _assert_same_matrix(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    a, b = a.tocsr(), b.tocsr()
    a.sort_indices()
    b.sort_indices()
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data, b.data)  # bit-identical values


def test_accelerate_picks_the_path(model):
    assert accelerate(model) is model  # TF-IDF: predict_proba is already the fast path
    with pytest.raises(ConfigError, match="transformer"):
        accelerate(model, "onnx-int8")
    with pytest.raises(ConfigError, match="expected one of"):
        accelerate(model, "int4")


def test_parity_report(model):
    texts = _eval_texts(5)
    res = parity(model, model, texts)
    assert res == {"agreement": 1.0, "max_abs_proba_diff": 0.0, "n": len(texts)}

    class Reversed:  # probabilities of the classes in reverse order: disagrees where not neutral
        classes_ = model.classes_

        def predict_proba(self, t):
            return model.predict_proba(t)[:, ::-1]

    worse = parity(model, Reversed(), texts)
    expected = float(np.mean(model.predict(texts) == model.classes_[::-1][model.predict_proba(texts).argmax(1)]))
    assert worse["agreement"] == pytest.approx(expected) and worse["agreement"] < 1
    assert worse["max_abs_proba_diff"] > 0
    with pytest.raises(ValueError):
        parity(model, model, [])


# --------------------------------------------------------------------------- transformer


@pytest.fixture(scope="session", params=["cls", "mean"])
def tiny_transformer_dir(tmp_path_factory, request):
    from stance.models import transformer as tr

    texts, labels = training_corpus(30)
    # calibrate=False: on this perfectly separable toy data the fitted temperature hits its
    # floor (0.05), which multiplies every logit difference, int8 noise included, by 20
    model = tr.TransformerClassifier(
        random_init=True, config_overrides=TINY, max_length=64, epochs=12, learning_rate=5e-3,
        eval_batch_size=32, num_threads=1, progress=False, seed=0, pooling=request.param, calibrate=False)
    model.fit(texts, labels, texts[::7], labels[::7], scheme=PAK)
    out = tmp_path_factory.mktemp("tiny") / "model"
    model.save(out, extra={"data_fingerprint": "tiny-test"})
    return out


@pytest.fixture(scope="session")
def tiny(tiny_transformer_dir):
    return stance.load_model(tiny_transformer_dir)


@pytest.mark.slow
def test_onnx_int8_agrees_with_fp32(tiny, tmp_path):
    # the pure int8 path (no fp32 fallback for uncertain sentences)
    fast = FastTransformer(tiny, "onnx-int8", threads=1, cache_dir=tmp_path, fallback_margin=0)
    texts = _eval_texts() + training_corpus(10)[0] + ODD_TEXTS
    res = parity(tiny, fast, texts)
    assert res["n"] == len(texts)
    # the probe must exercise every class, or agreement says nothing about the decision boundaries
    assert set(tiny.predict(texts)) == set(PAK.label_list)
    assert res["agreement"] >= 0.99, res
    assert res["max_abs_proba_diff"] < 0.1, res  # hidden size 32: coarser int8 than MiniLM
    assert fast.temperature == pytest.approx(tiny.metadata_["temperature"])
    # order is preserved whatever the length sorting does (dynamic quantisation scales
    # activations per batch, so values move slightly with the batch's other members)
    one_by_one = np.vstack([fast.predict_proba([t]) for t in texts[:6]])
    batched = fast.predict_proba(texts[:6])
    np.testing.assert_allclose(one_by_one, batched, atol=3e-2)  # hidden size 32: coarse int8 scales
    assert list(one_by_one.argmax(axis=1)) == list(batched.argmax(axis=1))
    # the exported model is cached by weights hash and reused
    assert fast.onnx_path.is_file() and fast.onnx_path.parent.parent == tmp_path
    again = FastTransformer(tiny, "onnx-int8", cache_dir=tmp_path)
    assert again.onnx_path == fast.onnx_path
    assert fast.predict_proba([]).shape == (0, len(tiny.classes_))
    assert fast.n_fallback == 0


@pytest.mark.parametrize("tamper", ["truncate", "swap", "no_record"])
@pytest.mark.slow
def test_a_tampered_onnx_cache_is_detected_and_re_exported(tiny, tmp_path, tamper):
    texts = _eval_texts(12)
    first = FastTransformer(tiny, "onnx-int8", threads=1, cache_dir=tmp_path, fallback_margin=0)
    expected, path = first.predict_proba(texts), first.onnx_path
    assert first.cache_note is None
    if tamper == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif tamper == "swap":  # a valid ONNX file of another network (the untrained head of a fresh init)
        from stance.scoring.fast_export import export_onnx_int8, hf_parts

        parts = hf_parts(tiny)
        other = copy.deepcopy(parts["model"])
        torch.manual_seed(1)
        with torch.no_grad():
            for p_ in other.parameters():
                p_.normal_(std=0.5)
        shutil.copy(export_onnx_int8(other, parts["tokenizer"], tmp_path / "other"), path)
    else:
        (path.parent / "export.json").unlink()
    again = FastTransformer(tiny, "onnx-int8", threads=1, cache_dir=tmp_path, fallback_margin=0)
    assert again.cache_note and "re-exported" in again.cache_note
    np.testing.assert_allclose(again.predict_proba(texts), expected, atol=1e-6)
    third = FastTransformer(tiny, "onnx-int8", threads=1, cache_dir=tmp_path, fallback_margin=0)
    assert third.cache_note is None  # the re-export is recorded and trusted


@pytest.mark.slow
def test_uncertain_sentences_fall_back_to_fp32(tiny, tmp_path):
    texts = _eval_texts(10)
    ref = tiny.predict_proba(texts)
    every = FastTransformer(tiny, "onnx-int8", cache_dir=tmp_path, fallback_margin=1.0)
    np.testing.assert_allclose(every.predict_proba(texts), ref, atol=1e-6)
    assert every.n_fallback == every.n_scored == len(texts)
    some = FastTransformer(tiny, "onnx-int8", cache_dir=tmp_path)  # default margin 0.2
    assert some.fallback_margin == 0.2
    proba = some.predict_proba(texts)
    srt = np.sort(proba, axis=1)
    fell_back = np.isclose(proba, ref, atol=1e-6).all(axis=1)
    assert fell_back.sum() >= some.n_fallback  # the re-scored ones are exactly fp32
    assert ((srt[:, -1] - srt[:, -2] >= 0.2) | fell_back).all()
    with pytest.raises(ConfigError):
        FastTransformer(tiny, "onnx-int8", cache_dir=tmp_path, fallback_margin=2)


@pytest.mark.slow
def test_bf16_agrees_with_fp32(tiny):
    fast = accelerate(tiny, "bf16", threads=1, fallback_margin=0)
    assert isinstance(fast, FastTransformer)
    texts = _eval_texts(20)
    res = parity(tiny, fast, texts)
    assert res["max_abs_proba_diff"] < 0.02, res
    # labels agree wherever fp32 is not itself on a near-tie (the toy model has many near-ties,
    # where a difference of 1e-3 flips the argmax and agreement says nothing)
    ref, got = tiny.predict_proba(texts), fast.predict_proba(texts)
    top2 = np.sort(ref, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 2 * res["max_abs_proba_diff"]
    assert clear.sum() >= len(texts) // 2
    assert (ref.argmax(axis=1) == got.argmax(axis=1))[clear].all()


@pytest.mark.slow
def test_cli_fast_path_with_parity_check(tiny_transformer_dir, tmp_path, monkeypatch, capsys):
    from stance.cli.score import main
    from stance.scoring.records import read_records

    monkeypatch.setenv("STANCE_CACHE_DIR", str(tmp_path / "cache"))
    rows = [{"id": f"a{i}", "source": "Wire", "text": t} for i, t in enumerate(article_texts(4, seed=3))]
    inp = write_jsonl(tmp_path / "a.jsonl", rows)
    sents = write_jsonl(tmp_path / "s.jsonl", [{"text": t} for t in _eval_texts(10)])
    out = tmp_path / "out.jsonl"
    main(["--no-progress", "--model", str(tiny_transformer_dir), "--input", str(inp), "--output", str(out),
          "--fast", "onnx-int8", "--threads", "1", "--parity-check", str(sents)])
    text = capsys.readouterr().out
    assert "parity (onnx-int8 vs fp32)" in text
    recs = list(read_records(out))
    assert recs and {r["article_id"] for r in recs} == {r["id"] for r in rows}
    run = json.loads((tmp_path / "out.jsonl.run.json").read_text())
    assert run["fingerprint"]["fast"] == "onnx-int8"
    # an impossible agreement threshold stops the run before scoring
    with pytest.raises(SystemExit) as e:
        main(["--no-progress", "--model", str(tiny_transformer_dir), "--input", str(inp), "--output",
              str(tmp_path / "o2.jsonl"), "--fast", "onnx-int8", "--parity-check", str(sents),
              "--parity-min", "1.01"])
    assert e.value.code == 2 and not (tmp_path / "o2.jsonl").exists()
