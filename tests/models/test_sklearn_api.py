"""The classifiers are scikit-learn estimators: params, clone, model selection with groups."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score

from stance.models.tfidf import TfidfClassifier
from stance.models.transformer import TransformerClassifier
from tests.schemes import LABELS, PAK
from tests.scoring import training_corpus

TINY = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}


def _tfidf() -> TfidfClassifier:
    return TfidfClassifier(max_iter=300, word_ngram_range=[1, 1])


def _tiny() -> TransformerClassifier:
    return TransformerClassifier(random_init=True, config_overrides=TINY, max_length=32, epochs=1,
                                 learning_rate=5e-3, num_threads=1, progress=False, calibrate=False)


@pytest.fixture(scope="module")
def data() -> tuple[list[str], list[str], np.ndarray]:
    texts, labels = training_corpus(12)
    return texts, labels, np.arange(len(texts)) % 6  # six "articles"


@pytest.mark.parametrize("make", [_tfidf, _tiny], ids=["tfidf", "tiny"])
def test_params_clone_and_set_params(make) -> None:
    model = make()
    assert is_classifier(model)
    params = model.get_params(deep=True)
    assert params == model.get_params(deep=False) and "labels" in params
    copy = clone(model)
    assert copy is not model and copy.get_params() == params
    copy.set_params(seed=3, labels=list(LABELS))
    assert copy.seed == 3 and copy.labels == list(LABELS) and model.seed == 0
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(not_a_param=1)
    assert not hasattr(clone(model), "classes_")  # clone is unfitted


@pytest.mark.parametrize("make", [_tfidf, pytest.param(_tiny, marks=pytest.mark.slow)], ids=["tfidf", "tiny"])
def test_cross_val_score_and_grid_search_with_group_folds(make, data) -> None:
    texts, labels, groups = data
    scores = cross_val_score(make(), texts, labels, groups=groups, cv=GroupKFold(3))
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    grid = {"C": [0.5, 4.0]} if isinstance(make(), TfidfClassifier) else {"learning_rate": [1e-3, 5e-3]}
    search = GridSearchCV(make(), grid, cv=GroupKFold(2)).fit(texts, labels, groups=groups)
    assert set(search.best_params_) == set(grid)
    best = search.best_estimator_
    assert list(best.classes_) == sorted(set(labels))  # no scheme: the sorted training labels
    assert best.predict_proba(texts[:3]).shape == (3, 3)


def test_classes_come_from_scheme_then_labels_then_data(data) -> None:
    texts, labels, _ = data
    assert list(_tfidf().fit(texts, labels).classes_) == sorted(set(labels))
    assert list(_tfidf().set_params(labels=["neutral", "pro_kabul", "pro_islamabad"]).fit(texts, labels).classes_) == [
        "neutral", "pro_kabul", "pro_islamabad"]
    fitted = _tfidf().fit(texts, labels, scheme=PAK)
    assert list(fitted.classes_) == list(LABELS) and fitted.scheme_ is PAK
    # predict_proba columns follow classes_: the same model with another label order permutes them
    other = _tfidf().set_params(labels=list(reversed(LABELS))).fit(texts, labels)
    np.testing.assert_allclose(other.predict_proba(texts[:5])[:, ::-1], fitted.predict_proba(texts[:5]), atol=1e-6)
