"""Term counts of a fitted ``TfidfVectorizer``, computed faster than its own analyzer.

Why hand-written: scikit-learn's analyzers build every n-gram string of every document; news
text repeats its words, and ``char_wb`` n-grams never cross a word boundary, so each distinct
word's n-gram columns can be computed once and cached. The result is the same matrix as
``CountVectorizer.transform`` (indices, values, dtype: checked bit for bit in the tests), and
the TF-IDF weighting is scikit-learn's own ``TfidfTransformer`` (public API only).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer

__all__ = ["TfidfCounts"]

_WHITE_SPACES = re.compile(r"\s\s+")  # as sklearn's VectorizerMixin._white_spaces


class TfidfCounts:
    """Term counts of one fitted ``TfidfVectorizer``: the same matrix as its
    ``CountVectorizer.transform`` (indices, values and dtype), computed faster.

    ``char_wb``: n-grams never cross a word boundary, so each distinct word's n-gram ids are
    computed once and cached (as an int32 array). ``word``: tokens from the vectorizer's own
    preprocessor and tokenizer, n-grams joined exactly as sklearn's ``_word_ngrams`` does.
    Other configurations fall back to the vectorizer's own analyzer.
    """

    def __init__(self, vec: Any, cache_words: int = 200_000) -> None:
        self.vec = vec
        self.vocab: dict[str, int] = vec.vocabulary_
        self._tfidf = TfidfTransformer(norm=vec.norm, use_idf=vec.use_idf, smooth_idf=vec.smooth_idf,
                                       sublinear_tf=vec.sublinear_tf)
        if vec.use_idf:
            self._tfidf.idf_ = vec.idf_
        self.n_features = len(self.vocab)
        self.cache_words = cache_words
        self._cache: dict[str, np.ndarray] = {}
        plain = (
            vec.input == "content"
            and vec.preprocessor is None
            and vec.strip_accents is None
            and vec.tokenizer is None
        )
        self.mode = "analyzer"
        if plain and vec.analyzer == "char_wb":
            self.mode = "char_wb"
        elif plain and vec.analyzer == "word" and vec.stop_words is None:
            self.mode = "word"
            self._preprocess = vec.build_preprocessor()
            self._tokenize = vec.build_tokenizer()
        else:
            self._analyze = vec.build_analyzer()

    def _word_grams(self, word: str) -> np.ndarray:
        # sklearn's _char_wb_ngrams for one word, mapped to vocabulary ids (unknown ones dropped)
        get = self.vocab.get
        w = f" {word} "
        w_len = len(w)
        lo, hi = self.vec.ngram_range
        out = []
        for n in range(lo, hi + 1):
            offset = 0
            j = get(w[0:n])
            if j is not None:
                out.append(j)
            while offset + n < w_len:
                offset += 1
                j = get(w[offset:offset + n])
                if j is not None:
                    out.append(j)
            if offset == 0:  # a word shorter than n counts once
                break
        return np.array(out, dtype=np.int32)

    def _char_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        cache = self._cache
        if len(cache) > self.cache_words:
            cache.clear()
        grams = self._word_grams
        lower = self.vec.lowercase
        arrays: list[np.ndarray] = []
        sizes = np.zeros(len(texts), dtype=np.int64)
        for i, doc in enumerate(texts):
            if lower:
                doc = doc.lower()
            start = len(arrays)
            for word in _WHITE_SPACES.sub(" ", doc).split():
                ids = cache.get(word)
                if ids is None:
                    ids = cache[word] = grams(word)
                arrays.append(ids)
            sizes[i] = sum(map(len, arrays[start:]))
        cols = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)
        return cols, sizes

    def _word_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        get = self.vocab.get
        lo, hi = self.vec.ngram_range
        pre, tok = self._preprocess, self._tokenize
        idx: list[int] = []
        sizes = np.zeros(len(texts), dtype=np.int64)
        for i, doc in enumerate(texts):
            tokens = tok(pre(doc))
            start = len(idx)
            for n in range(lo, min(hi, len(tokens)) + 1):
                if n == 1:
                    grams = map(get, tokens)
                elif n == 2:
                    grams = map(get, [f"{a} {b}" for a, b in zip(tokens, tokens[1:])])
                else:
                    grams = map(get, [" ".join(tokens[k:k + n]) for k in range(len(tokens) - n + 1)])
                idx += [j for j in grams if j is not None]
            sizes[i] = len(idx) - start
        return np.asarray(idx, dtype=np.int32), sizes

    def _analyzer_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        get = self.vocab.get
        idx: list[int] = []
        sizes = np.zeros(len(texts), dtype=np.int64)
        for i, doc in enumerate(texts):
            start = len(idx)
            idx += [j for j in map(get, self._analyze(doc)) if j is not None]
            sizes[i] = len(idx) - start
        return np.asarray(idx, dtype=np.int32), sizes

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Count matrix, canonical CSR (sorted indices, no duplicates) like sklearn's."""
        ids = {"char_wb": self._char_ids, "word": self._word_ids}.get(self.mode, self._analyzer_ids)
        cols, sizes = ids(texts)
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(sizes, out=indptr[1:])
        if indptr[-1] <= np.iinfo(np.int32).max:
            indptr = indptr.astype(np.int32)
        data = np.ones(len(cols), dtype=self.vec.dtype)
        x = sp.csr_matrix((data, cols, indptr), shape=(len(texts), self.n_features))
        x.sum_duplicates()  # sorts each row's indices and adds up repeated n-grams
        if self.vec.binary:
            x.data.fill(1)
        return x

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF features: :meth:`counts` through a ``TfidfTransformer`` with the vectorizer's
        public settings and ``idf_`` (the same computation as ``vec.transform``)."""
        return self._tfidf.transform(self.counts(texts), copy=False)
