"""Atomic file writes: write a temporary file beside the target, flush it to disk, rename it over the target.

A reader (or a process restarted after a kill) sees either the old file or the new one, never half of one.

Every write here refuses a target that is a symbolic link (:class:`SymlinkError`): a link planted in a run
directory would otherwise send ssmem's bytes to a file it did not create. A write that fails because the storage
is full or failing raises :class:`StorageError` whatever raised it underneath (torch's serializer, for one,
reports a full disk as ``RuntimeError ... unexpected pos``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import stat
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


# ---------------------------------------------------------------------------------------- refusals and failures


class SymlinkError(OSError):
    """A file ssmem was about to write (or lock) is a symbolic link: refused, the link and its target untouched."""

    def __init__(self, path: str | Path) -> None:
        try:
            target = f" (to {os.readlink(path)})"
        except OSError:
            target = ""
        super().__init__(errno.ELOOP, "is a symbolic link", str(path))
        self.message = (f"{path} is a symbolic link{target}: ssmem does not write through links; remove the link "
                        "or choose another path (nothing was written)")

    def __str__(self) -> str:
        return self.message


# a full disk, a quota, a file too large for the file system, a failing device
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})
# what torch's zip writer says when the file object under it stopped taking bytes (its OSError is lost, or only
# kept as the exception's context)
_WRITER_FAILURE = re.compile(r"unexpected pos|file write failed|PytorchStreamWriter failed")
_NEARLY_FULL_BYTES = 1 << 20


class StorageError(OSError):
    """Writing ``filename`` failed because the storage is full or failing (``errno`` one of :data:`STORAGE_ERRNOS`),
    whatever raised it underneath; the file's previous version, if any, is kept."""

    def __init__(self, err_no: int, path: str | Path, detail: str = "") -> None:
        super().__init__(err_no, os.strerror(err_no), str(path))
        remedy = ("free space (or raise the quota) and run again" if err_no != errno.EIO
                  else "the device reported an I/O error: check it, then run again")
        detail = f"{detail}; " if detail else ""
        self.message = f"[Errno {err_no}] {os.strerror(err_no)}: {str(path)!r} ({detail}{remedy})"

    def __str__(self) -> str:
        return self.message


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def _nearly_full(folder: Path) -> bool:
    try:
        info = os.statvfs(folder)
    except (OSError, AttributeError):  # pragma: no cover (no statvfs)
        return False
    return info.f_bavail * info.f_frsize < _NEARLY_FULL_BYTES


def storage_error(err: BaseException, path: str | Path) -> StorageError | None:
    """``err``, raised while writing ``path``, as a :class:`StorageError` when the storage is to blame, else None.

    The storage is to blame when ``err`` or an exception it was raised from is an ``OSError`` with an errno of
    :data:`STORAGE_ERRNOS`, or when ``err`` is torch's report of a write that stopped short (then the free space of
    ``path``'s folder tells a full disk from an I/O error).
    """
    if isinstance(err, StorageError):
        return err
    for link in _chain(err):
        if isinstance(link, OSError) and link.errno in STORAGE_ERRNOS:
            return StorageError(link.errno, path)
    if not isinstance(err, OSError) and _WRITER_FAILURE.search(str(err)):
        first = str(err).strip().splitlines()[0]
        err_no = errno.ENOSPC if _nearly_full(Path(path).parent) else errno.EIO
        return StorageError(err_no, path, f"{type(err).__name__} from the writer: {first}")
    return None


def refuse_symlink(path: str | Path) -> None:
    """Raise :class:`SymlinkError` if ``path`` is a symbolic link (dangling or not)."""
    if os.path.islink(path):
        raise SymlinkError(path)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def append_text(path: str | Path, text: str) -> None:
    """Append ``text`` to ``path`` (created if missing; never through a symbolic link) and flush it."""
    path = Path(path)
    refuse_symlink(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW, 0o666 & ~_umask())
    except OSError as err:
        if err.errno == errno.ELOOP and os.path.islink(path):  # made a link since the check
            raise SymlinkError(path) from None
        raise storage_error(err, path) or err from None
    try:
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
    except OSError as err:
        raise storage_error(err, path) or err from None


# ---------------------------------------------------------------------------------------- atomic writes


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """``with atomic_open(path, "w") as f: ...``: ``path`` appears complete on success, unchanged on error.

    A ``path`` that is a symbolic link raises :class:`SymlinkError`; a full or failing disk, :class:`StorageError`.
    """
    path = Path(path)
    refuse_symlink(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise storage_error(err, path) or _naming(err, path, None) from None
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
        if isinstance(err, Exception):
            failed = storage_error(err, path)
            if failed is not None:
                raise failed from None
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
    lock = folder / ".lock"
    refuse_symlink(lock)
    try:
        # O_NOFOLLOW: a link planted between the check and the open is refused too, never truncated through
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o666 & ~_umask())
    except OSError as err:
        if err.errno == errno.ELOOP and os.path.islink(lock):
            raise SymlinkError(lock) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:  # a hard link would truncate another file
            kind = "a hard link" if info.st_nlink > 1 else "not a regular file"
            raise OSError(errno.EPERM, f"not a lock file of its own ({kind}): remove it and run again", str(lock))
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
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{socket.gethostname()}:{os.getpid()}\n".encode(), 0)  # as a sweep names its workers
            except OSError as err:
                raise storage_error(err, lock) or err from None
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
