"""The one classifier interface every model implements.

scikit-learn conventions: hyperparameters in ``__init__`` (and nothing else there), ``fit``,
``predict``, ``predict_proba`` with columns ordered by ``classes_``, plus ``save(dir)``;
``stance.load_model(dir)`` reads the manifest and returns the right class. Evaluation,
scoring and comparison only ever use this interface.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from stance.errors import ConfigError, InputError, ModelError
from stance.jsonio import to_jsonable
from stance.models.manifest import (
    MANIFEST,
    check_params,
    content_fingerprint,
    read_manifest,
    scheme_of_manifest,
    verify_fingerprint,
)
from stance.scheme import Scheme, infer_labels


def _as_texts(X: Any, what: str = "X") -> list[str]:
    texts = list(X)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise InputError(f"{what}[{bad}] is a {type(texts[bad]).__name__}, not a string: the "
                         "classifiers take sentences (strings)")
    return texts


class StanceClassifier(ClassifierMixin, BaseEstimator, ABC):
    """Base class: subclasses implement ``_fit``, ``predict_proba``, ``_save_weights``, ``_load_weights``.

    A scikit-learn estimator (``get_params``/``set_params``, ``clone``, ``score``, usable in
    ``GridSearchCV`` and ``cross_val_score``). Every subclass takes ``labels`` (the label set
    and its order; ``None`` = the sorted labels of the training data) as a hyperparameter.
    """

    kind: ClassVar[str] = "base"
    #: whether ``fit`` uses the validation data (early stopping, calibration); grouped
    #: cross-validation gives such a model an inner validation set from the training folds
    uses_validation: ClassVar[bool] = False

    # fitted state (set by fit/load)
    classes_: np.ndarray
    scheme_: Scheme
    metadata_: dict[str, Any]

    # ------------------------------------------------------------------ training
    def fit(
        self,
        X: Sequence[str],
        y: Sequence[str],
        X_val: Sequence[str] | None = None,
        y_val: Sequence[str] | None = None,
        scheme: Scheme | None = None,
    ) -> StanceClassifier:
        """Fit on sentences ``X`` and their string labels ``y`` (validation data optional).

        ``classes_`` is, in this order of precedence, the ``scheme``'s labels, the ``labels``
        hyperparameter, or the sorted distinct labels of ``y``; every label of the set gets a
        probability column, even one absent from ``y``. ``scheme_`` is the scheme the model
        was trained with (one that knows only the labels when none is given).
        """
        texts, labels = _as_texts(X), [str(v) for v in y]
        if not texts:
            raise InputError("the training split is empty", hint="check the dataset split sizes")
        if len(texts) != len(labels):
            raise InputError(f"{len(texts)} texts but {len(labels)} labels")
        self._check_params()
        label_set = self._label_set(labels, scheme)
        val_texts = _as_texts(X_val or [], "X_val")
        val_labels = [str(v) for v in (y_val or [])]
        if len(val_texts) != len(val_labels):
            raise InputError(f"{len(val_texts)} validation texts but {len(val_labels)} validation labels")
        for what, values in (("training", labels), ("validation", val_labels)):
            unknown = sorted(set(values) - set(label_set))
            if unknown:
                raise InputError(
                    f"{what} labels {unknown} are not in the model's label set {list(label_set)}",
                    field="label", hint="use a dataset built with the same label scheme",
                )
        self.classes_ = np.array(list(label_set))
        self.scheme_ = scheme if scheme is not None else Scheme.from_labels(label_set)
        self.metadata_ = {}
        t0 = time.perf_counter()
        self._fit(texts, labels, val_texts, val_labels)
        self.metadata_["train_seconds"] = round(time.perf_counter() - t0, 3)
        return self

    def _label_set(self, y: list[str], scheme: Scheme | None) -> list[str]:
        given = None if self.labels is None else [str(x) for x in self.labels]
        if scheme is not None:
            if given is not None and given != scheme.label_list:
                raise InputError(
                    f"the model's labels {given} differ from the scheme {scheme.describe()}",
                    hint="drop model.classifier.labels or make it equal to the scheme's labels",
                )
            return scheme.label_list
        if given is not None:
            return given
        return list(infer_labels(y))

    @abstractmethod
    def _fit(
        self, texts: list[str], labels: list[str], val_texts: list[str], val_labels: list[str]
    ) -> None: ...

    # ------------------------------------------------------------------ inference
    @abstractmethod
    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Probabilities, shape (n, len(classes_)), columns ordered by ``classes_``."""

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """Most probable label per text."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)] if len(proba) else np.array([], dtype=object)

    def label_index(self, labels: Iterable[str]) -> np.ndarray:
        """Column index of each label in ``classes_``."""
        pos = {c: i for i, c in enumerate(self.classes_)}
        return np.array([pos[x] for x in labels], dtype=int)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        """Write manifest (kind, labels, scheme, version, params, metadata) and weights into ``path``."""
        import stance

        self._check_fitted()
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        self._save_weights(out)
        manifest = {
            "kind": self.kind,
            "labels": [str(c) for c in self.classes_],
            "scheme": self.scheme_.to_dict(),
            "package_version": stance.__version__,
            "params": to_jsonable(self.get_params(deep=False)),
            "metadata": to_jsonable(self.metadata_),
            **(to_jsonable(dict(extra)) if extra else {}),
        }
        manifest["fingerprint"] = content_fingerprint(out, manifest)
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
        model = cls(**check_params(cls, manifest.get("params", {}), path))
        try:
            model._check_params()
        except (ConfigError, TypeError, ValueError) as e:
            raise ModelError(f"{Path(path) / MANIFEST}, field 'params': {e}") from e
        model.classes_ = np.array(manifest["labels"])
        model.scheme_ = scheme_of_manifest(manifest, path)
        model.metadata_ = dict(manifest.get("metadata", {}))
        model.manifest_ = manifest
        model._load_weights(Path(path))  # checks shapes and types, with messages that name the file
        verify_fingerprint(path, manifest)
        return model

    def _check_params(self) -> None:
        """Raise :class:`~stance.errors.ConfigError` for an invalid hyperparameter (subclasses)."""

    @abstractmethod
    def _load_weights(self, path: Path) -> None:
        """Load and check the weight files (:func:`stance.models.manifest.load_array`)."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise ModelError(f"{type(self).__name__} is not fitted; call fit() or load() first")
