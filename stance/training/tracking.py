"""Experiment tracking (config group ``logger``): TensorBoard, MLflow, Weights & Biases.

The transformer's training curves go through the Hugging Face ``Trainer``'s own integrations
(``report_to``), which read their settings from environment variables; :meth:`Tracker.setup`
sets those. The package's final figures (validation and test macro-F1, accuracy, ECE, per-class
F1, training time) are logged by :meth:`Tracker.log_final`, for every model kind, into the
same place: the TensorBoard log folder, the MLflow experiment or the W&B run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stance.errors import ConfigError

TRACKERS = ("none", "tensorboard", "mlflow", "wandb")
_PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow-skinny (or mlflow)", "wandb": "wandb"}


class Tracker:
    """Where a run's metrics go.

    Args:
        report_to: ``none``, ``tensorboard``, ``mlflow`` or ``wandb``.
        dir: TensorBoard log folder, or the folder W&B writes its files in.
        tracking_uri: MLflow tracking URI (``file:...`` for a local file store).
        experiment: MLflow experiment / W&B project name.
        mode: W&B mode (``offline`` or ``online``).
    """

    def __init__(
        self,
        report_to: str = "none",
        dir: str | None = None,  # noqa: A002 - the config key users write
        tracking_uri: str | None = None,
        experiment: str = "stance",
        mode: str = "offline",
    ) -> None:
        if report_to not in TRACKERS:
            raise ConfigError(f"logger.report_to must be one of {', '.join(TRACKERS)}, got {report_to!r}")
        self.report_to = report_to
        self.dir = dir
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.mode = mode

    def setup(self, run_name: str) -> None:
        """Check the tracker's package is installed and set the environment its ``Trainer``
        integration reads."""
        if self.report_to == "none":
            return
        import importlib.util

        module = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}[self.report_to]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"logger={self.report_to} needs the {module} package: pip install "
                              f"{_PACKAGES[self.report_to]}")
        if self.report_to == "tensorboard" and self.dir:
            os.environ["TENSORBOARD_LOGGING_DIR"] = str(self.dir)
        elif self.report_to == "mlflow":
            if self.tracking_uri:
                os.environ["MLFLOW_TRACKING_URI"] = str(self.tracking_uri)
            os.environ["MLFLOW_EXPERIMENT_NAME"] = self.experiment
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # the local file store of this config
            os.environ["MLFLOW_RUN_NAME"] = run_name
        elif self.report_to == "wandb":
            os.environ["WANDB_MODE"] = self.mode
            os.environ["WANDB_PROJECT"] = self.experiment
            if self.dir:
                Path(self.dir).mkdir(parents=True, exist_ok=True)
                os.environ["WANDB_DIR"] = str(self.dir)

    def log_final(self, metrics: Mapping[str, Any], params: Mapping[str, Any], run_name: str) -> None:
        """Log the package's final figures (and the run's parameters) to the tracker."""
        if self.report_to == "none":
            return
        flat = final_scalars(metrics)
        if self.report_to == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            with SummaryWriter(log_dir=str(self.dir) if self.dir else None) as w:
                for k, v in flat.items():
                    w.add_scalar(f"final/{k}", v, 0)
                w.add_text("params", "\n".join(f"{k}: {v}" for k, v in sorted(params.items())), 0)
        elif self.report_to == "mlflow":
            import mlflow

            if self.tracking_uri:
                mlflow.set_tracking_uri(self.tracking_uri)
            mlflow.set_experiment(self.experiment)
            last = mlflow.last_active_run()
            resume = last is not None and last.info.run_name == run_name
            with mlflow.start_run(run_id=last.info.run_id if resume else None, run_name=run_name):
                mlflow.log_metrics({f"final/{k}": v for k, v in flat.items()})
                if not resume:
                    mlflow.log_params({k: str(v)[:250] for k, v in params.items()})
        else:
            import wandb

            run = wandb.run or wandb.init(project=self.experiment, name=run_name, mode=self.mode,
                                          dir=self.dir, config=dict(params))
            run.summary.update({f"final/{k}": v for k, v in flat.items()})
            run.finish()


def final_scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The headline numbers of ``metrics.json`` as flat ``split/name`` scalars (``cv/name`` for
    the pooled cross-validation figures)."""
    out: dict[str, float] = {}
    for split in ("validation", "test"):
        m = metrics.get(split)
        if not isinstance(m, Mapping):
            continue
        for key in ("macro_f1", "accuracy", "ece"):
            if isinstance(m.get(key), (int, float)):
                out[f"{split}/{key}"] = float(m[key])
        for label, row in (m.get("per_class") or {}).items():
            out[f"{split}/f1_{label}"] = float(row["f1"])
    cv = metrics.get("cv")
    if isinstance(cv, Mapping):  # grouped cross-validation: pooled out-of-fold figures
        for key in ("macro_f1", "accuracy", "slant_mae", "slant_spearman"):
            if isinstance(cv.get(key), (int, float)):
                out[f"cv/{key}"] = float(cv[key])
    if isinstance(metrics.get("train_seconds"), (int, float)):
        out["train_seconds"] = float(metrics["train_seconds"])
    return out
