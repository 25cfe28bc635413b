"""Model-specific parts of the transformer fast paths (:class:`stance.scoring.fast.FastTransformer`).

* :func:`hf_parts` -- the Hugging Face model, tokenizer, truncation length and temperature of a
  fitted transformer classifier;
* :func:`export_onnx_int8` -- ONNX export (TorchScript exporter, dynamic axes), optional
  onnxruntime graph fusions and per-channel int8 dynamic quantisation, written through
  :func:`stance.atomic.atomic_dir`;
* :func:`cached_onnx_int8` -- that export cached by a hash of the weights, re-exported when
  the cached file no longer matches its recorded hash; :func:`onnx_session` opens it in
  onnxruntime;
* :func:`bf16_copy` -- the torch bfloat16 copy of the network.

The dispatcher (:func:`stance.scoring.fast.accelerate`), the fp32 fallback and
:func:`stance.scoring.fast.parity` stay in :mod:`stance.scoring.fast`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from stance.atomic import atomic_dir
from stance.errors import ModelError

__all__ = [
    "ONNX_OPSET",
    "bf16_copy",
    "cache_root",
    "cached_onnx_int8",
    "export_onnx_int8",
    "hf_parts",
    "onnx_session",
]

ONNX_OPSET = 17
MODEL_FILE = "model.int8.onnx"


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


def cache_root() -> Path:
    """Where exported models are cached: ``$STANCE_CACHE_DIR`` or ``~/.cache/stance``."""
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

def _export_fp32(net: Any, tokenizer: Any, fp32: Path, optimize: bool) -> tuple[list[str], Any]:
    """``torch.onnx.export`` of a float32 CPU copy of ``net``; returns the input names and the
    copy's config."""
    import copy
    import warnings

    import torch

    sample = tokenizer(["a short sentence", "a slightly longer sentence with a few more words"],
                       padding=True, return_tensors="pt")
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample]
    work = copy.deepcopy(net).to("cpu").float().eval()
    encoder = getattr(work, "encoder", work)  # MeanPoolingClassifier wraps its encoder
    if optimize and hasattr(encoder, "set_attn_implementation"):
        # eager attention exports to the pattern onnxruntime's optimizer fuses
        with contextlib.suppress(Exception):
            encoder.set_attn_implementation("eager")
    axes = {k: {0: "batch", 1: "sequence"} for k in names} | {"logits": {0: "batch"}}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Logits.make(work, names), tuple(sample[k] for k in names), str(fp32),
            input_names=names, output_names=["logits"], dynamic_axes=axes,
            opset_version=ONNX_OPSET, dynamo=False, do_constant_folding=True,
        )
    return names, work.config


def _quantize_int8(src: Path, int8: Path) -> None:
    """``quantize_dynamic(per_channel=True, weight_type=QInt8)`` of ``src`` into ``int8``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

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


def _complete(folder: Path) -> bool:
    return (folder / MODEL_FILE).is_file()


def export_onnx_int8(net: Any, tokenizer: Any, out_dir: str | Path, optimize: bool = False) -> Path:
    """Export ``net`` to ONNX (dynamic batch and sequence axes) and quantise it to int8.

    Steps: ``torch.onnx.export`` (TorchScript exporter), optionally onnxruntime's transformer
    optimizer (attention/LayerNorm/GELU fusions; the model is then exported with eager
    attention, the pattern it fuses), then ``quantize_dynamic(per_channel=True,
    weight_type=QInt8)`` (per-tensor weights distort the model). Returns the int8 model path.
    The folder is written with :func:`stance.atomic.atomic_dir`: an incomplete ``out_dir`` is
    replaced, a complete one written meanwhile by a concurrent export of the same model is kept.
    """
    out = Path(out_dir)
    with atomic_dir(out, keep=_complete) as tmp:
        fp32 = tmp / "model.fp32.onnx"
        names, config = _export_fp32(net, tokenizer, fp32, optimize)
        src = fp32
        if optimize:
            src = _ort_optimize(fp32, config, tmp / "model.opt.onnx") or fp32
        int8 = tmp / MODEL_FILE
        _quantize_int8(src, int8)
        for f in (fp32, tmp / "model.opt.onnx"):
            f.unlink(missing_ok=True)
        (tmp / "export.json").write_text(json.dumps({"inputs": names, "optimized": src != fp32,
                                                     "source_key": out.name, "onnx_sha256": _file_sha256(int8)}))
    return out / MODEL_FILE


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


def cached_onnx_int8(net: Any, tokenizer: Any, cache_dir: str | Path | None,
                     optimize: bool) -> tuple[Path, list[str], str | None]:
    """The int8 ONNX export of ``net`` from the cache (exported on a miss).

    The cache folder is ``cache_dir`` (default :func:`cache_root` ``/ "onnx"``) ``/`` a hash of
    the weights; a cached export whose recorded hashes do not match is removed and exported
    again. Returns the model path, its input names and a note saying it was re-exported (None
    when the cache was fine or empty).
    """
    key = _weights_key(net, f"onnx-int8|optimize={optimize}")
    root = Path(cache_dir) if cache_dir is not None else cache_root() / "onnx"
    folder = root / key
    path = folder / MODEL_FILE
    note = None
    if path.is_file() and not _cached_export_ok(folder, key):
        import shutil

        note = f"the cached ONNX export in {folder} did not match its recorded hashes: re-exported"
        shutil.rmtree(folder, ignore_errors=True)
    if not path.is_file():
        path = export_onnx_int8(net, tokenizer, folder, optimize=optimize)
    inputs = json.loads((folder / "export.json").read_text())["inputs"]
    return path, inputs, note


def onnx_session(path: Path, spin: bool) -> Any:
    """An onnxruntime CPU session for the int8 model: one thread per inference (the caller runs
    several batches at a time); idle threads sleep unless ``spin``."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    # batches run concurrently, one single-threaded inference each: the many small
    # elementwise ops of a small encoder parallelise badly inside one batch (measured
    # ~710 vs ~520 sentences/s on 2 cores)
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    if not spin:
        # idle worker threads sleep instead of spinning: much faster when other processes
        # share the cores (measured 278 vs 201 sentences/s on a busy 2-core machine)
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def bf16_copy(net: Any, tokenizer: Any) -> tuple[Any, list[str]]:
    """A CPU bfloat16 copy of ``net`` in eval mode and the input names ``tokenizer`` produces."""
    import copy

    import torch

    work = copy.deepcopy(net).to("cpu").to(torch.bfloat16).eval()
    sample = tokenizer(["x"], return_tensors="pt")
    return work, [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample]
