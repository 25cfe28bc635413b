"""Diagnostics of labelling functions: coverage, overlap, conflict and accuracy on gold.

Definitions (per LF, over all sentences given):

* ``coverage``  -- share of sentences where the LF votes (does not abstain);
* ``overlap``   -- share of sentences where it votes and at least one other LF votes too;
* ``conflict``  -- share of sentences where it votes and another LF votes a different label;
* ``n_gold``    -- sentences where it votes and a gold label exists;
* ``correct`` / ``accuracy`` -- votes equal to gold, and their share of ``n_gold``.

Aggregates (majority vote, label model) get the same ``coverage``/``accuracy`` columns plus
``macro_f1`` over the gold sentences they label (overlap and conflict are left empty).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from stance.annotation.aggregate import votes_matrix
from stance.metrics import macro_f1

__all__ = ["ANALYSIS_COLUMNS", "lf_analysis"]

ANALYSIS_COLUMNS = (
    "name", "kind", "polarity", "coverage", "n_votes", "overlap", "conflict",
    "n_gold", "correct", "accuracy", "macro_f1",
)


def _gold_array(gold: pd.Series | Sequence | None, n: int) -> np.ndarray:
    if gold is None:
        return np.full(n, None, dtype=object)
    arr = np.asarray(list(gold), dtype=object)
    if len(arr) != n:
        raise ValueError(f"gold has {len(arr)} entries for {n} sentences")
    return np.array([None if (v is None or (isinstance(v, float) and v != v)) else v for v in arr], dtype=object)


def lf_analysis(
    votes: pd.DataFrame,
    gold: pd.Series | Sequence | None = None,
    aggregates: Mapping[str, Sequence] | None = None,
    *,
    labels: Sequence[str],
) -> pd.DataFrame:
    """One row per LF (``kind="lf"``) and per aggregate (``kind="aggregate"``).

    Args:
        votes: one column per LF, label or None (from :func:`stance.annotation.lfs.apply_lfs`).
        gold: gold labels aligned with ``votes`` rows (None/NaN = no gold).
        aggregates: name -> aggregated labels aligned with ``votes`` rows (None = abstain).
        labels: the label set.
    """
    labels = list(labels)
    L = votes_matrix(votes, labels)
    n, m = L.shape
    g = _gold_array(gold, n)
    has_gold = np.array([v is not None for v in g])
    g_idx = np.array([labels.index(v) if v is not None else -2 for v in g])
    fired = L >= 0
    n_fired = fired.sum(axis=1)
    rows = []
    for j, name in enumerate(votes.columns):
        f = fired[:, j]
        others = n_fired - f
        # another LF votes a label different from this one
        disagree = np.zeros(n, dtype=bool)
        for k in range(m):
            if k != j:
                disagree |= fired[:, k] & (L[:, k] != L[:, j])
        gold_rows = f & has_gold
        correct = int((L[gold_rows, j] == g_idx[gold_rows]).sum())
        n_gold = int(gold_rows.sum())
        rows.append({
            "name": str(name),
            "kind": "lf",
            "polarity": ",".join(labels[i] for i in sorted(set(L[f, j].tolist()))),
            "coverage": float(f.mean()) if n else float("nan"),
            "n_votes": int(f.sum()),
            "overlap": float((f & (others > 0)).mean()) if n else float("nan"),
            "conflict": float((f & disagree).mean()) if n else float("nan"),
            "n_gold": n_gold,
            "correct": correct,
            "accuracy": correct / n_gold if n_gold else float("nan"),
            "macro_f1": float("nan"),
        })
    for name, pred in (aggregates or {}).items():
        p = _gold_array(pred, n)
        f = np.array([v is not None for v in p])
        both = f & has_gold
        yt, yp = g[both].tolist(), p[both].tolist()
        correct = int(sum(a == b for a, b in zip(yt, yp, strict=True)))
        rows.append({
            "name": str(name),
            "kind": "aggregate",
            "polarity": ",".join(lab for lab in labels if lab in set(p[f].tolist())),
            "coverage": float(f.mean()) if n else float("nan"),
            "n_votes": int(f.sum()),
            "overlap": float("nan"),
            "conflict": float("nan"),
            "n_gold": int(both.sum()),
            "correct": correct,
            "accuracy": correct / int(both.sum()) if both.any() else float("nan"),
            "macro_f1": macro_f1(yt, yp, labels) if both.any() else float("nan"),
        })
    return pd.DataFrame(rows, columns=list(ANALYSIS_COLUMNS))
