"""Fast inference wrappers with the classifier interface (``classes_``, ``predict_proba``).

* TF-IDF models need no wrapper: their own ``predict_proba`` is the fast path
  (:mod:`stance.models.tfidf_counts`).
* :class:`FastTransformer` - the fine-tuned transformer run as ONNX with per-channel int8
  dynamic quantisation (``onnx-int8``) in onnxruntime, or as torch bf16 (``bf16``); same
  truncation length, length-sorted batching and temperature as the fp32 model.
* :func:`accelerate` picks the wrapper for a model and a ``--fast`` mode, so scoring code
  never branches on the model type; :func:`parity` compares a wrapper with the fp32 model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stance.errors import ConfigError, ModelError
from stance.models.batching import length_sorted_batches, run_batches
from stance.models.calibration import softmax

__all__ = [
    "FAST_MODES",
    "FastTransformer",
    "accelerate",
    "hf_parts",
    "parity",
]

log = logging.getLogger(__name__)
FAST_MODES: tuple[str, ...] = ("none", "onnx-int8", "bf16")
ONNX_OPSET = 17


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


def hf_parts(model: Any) -> dict[str, Any]:
    """The Hugging Face pieces of a fitted transformer classifier.

    Returns ``model`` (a ``torch.nn.Module`` with a Hugging Face ``config`` whose output has
    ``.logits``: a ``PreTrainedModel`` or :class:`~stance.models.pooling.MeanPoolingClassifier`),
    ``tokenizer``, ``max_length`` (tokens), ``temperature`` and ``batch_size``. Looks for
    ``model_``/``tokenizer_`` first, then for any attribute holding such a model / tokenizer.
    """
    import torch
    from transformers import PreTrainedTokenizerBase

    def is_net(v: Any) -> bool:
        return isinstance(v, torch.nn.Module) and hasattr(v, "config")

    attrs = vars(model)
    net = attrs.get("model_")
    tok = attrs.get("tokenizer_")
    if not is_net(net):
        net = next((v for v in attrs.values() if is_net(v)), None)
    if not isinstance(tok, PreTrainedTokenizerBase):
        tok = next((v for v in attrs.values() if isinstance(v, PreTrainedTokenizerBase)), None)
    if net is None or tok is None:
        raise ModelError(
            f"{type(model).__name__} holds no Hugging Face model and tokenizer; "
            "--fast applies to fitted transformer models only"
        )
    max_len = attrs.get("_max_len") or getattr(model, "max_length", None) or 512
    limits = [int(max_len)]
    pos = getattr(net.config, "max_position_embeddings", None)
    if isinstance(pos, int) and pos > 0:
        limits.append(pos)
    temperature = attrs.get("temperature_")
    if temperature is None:
        temperature = (getattr(model, "metadata_", None) or {}).get("temperature", 1.0)
    return {
        "model": net,
        "tokenizer": tok,
        "max_length": min(limits),
        "temperature": float(temperature or 1.0),
        "batch_size": int(getattr(model, "eval_batch_size", 64) or 64),
    }


def _cache_root() -> Path:
    env = os.environ.get("STANCE_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "stance"


def _weights_key(net: Any, extra: str) -> str:
    """sha256 over the model's tensors (names, shapes, bytes), its config and ``extra``."""
    import onnxruntime
    import torch

    h = hashlib.sha256()
    h.update(f"{extra}|torch={torch.__version__}|ort={onnxruntime.__version__}|opset={ONNX_OPSET}".encode())
    h.update(json.dumps(net.config.to_dict(), sort_keys=True, default=str).encode())
    for name, t in net.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().to("cpu").contiguous().view(-1).view(torch.uint8).numpy())  # no copy
    return h.hexdigest()[:24]


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _cached_export_ok(folder: Path, key: str) -> bool:
    """A cached export is used only when its record names the same source weights (the key)
    and the ONNX file still has the hash recorded when it was written (a swapped or truncated
    file is exported again)."""
    try:
        info = json.loads((folder / "export.json").read_text())
        return info.get("source_key") == key and info.get("onnx_sha256") == _file_sha256(folder / "model.int8.onnx")
    except (OSError, ValueError, AttributeError):
        return False


class _Logits:
    """``torch.nn.Module`` wrapper returning the logits tensor only (built lazily)."""

    @staticmethod
    def make(net: Any, names: list[str]) -> Any:
        import torch

        class Logits(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = net

            def forward(self, *args: Any) -> Any:
                return self.net(**dict(zip(names, args))).logits

        return Logits().eval()


def export_onnx_int8(net: Any, tokenizer: Any, out_dir: str | Path, optimize: bool = False) -> Path:
    """Export ``net`` to ONNX (dynamic batch and sequence axes) and quantise it to int8.

    Steps: ``torch.onnx.export`` (TorchScript exporter), optionally onnxruntime's transformer
    optimizer (attention/LayerNorm/GELU fusions; the model is then exported with eager
    attention, the pattern it fuses), then ``quantize_dynamic(per_channel=True,
    weight_type=QInt8)`` (per-tensor weights distort the model). Returns the int8 model path;
    files are written to a temporary folder and renamed into ``out_dir`` at the end.
    """
    import copy

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".onnx-", dir=out.parent))
    try:
        sample = tokenizer(["a short sentence", "a slightly longer sentence with a few more words"],
                           padding=True, return_tensors="pt")
        names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample]
        work = copy.deepcopy(net).to("cpu").float().eval()
        encoder = getattr(work, "encoder", work)  # MeanPoolingClassifier wraps its encoder
        if optimize and hasattr(encoder, "set_attn_implementation"):
            # eager attention exports to the pattern onnxruntime's optimizer fuses
            with contextlib.suppress(Exception):
                encoder.set_attn_implementation("eager")
        fp32 = tmp / "model.fp32.onnx"
        axes = {k: {0: "batch", 1: "sequence"} for k in names} | {"logits": {0: "batch"}}
        import warnings

        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Logits.make(work, names), tuple(sample[k] for k in names), str(fp32),
                input_names=names, output_names=["logits"], dynamic_axes=axes,
                opset_version=ONNX_OPSET, dynamo=False, do_constant_folding=True,
            )
        src = fp32
        if optimize:
            src = _ort_optimize(fp32, work.config, tmp / "model.opt.onnx") or fp32
        int8 = tmp / "model.int8.onnx"
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic logs a "consider pre-processing" warning
        try:
            quantize_dynamic(
                str(src), str(int8), per_channel=True, weight_type=QuantType.QInt8,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            root.setLevel(level)
        for f in (fp32, tmp / "model.opt.onnx"):
            f.unlink(missing_ok=True)
        (tmp / "export.json").write_text(json.dumps({"inputs": names, "optimized": src != fp32,
                                                     "source_key": out.name, "onnx_sha256": _file_sha256(int8)}))
        if out.exists() and not (out / "model.int8.onnx").is_file():
            import shutil

            shutil.rmtree(out)  # an incomplete folder
        try:
            tmp.rename(out)
        except OSError:
            if not (out / "model.int8.onnx").is_file():  # not a concurrent export of the same model
                raise
    finally:
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return out / "model.int8.onnx"


def _ort_optimize(src: Path, config: Any, dst: Path) -> Path | None:
    """onnxruntime's BERT graph fusions; None when the architecture is not a supported one."""
    model_type = {"bert": "bert", "roberta": "bert", "xlm-roberta": "bert", "distilbert": "bert",
                  "mpnet": "bert", "electra": "bert", "deberta-v2": "bert"}.get(config.model_type)
    if model_type is None:
        return None
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)
        opt = optimize_model(str(src), model_type=model_type,
                             num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
                             hidden_size=int(getattr(config, "hidden_size", 0) or 0), opt_level=1)
        opt.save_model_to_file(str(dst))
        return dst
    except Exception:  # noqa: BLE001 - fall back to the unfused graph
        return None


class FastTransformer(_Wrapper):
    """A fitted transformer classifier run through a faster backend.

    Args:
        model: a fitted ``TransformerClassifier`` (anything :func:`hf_parts` understands).
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
        import onnxruntime as ort

        key = _weights_key(net, f"onnx-int8|optimize={optimize}")
        root = Path(cache_dir) if cache_dir is not None else _cache_root() / "onnx"
        folder = root / key
        path = folder / "model.int8.onnx"
        self.cache_note = None
        if path.is_file() and not _cached_export_ok(folder, key):
            import shutil

            self.cache_note = f"the cached ONNX export in {folder} did not match its recorded hashes: re-exported"
            log.warning(self.cache_note)
            shutil.rmtree(folder, ignore_errors=True)
        if not path.is_file():
            path = export_onnx_int8(net, self.tokenizer, folder, optimize=optimize)
        self.onnx_path = path
        self.inputs = json.loads((folder / "export.json").read_text())["inputs"]
        so = ort.SessionOptions()
        # batches run concurrently, one single-threaded inference each: the many small
        # elementwise ops of a small encoder parallelise badly inside one batch (measured
        # ~710 vs ~520 sentences/s on 2 cores)
        self.workers = int(self.threads or os.cpu_count() or 1)
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if not self.spin:
            # idle worker threads sleep instead of spinning: much faster when other processes
            # share the cores (measured 278 vs 201 sentences/s on a busy 2-core machine)
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    def _init_bf16(self, net: Any) -> None:
        import copy

        import torch

        if self.threads:
            torch.set_num_threads(int(self.threads))
        self._net = copy.deepcopy(net).to("cpu").to(torch.bfloat16).eval()
        sample = self.tokenizer(["x"], return_tensors="pt")
        self.inputs = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample]

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
