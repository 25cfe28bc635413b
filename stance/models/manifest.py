"""Model directories on disk: the manifest, its checks, the content fingerprint, safe arrays.

A model directory is ``manifest.json`` plus plain weight files. Nothing in it is trusted: the
manifest is size-capped, decoded strictly, and every field is type-checked; parameters are
checked against the class's signature; arrays are loaded without pickle and checked for shape,
dtype and finiteness; and the *content fingerprint* (sha256 over the weight files, the labels,
the scheme, the preprocessing and the calibration) written at save time is verified at load, so
a directory changed after it was saved (permuted labels, swapped weights) is refused. Every
violation is a :class:`~stance.errors.ModelError` naming the file and field.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from stance.errors import ModelError
from stance.scheme import Scheme

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 50_000_000
"""A manifest is a few kB (50 MB leaves room for a large recorded config, not for abuse)."""
_NOT_CONTENT = {MANIFEST, "README.md"}
_FIELDS: dict[str, tuple[type, ...]] = {
    "kind": (str,), "labels": (list,), "package_version": (str,), "params": (dict,), "metadata": (dict,),
    "scheme": (dict, type(None)), "preprocessing": (dict, type(None)), "fingerprint": (str, type(None)),
    "data_fingerprint": (str, type(None)), "validation_confusion_matrix": (list, type(None)),
}


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and check a model directory's manifest (:class:`ModelError` naming file and field)."""
    from stance import __version__

    p = Path(path)
    if not p.exists():
        raise ModelError(f"model directory {p} does not exist (fix: give the path of a saved model, e.g. RUN_DIR/model)")
    f = p / MANIFEST
    if not f.is_file():
        hint = " (it looks like a run directory: use its model/ folder)" if (p / "model" / MANIFEST).is_file() else ""
        raise ModelError(f"{p} is not a stance classifier directory: no {MANIFEST}{hint}")
    manifest = _load_json_object(f)
    _check_fields(f, manifest)
    if _version_tuple(manifest["package_version"]) > _version_tuple(__version__):
        raise ModelError(
            f"{p} was saved by stance {manifest['package_version']}, newer than this "
            f"stance {__version__}; upgrade the package (pip install -U stance) to load it"
        )
    return manifest


def _load_json_object(f: Path) -> dict[str, Any]:
    """The manifest file's JSON object (a :class:`ModelError` for anything else)."""
    size = f.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise ModelError(f"{f}: {size} bytes, more than a manifest can be ({MAX_MANIFEST_BYTES}); not a stance model")
    try:
        manifest = json.loads(f.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ModelError(f"{f} is not UTF-8 text (byte {e.start}): the file is damaged") from e
    except json.JSONDecodeError as e:
        raise ModelError(f"{f} is not valid JSON: {e}") from e
    except RecursionError as e:
        raise ModelError(f"{f}: JSON nested too deeply; not a stance manifest") from e
    if not isinstance(manifest, dict):
        raise ModelError(f"{f} holds a JSON {type(manifest).__name__}, not an object: not a stance manifest")
    return manifest


def _check_fields(f: Path, manifest: dict[str, Any]) -> None:
    """Required fields present, every known field of its type, labels distinct names."""
    for key in ("kind", "labels", "package_version"):
        if key not in manifest:
            raise ModelError(f"{f} lacks {key!r}; the directory is not a stance classifier")
    for key, types in _FIELDS.items():
        if key in manifest and not isinstance(manifest[key], types):
            raise ModelError(f"{f}, field {key!r}: expected {' or '.join(t.__name__ for t in types)}, "
                             f"got {type(manifest[key]).__name__}")
    labels = manifest["labels"]
    if len(labels) < 2 or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels):
        raise ModelError(f"{f}, field 'labels': expected at least two distinct label names, got {labels!r:.200}")


def _version_tuple(v: str) -> tuple[int, ...]:
    out = []
    for part in str(v).split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


def scheme_of_manifest(manifest: Mapping[str, Any], path: str | Path) -> Scheme:
    """The scheme a saved model records; models saved before schemes existed (package 0.1.0)
    with the Pakistan-Afghanistan labels get the bundled ``pak_afghan`` scheme."""
    labels = [str(x) for x in manifest["labels"]]
    data = manifest.get("scheme")
    if data is None:
        from stance.resources import legacy_scheme

        return legacy_scheme(labels)
    try:
        scheme = Scheme.from_dict(data)
    except Exception as e:  # noqa: BLE001 - a damaged scheme record is a model error, whatever it is
        raise ModelError(f"{Path(path) / MANIFEST}, field 'scheme': {e}") from e
    if scheme.label_list != labels:
        raise ModelError(f"{Path(path) / MANIFEST}: the labels {labels} differ from the scheme's {scheme.label_list}")
    return scheme


def check_params(cls: type, params: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """``params`` checked against ``cls.__init__``: no unknown names."""
    known = [k for k in inspect.signature(cls.__init__).parameters if k != "self"]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ModelError(f"{Path(path) / MANIFEST}, field 'params': unknown parameter(s) {unknown} of "
                         f"{cls.__name__} (it takes {', '.join(known)})")
    return dict(params)


def content_fingerprint(path: str | Path, manifest: Mapping[str, Any]) -> str:
    """sha256 over what decides a model's predictions: every weight file (name and bytes), the
    labels, the scheme, the preprocessing, the temperature and the truncation length. Not
    timings, paths or the recorded training config, so a retrained byte-identical model has
    the same fingerprint."""
    root = Path(path)
    h = hashlib.sha256()
    meta = manifest.get("metadata") or {}
    head = {k: manifest.get(k) for k in ("kind", "labels", "scheme", "preprocessing")}
    head["temperature"] = meta.get("temperature")
    head["max_length"] = meta.get("max_length")
    h.update(json.dumps(head, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    for f in sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).as_posix() not in _NOT_CONTENT):
        h.update(f.relative_to(root).as_posix().encode("utf-8") + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def verify_fingerprint(path: str | Path, manifest: Mapping[str, Any]) -> None:
    """Refuse a directory whose content no longer matches the fingerprint saved with it."""
    saved = manifest.get("fingerprint")
    if not saved:
        return  # saved before fingerprints existed
    now = content_fingerprint(path, manifest)
    if now != saved:
        raise ModelError(
            f"{path}: the model directory was changed after it was saved (content fingerprint {now[:12]} "
            f"!= {saved[:12]} in {MANIFEST}: labels, scheme, preprocessing or weights differ) "
            "(fix: restore the directory, or retrain)")


def load_array(path: Path, *, ndim: int, length: int | None = None, finite: bool = True) -> np.ndarray:
    """A ``.npy`` array loaded without pickle and checked: dimensions, first-axis length,
    numeric dtype, finiteness."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError as e:
        raise ModelError(f"{path} is missing: the model directory is incomplete") from e
    except (ValueError, OSError, EOFError) as e:
        raise ModelError(f"{path}: unreadable array ({e}); the file is truncated or not a .npy array") from e
    if arr.ndim != ndim:
        raise ModelError(f"{path}: expected a {ndim}-D array, got shape {arr.shape}")
    if arr.dtype.kind not in "fiu":
        raise ModelError(f"{path}: expected numbers, got dtype {arr.dtype}")
    if length is not None and arr.shape[0] != length:
        raise ModelError(f"{path}: expected {length} rows, got {arr.shape[0]}")
    if finite and not np.all(np.isfinite(arr)):
        raise ModelError(f"{path}: holds NaN or infinite values")
    return arr


def check_temperature(value: Any, path: str | Path) -> float:
    """A calibration temperature: a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ModelError(f"{Path(path) / MANIFEST}, field 'metadata.temperature': expected a finite number > 0, "
                         f"got {value!r}")
    return float(value)
