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

from stance.errors import ConfigError, ModelError
from stance.models.base import StanceClassifier
from stance.models.calibration import softmax
from stance.models.manifest import load_array
from stance.models.tfidf_counts import TfidfCounts


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
    def _check_params(self) -> None:
        for name in ("word_ngram_range", "char_ngram_range"):
            value = getattr(self, name)
            if (not isinstance(value, (list, tuple)) or len(value) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
                    or value[0] > value[1]):
                raise ConfigError(f"model.{name} must be two integers lo <= hi >= 1, got {value!r}")
        if isinstance(self.min_df, bool) or not (
                (isinstance(self.min_df, int) and self.min_df >= 1) or (isinstance(self.min_df, float) and 0 < self.min_df <= 1)):
            raise ConfigError(f"model.min_df must be an integer >= 1 or a fraction in (0, 1], got {self.min_df!r}")
        if self.max_features is not None and (isinstance(self.max_features, bool) or not isinstance(self.max_features, int)
                                              or self.max_features < 1):
            raise ConfigError(f"model.max_features must be an integer >= 1 or null, got {self.max_features!r}")
        if isinstance(self.C, bool) or not isinstance(self.C, (int, float)) or not self.C > 0:
            raise ConfigError(f"model.C must be a number > 0, got {self.C!r}")
        if self.class_weight not in (None, "balanced"):
            raise ConfigError(f"model.class_weight must be 'balanced' or null, got {self.class_weight!r}")
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, int) or self.max_iter < 1:
            raise ConfigError(f"model.max_iter must be an integer >= 1, got {self.max_iter!r}")
        if not isinstance(self.sublinear_tf, bool):
            raise ConfigError(f"model.sublinear_tf must be true or false, got {self.sublinear_tf!r}")

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
        """Sparse TF-IDF features (word block then char block): the fitted vectorizers' own
        ``transform``, computed with cached n-gram columns (:class:`TfidfCounts`, identical
        matrix)."""
        texts = list(texts)
        counts = self.__dict__.get("_counts")
        if counts is None or counts[0].vec is not self.word_ or counts[1].vec is not self.char_:
            counts = self._counts = (TfidfCounts(self.word_), TfidfCounts(self.char_))
        return sp.hstack([c.transform(texts) for c in counts], format="csr")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, columns ordered by ``classes_``."""
        self._check_fitted()
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        logits = self.features(texts) @ self.coef_.T + self.intercept_
        return softmax(np.asarray(logits, dtype=np.float64)).astype(np.float32)

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
        for name, vec in zip(("word", "char"), self._vectorizers(), strict=True):
            vocab = _load_vocabulary(path / f"{name}_vocabulary.json")
            vec.vocabulary_ = vocab
            vec.fixed_vocabulary_ = True
            vec.idf_ = load_array(path / f"{name}_idf.npy", ndim=1, length=len(vocab))
            vecs.append(vec)
        self.word_, self.char_ = vecs
        n_features = len(self.word_.vocabulary_) + len(self.char_.vocabulary_)
        k = len(self.classes_)
        self.coef_ = load_array(path / "coef.npy", ndim=2, length=k)
        if self.coef_.shape[1] != n_features:
            raise ModelError(f"{path / 'coef.npy'}: {self.coef_.shape[1]} columns but the vocabularies have "
                             f"{n_features} features: the directory is inconsistent")
        self.intercept_ = load_array(path / "intercept.npy", ndim=1, length=k)


def _load_vocabulary(path: Path) -> dict[str, int]:
    """A vocabulary file: a JSON object of term -> column, the columns 0 .. n-1 each once."""
    try:
        vocab = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError as e:
        raise ModelError(f"{path} is missing: the model directory is incomplete") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ModelError(f"{path}: unreadable vocabulary ({e})") from e
    if not isinstance(vocab, dict) or not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                                              for k, v in vocab.items()):
        raise ModelError(f"{path}: expected a JSON object of term -> integer column")
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise ModelError(f"{path}: the columns must be 0 .. {len(vocab) - 1}, each once (an index is out of range "
                         "or repeated)")
    return vocab
