"""The label scheme: which labels a task has, and what they mean for per-source metrics.

A :class:`Scheme` is data (config group ``scheme/``), not a constant: the label names and
their order (the column order of every probability matrix), the optional "none of the
sides" label, the optional two *poles* whose shares define a slant, the speaker *sides*
that attribution resolves (each mapped to the label its speech would advance, or to none),
the actor gazetteer attribution uses, and a definition per label for model cards. The
scheme is recorded in every dataset (``build_report.json``) and model (``manifest.json``),
and every stage reads it from there.

Pure logic: no file I/O (loading the bundled YAML files is :func:`stance.resources.bundled_scheme`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stance.errors import ConfigError, InputError

__all__ = ["Scheme", "check_same_scheme", "infer_labels"]


@dataclass(frozen=True)
class Scheme:
    """A labelling scheme.

    Args:
        name: short identifier (``pak_afghan``, ``two_way``, ``frames5``...).
        labels: label names in their canonical order (probability columns, ClassLabel ids).
            ``None`` means "take them from the data" (see :func:`infer_labels`); such a scheme
            is resolved with :meth:`with_labels` before use.
        none_label: the label for "none of the sides" (e.g. ``neutral``), if any: the tie
            break of majority voting, the default of claim-rebuttal rules.
        poles: two labels ``(positive, negative)``; slant = share(positive) - share(negative).
            ``None`` for schemes without a slant (e.g. framing schemes).
        sides: speaker side -> label that side's own account corresponds to (or ``None`` for
            third parties). The keys are the values attribution writes to ``speaker_side``.
        actors: the attribution gazetteer: ``{name, side, aliases}`` mappings.
        definitions: label -> one-line definition (model cards, reports).
        description: one line about the task.
    """

    name: str
    labels: tuple[str, ...] | None
    none_label: str | None = None
    poles: tuple[str, str] | None = None
    sides: Mapping[str, str | None] = field(default_factory=dict)
    actors: tuple[Mapping[str, Any], ...] = ()
    definitions: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def __init__(
        self,
        name: str,
        labels: Sequence[str] | None = None,
        none_label: str | None = None,
        poles: Sequence[str] | None = None,
        sides: Mapping[str, str | None] | None = None,
        actors: Sequence[Mapping[str, Any]] = (),
        definitions: Mapping[str, str] | None = None,
        description: str = "",
    ) -> None:
        set_ = object.__setattr__
        set_(self, "name", str(name))
        set_(self, "labels", None if labels is None else tuple(str(x) for x in labels))
        set_(self, "none_label", None if none_label is None else str(none_label))
        set_(self, "poles", None if poles is None else tuple(str(x) for x in poles))
        set_(self, "sides", {str(k): (None if v is None else str(v)) for k, v in dict(sides or {}).items()})
        set_(self, "actors", tuple(dict(a) for a in actors or ()))
        set_(self, "definitions", {str(k): str(v) for k, v in dict(definitions or {}).items()})
        set_(self, "description", str(description or ""))
        self._validate()

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        where = f"scheme {self.name!r}"
        if self.poles is not None and len(self.poles) != 2:
            raise ConfigError(f"{where}: poles must name exactly two labels, got {list(self.poles)}")
        if self.poles is not None and self.poles[0] == self.poles[1]:
            raise ConfigError(f"{where}: the two poles must differ, got {list(self.poles)}")
        for actor in self.actors:
            if "name" not in actor or "side" not in actor:
                raise ConfigError(f"{where}: every actor needs a name and a side, got {dict(actor)}")
            if self.sides and actor["side"] not in self.sides:
                raise ConfigError(
                    f"{where}: actor {actor['name']!r} has side {actor['side']!r}, which is not one of "
                    f"the scheme's sides {list(self.sides)}"
                )
        if self.labels is not None:
            self._validate_labels(where)

    def _validate_labels(self, where: str) -> None:
        """The label set, and the none label, poles and sides that name labels."""
        labels = list(self.labels or ())
        if len(labels) < 2:
            raise ConfigError(f"{where}: a scheme needs at least two labels, got {labels}")
        if len(set(labels)) != len(labels):
            raise ConfigError(f"{where}: labels must be unique, got {labels}")
        if any(not x.strip() for x in labels):
            raise ConfigError(f"{where}: labels must be non-empty strings, got {labels}")
        known = set(labels)
        if self.none_label is not None and self.none_label not in known:
            raise ConfigError(f"{where}: none_label {self.none_label!r} is not one of its labels {labels}")
        if self.poles is not None and not set(self.poles) <= known:
            bad = [p for p in self.poles if p not in known]
            raise ConfigError(
                f"{where}: poles {bad} are not among its labels {labels} "
                "(fix: name two of the labels as poles, or set poles: null)"
            )
        for side, label in self.sides.items():
            if label is not None and label not in known:
                raise ConfigError(f"{where}: side {side!r} maps to {label!r}, which is not one of its labels {labels}")

    @property
    def resolved(self) -> bool:
        """Whether the label set is known (not to be inferred from data)."""
        return self.labels is not None

    @property
    def label_list(self) -> list[str]:
        """The labels as a list (raises when they are still to be inferred)."""
        if self.labels is None:
            raise ConfigError(f"scheme {self.name!r} takes its labels from the data and has not been resolved yet")
        return list(self.labels)

    @property
    def has_slant(self) -> bool:
        """Whether the scheme defines a slant (two poles)."""
        return self.poles is not None

    @property
    def side_names(self) -> list[str]:
        """Speaker sides attribution may resolve to (gazetteer order)."""
        return list(self.sides)

    def side_labels(self) -> dict[str, str]:
        """Speaker side -> label, for the sides that correspond to a label."""
        return {s: lab for s, lab in self.sides.items() if lab is not None}

    def slant_description(self) -> str:
        """"share A - share B" for schemes with poles."""
        if self.poles is None:
            return "no slant (the scheme has no poles)"
        return f"share {self.poles[0]} - share {self.poles[1]}"

    def check_label(self, value: Any, *, path: Any = None, line: int | None = None,
                    field_name: str = "label") -> str:
        """``value`` as a label of this scheme, or an :class:`InputError` (naming file, line
        and field) that lists the valid ones."""
        if isinstance(value, str) and value in (self.labels or ()):
            return value
        raise InputError(
            f"unknown label {value!r} (scheme {self.name!r})",
            path=path, line=line, field=field_name, hint=f"use one of {', '.join(self.label_list)}",
        )

    # ------------------------------------------------------------------ construction
    def with_labels(self, labels: Sequence[str]) -> Scheme:
        """This scheme with its label set filled in (for a scheme whose labels come from data)."""
        return Scheme(
            self.name, labels, self.none_label, self.poles, self.sides, self.actors,
            self.definitions, self.description,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready form (what datasets and models record)."""
        return {
            "name": self.name,
            "labels": None if self.labels is None else list(self.labels),
            "none_label": self.none_label,
            "poles": None if self.poles is None else list(self.poles),
            "sides": dict(self.sides),
            "actors": [dict(a) for a in self.actors],
            "definitions": dict(self.definitions),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scheme:
        """Inverse of :meth:`to_dict`; ignores a Hydra ``_target_``."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a scheme must be a mapping, got {type(data).__name__}")
        known = {"name", "labels", "none_label", "poles", "sides", "actors", "definitions", "description"}
        extra = sorted(set(data) - known - {"_target_"})
        if extra:
            raise ConfigError(f"unknown scheme field(s) {extra}; a scheme has {sorted(known)}")
        if "name" not in data:
            raise ConfigError("a scheme needs a name")
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_labels(cls, labels: Sequence[str], name: str = "inferred") -> Scheme:
        """A scheme that only knows its labels (no poles, sides or actors)."""
        return cls(name, labels)

    def describe(self) -> str:
        """One line naming the scheme and its labels (for error messages)."""
        labels = ", ".join(self.labels) if self.labels is not None else "labels from the data"
        return f"{self.name!r} ({labels})"


def infer_labels(values: Iterable[Any], *, where: str | None = None) -> tuple[str, ...]:
    """The sorted distinct labels of a column (the order Hugging Face's ``run_classification``
    uses), refusing empty columns and single-label data."""
    seen = sorted({str(v) for v in values if v is not None})
    if not seen:
        raise InputError("the label column is empty", path=where, field="label",
                         hint="give every labelled sentence a label")
    if len(seen) < 2:
        raise InputError(
            f"the data has a single label ({seen[0]!r}): a classifier needs at least two",
            path=where, field="label", hint="add sentences of other labels, or check the label column",
        )
    return tuple(seen)


def check_same_scheme(a: Scheme, b: Scheme, what_a: str, what_b: str) -> None:
    """Refuse to combine two artefacts whose schemes differ in labels or poles."""
    if set(a.labels or ()) != set(b.labels or ()) or a.poles != b.poles:
        raise ConfigError(
            f"{what_a} uses scheme {a.describe()}"
            + (f" with poles {list(a.poles)}" if a.poles else "")
            + f" but {what_b} uses scheme {b.describe()}"
            + (f" with poles {list(b.poles)}" if b.poles else "")
            + "; they cannot be combined (fix: use a model and data built with the same scheme)"
        )
