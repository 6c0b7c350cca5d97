"""Atomic file writes: write a temporary file beside the target, flush it to disk, rename it over the target.

A reader (or a process restarted after a kill) sees either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """``with atomic_open(path, "w") as f: ...``: ``path`` appears complete on success, unchanged on error."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise _naming(err, path, None) from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise _naming(err, path, tmp) from None
        raise
    _fsync_dir(path.parent)


def _naming(err: OSError, path: Path, tmp: str | None) -> OSError:
    """``err`` naming the file being written (a full disk names no file; a refusal names the temporary)."""
    if err.filename is None or err.filename == tmp or (tmp is None and str(err.filename).endswith(".tmp")):
        err.filename = str(path)
    return err


def remove_leftover_temporaries(folder: str | Path, *, older_than_s: float | None = None) -> list[Path]:
    """Delete the temporary files :func:`atomic_open` leaves in ``folder`` when its process is killed mid-write
    (call only while no other process writes there, or pass ``older_than_s``: only files unchanged that long
    go); the files removed."""
    now = time.time()
    removed = []
    for path in Path(folder).glob(".*.tmp"):
        try:
            if path.is_file() and (older_than_s is None or now - path.stat().st_mtime > older_than_s):
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # another process renamed or removed it meanwhile
            continue
    return removed


class FolderBusyError(OSError):
    """Another process holds the folder's lock: ``holder`` is its ``host:pid`` (None if unknown)."""

    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder


@contextlib.contextmanager
def exclusive_folder(folder: str | Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (a ``.lock`` file inside it holding ``host:pid``, ``flock``; released
    when the process ends, however it ends) or raise :class:`FolderBusyError` naming the holder. Where ``flock``
    does not exist (Windows) or the file system refuses locks, the block runs without one (with a warning for
    the latter)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        yield
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 256, 0).decode(errors="replace").strip() or None
            raise FolderBusyError(f"{folder} is in use by another process ({holder or 'unknown'}); {what}",
                                  holder) from None
        except OSError as err:
            if err.errno not in (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP):
                raise
            warnings.warn(f"{folder}: the file system takes no locks ({err.strerror}); going on without one",
                          RuntimeWarning, stacklevel=3)
        else:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{socket.gethostname()}:{os.getpid()}\n".encode(), 0)  # as a sweep names its workers
        yield
    finally:
        os.close(fd)  # releases the lock


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover (platforms without directory file descriptors)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


FIGURE_FORMATS = ("png", "pdf", "svg")


def figure_format(path: str | Path) -> str:
    """The file format a figure path asks for (its suffix); anything but :data:`FIGURE_FORMATS` raises."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FIGURE_FORMATS:
        raise ValueError(f"a figure file ends in {', '.join('.' + f for f in FIGURE_FORMATS)}; got {str(path)!r}")
    return suffix


def atomic_save_figure(figure: Any, path: str | Path, *, dpi: int = 120, tight: bool = True) -> Path:
    """Save a matplotlib figure at ``path`` atomically (PNG, PDF or SVG, by its suffix), then close it; returns
    the path.

    ``tight`` crops the canvas to its contents (``bbox_inches="tight"``); off, the figure keeps its own size.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        file_format = figure_format(path)
        with atomic_open(path, "wb") as handle:
            figure.savefig(handle, dpi=dpi, format=file_format, bbox_inches="tight" if tight else None)
    finally:
        plt.close(figure)
    return path


def read_npz(path: str | Path) -> dict[str, Any]:
    """Every array of the ``.npz`` archive ``path`` (no pickles); a damaged or foreign file raises ``ValueError``
    naming it, and the file is closed either way."""
    import zipfile

    import numpy as np

    path = Path(path)
    try:
        with open(path, "rb") as handle:
            archive = np.load(handle, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("a single array, not an .npz archive")
            with archive:
                return {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path} is not a readable .npz archive ({type(err).__name__}: {err})") from None
