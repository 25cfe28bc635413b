"""TF-IDF (word 1-2-grams + char 3-5-grams) + class-weighted logistic regression.

Saved as plain data only (vocabularies as JSON, idf/coefficients as ``.npy`` loaded with
``allow_pickle=False``), so loading a model never unpickles objects. Inference uses the
fitted vectorizers and a numpy softmax, without sklearn's estimator overhead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from stance.models.base import StanceClassifier


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class TfidfClassifier(StanceClassifier):
    """TF-IDF features and a linear classifier.

    Args:
        word_ngram_range: word n-gram range.
        char_ngram_range: character n-gram range (``char_wb`` analyzer).
        min_df: minimum document frequency for both vectorizers.
        max_features: cap on each vocabulary (None = no cap).
        sublinear_tf: use 1 + log(tf).
        C: inverse regularisation strength of the logistic regression.
        class_weight: ``"balanced"`` or None.
        max_iter: solver iterations.
        seed: random seed.
        labels: the label set and its order (None = the sorted labels of the training data).
    """

    kind = "tfidf"

    def __init__(
        self,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (3, 5),
        min_df: int = 1,
        max_features: int | None = 200_000,
        sublinear_tf: bool = True,
        C: float = 4.0,
        class_weight: str | None = "balanced",
        max_iter: int = 2000,
        seed: int = 0,
        labels: Sequence[str] | None = None,
    ) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.seed = seed
        self.labels = labels

    # ------------------------------------------------------------------ building blocks
    def _vectorizers(self) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        common = dict(min_df=self.min_df, max_features=self.max_features, sublinear_tf=self.sublinear_tf,
                      lowercase=True, dtype=np.float32)
        word = TfidfVectorizer(analyzer="word", ngram_range=tuple(self.word_ngram_range), **common)
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.char_ngram_range), **common)
        return word, char

    def sklearn_pipeline(self) -> Pipeline:
        """The equivalent unfitted scikit-learn ``Pipeline`` (used for training and as a reference)."""
        word, char = self._vectorizers()
        clf = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter,
                                 random_state=self.seed)
        return Pipeline([("features", FeatureUnion([("word", word), ("char", char)])), ("clf", clf)])

    # ------------------------------------------------------------------ fit / predict
    def _fit(self, texts: list[str], labels: list[str], val_texts: list[str], val_labels: list[str]) -> None:
        pipe = self.sklearn_pipeline()
        pipe.fit(texts, labels)
        union = pipe.named_steps["features"]
        self.word_, self.char_ = (t for _, t in union.transformer_list)
        clf: LogisticRegression = pipe.named_steps["clf"]
        # expand to the full label set (a label absent from training gets -inf logits)
        coef = np.zeros((len(self.classes_), clf.coef_.shape[1]), dtype=np.float32)
        intercept = np.full(len(self.classes_), -1e9, dtype=np.float32)
        fitted = list(clf.classes_)
        if len(fitted) == 2:  # binary LR keeps one row: logit for classes_[1]
            rows = {fitted[0]: -0.5 * clf.coef_[0], fitted[1]: 0.5 * clf.coef_[0]}
            icpt = {fitted[0]: -0.5 * clf.intercept_[0], fitted[1]: 0.5 * clf.intercept_[0]}
        else:
            rows = dict(zip(fitted, clf.coef_))
            icpt = dict(zip(fitted, clf.intercept_))
        for i, c in enumerate(self.classes_):
            if c in rows:
                coef[i], intercept[i] = rows[c], icpt[c]
        self.coef_, self.intercept_ = coef, intercept
        self.metadata_["n_features"] = int(coef.shape[1])

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Sparse TF-IDF features (word block then char block)."""
        return sp.hstack([self.word_.transform(texts), self.char_.transform(texts)], format="csr")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, columns ordered by ``classes_``."""
        self._check_fitted()
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        logits = self.features(texts) @ self.coef_.T + self.intercept_
        return _softmax(np.asarray(logits, dtype=np.float64)).astype(np.float32)

    # ------------------------------------------------------------------ persistence
    def _save_weights(self, path: Path) -> None:
        for name, vec in (("word", self.word_), ("char", self.char_)):
            vocab = {k: int(v) for k, v in vec.vocabulary_.items()}
            (path / f"{name}_vocabulary.json").write_text(json.dumps(vocab, ensure_ascii=False))
            np.save(path / f"{name}_idf.npy", vec.idf_.astype(np.float64), allow_pickle=False)
        np.save(path / "coef.npy", self.coef_, allow_pickle=False)
        np.save(path / "intercept.npy", self.intercept_, allow_pickle=False)

    def _load_weights(self, path: Path) -> None:
        vecs = []
        for name, vec in zip(("word", "char"), self._vectorizers()):
            vec.vocabulary_ = json.loads((path / f"{name}_vocabulary.json").read_text())
            vec.fixed_vocabulary_ = True
            vec.idf_ = np.load(path / f"{name}_idf.npy", allow_pickle=False)
            vecs.append(vec)
        self.word_, self.char_ = vecs
        self.coef_ = np.load(path / "coef.npy", allow_pickle=False)
        self.intercept_ = np.load(path / "intercept.npy", allow_pickle=False)
