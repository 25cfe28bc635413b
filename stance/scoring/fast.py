"""Fast inference wrappers with the classifier interface (``classes_``, ``predict_proba``).

* TF-IDF models need no wrapper: their own ``predict_proba`` is the fast path
  (:mod:`stance.models.tfidf_counts`).
* :class:`FastTransformer` - the fine-tuned transformer run as ONNX with per-channel int8
  dynamic quantisation (``onnx-int8``) in onnxruntime, or as torch bf16 (``bf16``); same
  truncation length, length-sorted batching and temperature as the fp32 model, with a fall
  back to the fp32 model for sentences near the decision boundary. The model-specific export
  (ONNX + int8, its cache, the bf16 copy) is in :mod:`stance.scoring.fast_export`.
* :func:`accelerate` picks the wrapper for a model and a ``--fast`` mode, so scoring code
  never branches on the model type; :func:`parity` compares a wrapper with the fp32 model.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stance.errors import ConfigError
from stance.models.batching import length_sorted_batches, run_batches
from stance.models.calibration import softmax
from stance.scoring.fast_export import bf16_copy, cached_onnx_int8, hf_parts, onnx_session

__all__ = [
    "FAST_MODES",
    "FastTransformer",
    "accelerate",
    "parity",
]

log = logging.getLogger(__name__)
FAST_MODES: tuple[str, ...] = ("none", "onnx-int8", "bf16")


class _Wrapper:
    """Delegates everything it does not define (``manifest_``, ``metadata_``...) to ``base``."""

    base: Any

    def __getattr__(self, name: str) -> Any:
        if name == "base":  # not yet set (e.g. during unpickling)
            raise AttributeError(name)
        return getattr(self.base, name)

    @property
    def classes_(self) -> np.ndarray:
        return self.base.classes_

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(texts)
        return self.classes_[proba.argmax(axis=1)] if len(proba) else np.array([], dtype=object)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


# --------------------------------------------------------------------------- transformer


class FastTransformer(_Wrapper):
    """A fitted transformer classifier run through a faster backend.

    Args:
        model: a fitted ``TransformerClassifier`` (anything :func:`~stance.scoring.fast_export.hf_parts` understands).
        mode: ``"onnx-int8"`` (ONNX + per-channel int8 dynamic quantisation in onnxruntime)
            or ``"bf16"`` (torch with bfloat16 weights).
        threads: CPU threads: onnx-int8 runs this many single-threaded batches at a time;
            bf16 sets ``torch.set_num_threads`` (None = all cores / leave torch as is).
        batch_size: sentences per forward pass (None = 32 for onnx-int8, else the model's
            ``eval_batch_size``).
        cache_dir: where exported ONNX models are kept, keyed by a hash of the weights
            (default ``$STANCE_CACHE_DIR`` or ``~/.cache/stance``, under ``onnx/``).
        optimize: apply onnxruntime's transformer graph fusions before quantising (off by
            default: on MiniLM it was not faster on CPU and agreed slightly less).
        fallback_margin: sentences whose fast-path top-1 minus top-2 probability is at most this
            are re-scored with the fp32 model (a confidence cascade: int8 flips labels only
            near the decision boundary). None = 0.2 for onnx-int8, 0.05 for bf16; 0 = never.
            ``n_fallback`` / ``n_scored`` count how often it happened.
        spin: let idle onnxruntime threads spin-wait (slightly faster on an otherwise idle
            machine, much slower when other processes compete for the cores).

    ``predict_proba`` tokenizes with the model's tokenizer and truncation length, sorts the
    sentences by token count, pads each batch to its longest member and returns
    ``softmax(logits / temperature)`` in input order. Dynamic int8 quantisation scales the
    activations per batch, so a sentence's probabilities move slightly (~1e-3) with the other
    members of its batch.
    """

    def __init__(
        self,
        model: Any,
        mode: str = "onnx-int8",
        *,
        threads: int | None = None,
        batch_size: int | None = None,
        cache_dir: str | Path | None = None,
        optimize: bool = False,
        fallback_margin: float | None = None,
        spin: bool = False,
    ) -> None:
        if mode not in ("onnx-int8", "bf16"):
            raise ConfigError(f"fast mode {mode!r}: expected one of onnx-int8, bf16")
        parts = hf_parts(model)
        self.base = model
        self.mode = mode
        self.tokenizer = parts["tokenizer"]
        self.max_length = parts["max_length"]
        self.temperature = parts["temperature"]
        # onnx-int8: smaller batches, several at a time (see _init_onnx)
        self.batch_size = int(batch_size or (min(32, parts["batch_size"]) if mode == "onnx-int8"
                                             else parts["batch_size"]))
        self.threads = threads
        self.spin = spin
        if fallback_margin is None:
            fallback_margin = 0.2 if mode == "onnx-int8" else 0.05
        if not 0.0 <= fallback_margin <= 1.0:
            raise ConfigError(f"fallback margin must lie in [0, 1], got {fallback_margin}")
        self.fallback_margin = float(fallback_margin)
        self.n_scored = 0
        self.n_fallback = 0
        self.setup_seconds = 0.0
        t0 = time.perf_counter()
        if mode == "onnx-int8":
            self._init_onnx(parts["model"], cache_dir, optimize)
        else:
            self._init_bf16(parts["model"])
        self.setup_seconds = time.perf_counter() - t0

    # ------------------------------------------------------------------ backends
    def _init_onnx(self, net: Any, cache_dir: str | Path | None, optimize: bool) -> None:
        path, self.inputs, self.cache_note = cached_onnx_int8(net, self.tokenizer, cache_dir, optimize)
        if self.cache_note:
            log.warning(self.cache_note)
        self.onnx_path = path
        # onnx_session runs each inference single-threaded: `workers` batches at a time
        self.workers = int(self.threads or os.cpu_count() or 1)
        self._session = onnx_session(path, self.spin)

    def _init_bf16(self, net: Any) -> None:
        import torch

        if self.threads:
            torch.set_num_threads(int(self.threads))
        self._net, self.inputs = bf16_copy(net, self.tokenizer)

    def _run(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        if self.mode == "onnx-int8":
            return self._session.run(["logits"], batch)[0]
        import torch

        with torch.inference_mode():
            out = self._net(**{k: torch.from_numpy(v) for k, v in batch.items()}).logits
        return out.float().numpy()

    # ------------------------------------------------------------------ inference
    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Uncalibrated logits in input order."""
        texts = list(texts)
        out = np.zeros((len(texts), len(self.classes_)), dtype=np.float32)
        batches = length_sorted_batches(self.tokenizer, texts, self.max_length, self.batch_size, self.inputs)
        # onnxruntime releases the GIL and InferenceSession.run is thread-safe
        workers = self.workers if self.mode == "onnx-int8" else 1
        for sel, z in run_batches(self._run, batches, workers):
            out[sel] = z
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``softmax(logits / temperature)`` with the fp32 model's temperature; sentences
        closer than ``fallback_margin`` to the decision boundary come from the fp32 model."""
        texts = list(texts)
        z = self.logits(texts)
        if not len(z):
            return z
        proba = softmax(np.asarray(z, dtype=np.float64), self.temperature).astype(np.float32)
        self.n_scored += len(texts)
        if self.fallback_margin > 0 and proba.shape[1] > 1:
            top2 = np.partition(proba, -2, axis=1)[:, -2:]
            unsure = np.flatnonzero(top2[:, 1] - top2[:, 0] <= self.fallback_margin)
            if len(unsure):
                proba[unsure] = self.base.predict_proba([texts[i] for i in unsure])
                self.n_fallback += len(unsure)
        return proba


# --------------------------------------------------------------------------- selection


def accelerate(
    model: Any,
    fast: str = "none",
    *,
    threads: int | None = None,
    batch_size: int | None = None,
    cache_dir: str | Path | None = None,
    fallback_margin: float | None = None,
) -> Any:
    """The predictor ``stance-score`` uses for ``model`` and a ``--fast`` mode.

    TF-IDF models are returned as they are (their ``predict_proba`` is already the fast path);
    transformers get :class:`FastTransformer` for ``onnx-int8``/``bf16`` and stay as they are
    for ``none``. Any other model is returned unchanged for ``none``.
    """
    if fast not in FAST_MODES:
        raise ConfigError(f"--fast {fast!r}: expected one of {', '.join(FAST_MODES)}")
    kind = getattr(model, "kind", None)
    if kind == "tfidf":
        if fast != "none":
            raise ConfigError(
                f"--fast {fast} applies to transformer models; this is a TF-IDF model "
                "(it always runs its fast, feature-identical path)"
            )
        return model
    if fast == "none":
        return model
    return FastTransformer(model, fast, threads=threads, batch_size=batch_size, cache_dir=cache_dir,
                           fallback_margin=fallback_margin)


def parity(fp32_model: Any, fast_model: Any, texts: Sequence[str]) -> dict[str, Any]:
    """Agreement of a fast predictor with the reference model on ``texts``.

    Returns ``agreement`` (share of identical predicted labels), ``max_abs_proba_diff``
    (largest absolute difference of any class probability) and ``n``.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("parity needs at least one text")
    a = np.asarray(fp32_model.predict_proba(texts), dtype=np.float64)
    b = np.asarray(fast_model.predict_proba(texts), dtype=np.float64)
    if list(fp32_model.classes_) != list(fast_model.classes_):
        raise ValueError("the two models have different label sets")
    return {
        "agreement": float(np.mean(a.argmax(axis=1) == b.argmax(axis=1))),
        "max_abs_proba_diff": float(np.abs(a - b).max()),
        "n": len(texts),
    }
