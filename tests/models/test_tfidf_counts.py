"""The TF-IDF model's cached-n-gram features equal scikit-learn's own vectorizers, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from stance.models.tfidf import TfidfClassifier
from stance.models.tfidf_counts import TfidfCounts
from tests.scoring import article_texts, training_corpus

ODD = [
    "", "   ", "Kabul", "a b c d e f g (short words) -- dashes — and “quotes” ‘single’",
    "non\u00a0breaking\u2003spaces\u2028line separator\x1c\x1d control separators", "x" * 300,
    "Kabul said Pakistan's military was blaming Afghanistan for its own security failures.",
]


def reference(model: TfidfClassifier, texts: list[str]) -> sp.csr_matrix:
    """scikit-learn's own ``TfidfVectorizer.transform`` of both blocks."""
    return sp.hstack([model.word_.transform(texts), model.char_.transform(texts)], format="csr")


def assert_same(a: sp.csr_matrix, b: sp.csr_matrix) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    a, b = a.tocsr(), b.tocsr()
    a.sort_indices()
    b.sort_indices()
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data, b.data)


def probe() -> list[str]:
    texts = [s for a in article_texts(12, seed=5) for s in a.split(". ") if s]
    return ODD + texts + [t.upper() for t in texts[:20]]


@pytest.mark.parametrize("params", [
    {},
    {"char_ngram_range": (2, 4), "word_ngram_range": (1, 1), "sublinear_tf": False},
    {"char_ngram_range": (1, 3), "max_features": 500, "min_df": 2},
])
def test_features_are_sklearns_bit_for_bit(params, tmp_path):
    texts, labels = training_corpus(20)
    model = TfidfClassifier(max_iter=300, **params).fit(texts, labels)
    x = probe()
    assert_same(model.features(x), reference(model, x))
    assert_same(model.features(x[::-1]), reference(model, x[::-1]))  # warm cache, other order
    z = reference(model, x) @ model.coef_.T + model.intercept_
    by_hand = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(model.predict_proba(x), by_hand / by_hand.sum(1, keepdims=True), atol=1e-6)
    loaded = TfidfClassifier.load(model.save(tmp_path / "m"))
    assert_same(loaded.features(x), reference(loaded, x))
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_a_small_cache_is_cleared_and_gives_the_same_counts():
    texts, labels = training_corpus(20)
    model = TfidfClassifier(max_iter=300).fit(texts, labels)
    small = TfidfCounts(model.char_, cache_words=5)
    x = probe()
    assert_same(small.transform(x), model.char_.transform(x))
    assert len(small._cache) > 5
    second = x[-3:]
    assert_same(small.transform(second), model.char_.transform(second))
    assert set(small._cache) <= {w for t in second for w in t.lower().split()}  # cleared first
