"""Ray Data input and cluster connection for :mod:`stance.scoring.distributed`: where the
dataset is (a path or fsspec URL, Parquet or JSON lines), how Ray reads it, and reaching a
local runtime or an existing cluster (a clear error within seconds when it is unreachable)."""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stance.errors import ConfigError, InputError

RAY_INSTALL = "pip install 'stance[ray]'  (or: pip install 'ray[data]')"
_LOCAL_PROTOCOLS = ("file", "local")


def ray_module() -> Any:
    """``ray`` with Ray Data, or a ConfigError that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"--engine ray needs Ray Data, which is not installed ({e}); {RAY_INSTALL}") from e
    return ray


# --------------------------------------------------------------------------- input


@dataclass
class InputSpec:
    """Where and how Ray Data reads the input: ``path`` (without the URL protocol for fsspec
    filesystems), ``filesystem`` (a pyarrow filesystem, None = local), ``fmt`` (parquet or
    jsonl) and ``display`` (the input as the user gave it)."""

    path: str
    filesystem: Any
    fmt: str
    display: str


_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
JSONL_EXTENSIONS = ["jsonl", "ndjson"]


def _backend_package(protocol: str, err: ImportError) -> str:
    """The package that provides an fsspec protocol (``s3`` -> ``s3fs``), from fsspec's registry
    of known implementations, or the module that failed to import."""
    from fsspec.registry import known_implementations

    module = str(known_implementations.get(protocol, {}).get("class", "")).split(".")[0]
    if module and module != "fsspec":
        return module
    cause = err.__cause__ or err
    return getattr(cause, "name", None) or module or protocol


def _filesystem(url: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    """(fsspec filesystem, path without protocol) for a URL; a missing backend is an
    :class:`InputError` that names the package to install."""
    import fsspec
    from fsspec.utils import get_protocol

    protocol = get_protocol(url)
    try:
        fsspec.get_filesystem_class(protocol)
    except ImportError as e:
        pkg = _backend_package(protocol, e)
        raise InputError(f"reading {protocol}:// URLs needs the fsspec backend {pkg!r}, which is not installed ({e})",
                         path=url, hint=f"pip install {pkg} (on the driver and on every Ray worker)") from e
    except ValueError as e:
        raise InputError(f"unknown URL protocol {protocol!r}: {e}", path=url,
                         hint="give a local path or an fsspec URL (s3://, gs://, abfs://, hf://, ...)") from e
    try:
        return fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as e:  # e.g. an optional dependency of the backend itself
        pkg = _backend_package(protocol, e)
        raise InputError(f"the {protocol}:// backend cannot start: {e}", path=url, hint=f"pip install {pkg}") from e


def resolve_input(input: str | Path, input_format: str = "auto",
                  storage_options: Mapping[str, Any] | None = None) -> InputSpec:
    """Check the input (path or fsspec URL) and tell its format: Parquet or JSON lines, from
    the extension of the file or of the files in the folder (``input_format`` overrides)."""
    if input_format not in ("auto", "parquet", "jsonl", "json"):
        raise ConfigError(f"input format {input_format!r}: expected auto, parquet or jsonl")
    display = str(input)
    if "://" in display:
        fs, path = _filesystem(display, storage_options)
        from fsspec.utils import get_protocol

        if get_protocol(display) in _LOCAL_PROTOCOLS:
            filesystem = None
        else:
            from pyarrow.fs import FSSpecHandler, PyFileSystem

            filesystem = PyFileSystem(FSSpecHandler(fs))
    else:
        from fsspec.implementations.local import LocalFileSystem

        fs, path, filesystem = LocalFileSystem(), str(Path(display).resolve()), None
    try:
        exists, is_dir = fs.exists(path), fs.isdir(path)
    except Exception as e:  # noqa: BLE001 - any backend error (credentials, network) is the user's to fix
        raise InputError(f"cannot access the input: {type(e).__name__}: {e}", path=display,
                         hint="check the URL and the credentials of its filesystem") from e
    if not exists:
        raise InputError("input does not exist", path=display, hint="check --input")
    fmt = input_format
    if fmt == "json":
        raise ConfigError("input format json: the Ray engine reads JSON lines (jsonl) or parquet")
    if fmt == "auto":
        if is_dir:
            found = Counter(_SUFFIXES[s] for f in fs.find(path) if (s := Path(str(f)).suffix.lower()) in _SUFFIXES)
            if len(found) != 1:
                what = "no Parquet or JSONL files" if not found else "both Parquet and JSONL files"
                raise InputError(f"the input folder holds {what}", path=display,
                                 hint="the Ray engine reads .parquet or .jsonl files (a directory of "
                                      ".txt/.html articles needs --engine local)")
            fmt = next(iter(found))
        else:
            suffix = Path(path).suffix.lower()
            if suffix == ".json":
                raise InputError("the Ray engine reads JSON lines (.jsonl, one object per line), not a .json "
                                 "document", path=display, hint="convert it to JSONL or Parquet, or use --engine local")
            if suffix not in _SUFFIXES:
                raise InputError(f"the Ray engine reads Parquet or JSONL, not {suffix or 'a file without extension'}",
                                 path=display, hint="convert the table to Parquet or JSONL, or use --engine local")
            fmt = _SUFFIXES[suffix]
    return InputSpec(path=path, filesystem=filesystem, fmt=fmt, display=display)


def read_dataset(spec: InputSpec) -> Any:
    """The input as a Ray Dataset with a ``path`` column (the file each row came from).

    JSONL is read as text lines (``read_text``) and parsed by the actors, line by line with the
    local reader's rules: a malformed line is skipped and reported instead of failing the whole
    read, and a column whose type changes between rows (which pyarrow's JSON reader refuses)
    is judged per field."""
    ray = ray_module()
    if spec.fmt == "parquet":
        return ray.data.read_parquet(spec.path, filesystem=spec.filesystem, include_paths=True)
    return ray.data.read_text(spec.path, filesystem=spec.filesystem, include_paths=True,
                              file_extensions=JSONL_EXTENSIONS, drop_empty_lines=True)


# --------------------------------------------------------------------------- cluster


def _host_port(address: str) -> tuple[str, int] | None:
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def connect(address: str | None = None, *, num_cpus: int | None = None, timeout: float = 5.0) -> bool:
    """Make sure this process is connected to Ray; returns True when it started a runtime
    (which the caller shuts down).

    ``address=None``: use the runtime already running in this process, else start a local
    one (``num_cpus``: its size, default all cores). ``"auto"``, ``"HOST:PORT"`` (the GCS) or
    ``"ray://HOST:10001"`` (Ray Client): connect to that cluster; an address that does not
    answer within ``timeout`` seconds is a :class:`ConfigError` naming it.
    """
    ray = ray_module()
    hint = ("start the cluster (ray start --head) or check the host and port: ray://HEAD:10001 for "
            "Ray Client, HEAD:6379 for the GCS, auto for a cluster started on this machine; leave "
            "--ray-address out to start a local Ray runtime")
    if address not in (None, "auto", "local"):
        hp = _host_port(address)
        if hp is None:
            raise ConfigError(f"--ray-address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
        try:
            socket.create_connection(hp, timeout=timeout).close()
        except OSError as e:
            raise ConfigError(f"cannot reach the Ray cluster at --ray-address {address!r} "
                              f"({hp[0]}:{hp[1]}: {e}) (fix: {hint})") from e
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING"}
    if address is None and num_cpus is not None:
        kwargs["num_cpus"] = max(int(num_cpus), os.cpu_count() or 1)
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as e:
        raise ConfigError(f"cannot connect to the Ray cluster at --ray-address {address!r}: {e} (fix: {hint})") from e
    return True
