"""Fine-tuning through the Hugging Face ``Trainer``: datasets, arguments, loss and callbacks.

:class:`~stance.models.transformer.TransformerClassifier` delegates its training loop here.
What the ``Trainer`` brings (and the package therefore does not write itself): AdamW with
weight-decay groups and a linear warm-up/decay schedule, length-grouped sampling, dynamic
padding (``DataCollatorWithPadding``), gradient accumulation and clipping, mixed precision,
gradient checkpointing, multi-GPU / multi-node through ``accelerate`` (``accelerate launch`` or
``torchrun``), checkpoints with ``save_total_limit`` and ``resume_from_checkpoint``, early
stopping and best-checkpoint restore, and ``report_to`` experiment tracking. Two small
additions live here: the class-weighted cross-entropy (:class:`WeightedLossTrainer`) and the
early-stopping metric, the package's one macro-F1 (:func:`stance.metrics.macro_f1`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from stance.errors import ConfigError
from stance.metrics import macro_f1

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def tokenized_dataset(tokenizer: Any, texts: Sequence[str], labels: Sequence[int] | None, max_length: int) -> Any:
    """A ``datasets.Dataset`` of token ids (tokenised once, unpadded), its token ``length``
    (for length-grouped sampling) and, when given, integer ``labels``."""
    import datasets

    data: dict[str, list] = {"text": list(texts)}
    if labels is not None:
        data["labels"] = [int(v) for v in labels]
    with _quiet_datasets():
        ds = datasets.Dataset.from_dict(data)
        ds = ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_length),
                    batched=True, remove_columns=["text"])
        ds = ds.map(lambda b: {"length": [len(x) for x in b["input_ids"]]}, batched=True)
    return ds


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    import datasets

    enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if enabled:
            datasets.enable_progress_bars()


def resolve_precision(precision: str, use_cpu: bool) -> dict[str, bool]:
    """``bf16``/``fp16`` flags of ``TrainingArguments``: ``auto`` = bf16 on a GPU that supports
    it, fp16 on another GPU, fp32 on CPU."""
    if precision not in PRECISIONS:
        raise ConfigError(f"model.precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    import torch

    if precision == "auto":
        if use_cpu or not torch.cuda.is_available():
            return {"bf16": False, "fp16": False}
        return {"bf16": torch.cuda.is_bf16_supported(), "fp16": not torch.cuda.is_bf16_supported()}
    if precision != "fp32" and (use_cpu or not torch.cuda.is_available()):
        raise ConfigError(f"model.precision={precision} needs a CUDA GPU (fix: precision: auto or fp32 on CPU)")
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def macro_f1_metric(labels: Sequence[str]) -> Any:
    """``compute_metrics`` for the ``Trainer``: macro-F1 over every label of the scheme."""
    names = list(labels)

    def compute(pred: Any) -> dict[str, float]:
        logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
        y_pred = [names[i] for i in np.asarray(logits).argmax(axis=1)]
        y_true = [names[i] for i in np.asarray(pred.label_ids)]
        return {"macro_f1": macro_f1(y_true, y_pred, names)}

    return compute


def trainer_class() -> type:
    """:class:`WeightedLossTrainer`, defined on first use (``transformers`` imports lazily)."""
    global _TRAINER
    if _TRAINER is None:
        import torch
        from transformers import Trainer

        class WeightedLossTrainer(Trainer):
            """``Trainer`` with an optionally class-weighted cross-entropy (``class_weights``)."""

            loss_is_scaled_for_ga = False  # a per-batch mean: the Trainer divides it for accumulation

            def __init__(self, *args: Any, class_weights: np.ndarray | None = None, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.class_weights = None if class_weights is None else torch.as_tensor(class_weights,
                                                                                         dtype=torch.float32)

            def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                             num_items_in_batch: Any = None) -> Any:
                labels = inputs.pop("labels")
                outputs = model(**inputs)
                weight = None if self.class_weights is None else self.class_weights.to(outputs.logits.device)
                loss = torch.nn.functional.cross_entropy(outputs.logits.float(), labels, weight=weight)
                return (loss, outputs) if return_outputs else loss

            def _get_train_sampler(self, train_dataset: Any = None) -> Any:
                if self.args.train_sampling_strategy != "group_by_length":
                    return super()._get_train_sampler(train_dataset)
                dataset = train_dataset if train_dataset is not None else self.train_dataset
                lengths = dataset["length"] if "length" in dataset.column_names else None
                return _epoch_seeded_sampler()(
                    self.args.train_batch_size * self.args.gradient_accumulation_steps, dataset=dataset,
                    lengths=lengths, seed=int(self.args.data_seed if self.args.data_seed is not None else self.args.seed))

        _TRAINER = WeightedLossTrainer
    return _TRAINER


_TRAINER: type | None = None


def _epoch_seeded_sampler() -> type:
    """``LengthGroupedSampler`` whose order depends only on (seed, epoch).

    The ``transformers`` one draws from the global torch RNG, which a resumed run restores to its
    mid-epoch state, so the resumed epoch would be shuffled differently from the interrupted one
    and the run would not end where an uninterrupted one does. Seeded per epoch (``set_epoch`` is
    called by ``accelerate`` at each epoch), the batches after a resume are those of the original.
    """
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
        def __init__(self, *args: Any, seed: int, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.seed, self.epoch = int(seed), 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = int(epoch)

        def __iter__(self) -> Any:
            self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
            return super().__iter__()

    return EpochSeededLengthGroupedSampler


def training_arguments(
    output_dir: str,
    *,
    batch_size: int,
    eval_batch_size: int,
    learning_rate: float,
    weight_decay: float,
    epochs: int,
    max_steps: int | None,
    warmup_ratio: float,
    grad_accum_steps: int,
    max_grad_norm: float | None,
    seed: int,
    has_validation: bool,
    group_by_length: bool,
    use_cpu: bool,
    precision: str,
    gradient_checkpointing: bool,
    save_strategy: str,
    save_steps: int,
    save_total_limit: int | None,
    report_to: str | Sequence[str],
    run_name: str | None,
    progress: bool,
    extra: Mapping[str, Any] | None = None,
) -> Any:
    """``TrainingArguments`` for one fine-tuning run (``extra`` overrides any field)."""
    from transformers import TrainingArguments

    strategy = save_strategy if has_validation or save_strategy != "epoch" else "epoch"
    kwargs: dict[str, Any] = {
        "output_dir": output_dir,
        "per_device_train_batch_size": batch_size,
        "per_device_eval_batch_size": eval_batch_size,
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        "num_train_epochs": epochs,
        "max_steps": max_steps if max_steps is not None else -1,
        "warmup_steps": float(warmup_ratio),  # a float below 1 is a ratio of the training steps
        "lr_scheduler_type": "linear",
        "gradient_accumulation_steps": grad_accum_steps,
        "max_grad_norm": max_grad_norm if max_grad_norm is not None else 0.0,
        "seed": seed,
        "data_seed": seed,
        "eval_strategy": "epoch" if has_validation else "no",
        "save_strategy": strategy,
        "save_steps": save_steps,
        "save_total_limit": save_total_limit,
        "load_best_model_at_end": has_validation and strategy == "epoch",
        "metric_for_best_model": "macro_f1" if has_validation else None,
        "greater_is_better": True,
        "logging_strategy": "epoch",
        "train_sampling_strategy": "group_by_length" if group_by_length else "random",
        "length_column_name": "length",
        "label_names": ["labels"],  # also for the mean-pooling head, whose forward takes no labels
        "use_cpu": use_cpu,
        "activation_checkpointing": gradient_checkpointing,
        "report_to": list(report_to) if not isinstance(report_to, str) else report_to,
        "run_name": run_name,
        "disable_tqdm": not progress,
        "dataloader_num_workers": 0,
        "save_only_model": False,
        **resolve_precision(precision, use_cpu),
    }
    kwargs.update(dict(extra or {}))
    try:
        return TrainingArguments(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"invalid training arguments: {e} (fix: check model.classifier.training_args)") from e


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The newest *complete* checkpoint in ``folder`` (one whose ``trainer_state.json`` was
    written: a run killed while saving leaves a partial ``checkpoint-N`` behind, which
    ``transformers``' own ``get_last_checkpoint`` would pick)."""
    found = []
    for d in Path(folder).glob("checkpoint-*"):
        step = d.name.split("-")[-1]
        if d.is_dir() and step.isdigit() and (d / "trainer_state.json").is_file():
            found.append((int(step), d))
    return max(found)[1] if found else None


def epoch_history(log_history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per-epoch train loss and validation macro-F1 from ``trainer.state.log_history``."""
    by_epoch: dict[int, dict[str, Any]] = {}
    for rec in log_history:
        if "epoch" not in rec:
            continue
        epoch = int(round(float(rec["epoch"])))
        row = by_epoch.setdefault(epoch, {"epoch": epoch, "train_loss": None, "val_macro_f1": None,
                                          "steps": None})
        if "loss" in rec:
            row["train_loss"] = float(rec["loss"])
        if "eval_macro_f1" in rec:
            row["val_macro_f1"] = float(rec["eval_macro_f1"])
        if "step" in rec:
            row["steps"] = int(rec["step"])
    return [by_epoch[e] for e in sorted(by_epoch)]
