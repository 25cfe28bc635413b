"""The label set of the labelling contract (docs/LABELING.md)."""

from __future__ import annotations

LABELS: tuple[str, ...] = ("pro_islamabad", "pro_kabul", "neutral")
"""The three stance labels, in the canonical order used for probabilities and ClassLabel ids."""

SIDES: tuple[str, ...] = ("islamabad", "kabul", "third_party")
"""Speaker sides an attribution can resolve to."""

LABEL_OF_SIDE: dict[str, str] = {"islamabad": "pro_islamabad", "kabul": "pro_kabul"}


def check_label(value: object) -> str:
    """Return ``value`` if it is a known label, else raise ``ValueError`` listing the valid ones."""
    if value not in LABELS:
        raise ValueError(f"unknown label {value!r}; expected one of {', '.join(LABELS)}")
    return str(value)
