"""stance: sentence-level stance and framing classifiers for news text.

The Python API: :func:`load_model` (any saved classifier directory), :func:`score_articles`
(one labelled record per body sentence of new articles) and :class:`Scheme` (a label scheme).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from stance.scheme import Scheme

__version__ = "0.2.0"

__all__ = ["Scheme", "__version__", "load_model", "score_articles"]


def load_model(path: str):  # noqa: ANN201 - returns a StanceClassifier
    """Load any saved classifier directory (reads its manifest; executes no code from it)."""
    from stance.models.registry import load_model as _load

    return _load(path)


def score_articles(model: Any, articles: Iterable[Any], **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Score articles (``Article`` objects or dicts with id/text/source) with ``model``,
    yielding one record per body sentence; see :func:`stance.scoring.score.score_articles`."""
    from stance.scoring.score import score_articles as _score

    yield from _score(model, articles, **kwargs)
