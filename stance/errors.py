"""User-facing errors: each names the file, line and field involved and suggests a fix."""

from __future__ import annotations

from pathlib import Path


class StanceError(Exception):
    """Base class for errors caused by user input or configuration (not by bugs)."""


class InputError(StanceError):
    """Bad input data, located by file, line and field where known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.hint = hint
        where = []
        if self.path:
            where.append(self.path if line is None else f"{self.path}:{line}")
        if field:
            where.append(f"field {field!r}")
        text = (", ".join(where) + ": " if where else "") + message
        if hint:
            text += f" (fix: {hint})"
        super().__init__(text)

    def __reduce__(self) -> tuple:
        # picklable with its fields (the keyword-only arguments defeat Exception's default):
        # the error a Ray worker or a subprocess raises reaches the caller as an InputError
        return _rebuild_input_error, (type(self), self.message, self.path, self.line, self.field, self.hint)


def _rebuild_input_error(cls: type, message: str, path: str | None, line: int | None, field: str | None,
                         hint: str | None) -> InputError:
    return cls(message, path=path, line=line, field=field, hint=hint)


class ConfigError(StanceError):
    """An invalid configuration value or combination."""


class ModelError(StanceError):
    """A model directory that is missing, not a classifier, or incompatible."""
