"""The prototype labelling function: votes by nearest labelled prototype sentences in the
embedding space of a sentence encoder (MiniLM by default), plus :func:`embed_texts`, the
encoder loading and mean-pooled embedding it uses (also used by ``scripts/compare_encoders.py``).

:class:`PrototypeLF` abstains when the best label does not win by a margin; it is the one LF
with a set-up step (:meth:`PrototypeLF.fit` picks training-gold prototypes). The shared
protocol and helpers are in :mod:`stance.annotation.lfs`.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from stance.annotation.lfs import BaseLF, field_of, text_of
from stance.errors import ConfigError

__all__ = ["PrototypeLF", "embed_texts"]


@functools.lru_cache(maxsize=2)
def _load_encoder(path: str) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    model.eval()
    return tok, model


def embed_texts(texts: Sequence[str], encoder: str | None = None, batch_size: int = 64,
                max_length: int = 128) -> np.ndarray:
    """L2-normalised mean-pooled sentence embeddings (MiniLM by default), shape (n, dim)."""
    import torch

    from stance.models.pooling import mean_pool
    from stance.resources import default_encoder

    tok, model = _load_encoder(str(encoder or default_encoder()))
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            batch = tok(list(texts[i : i + batch_size]), padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt")
            pooled = mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])
            out.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    dim = model.config.hidden_size
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, dim), dtype=np.float32)


class PrototypeLF(BaseLF):
    """Nearest labelled prototypes in MiniLM embedding space.

    Each label scores the mean cosine similarity of its ``k`` most similar prototypes; the LF
    votes for the best label when it beats the runner-up by at least ``margin`` and reaches
    ``min_similarity``, else abstains.

    Prototypes come from ``prototypes`` (``{label, text}`` records given in the config) and,
    when ``gold_per_label`` is not 0, from gold labels of the TRAIN split picked by
    :meth:`fit` (``-1`` = all of them). :meth:`fit` never reads other splits: rows whose
    ``split`` is not ``train`` are ignored, so test (and validation) gold never becomes a
    prototype. A prototype from the same article as the sentence being labelled (or the
    sentence itself) is ignored (``exclude_same_article``), so accuracies measured on training
    gold are not inflated by self-matches.

    Args:
        name: LF name.
        labels: the scheme's labels (the score columns; prototypes must use them).
        prototypes: ``[{label, text}, ...]`` given by hand.
        gold_per_label: training-gold prototypes per label taken by :meth:`fit` (0 = none).
        k: prototypes averaged per label.
        margin: minimum lead of the best label's score over the second.
        min_similarity: minimum score of the best label.
        encoder: model folder or hub id; None = the packaged MiniLM.
        batch_size: sentences per forward pass.
        exclude_same_article: ignore prototypes from the sentence's own article.
        seed: seed of the gold sample.
    """

    def __init__(
        self,
        name: str = "prototype",
        labels: Sequence[str] = (),
        prototypes: Sequence[Mapping[str, str]] = (),
        gold_per_label: int = 0,
        k: int = 3,
        margin: float = 0.03,
        min_similarity: float = 0.0,
        encoder: str | None = None,
        batch_size: int = 64,
        exclude_same_article: bool = True,
        seed: int = 0,
    ) -> None:
        self.name = name
        self.labels = tuple(str(x) for x in labels)
        if len(self.labels) < 2:
            raise ConfigError(f"labelling function {name!r}: give the scheme's labels (e.g. ${{scheme.labels}})")
        bad = sorted({str(p["label"]) for p in prototypes} - set(self.labels))
        if bad:
            raise ConfigError(f"labelling function {name!r}: prototype labels {bad} are not in {list(self.labels)}")
        self.prototypes = [{"label": str(p["label"]), "text": str(p["text"])} for p in prototypes]
        self.gold_per_label = int(gold_per_label)
        self.k = int(k)
        self.margin = float(margin)
        self.min_similarity = float(min_similarity)
        self.encoder = encoder
        self.batch_size = int(batch_size)
        self.exclude_same_article = exclude_same_article
        self.seed = int(seed)
        self._set_prototypes(self.prototypes)

    def _set_prototypes(self, protos: list[dict[str, Any]]) -> None:
        self.prototypes_ = protos
        self._emb: np.ndarray | None = None  # embedded lazily

    @property
    def needs_fit(self) -> bool:
        return self.gold_per_label != 0

    def fit(self, sentences: Any) -> PrototypeLF:
        """Add training-gold prototypes (TRAIN split only); returns ``self``.

        ``sentences`` is a DataFrame (or list of mappings) with ``text``, ``label`` and
        ``split``; only rows with ``split == "train"`` and a gold label are used.
        """
        import pandas as pd

        protos = list(self.prototypes)
        if self.gold_per_label != 0:
            df = sentences if isinstance(sentences, pd.DataFrame) else pd.DataFrame(list(sentences))
            if "split" not in df.columns:
                raise ValueError("PrototypeLF.fit needs a 'split' column (only train rows are used)")
            train = df[(df["split"] == "train") & df["label"].notna()]
            rng = random.Random(self.seed)
            for lab in self.labels:
                rows = train[train["label"] == lab].to_dict("records")
                if 0 < self.gold_per_label < len(rows):
                    rows = rng.sample(rows, self.gold_per_label)
                protos.extend(
                    {"label": lab, "text": r["text"], "sentence_id": r.get("sentence_id"),
                     "article_id": r.get("article_id")}
                    for r in rows
                )
        self._set_prototypes(protos)
        return self

    def _proto_embeddings(self) -> np.ndarray:
        if self._emb is None:
            self._emb = embed_texts([p["text"] for p in self.prototypes_], self.encoder, self.batch_size)
        return self._emb

    def scores(self, sentences: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Per-label scores, shape (n, len(labels)); NaN where a label has no usable prototype."""
        if not self.prototypes_:
            raise ValueError(f"LF {self.name!r} has no prototypes: give some or set gold_per_label")
        sims = embed_texts([text_of(s) for s in sentences], self.encoder, self.batch_size) @ self._proto_embeddings().T
        labels = np.array([p["label"] for p in self.prototypes_])
        if self.exclude_same_article:
            p_art = np.array([p.get("article_id") for p in self.prototypes_], dtype=object)
            p_sid = np.array([p.get("sentence_id") for p in self.prototypes_], dtype=object)
            for i, s in enumerate(sentences):
                art, sid = field_of(s, "article_id"), field_of(s, "sentence_id")
                mask = np.zeros(len(self.prototypes_), dtype=bool)
                if art is not None:
                    mask |= p_art == art
                if sid is not None:
                    mask |= p_sid == sid
                sims[i, mask] = np.nan
        out = np.full((len(sentences), len(self.labels)), np.nan)
        for j, lab in enumerate(self.labels):
            col = sims[:, labels == lab]
            if col.shape[1] == 0:
                continue
            col = np.where(np.isnan(col), -np.inf, col)
            top = -np.sort(-col, axis=1)[:, : max(1, min(self.k, col.shape[1]))]
            valid = np.isfinite(top)
            total = np.where(valid, top, 0.0).sum(axis=1)
            out[:, j] = np.where(valid.any(axis=1), total / np.maximum(valid.sum(axis=1), 1), np.nan)
        return out

    def apply_batch(self, sentences: Sequence[Mapping[str, Any]]) -> list[str | None]:
        """Votes for many sentences (one encoder pass)."""
        sentences = list(sentences)
        if not sentences:
            return []
        sc = self.scores(sentences)
        votes: list[str | None] = []
        for row in sc:
            ok = ~np.isnan(row)
            if ok.sum() == 0:
                votes.append(None)
                continue
            order = np.argsort(-np.where(ok, row, -np.inf))
            best = row[order[0]]
            second = row[order[1]] if ok.sum() > 1 else -np.inf
            if best >= self.min_similarity and best - second >= self.margin:
                votes.append(self.labels[order[0]])
            else:
                votes.append(None)
        return votes

    def __call__(self, sentence: Mapping[str, Any]) -> str | None:
        return self.apply_batch([sentence])[0]
