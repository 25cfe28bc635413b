"""The one classifier interface every model implements.

scikit-learn conventions: hyperparameters in ``__init__`` (and nothing else there), ``fit``,
``predict``, ``predict_proba`` with columns ordered by ``classes_``, plus ``save(dir)``;
``stance.load_model(dir)`` reads the manifest and returns the right class. Evaluation,
scoring and comparison only ever use this interface.
"""

from __future__ import annotations

import inspect
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from stance.errors import InputError, ModelError
from stance.jsonio import to_jsonable
from stance.labels import LABELS

MANIFEST = "manifest.json"


class StanceClassifier(ABC):
    """Base class: subclasses implement ``_fit``, ``predict_proba``, ``_save_weights``, ``_load_weights``."""

    kind: ClassVar[str] = "base"

    # fitted state (set by fit/load)
    classes_: np.ndarray
    metadata_: dict[str, Any]

    # ------------------------------------------------------------------ sklearn-style params
    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as given to ``__init__``."""
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self"}

    # ------------------------------------------------------------------ training
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        val_texts: Sequence[str] | None = None,
        val_labels: Sequence[str] | None = None,
        label_set: Sequence[str] = LABELS,
    ) -> StanceClassifier:
        """Fit on sentences and their string labels (validation data is optional).

        ``classes_`` is ``label_set`` (all labels, even those absent from ``labels``), so
        ``predict_proba`` columns never depend on which labels a sample happened to contain.
        """
        texts, labels = list(texts), list(labels)
        if not texts:
            raise InputError("the training split is empty", hint="check the dataset split sizes")
        if len(texts) != len(labels):
            raise InputError(f"{len(texts)} texts but {len(labels)} labels")
        unknown = sorted(set(labels) - set(label_set))
        if unknown:
            raise InputError(
                f"labels {unknown} are not in the model's label set {list(label_set)}",
                field="label",
                hint="use a dataset built with the same label set",
            )
        self.classes_ = np.array(list(label_set))
        self.metadata_ = {}
        t0 = time.perf_counter()
        self._fit(texts, labels, list(val_texts or []), list(val_labels or []))
        self.metadata_["train_seconds"] = round(time.perf_counter() - t0, 3)
        return self

    @abstractmethod
    def _fit(
        self, texts: list[str], labels: list[str], val_texts: list[str], val_labels: list[str]
    ) -> None: ...

    # ------------------------------------------------------------------ inference
    @abstractmethod
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, shape (n, len(classes_)), columns ordered by ``classes_``."""

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Most probable label per text."""
        proba = self.predict_proba(texts)
        return self.classes_[proba.argmax(axis=1)] if len(proba) else np.array([], dtype=object)

    def label_index(self, labels: Iterable[str]) -> np.ndarray:
        """Column index of each label in ``classes_``."""
        pos = {c: i for i, c in enumerate(self.classes_)}
        return np.array([pos[x] for x in labels], dtype=int)

    def score_articles(self, articles: Iterable[Any], **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Score articles (``Article`` objects or dicts with id/text/source), yielding one
        record per sentence; see :func:`stance.scoring.score.score_articles`."""
        from stance.scoring.score import score_articles

        yield from score_articles(self, articles, **kwargs)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        """Write manifest (kind, labels, version, params, metadata) and weights into ``path``."""
        import stance

        self._check_fitted()
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        self._save_weights(out)
        manifest = {
            "kind": self.kind,
            "labels": [str(c) for c in self.classes_],
            "package_version": stance.__version__,
            "params": to_jsonable(self.get_params()),
            "metadata": to_jsonable(self.metadata_),
            **(to_jsonable(dict(extra)) if extra else {}),
        }
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        return out

    @abstractmethod
    def _save_weights(self, path: Path) -> None: ...

    @classmethod
    def load(cls, path: str | Path) -> StanceClassifier:
        """Load a model of this class (use :func:`stance.load_model` when the kind is unknown)."""
        manifest = read_manifest(path)
        if manifest["kind"] != cls.kind:
            raise ModelError(f"{path} holds a {manifest['kind']!r} model, not {cls.kind!r}")
        params = manifest.get("params", {})
        model = cls(**params)
        model.classes_ = np.array(manifest["labels"])
        model.metadata_ = dict(manifest.get("metadata", {}))
        model.manifest_ = manifest
        model._load_weights(Path(path))
        return model

    @abstractmethod
    def _load_weights(self, path: Path) -> None: ...

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise ModelError(f"{type(self).__name__} is not fitted; call fit() or load() first")


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and check a model directory's manifest."""
    from stance import __version__

    p = Path(path)
    if not p.exists():
        raise ModelError(f"model directory {p} does not exist (fix: give the path of a saved model, e.g. RUN_DIR/model)")
    if not (p / MANIFEST).is_file():
        hint = " (it looks like a run directory: use its model/ folder)" if (p / "model" / MANIFEST).is_file() else ""
        raise ModelError(f"{p} is not a stance classifier directory: no {MANIFEST}{hint}")
    try:
        manifest = json.loads((p / MANIFEST).read_text())
    except json.JSONDecodeError as e:
        raise ModelError(f"{p / MANIFEST} is not valid JSON: {e}") from e
    for key in ("kind", "labels", "package_version"):
        if key not in manifest:
            raise ModelError(f"{p / MANIFEST} lacks {key!r}; the directory is not a stance classifier")
    if _version_tuple(manifest["package_version"]) > _version_tuple(__version__):
        raise ModelError(
            f"{p} was saved by stance {manifest['package_version']}, newer than this "
            f"stance {__version__}; upgrade the package (pip install -U stance) to load it"
        )
    return manifest


def _version_tuple(v: str) -> tuple[int, ...]:
    out = []
    for part in str(v).split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)
