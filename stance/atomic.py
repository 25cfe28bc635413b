"""Files that are never half-written, and one writer per output.

The one implementation of atomic writes for the package (manifests, run directories, datasets,
scoring parts and state, ONNX exports): write to a temporary sibling, ``fsync``, ``os.replace``.
A temporary name is unique per writer (``mkstemp``), so two writers never share one, and
:func:`remove_stale_temps` clears what a killed process left behind. :class:`OutputLock` is a
lock file naming its owner's pid and host; a lock whose process is gone is taken over.
Disk-full and permission errors become :class:`OutputError`, naming the path.

Why not a library: ``atomicwrites`` is unmaintained and ``filelock`` has no notion of a stale
lock left by a killed process on the same host (its locks are ``flock``-based, which is what is
wanted across processes, but they give no owner to report); both are a few lines here.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from stance.errors import StanceError
from stance.jsonio import to_jsonable


class OutputError(StanceError):
    """An output that cannot be written (disk full, no permission, a file where a folder
    should be), or one that another process is writing."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def output_error(path: Path, err: OSError) -> OutputError:
    """A clear message for an ``OSError`` met while writing ``path``."""
    why = err.strerror or str(err)
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "free some disk space (or write elsewhere) and run the same command again: finished parts are kept"
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "choose an output folder you can write to"
    else:
        hint = "check the output path"
    return OutputError(f"cannot write {path}: {why} (fix: {hint})")


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an ``OSError`` in the block into an :class:`OutputError` naming ``path``."""
    try:
        yield
    except OSError as e:
        raise output_error(path, e) from e


def tmp_sibling(final: Path) -> Path:
    """A new, empty, uniquely named file beside ``final`` (same folder: the rename is atomic)."""
    with writing(final):
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        os.chmod(name, _FILE_MODE)  # mkstemp creates 0600; outputs get the usual permissions
    return Path(name)


def replace_atomic(tmp: Path, final: Path) -> None:
    """``fsync`` ``tmp`` and rename it onto ``final``."""
    with writing(final):
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)


@contextlib.contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``final``; on any error it is
    removed and ``final`` is untouched."""
    tmp = tmp_sibling(final)
    try:
        with writing(final):
            yield tmp
        replace_atomic(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: Path, obj: Any, **dumps: Any) -> None:
    """Write JSON atomically (``to_jsonable`` first: numpy values and paths become JSON)."""
    write_text_atomic(path, json.dumps(to_jsonable(obj), **{"indent": 2, "ensure_ascii": False,
                                                           "default": str, **dumps}))


def _renamed_or_kept(tmp: Path, final: Path, keep: Callable[[Path], bool]) -> bool:
    """Rename ``tmp`` to ``final`` unless ``final`` is a non-empty folder (the rename fails: one
    atomic step, no check-then-act); true when placed, or when the folder there passes ``keep``."""
    try:
        os.rename(tmp, final)
        return True
    except OSError:
        return final.is_dir() and keep(final)


@contextlib.contextmanager
def atomic_dir(final: Path, *, keep: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; on success it replaces ``final`` (a folder is
    renamed, so readers see the old or the new one, never a mix).

    ``keep``: for outputs that concurrent writers may produce alike (a cache entry). When
    ``final`` already exists and ``keep(final)`` is true (another writer finished it first), it
    is left in place and the new folder dropped, so a reader of the first one never sees it
    replaced; otherwise (e.g. an incomplete folder) it is replaced as usual."""
    final.parent.mkdir(parents=True, exist_ok=True)
    with writing(final):
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        with writing(final):
            yield tmp
            if keep is not None and _renamed_or_kept(tmp, final, keep):
                return
            old = None
            if final.exists():
                old = final.with_name(f".{final.name}.old-{os.getpid()}")
                os.replace(final, old)
            os.replace(tmp, final)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def remove_stale_temps(folder: Path, name: str) -> int:
    """Remove temporary siblings of ``folder / name`` left by a killed writer; returns how many."""
    n = 0
    for p in folder.glob(f".{name}.*.tmp"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        n += 1
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputLock:
    """An exclusive lock file (``path``) held while one process writes an output.

    The file holds the owner's pid, host and start time. :meth:`acquire` refuses while another
    live process holds it (:class:`OutputError` naming the owner) and takes over a lock whose
    process is gone from this host; ``took_over`` says whether it did.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self.took_over: dict[str, Any] | None = None
        self._held = False

    def _owner(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _age(self) -> float:
        try:
            return time.time() - self.path.stat().st_mtime
        except OSError:
            return 0.0

    def acquire(self) -> OutputLock:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
        for _ in range(3):
            try:
                with writing(self.path):
                    fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _FILE_MODE)
            except OutputError as e:
                if not isinstance(e.__cause__, FileExistsError):
                    raise
                owner = self._owner()
                if not owner:  # being created this instant by another process: give it a moment
                    time.sleep(0.2)
                    owner = self._owner()
                    if not owner and self._age() < 5:
                        raise OutputError(f"{self.what} is being written by another process: {self.path} "
                                          "(fix: wait for it to finish or choose another output)") from None
                pid, host = owner.get("pid"), owner.get("host")
                stale = host == me["host"] and isinstance(pid, int) and not _alive(pid)
                if not stale and owner:
                    raise OutputError(
                        f"{self.what} is being written by another process (pid {pid} on {host}, since "
                        f"{owner.get('since')}): {self.path} (fix: wait for it to finish or choose another "
                        "output; if that process is gone from another host, delete the lock file)") from None
                self.took_over = owner or {"unreadable": True}
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(me, fh)
            self._held = True
            return self
        raise OutputError(f"cannot take the lock {self.path}: another process keeps recreating it")

    def release(self) -> None:
        if self._held:
            self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
