"""Combining LF votes into one weak label per sentence.

Votes are a DataFrame with one column per LF holding a label or None (abstain), as returned
by :func:`stance.annotation.lfs.apply_lfs`. Two aggregators share one interface
(``fit(votes) -> self``, ``predict_proba(votes) -> (n, K) array``, ``predict(votes) -> labels
or None``):

* :class:`MajorityVote` (the default): the most frequent label; a tie goes to the scheme's
  none label by default (for the Pakistan-Afghanistan contract ``neutral``: rule 2, two
  accounts in comparable weight are neutral; rule 8, doubt is neutral), or abstains with
  ``tie_break="abstain"``. No votes -> abstain.
* :class:`DawidSkene`: a probabilistic label model fitted by EM without gold labels.

Why our own Dawid-Skene and not a library: ``snorkel`` (the reference label model) is no
longer developed, pins old versions of its dependencies and drags in a torch training loop
for what is a small EM; ``crowd-kit``'s ``DawidSkene`` models crowd workers who label every
task they see, with abstentions treated as missing data. Most of our LFs vote for a single
label, and for such an LF "missing at random" throws away all its information (it always
says the same label when it speaks, so its confusion matrix is constant). Here abstention is
modelled as an outcome of its own (``abstain_as_vote=True``), so an LF's per-class firing
rate is what the model learns; the whole model is ~60 lines of numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from stance.errors import ConfigError

__all__ = ["Aggregator", "DawidSkene", "MajorityVote", "votes_matrix"]


def votes_matrix(votes: pd.DataFrame | np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Votes as an int matrix (n, m): label index into ``labels``, ``-1`` for abstain."""
    if isinstance(votes, np.ndarray) and votes.dtype.kind in "iu":
        return votes.astype(int)
    arr = votes.to_numpy(dtype=object) if isinstance(votes, pd.DataFrame) else np.asarray(votes, dtype=object)
    if arr.ndim != 2:
        raise ValueError(f"votes must be 2-D (sentences x LFs), got shape {arr.shape}")
    pos = {lab: i for i, lab in enumerate(labels)}
    out = np.full(arr.shape, -1, dtype=int)
    for (i, j), v in np.ndenumerate(arr):
        if v is None or (isinstance(v, float) and v != v):
            continue
        if v not in pos:
            lf = votes.columns[j] if isinstance(votes, pd.DataFrame) else f"#{j}"
            raise ConfigError(f"labelling function {lf!r} voted {v!r}, which is not a label of the "
                              f"scheme ({', '.join(labels)})")
        out[i, j] = pos[v]
    return out


def _labels_of(idx: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    out = np.empty(len(idx), dtype=object)
    for i, k in enumerate(idx):
        out[i] = labels[k] if k >= 0 else None
    return out


class Aggregator(Protocol):
    """The aggregator interface."""

    labels: tuple[str, ...]

    def fit(self, votes: pd.DataFrame) -> Aggregator: ...
    def predict_proba(self, votes: pd.DataFrame) -> np.ndarray: ...
    def predict(self, votes: pd.DataFrame) -> np.ndarray: ...


class MajorityVote:
    """The label with most votes; ties -> the scheme's none label or abstain; no votes -> abstain.

    Args:
        labels: label set (column order of ``predict_proba``; the scheme's labels).
        tie_break: ``"none_label"`` (ties go to ``none_label``, e.g. the contract's ``neutral``
            for balanced or doubtful sentences) or ``"abstain"``.
        none_label: the label ties go to (the scheme's ``none_label``); required for
            ``tie_break="none_label"``.
        weights: optional LF name -> vote weight (default 1 each).
    """

    def __init__(
        self,
        labels: Sequence[str],
        tie_break: Literal["none_label", "abstain"] = "none_label",
        none_label: str | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        if tie_break not in ("none_label", "abstain"):
            raise ConfigError(f"tie_break must be 'none_label' or 'abstain', got {tie_break!r}")
        self.labels = tuple(labels)
        if tie_break == "none_label" and none_label not in self.labels:
            raise ConfigError(
                f"tie_break=none_label needs a none_label among {list(self.labels)}, got {none_label!r} "
                "(fix: tie_break: abstain for schemes without a none label)"
            )
        self.tie_break = tie_break
        self.none_label = none_label
        self.weights = dict(weights or {})

    def fit(self, votes: pd.DataFrame) -> MajorityVote:
        """Nothing to learn; returns ``self``."""
        return self

    def _counts(self, votes: pd.DataFrame | np.ndarray) -> np.ndarray:
        L = votes_matrix(votes, self.labels)
        names = list(votes.columns) if isinstance(votes, pd.DataFrame) else [None] * L.shape[1]
        w = np.array([float(self.weights.get(n, 1.0)) if n is not None else 1.0 for n in names])
        counts = np.zeros((L.shape[0], len(self.labels)))
        for j in range(L.shape[1]):
            fired = L[:, j] >= 0
            np.add.at(counts, (np.nonzero(fired)[0], L[fired, j]), w[j])
        return counts

    def predict_proba(self, votes: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Vote shares; uniform for sentences without votes."""
        counts = self._counts(votes)
        total = counts.sum(axis=1, keepdims=True)
        k = len(self.labels)
        return np.where(total > 0, counts / np.where(total > 0, total, 1), 1.0 / k)

    def predict(self, votes: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Labels (object array), None where no LF voted (or a tie, with ``tie_break="abstain"``)."""
        counts = self._counts(votes)
        best = counts.max(axis=1)
        n_best = (np.isclose(counts, best[:, None]) & (counts > 0)).sum(axis=1)
        idx = counts.argmax(axis=1)
        tie = n_best > 1
        idx = np.where(tie, self.labels.index(self.none_label) if self.tie_break == "none_label" else -1, idx)
        idx = np.where(best > 0, idx, -1)
        return _labels_of(idx, self.labels)


class DawidSkene:
    """Dawid-Skene label model fitted by EM on LF votes (no gold labels needed).

    Each LF j has a confusion table ``theta_[j, c, o] = P(LF j outputs o | true class c)``
    where ``o`` is ``abstain`` (column 0, when ``abstain_as_vote``) or a label; classes have
    priors ``pi_``. EM starts from majority-vote shares, so class identities do not switch.
    A Dirichlet prior (``smoothing``) centred on each LF's overall outcome frequencies keeps
    every probability away from 0.

    Args:
        labels: label set.
        max_iter: EM iterations at most.
        tol: stop when the mean log-likelihood improves by less than this.
        smoothing: strength of the Dirichlet prior on each confusion-table row, centred on the
            LF's overall outcome frequencies (pseudo-counts per row = smoothing x outcomes).
        abstain_as_vote: model abstention as an outcome (needed for LFs that vote for one
            label only); False = abstentions are missing data (classic Dawid-Skene).
        min_votes: sentences with fewer non-abstain votes get no label (None) from ``predict``.
        min_confidence: ``predict`` abstains when the top posterior is below this.
        fixed_priors: class priors to use instead of learning them (in ``labels`` order).
        fit_on_covered: fit on sentences with at least one vote only (sentences no LF votes
            on would otherwise pull a class towards "everything abstains").
    """

    def __init__(
        self,
        labels: Sequence[str],
        max_iter: int = 200,
        tol: float = 1e-6,
        smoothing: float = 1.0,
        abstain_as_vote: bool = True,
        min_votes: int = 1,
        min_confidence: float = 0.0,
        fixed_priors: Sequence[float] | None = None,
        fit_on_covered: bool = True,
    ) -> None:
        self.labels = tuple(labels)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.smoothing = float(smoothing)
        self.abstain_as_vote = abstain_as_vote
        self.min_votes = int(min_votes)
        self.min_confidence = float(min_confidence)
        self.fixed_priors = None if fixed_priors is None else np.asarray(fixed_priors, dtype=float)
        self.fit_on_covered = fit_on_covered

    # outcome index per vote: 0 = abstain, 1 + k = label k (when abstain_as_vote); else k, -1 missing
    def _outcomes(self, L: np.ndarray) -> np.ndarray:
        return L + 1 if self.abstain_as_vote else L

    def _log_post(self, L: np.ndarray) -> np.ndarray:
        outcomes = self._outcomes(L)
        logp = np.tile(np.log(self.pi_), (L.shape[0], 1))
        log_theta = np.log(self.theta_)
        for j in range(L.shape[1]):
            seen = outcomes[:, j] >= 0
            logp[seen] += log_theta[j][:, outcomes[seen, j]].T
        return logp

    @staticmethod
    def _normalise(logp: np.ndarray) -> tuple[np.ndarray, float]:
        m = logp.max(axis=1, keepdims=True)
        p = np.exp(logp - m)
        z = p.sum(axis=1, keepdims=True)
        return p / z, float((np.log(z) + m).mean())

    def fit(self, votes: pd.DataFrame | np.ndarray) -> DawidSkene:
        """Fit priors and confusion tables by EM; returns ``self``."""
        L = votes_matrix(votes, self.labels)
        self.lf_names_ = list(votes.columns) if isinstance(votes, pd.DataFrame) else list(range(L.shape[1]))
        if self.fit_on_covered:
            L = L[(L >= 0).any(axis=1)]
        n, m = L.shape
        K = len(self.labels)
        n_out = K + 1 if self.abstain_as_vote else K
        outcomes = self._outcomes(L)
        T = MajorityVote(self.labels, tie_break="abstain").predict_proba(L)
        # Dirichlet prior of each LF's confusion rows: its overall outcome frequencies, so a
        # class with little mass falls back to the LF's average behaviour, not to uniform
        marginal = np.stack([np.bincount(outcomes[outcomes[:, j] >= 0, j], minlength=n_out) for j in range(m)])
        marginal = (marginal + 1.0) / (marginal + 1.0).sum(axis=1, keepdims=True)
        prior = self.smoothing * n_out * marginal
        self.log_likelihood_: list[float] = []
        for _ in range(self.max_iter):
            # M-step
            if self.fixed_priors is not None:
                self.pi_ = self.fixed_priors / self.fixed_priors.sum()
            else:
                self.pi_ = (T.sum(axis=0) + self.smoothing) / (n + K * self.smoothing)
            theta = np.repeat(prior[:, None, :], K, axis=1)
            for j in range(m):
                seen = outcomes[:, j] >= 0
                for o in range(n_out):
                    theta[j, :, o] += T[seen & (outcomes[:, j] == o)].sum(axis=0)
            self.theta_ = theta / theta.sum(axis=2, keepdims=True)
            # E-step
            T, ll = self._normalise(self._log_post(L))
            if self.log_likelihood_ and abs(ll - self.log_likelihood_[-1]) < self.tol:
                self.log_likelihood_.append(ll)
                break
            self.log_likelihood_.append(ll)
        self.n_iter_ = len(self.log_likelihood_)
        return self

    def predict_proba(self, votes: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Posterior class probabilities, shape (n, K)."""
        if not hasattr(self, "theta_"):
            raise RuntimeError("DawidSkene is not fitted; call fit(votes) first")
        return self._normalise(self._log_post(votes_matrix(votes, self.labels)))[0]

    def predict(self, votes: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Most probable label; None with fewer than ``min_votes`` votes or low confidence."""
        L = votes_matrix(votes, self.labels)
        proba = self.predict_proba(L)
        idx = proba.argmax(axis=1)
        ok = ((L >= 0).sum(axis=1) >= self.min_votes) & (proba.max(axis=1) >= self.min_confidence)
        return _labels_of(np.where(ok, idx, -1), self.labels)

    def lf_accuracies(self) -> pd.Series:
        """Estimated P(LF right | LF votes) per LF, from the fitted confusion tables."""
        K = len(self.labels)
        off = 1 if self.abstain_as_vote else 0
        acc = []
        for j in range(self.theta_.shape[0]):
            right = sum(self.pi_[c] * self.theta_[j, c, c + off] for c in range(K))
            fires = sum(self.pi_[c] * self.theta_[j, c, off:].sum() for c in range(K))
            acc.append(right / fires if fires > 0 else float("nan"))
        return pd.Series(acc, index=self.lf_names_, name="estimated_accuracy")

    def describe(self) -> dict[str, Any]:
        """Priors and estimated LF accuracies (JSON-friendly)."""
        return {
            "priors": dict(zip(self.labels, map(float, self.pi_), strict=True)),
            "lf_accuracy": {str(k): float(v) for k, v in self.lf_accuracies().items()},
            "iterations": self.n_iter_,
        }
