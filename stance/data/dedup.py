"""Exact and near-duplicate sentences across splits (wire copy republished by several outlets).

Near duplicates use MinHash LSH (``datasketch``) over character 5-gram shingles of the
normalised text. Resolution keeps the copy in the most protected split (test > validation >
train) and drops the others, so evaluation sets stay intact and training never sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

from stance.data.segment import normalise

_PRIORITY = {"test": 0, "validation": 1, "train": 2}


@dataclass(frozen=True)
class Duplicate:
    """A sentence dropped because a copy sits in a more protected split."""

    dropped: str  # sentence id removed
    kept: str  # sentence id of the copy kept
    dropped_split: str
    kept_split: str
    kind: str  # "exact" or "near"
    similarity: float


def _shingles(text: str, k: int) -> set[str]:
    t = normalise(text)
    return {t[i : i + k] for i in range(max(1, len(t) - k + 1))}


class Deduplicator:
    """Finds cross-split duplicates.

    Args:
        threshold: estimated Jaccard similarity at or above which two sentences are near
            duplicates (0 < threshold <= 1); ``1.0`` checks exact duplicates only.
        num_perm: MinHash permutations.
        shingle_size: character n-gram size.
        min_chars: shorter sentences are only checked for exact duplicates.
        seed: MinHash seed.
    """

    def __init__(
        self,
        threshold: float = 0.85,
        num_perm: int = 128,
        shingle_size: int = 5,
        min_chars: int = 40,
        seed: int = 1,
    ) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold={threshold} must be in (0, 1]")
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.min_chars = min_chars
        self.seed = seed

    def find(self, ids: Sequence[str], texts: Sequence[str], splits: Sequence[str]) -> list[Duplicate]:
        """Sentences to drop, each with the copy that is kept."""
        order = sorted(range(len(ids)), key=lambda i: (_PRIORITY.get(splits[i], 3), i))
        out: list[Duplicate] = []
        exact: dict[str, int] = {}
        lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm) if self.threshold < 1 else None
        sigs: dict[int, MinHash] = {}
        for i in order:
            norm = normalise(texts[i])
            j = exact.get(norm)
            if j is not None and splits[j] != splits[i]:
                out.append(Duplicate(ids[i], ids[j], splits[i], splits[j], "exact", 1.0))
                continue
            exact.setdefault(norm, i)
            if lsh is None or len(norm) < self.min_chars:
                continue
            m = MinHash(num_perm=self.num_perm, seed=self.seed)
            m.update_batch([s.encode("utf-8") for s in _shingles(norm, self.shingle_size)])
            hits = [int(k) for k in lsh.query(m) if splits[int(k)] != splits[i]]
            if hits:
                best = max(hits, key=lambda k: m.jaccard(sigs[k]))
                out.append(Duplicate(ids[i], ids[best], splits[i], splits[best], "near", m.jaccard(sigs[best])))
                continue
            sigs[i] = m
            lsh.insert(str(i), m)
        return out
