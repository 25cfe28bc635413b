"""The report document model and the number formatters shared by the run and corpus reports.

A report is a list of :class:`Section` objects holding blocks (:class:`Para`, :class:`Table`,
:class:`FigRow` of :class:`Fig`); table cells are strings or :class:`Link`. The renderers in
:mod:`stance.reporting.render` turn it into HTML and Markdown. The ``fmt_*`` functions write
numbers the way every report table shows them (:data:`DASH` for a missing or non-finite value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DASH", "Fig", "FigRow", "Link", "Para", "Section", "Table", "fmt_bytes", "fmt_ci", "fmt_ci_dict",
    "fmt_num", "fmt_p", "fmt_pct", "fmt_seconds",
]

DASH = "\u2013"
"""What a table shows for a missing value."""


# --------------------------------------------------------------------------- document model

@dataclass
class Para:
    """A paragraph; ``kind="note"`` is shown as a small grey note."""

    text: str
    kind: str = "p"  # "p" or "note"


@dataclass
class Table:
    """A table of string (or :class:`Link`) cells, with an optional caption above it."""

    headers: list[str]
    rows: list[list[Any]]
    numeric: set[int] = field(default_factory=set)  # right-aligned columns
    muted_rows: set[int] = field(default_factory=set)  # rows shown greyed (low support)
    caption: str | None = None
    wide: bool = False  # as wide as the page (tables of a series that should line up)


@dataclass
class Link:
    """A table cell that links to ``href`` (only http(s) addresses become links)."""

    text: str
    href: str | None = None

    def __str__(self) -> str:
        return self.text

    @property
    def safe_href(self) -> str | None:
        h = (self.href or "").strip()
        return h if h.lower().startswith(("http://", "https://")) else None


@dataclass
class Fig:
    """A PNG figure written to ``path``, shown with ``caption``."""

    name: str  # file stem
    path: Path
    caption: str


@dataclass
class FigRow:
    """Figures shown side by side."""

    figs: list[Fig]


@dataclass
class Section:
    """A titled part of the report (``id`` is its HTML anchor)."""

    id: str
    title: str
    blocks: list[Any] = field(default_factory=list)


# --------------------------------------------------------------------------- formatting


def _finite(x: Any) -> float | None:
    """``x`` as a finite float, or None (missing, non-numeric, NaN or infinite)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fmt_num(x: Any, digits: int = 3, signed: bool = False) -> str:
    """``x`` with ``digits`` decimals (``signed``: always with a sign)."""
    v = _finite(x)
    if v is None:
        return DASH
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def fmt_ci(est: Any, low: Any, high: Any, signed: bool = False) -> str:
    """``est [low, high]``, or the estimate alone when a bound is missing."""
    text = fmt_num(est, signed=signed)
    if text == DASH:
        return text
    lo, hi = fmt_num(low, signed=signed), fmt_num(high, signed=signed)
    return text if DASH in (lo, hi) else f"{text} [{lo}, {hi}]"


def fmt_ci_dict(d: Any, fallback: Any = None) -> str:
    """:func:`fmt_ci` of an ``{"estimate", "low", "high"}`` dict (``fallback``: the estimate)."""
    if isinstance(d, dict):
        return fmt_ci(d.get("estimate", fallback), d.get("low"), d.get("high"))
    return fmt_num(fallback)


def fmt_pct(x: Any) -> str:
    """A share as a whole percentage."""
    v = _finite(x)
    return DASH if v is None else f"{v:.0%}"


def fmt_bytes(n: Any) -> str:
    """A size in B, KiB, MiB or GiB."""
    try:
        v = float(n)
    except (TypeError, ValueError):
        return DASH
    for unit in ("B", "KiB", "MiB", "GiB"):
        if v < 1024 or unit == "GiB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return DASH  # pragma: no cover


def fmt_seconds(x: Any) -> str:
    """A duration in seconds, or minutes from two minutes on."""
    v = _finite(x)
    if v is None:
        return DASH
    return f"{v:.1f} s" if v < 120 else f"{v / 60:.1f} min"


def fmt_p(x: Any) -> str:
    """A p-value with three decimals (``<0.001`` below that)."""
    v = _finite(x)
    if v is None:
        return DASH
    return "<0.001" if v < 0.001 else f"{v:.3f}"
