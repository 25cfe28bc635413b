"""Model kinds by name, and ``load_model`` which dispatches on a saved manifest."""

from __future__ import annotations

from pathlib import Path

from stance.errors import ModelError
from stance.models.base import StanceClassifier
from stance.models.manifest import read_manifest


def model_classes() -> dict[str, type[StanceClassifier]]:
    """Every classifier kind the package can load."""
    from stance.models.tfidf import TfidfClassifier
    from stance.models.transformer import TransformerClassifier

    return {c.kind: c for c in (TfidfClassifier, TransformerClassifier)}


def load_model(path: str | Path) -> StanceClassifier:
    """Load any saved classifier directory; reads only JSON, arrays and safetensors."""
    manifest = read_manifest(path)
    classes = model_classes()
    cls = classes.get(manifest["kind"])
    if cls is None:
        raise ModelError(
            f"{path}: unknown model kind {manifest['kind']!r}; this stance knows {', '.join(classes)}"
        )
    return cls.load(path)
