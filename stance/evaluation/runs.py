"""Run directories of ``stance-train``: the one loader that comparison and reports share.

A run directory holds ``metrics.json``, ``run_info.json``, ``config.yaml``,
``predictions_<split>.parquet`` and ``model/manifest.json``. :func:`load_run` reads and checks
them; :attr:`RunData.group_key` is everything that identifies the run's configuration except
its seed (model and its parameters, data, label mode, scheme), so runs that differ only in the
seed are pooled and nothing else is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stance.errors import InputError
from stance.scheme import Scheme

SPLITS = ("validation", "test")
REQUIRED_PRED_COLUMNS = ("sentence_id", "source", "article_id", "label", "pred", "attributed", "speaker_side")
# keys of the resolved config that name where a run wrote things, not what it did
_RUN_PATH_KEYS = {"run_dir", "dataset_dir", "checkpoint_dir", "run_name", "resume", "ckpt_path", "resume_from_checkpoint",
                  "output_root", "progress", "report_to"}


class RunDirError(InputError):
    """A run directory that cannot be read (missing or unreadable files)."""


@dataclass
class RunData:
    """What comparison and reports need from one run directory."""

    dir: Path
    metrics: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    predictions: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.metrics.get("model") or self.info.get("model") or "?")

    @property
    def seed(self) -> Any:
        return self.metrics.get("seed", self.info.get("seed"))

    @property
    def scheme(self) -> Scheme:
        """The run's label scheme (run_info.json, else the model manifest)."""
        if self.info.get("scheme") or self.info.get("labels"):
            return run_scheme(self.info)
        return run_scheme({"scheme": self.manifest.get("scheme"), "labels": self.manifest.get("labels")})

    @property
    def labels(self) -> list[str]:
        """The labels the metrics were computed over, else the scheme's."""
        for split in SPLITS:
            if isinstance(self.metrics.get(split), dict) and self.metrics[split].get("labels"):
                return [str(x) for x in self.metrics[split]["labels"]]
        return self.scheme.label_list

    @property
    def fingerprint(self) -> str | None:
        return self.info.get("data_fingerprint") or self.manifest.get("data_fingerprint")

    def label_source(self) -> str:
        """Which labels the model was trained on (``data.labels``: gold, weak or gold+weak)."""
        data = self.config.get("data") if isinstance(self.config, dict) else None
        return str(data.get("labels", "gold")) if isinstance(data, dict) else "\u2013"

    def trainer_setting(self, key: str, default: Any) -> Any:
        trainer = self.config.get("trainer") if isinstance(self.config, dict) else None
        if isinstance(trainer, dict) and trainer.get(key) is not None:
            return trainer[key]
        return default

    @property
    def group_key(self) -> str:
        """The configuration without the seed (and without where the run wrote its files)."""
        if not self.config:
            return f"{self.model} (no config.yaml: {self.dir.name})"
        return json.dumps(_without_seed(self.config), sort_keys=True, default=str)

    def group_label(self) -> str:
        """A short readable name of the group: model, data, label mode, scheme."""
        data = self.config.get("data") if isinstance(self.config.get("data"), dict) else {}
        parts = [self.model, str(data.get("name", "?")), f"labels={self.label_source()}", f"scheme={self.scheme.name}"]
        return " ".join(parts)


def _without_seed(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_seed(v) for k, v in node.items()
                if k != "seed" and k not in _RUN_PATH_KEYS and k != "hydra"}
    if isinstance(node, list):
        return [_without_seed(v) for v in node]
    return node


def run_scheme(info: dict[str, Any]) -> Scheme:
    """The scheme a run directory's ``run_info.json`` records (runs made before schemes
    existed: the bundled scheme with the same labels, if any)."""
    if info.get("scheme"):
        return Scheme.from_dict(info["scheme"])
    from stance.resources import legacy_scheme

    return legacy_scheme(list(info.get("labels") or []))


def _read_json(path: Path, run_dir: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise RunDirError(f"cannot read {path.name}: {e}", path=run_dir) from e
    if not isinstance(obj, dict):
        raise RunDirError(f"{path.name} does not hold a JSON object", path=run_dir)
    return obj


def load_run(run_dir: str | Path, splits: Sequence[str] = SPLITS, required: Sequence[str] = ("test",)) -> RunData:
    """Load a run directory; :class:`RunDirError` names the directory and what is missing."""
    d = Path(run_dir)
    hint = ("give a directory written by stance-train; its predictions are saved when "
            "trainer.save_predictions=true")
    if not d.is_dir():
        raise RunDirError("run directory does not exist" if not d.exists() else "not a directory", path=d, hint=hint)
    missing = [name for name in ("metrics.json", *(f"predictions_{s}.parquet" for s in required))
               if not (d / name).is_file()]
    if missing:
        raise RunDirError(f"not a complete training run directory: missing {' and '.join(missing)}", path=d, hint=hint)
    metrics = _read_json(d / "metrics.json", d)
    for split in required:
        if not isinstance(metrics.get(split), dict):
            raise RunDirError(f"metrics.json has no {split!r} results", path=d,
                              hint="the split was empty when this run was trained")
    info = _read_json(d / "run_info.json", d) if (d / "run_info.json").is_file() else {}
    manifest = _read_json(d / "model" / "manifest.json", d) if (d / "model" / "manifest.json").is_file() else {}
    config: dict[str, Any] = {}
    if (d / "config.yaml").is_file():
        import yaml

        try:
            loaded = yaml.safe_load((d / "config.yaml").read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise RunDirError(f"cannot read config.yaml: {e}", path=d) from e
        config = loaded if isinstance(loaded, dict) else {}
    predictions: dict[str, pd.DataFrame] = {}
    for split in splits:
        f = d / f"predictions_{split}.parquet"
        if not f.is_file():
            continue
        try:
            df = pd.read_parquet(f)
        except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a corrupt file
            raise RunDirError(f"cannot read {f.name}: {e}", path=d) from e
        absent = [c for c in REQUIRED_PRED_COLUMNS if c not in df.columns]
        if absent:
            raise RunDirError(f"{f.name} lacks column(s) {', '.join(absent)}", path=d,
                              hint="re-run stance-train to rewrite the predictions")
        if df.empty:
            raise RunDirError(f"{f.name} has no rows", path=d)
        predictions[split] = df
    return RunData(d, metrics, info, config, manifest, predictions)
