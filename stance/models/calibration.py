"""Temperature scaling (Guo et al., 2017): one scalar ``T > 0`` dividing the logits.

Pure numpy/scipy functions. ``fit_temperature`` minimises the negative log-likelihood of
``softmax(logits / T)`` over ``log T`` on held-out logits; the NLL is convex in ``1 / T``,
hence unimodal in ``log T``, so a bounded scalar search finds the global minimum.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp
from scipy.special import softmax as scipy_softmax

T_MIN = 0.05
"""Smallest temperature returned (perfectly separated logits would otherwise drive T to 0)."""
T_MAX = 20.0
"""Largest temperature returned."""


def _check(logits: np.ndarray, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"logits must be 2-D (n, n_classes), got shape {z.shape}")
    if labels is None:
        return z, None
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != len(z):
        raise ValueError(f"labels must be 1-D with {len(z)} entries, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError("labels must be integer column indices into the logits")
    if len(y) and (y.min() < 0 or y.max() >= z.shape[1]):
        raise ValueError(f"labels must lie in [0, {z.shape[1]}), got [{y.min()}, {y.max()}]")
    return z, y.astype(np.int64)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise ``softmax(logits / temperature)`` (:func:`scipy.special.softmax`, stable).

    Computed in float64; returned as float32 for float32 input, else float64. The one softmax
    of the package: the TF-IDF model, the transformer and the fast scoring paths call it.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    arr = np.asarray(logits)
    z, _ = _check(arr)
    p = scipy_softmax(z / float(temperature), axis=1) if z.size else z
    return p.astype(np.float32) if arr.dtype == np.float32 else p


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of integer ``labels`` under ``softmax(logits / T)``."""
    z, y = _check(logits, labels)
    if not len(z):
        return float("nan")
    z = z / float(temperature)
    return float(np.mean(logsumexp(z, axis=1) - z[np.arange(len(z)), y]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, max_iter: int = 200) -> float:
    """The temperature ``T`` minimising ``nll(logits, labels, T)``, within [T_MIN, T_MAX].

    Args:
        logits: uncalibrated scores, shape (n, n_classes).
        labels: integer column index of the true class per row, shape (n,).
        max_iter: iteration cap of the bounded scalar search.

    Returns 1.0 when there is nothing to fit (no rows) or no temperature beats T = 1.
    """
    z, y = _check(logits, labels)
    if not len(z):
        return 1.0
    target = z[np.arange(len(z)), y]

    def objective(log_t: float) -> float:
        t = math.exp(log_t)
        return float(np.mean(logsumexp(z / t, axis=1) - target / t))

    res = minimize_scalar(
        objective,
        bounds=(math.log(T_MIN), math.log(T_MAX)),
        method="bounded",
        options={"xatol": 1e-6, "maxiter": int(max_iter)},
    )
    t = float(math.exp(res.x))
    # keep T = 1 unless scaling strictly lowers the NLL (e.g. constant logits)
    return t if objective(res.x) < objective(0.0) else 1.0
