"""Reading a ``stance-build`` dataset folder back: the one loader every command uses.

A dataset folder (written by :func:`stance.data.build.write_dataset`) holds
``sentences.parquet`` (one row per sentence with ``split``, ``label`` and ``duplicate_of``),
``build_report.json`` (scheme, preprocessing, fingerprint, counts, skips) and ``hf/`` (the
``DatasetDict``). A training run directory holds one under ``dataset/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stance.errors import InputError
from stance.scheme import Scheme

TABLE = "sentences.parquet"
REPORT = "build_report.json"


@dataclass
class DatasetDir:
    """A dataset folder's sentence table and build report (empty for a bare sentences file)."""

    table: Path
    sentences: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def scheme(self) -> Scheme | None:
        """The scheme the build recorded (None for a bare sentences file)."""
        if not self.report:
            return None
        if self.report.get("scheme"):
            return Scheme.from_dict(self.report["scheme"])
        from stance.resources import legacy_scheme

        return legacy_scheme(list(self.report.get("labels") or []))

    @property
    def fingerprint(self) -> str | None:
        return self.report.get("fingerprint")

    @property
    def preprocessing(self) -> dict[str, Any] | None:
        return self.report.get("preprocessing")

    def labelled(self, split: str = "all") -> pd.DataFrame:
        """Labelled sentences, cross-split duplicates dropped, of one split (or ``all``)."""
        df = self.sentences
        if "label" not in df.columns:
            raise InputError("the sentence table has no 'label' column", path=self.table, field="label")
        df = df[df["label"].notna()]
        if "duplicate_of" in df.columns:
            df = df[df["duplicate_of"].isna()]
        if split != "all":
            if "split" not in df.columns:
                raise InputError(f"the sentence table has no 'split' column to select {split!r} from",
                                 path=self.table, field="split", hint="use split 'all'")
            df = df[df["split"] == split]
        return df.reset_index(drop=True)


def find_table(path: str | Path) -> Path:
    """``sentences.parquet`` of a dataset folder, of a run directory's ``dataset/``, or the
    file itself."""
    p = Path(path)
    if p.is_dir():
        for cand in (p / TABLE, p / "dataset" / TABLE):
            if cand.is_file():
                return cand
        raise InputError(f"not a stance-build dataset folder (no {TABLE})", path=p,
                         hint="give the dataset/ folder that stance-build (or stance-train) wrote")
    if not p.is_file():
        raise InputError("file does not exist", path=p, hint="give a stance-build dataset folder")
    return p


def read_report(table: Path) -> dict[str, Any]:
    """The build report beside a sentences file ({} when there is none)."""
    f = table.parent / REPORT
    if not f.is_file():
        return {}
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise InputError(f"cannot read the build report: {e}", path=f, hint="rebuild the dataset with stance-build") from e
    if not isinstance(data, dict):
        raise InputError("the build report does not hold a JSON object", path=f)
    return data


def read_dataset(path: str | Path) -> DatasetDir:
    """Read a dataset folder (or its ``sentences.parquet``)."""
    table = find_table(path)
    if table.suffix.lower() != ".parquet":
        raise InputError(f"expected {TABLE}, got a {table.suffix or 'suffix-less'} file", path=table,
                         hint="give a stance-build dataset folder (a sentence table goes through data=sentences)")
    try:
        df = pd.read_parquet(table)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise InputError(f"not a readable Parquet file: {e}", path=table, hint="rebuild the dataset") from e
    if "text" not in df.columns:
        raise InputError("the sentence table has no 'text' column", path=table, field="text")
    return DatasetDir(table, df, read_report(table))
