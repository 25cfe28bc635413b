"""Placeholder replaced by the transformer implementation."""
from stance.models.base import StanceClassifier


class TransformerClassifier(StanceClassifier):
    kind = "transformer"
