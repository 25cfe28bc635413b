"""Choosing the sentences most worth annotating next (uncertainty sampling with spread).

:func:`select_for_annotation` scores candidate sentences by the model's uncertainty
(``entropy`` of ``predict_proba``, ``margin`` = 1 - (p1 - p2), or ``least_confidence`` =
1 - p1; higher = more uncertain), then picks them round-robin over sources (each source in
turn gives its most uncertain remaining sentence), with at most ``per_article`` sentences
from one article, so that one outlet or one long article cannot fill the batch.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from stance.errors import InputError

__all__ = ["load_sentence_table", "select_for_annotation", "uncertainty"]

Method = Literal["entropy", "margin", "least_confidence"]


def uncertainty(proba: np.ndarray, method: Method = "entropy") -> np.ndarray:
    """Uncertainty per row of a probability matrix (higher = more uncertain)."""
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"proba must be 2-D, got shape {p.shape}")
    if method == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    s = -np.sort(-p, axis=1)
    if method == "margin":
        return 1.0 - (s[:, 0] - (s[:, 1] if p.shape[1] > 1 else 0.0))
    if method == "least_confidence":
        return 1.0 - s[:, 0]
    raise ValueError(f"unknown uncertainty method {method!r}: use entropy, margin or least_confidence")


def load_sentence_table(path: str | Path) -> pd.DataFrame:
    """Sentences from a stance-build dataset folder or a Parquet/JSONL/CSV table.

    Needs ``text``; ``sentence_id`` is derived from ``article_id`` and the text when missing,
    ``article_id`` defaults to the row number and ``source`` to ``unknown``.
    """
    from stance.data.dataset_dir import find_table
    from stance.data.segment import sentence_id

    p = find_table(path)  # a dataset folder, a run directory's dataset/, or the table itself
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        df = pd.read_parquet(p)
    elif suffix in (".jsonl", ".json"):
        df = pd.read_json(p, lines=suffix == ".jsonl")
    elif suffix == ".csv":
        df = pd.read_csv(p)
    else:
        raise InputError(f"unsupported table format {suffix!r}", path=p, hint="use .parquet, .jsonl or .csv")
    if "text" not in df.columns:
        raise InputError("the sentence table has no 'text' column", path=p, field="text")
    df = df.copy()
    if "article_id" not in df.columns:
        df["article_id"] = [f"row-{i}" for i in range(len(df))]
    if "source" not in df.columns:
        df["source"] = "unknown"
    if "sentence_id" not in df.columns:
        df["sentence_id"] = [sentence_id(str(a), str(t)) for a, t in zip(df["article_id"], df["text"], strict=True)]
    if "label" not in df.columns:
        df["label"] = None
    return df


def select_for_annotation(
    model: Any,
    sentences: pd.DataFrame,
    n: int,
    method: Method = "entropy",
    per_article: int | None = 2,
    include_labelled: bool = False,
    splits: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The ``n`` candidate sentences most worth annotating, spread over sources and articles.

    Args:
        model: a fitted classifier with ``predict_proba`` and ``classes_``.
        sentences: ``sentence_id``, ``text``, ``source``, ``article_id`` (+ ``label``).
        n: how many to pick (fewer if there are not enough candidates).
        method: ``entropy``, ``margin`` or ``least_confidence``.
        per_article: at most this many per article (None = no cap).
        include_labelled: also consider sentences that already have a gold label.
        splits: only consider rows of these splits (when a ``split`` column exists).

    Returns the picked rows (in pick order) with ``uncertainty``, ``pred``, ``proba_<label>``
    and ``pick`` (1-based rank).
    """
    if n <= 0:
        raise ValueError("n must be positive")
    cand = sentences
    if "duplicate_of" in cand.columns:
        cand = cand[cand["duplicate_of"].isna()]
    if not include_labelled and "label" in cand.columns:
        cand = cand[cand["label"].isna()]
    if splits is not None and "split" in cand.columns:
        cand = cand[cand["split"].isin(list(splits))]
    cand = cand.drop_duplicates("sentence_id").reset_index(drop=True)
    if cand.empty:
        raise InputError(
            "no candidate sentences to select from",
            hint="every sentence is labelled already: pass include_labelled=True (--include-labelled) "
            "to re-annotate, or give a corpus with unlabelled sentences",
        )
    proba = np.asarray(model.predict_proba(cand["text"].tolist()), dtype=float)
    cand["uncertainty"] = uncertainty(proba, method)
    classes = [str(c) for c in model.classes_]
    cand["pred"] = [classes[i] for i in proba.argmax(axis=1)]
    for i, c in enumerate(classes):
        cand[f"proba_{c}"] = proba[:, i]
    cand = cand.sort_values(["uncertainty", "sentence_id"], ascending=[False, True], kind="stable")
    queues = {src: deque(g.index) for src, g in cand.groupby("source", sort=False)}
    order = sorted(queues, key=lambda s: (-cand.loc[queues[s][0], "uncertainty"], str(s)))
    per_art: Counter = Counter()
    picked: list[int] = []
    while len(picked) < n and any(queues[s] for s in order):
        for src in order:
            q = queues[src]
            while q:
                i = q.popleft()
                art = cand.at[i, "article_id"]
                if per_article is None or per_art[art] < per_article:
                    per_art[art] += 1
                    picked.append(i)
                    break
            if len(picked) >= n:
                break
    out = cand.loc[picked].reset_index(drop=True)
    out["pick"] = np.arange(1, len(out) + 1)
    return out
