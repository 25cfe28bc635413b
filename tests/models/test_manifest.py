"""Model directories are validated before use (stance.models.manifest and the loaders)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stance
from stance.errors import ModelError
from stance.models.manifest import MANIFEST, check_temperature, content_fingerprint
from stance.models.tfidf import TfidfClassifier
from tests.schemes import PAK
from tests.scoring import tfidf_model_dir, training_corpus


@pytest.fixture(scope="module")
def saved() -> Path:
    return tfidf_model_dir()


def _copy(saved: Path, tmp_path: Path, keep_fingerprint: bool = False) -> Path:
    """A copy of the model; without its fingerprint unless asked, so each check below is the
    one that must catch the damage (not the fingerprint, which catches any change)."""
    out = tmp_path / "model"
    shutil.copytree(saved, out)
    if not keep_fingerprint:
        m = json.loads((out / MANIFEST).read_text())
        m.pop("fingerprint")
        (out / MANIFEST).write_text(json.dumps(m))
    return out


def _edit(path: Path, fn) -> None:
    m = json.loads((path / MANIFEST).read_text())
    fn(m)
    (path / MANIFEST).write_text(json.dumps(m))


def _texts() -> list[str]:
    return training_corpus(6)[0]


def test_the_saved_model_loads_and_predicts(saved, tmp_path):
    model = stance.load_model(_copy(saved, tmp_path))
    assert model.predict_proba(_texts()).shape == (len(_texts()), 3)


RAW_MANIFESTS = {
    "json string": (b'"a stance model"', "holds a JSON str"),
    "json list": (b"[1, 2]", "holds a JSON list"),
    "not utf-8": ('{"kind": "tfidf", "labels": ["a", "b"], "note": "\u00e9"}'.encode("latin-1"), "not UTF-8"),
    "deeply nested": (b'{"kind": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    "truncated": (b'{"kind": "tfidf", "lab', "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(RAW_MANIFESTS))
def test_a_damaged_manifest_is_a_model_error(saved, tmp_path, case):
    raw, message = RAW_MANIFESTS[case]
    out = _copy(saved, tmp_path)
    (out / MANIFEST).write_bytes(raw)
    with pytest.raises(ModelError, match=message) as e:
        stance.load_model(out)
    assert str(out) in str(e.value)


EDITS = {
    "unknown param": (lambda m: m["params"].update(sneaky=1), "unknown parameter"),
    "wrong param type": (lambda m: m["params"].update(C="high"), "field 'params'"),
    "labels not strings": (lambda m: m.update(labels=[1, 2, 3]), "field 'labels'"),
    "labels repeated": (lambda m: m.update(labels=["neutral", "neutral", "pro_kabul"]), "field 'labels'"),
    "params a list": (lambda m: m.update(params=[1]), "field 'params': expected dict"),
    "metadata a string": (lambda m: m.update(metadata="x"), "field 'metadata'"),
    "kind missing": (lambda m: m.pop("kind"), "lacks 'kind'"),
    "labels differ from scheme": (lambda m: m.update(labels=["a", "b", "c"]), "differ from the scheme"),
    "newer package": (lambda m: m.update(package_version="99.0"), "newer than this"),
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_a_manifest_with_bad_fields_is_a_model_error(saved, tmp_path, case):
    fn, message = EDITS[case]
    out = _copy(saved, tmp_path)
    _edit(out, fn)
    with pytest.raises(ModelError, match=message):
        stance.load_model(out)


def _save_npy(path: Path, arr: np.ndarray) -> None:
    np.save(path, arr, allow_pickle=False)


WEIGHTS = {
    "truncated npy": (lambda d: (d / "coef.npy").write_bytes((d / "coef.npy").read_bytes()[:100]), "unreadable array"),
    "short idf": (lambda d: _save_npy(d / "word_idf.npy", np.load(d / "word_idf.npy")[:-3]), "expected .* rows"),
    "nan coefficient": (lambda d: _save_npy(d / "coef.npy", np.where(np.eye(*np.load(d / "coef.npy").shape) > 0,
                                                                     np.nan, np.load(d / "coef.npy"))), "NaN"),
    "object array": (lambda d: np.save(d / "intercept.npy", np.array(["a", "b", "c"], dtype=object),
                                       allow_pickle=True), "unreadable array"),
    "coef wrong width": (lambda d: _save_npy(d / "coef.npy", np.load(d / "coef.npy")[:, :-1]), "columns"),
    "head size differs from labels": (lambda d: _save_npy(d / "intercept.npy", np.zeros(2)), "expected 3 rows"),
    "vocabulary index out of range": (
        lambda d: (d / "word_vocabulary.json").write_text(json.dumps(
            {**json.loads((d / "word_vocabulary.json").read_text()), "zzz": 10**9})), "out of range"),
    "vocabulary not an object": (lambda d: (d / "char_vocabulary.json").write_text("[1]"), "term -> integer"),
    "weights missing": (lambda d: (d / "coef.npy").unlink(), "missing"),
}


@pytest.mark.parametrize("case", sorted(WEIGHTS))
def test_damaged_weights_are_a_model_error(saved, tmp_path, case):
    fn, message = WEIGHTS[case]
    out = _copy(saved, tmp_path)
    fn(out)
    with pytest.raises(ModelError, match=message):
        stance.load_model(out)


def test_permuted_labels_are_refused_by_the_fingerprint(saved, tmp_path):
    out = _copy(saved, tmp_path, keep_fingerprint=True)

    def permute(m):
        m["labels"] = [m["labels"][1], m["labels"][0], m["labels"][2]]
        m["scheme"]["labels"] = m["labels"] if isinstance(m["scheme"]["labels"], list) else m["scheme"]["labels"]

    _edit(out, permute)
    with pytest.raises(ModelError, match="changed after it was saved"):
        stance.load_model(out)


def test_swapped_weights_are_refused_by_the_fingerprint(saved, tmp_path):
    out = _copy(saved, tmp_path, keep_fingerprint=True)
    coef = np.load(out / "coef.npy")
    _save_npy(out / "coef.npy", coef[::-1].copy())
    with pytest.raises(ModelError, match="changed after it was saved"):
        stance.load_model(out)


def test_a_retrained_identical_model_has_the_same_fingerprint(tmp_path):
    texts, labels = training_corpus()
    dirs = []
    for i in range(2):
        m = TfidfClassifier(C=2.0, max_iter=300).fit(texts, labels, scheme=PAK)
        dirs.append(m.save(tmp_path / f"run{i}" / "model", extra={"config": {"run_dir": f"/runs/{i}"}}))
    a, b = (json.loads((d / MANIFEST).read_text()) for d in dirs)
    assert a["config"] != b["config"]  # different paths (and timings) ...
    assert a["fingerprint"] == b["fingerprint"] == content_fingerprint(dirs[0], a)  # ... same content


@pytest.mark.parametrize("value", [float("nan"), -1.0, 0, float("inf"), "1.0", True, None])
def test_bad_temperatures_are_refused(value):
    with pytest.raises(ModelError, match="temperature"):
        check_temperature(value, "somewhere")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
FIELDS = ["kind", "labels", "params", "metadata", "scheme", "preprocessing", "package_version",
          "validation_confusion_matrix", "data_fingerprint"]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=JSON, drop_fingerprint=st.booleans())
def test_fuzzed_manifest_fields_load_or_raise_a_model_error(saved, tmp_path_factory, field, value, drop_fingerprint):
    out = _copy(saved, tmp_path_factory.mktemp("fuzz"), keep_fingerprint=not drop_fingerprint)
    _edit(out, lambda m: m.update({field: value}))
    try:
        model = stance.load_model(out)
    except ModelError:
        return
    # loaded: then it must still be a working classifier over its own labels
    proba = model.predict_proba(_texts())
    assert proba.shape == (len(_texts()), len(model.classes_)) and np.allclose(proba.sum(axis=1), 1)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["coef.npy", "intercept.npy", "word_idf.npy", "char_idf.npy", "word_vocabulary.json"]),
       data=st.binary(max_size=300))
def test_fuzzed_weight_files_raise_a_model_error(saved, tmp_path_factory, name, data):
    out = _copy(saved, tmp_path_factory.mktemp("fuzz"))
    (out / name).write_bytes(data)
    with pytest.raises(ModelError):
        stance.load_model(out)
