"""stance: sentence-level stance and framing classifiers for news text."""

from stance.labels import LABELS

__version__ = "0.1.0"

__all__ = ["LABELS", "__version__", "load_model"]


def load_model(path: str):  # noqa: ANN201 - returns a StanceClassifier
    """Load any saved classifier directory (reads its manifest; executes no code from it)."""
    from stance.models.registry import load_model as _load

    return _load(path)
