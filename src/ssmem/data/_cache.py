"""A cache of preprocessed arrays, keyed by task name, parameters, data seed and source files.

Entries live under ``<root>/<task>/<key>.npz`` where ``root`` is the params' ``cache_dir``, else the
environment variable ``SSMEM_CACHE``, else ``~/.cache/ssmem``. The key is a hash of everything the arrays
depend on; a stored entry whose embedded key differs (or that cannot be read) is rebuilt. Writes are atomic
(temporary file + ``os.replace``) and loads never unpickle (``allow_pickle=False``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_open, remove_leftover_temporaries
from ._paths import with_absolute_data_paths
from ._progress import say

CACHE_FORMAT = 4  # bump when the stored layout or the drawing of any task changes
_KEY_FIELD = "__cache_key__"
STALE_TEMPORARY_S = 86400.0  # a writer's temporary file this old is a killed writer's (others may be writing)
# parameters that say where, whether or how fast to compute, not what is computed
_NOT_KEYED = frozenset({"cache_dir", "cache", "workers"})


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The cache directory: ``cache_dir``, else ``$SSMEM_CACHE``, else ``~/.cache/ssmem``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("SSMEM_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "ssmem"


def task_cache_dir(task: str, cache_dir: str | Path | None = None) -> Path:
    """Where the entries of ``task`` live (``/`` in task names becomes ``__``)."""
    return cache_root(cache_dir) / task.replace("/", "__")


def file_fingerprint(paths: Iterable[Path]) -> list[tuple[str, int, int, int]]:
    """(resolved path, size, mtime and ctime in ns) of each file, and of every file below each folder given: a
    change in a source file changes the cache key (a folder's own time changes only when files come or go).

    The status-change time (ctime) is set by the system on every write, rename or copy and cannot be set back,
    so a different file copied in with the old size and modification time (``cp -p``) is seen too; a changed
    permission alone also rebuilds the entry."""
    files: list[Path] = []
    for path in (Path(p) for p in paths):
        files += _files_below(path) if path.is_dir() else [path]
    out = []
    for path in sorted(files):
        stat = path.stat()
        out.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))
    return out


def _files_below(folder: Path) -> list[Path]:
    """The files below ``folder``, through symbolic links to folders too (a release assembled from links is
    read through them), each real folder once (a link back up does not loop)."""
    found, seen = [], set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        found += [Path(root) / n for n in sorted(names) if (Path(root) / n).is_file()]
    return found


def cache_key(task: str, params: Any, data_seed: int, extra: Any = None) -> str:
    """A 20-hex-digit hash of the task name, its (keyed) parameters, the data seed and ``extra``; file and folder
    parameters count by their absolute path (``ssmem data -p corpus=mine.txt`` and a training run's saved,
    absolute ``corpus`` share one entry)."""
    fields = {k: v for k, v in with_absolute_data_paths(dataclasses.asdict(params)).items() if k not in _NOT_KEYED}
    blob = json.dumps(
        {"format": CACHE_FORMAT, "task": task, "params": fields, "seed": data_seed, "extra": extra},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def save_arrays(path: Path, arrays: dict[str, np.ndarray], key: str) -> None:
    """Write ``arrays`` (and ``key``) to ``path`` as an ``.npz``, atomically (readable by the cache's other
    users); temporary files that killed writers left in the folder over a day ago are removed first."""
    remove_leftover_temporaries(path.parent, older_than_s=STALE_TEMPORARY_S)
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **{_KEY_FIELD: np.array(key)}, **arrays)


def load_arrays(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """The arrays stored at ``path`` if it holds an entry for ``key``; ``None`` if absent, stale or unreadable."""
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as stored:
            if _KEY_FIELD not in stored.files or str(stored[_KEY_FIELD]) != key:
                return None
            return {name: stored[name] for name in stored.files if name != _KEY_FIELD}
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile, zlib.error):
        return None  # a cut or damaged entry, or one that is not an archive (a single .npy array: TypeError)


@dataclass(frozen=True)
class CacheEntry:
    """One stored entry: its file and size in bytes."""

    path: Path
    n_bytes: int


def cached(
    task: str,
    params: Any,
    data_seed: int,
    build: Callable[[], dict[str, np.ndarray]],
    *,
    extra: Any = None,
) -> dict[str, np.ndarray]:
    """Return ``build()``'s arrays, from the cache when an entry with the same key exists.

    ``params`` must have ``cache_dir`` (``str | None``) and ``cache`` (``bool``) fields; with ``cache=False``
    the arrays are built and nothing is read or written.
    """
    if not params.cache:
        return build()
    key = cache_key(task, params, data_seed, extra)
    path = task_cache_dir(task, params.cache_dir) / f"{key}.npz"
    arrays = load_arrays(path, key)
    if arrays is None:
        say(f"{task}: building the data (first use with these parameters; cached afterwards)")
        started = time.perf_counter()
        arrays = build()
        try:
            save_arrays(path, arrays, key)
        except OSError as err:  # a full disk or read-only cache costs the cache, not the data just built
            print(f"{task}: built in {time.perf_counter() - started:.0f} s; could not cache it in {path.parent} "
                  f"({err.strerror or err}); going on without the cache (set SSMEM_CACHE or the task's cache_dir to "
                  "a writable folder)", file=sys.stderr, flush=True)
            return arrays
        say(f"{task}: built in {time.perf_counter() - started:.0f} s, cached in {path}")
    return arrays


def cache_entries(task: str, cache_dir: str | Path | None = None) -> list[CacheEntry]:
    """The entries stored for ``task`` (any parameters)."""
    folder = task_cache_dir(task, cache_dir)
    if not folder.is_dir():
        return []
    return [CacheEntry(p, p.stat().st_size) for p in sorted(folder.glob("*.npz"))]
