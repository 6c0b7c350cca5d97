"""The results store: the runs of a sweep, shared by any number of workers.

Two backends hold the same tables and give the same records. ``Store(location)`` picks one from the location:

- a file path: one SQLite file (WAL mode), the embedded default for workers on **one machine**. SQLite's WAL
  mode needs locks and shared memory that only a local disk gives all processes (SQLite documents it as
  unsupported across hosts and over network file systems), so a store on NFS, SMB, sshfs, Lustre, GPFS, ... is
  refused (``allow_network_fs=True`` overrides, for a store that only one host will ever write).
- ``postgresql://...``: a PostgreSQL database (:mod:`ssmem.sweep.postgres`, needs ``psycopg``), for workers on
  **several machines**: claims lock rows on the server and every time is the server's clock.

One row per run. A row moves ``pending → running → done | failed``; every move is one transaction (claims
hold the row's lock: ``BEGIN IMMEDIATE`` in SQLite, ``SELECT ... FOR UPDATE SKIP LOCKED`` in PostgreSQL, so
two workers never claim the same row), so a worker killed at any moment leaves either the old row or the new
one, never half of one.

A ``running`` row whose worker is gone is *stale* and may be claimed again (then the claim says
``resume=True``): the worker is gone when it ran on this host and its process no longer exists, or when its
heartbeat (refreshed by the runner while the run trains) is older than ``stale_after`` seconds. Heartbeats
are written and judged with the database's clock (the server's for PostgreSQL), never by comparing the
clocks of two machines.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from .grid import RunSpec

T = TypeVar("T")

SCHEMA_VERSION = 1
STATUSES = ("pending", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    grid        TEXT NOT NULL,
    study       TEXT NOT NULL,
    recipe      TEXT NOT NULL,
    eigs        TEXT,
    train_mode  TEXT,
    seed        INTEGER NOT NULL,
    overrides   TEXT NOT NULL,          -- JSON list of key=value
    params      TEXT NOT NULL,          -- JSON mapping of the same overrides
    status      TEXT NOT NULL DEFAULT 'pending',
    worker      TEXT,                   -- host:pid of the worker that holds or last held the run
    attempts    INTEGER NOT NULL DEFAULT 0,
    run_dir     TEXT,
    created_at  REAL NOT NULL,          -- times: seconds since 1970 on the database's clock
    claimed_at  REAL,
    heartbeat   REAL,
    finished_at REAL,
    result      TEXT,                   -- JSON mapping returned by the run function
    error       TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS also_in (        -- the studies that list a run (it runs once, under runs.study)
    run_id TEXT NOT NULL,
    study  TEXT NOT NULL,
    PRIMARY KEY (run_id, study)
);
"""

# file systems shared between hosts, on which SQLite's locks and WAL shared memory cannot be trusted
# (the type column of /proc/mounts)
NETWORK_FILE_SYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "fuse.sshfs", "sshfs", "lustre", "gpfs", "ceph",
    "fuse.ceph", "fuse.cephfs", "glusterfs", "fuse.glusterfs", "beegfs", "ocfs2", "gfs2", "fuse.s3fs",
    "fuse.gcsfuse", "fuse.juicefs", "fuse.rclone", "panfs", "orangefs", "pvfs2", "quobyte", "fuse.quobyte", "wekafs",
})


_URL_BACKENDS: dict[str, type] = {}  # URL scheme -> Store subclass, registered by the backend's module


def register_url_backend(scheme: str, backend: type) -> None:
    """Make ``Store(url)`` open ``scheme://...`` URLs with ``backend`` (:mod:`ssmem.sweep.postgres` registers its own)."""
    _URL_BACKENDS[scheme] = backend


def is_database_url(location: str | Path) -> bool:
    """Whether a ``--store`` value names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return isinstance(location, str) and location.lower().startswith(("postgresql://", "postgres://"))


def file_system_of(path: str | Path) -> tuple[str, str]:
    """``(mount point, type)`` of the file system that holds ``path`` (a file that may not exist yet: its nearest
    existing folder, links resolved, decides); ``("", "")`` where it cannot be told (no ``/proc/mounts``)."""
    try:
        mounts = Path("/proc/mounts").read_text()
    except OSError:  # not Linux: nothing to go by
        return "", ""
    existing = Path(os.path.abspath(path))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return mount_of(os.path.realpath(existing), mounts)


def mount_of(path: str, mounts: str) -> tuple[str, str]:
    """``(mount point, type)`` of the innermost mount that holds the absolute, resolved ``path``, read from
    ``mounts`` (the text of ``/proc/mounts``: ``device mount-point type options ...`` per line)."""
    best = ("", "")
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        # /proc/mounts writes blanks, tabs and backslashes in mount points as octal escapes
        point = parts[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[0]):  # the innermost (and, for a mount over a mount, the last) wins
            best = (point, parts[2])
    return best


def _cannot_write(err: sqlite3.OperationalError) -> bool:
    """SQLite's words for a database file or folder this process may read but not write."""
    text = str(err).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text


def _is_damage(err: sqlite3.DatabaseError) -> bool:
    """SQLite's words for a database file whose pages are corrupt (not: locked, read-only, full, ...)."""
    text = str(err).lower()
    return "malformed" in text or "corrupt" in text


class DamagedStoreError(sqlite3.DatabaseError):
    """An SQLite store whose file is corrupt; the message names the file and how to get its runs back."""

    def __init__(self, path: Path, err: sqlite3.DatabaseError) -> None:
        super().__init__(
            f"store {path} is damaged (SQLite: {err}). Keep the file aside and recover what it holds into a new "
            f"store: `sqlite3 {path} .recover | sqlite3 recovered.db`, then use --store recovered.db (runs missing "
            "from it are trained again: their run folders are moved aside, not deleted). Usual causes: a store "
            "on a network file system, a store copied while a sweep wrote it, a disk that failed."
        )
        self.path = path


def run_rows(specs: Sequence[RunSpec]) -> list[tuple[Any, ...]]:
    """The ``runs`` table's columns (but the creation time) of each spec, as both stores insert them."""
    return [
        (s.run_id, s.grid, s.study, s.recipe, s.eigs, s.train_mode, s.seed, json.dumps(list(s.overrides)),
         json.dumps(s.params, sort_keys=True))
        for s in specs
    ]


def this_worker() -> str:
    """The id of this process as a worker: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class RunRecord:
    """One row of the store."""

    run_id: str
    grid: str
    study: str
    recipe: str
    eigs: str | None
    train_mode: str | None
    seed: int
    overrides: tuple[str, ...]
    params: dict[str, Any]
    status: str
    worker: str | None
    attempts: int
    run_dir: str | None
    created_at: float
    claimed_at: float | None
    heartbeat: float | None
    finished_at: float | None
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    also_in: tuple[str, ...] = ()  # other studies that hold this run (the report counts it in each)

    @property
    def studies(self) -> tuple[str, ...]:
        """Every study that holds the run, its own first."""
        return (self.study, *self.also_in)

    def get(self, key: str) -> Any:
        """A field, an override (``model.bidirectional``) or a result entry (``test_metric``), else ``None``."""
        if key in self.__dataclass_fields__:
            return getattr(self, key)
        if key in self.params:
            return self.params[key]
        if key.startswith("result."):
            key = key[len("result."):]
        return self.result.get(key)

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["overrides"] = list(self.overrides)
        return out


@dataclass(frozen=True)
class Claim:
    """A run this worker now holds; ``resume`` is true when an earlier worker was interrupted inside it."""

    run_id: str
    worker: str
    attempt: int
    resume: bool


def retry_while_locked(operation: Callable[[], T], *, timeout_s: float, pause_s: float = 0.05) -> T:
    """``operation()``, called again after ``pause_s`` for as long as SQLite says the database is locked or
    busy, up to ``timeout_s`` in all (then the last error is raised)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return operation()
        except sqlite3.OperationalError as err:
            message = str(err).lower()
            if ("locked" not in message and "busy" not in message) or time.monotonic() >= deadline:
                raise
        time.sleep(pause_s)


class Store:
    """A sweep results store; ``Store(location)`` opens the backend its location names (module docstring).

    ``Store("runs.db")`` is a :class:`SQLiteStore`, ``Store("postgresql://host/db")`` a
    :class:`~ssmem.sweep.postgres.PostgresStore`; both are ``Store`` instances with the methods below. The SQL
    shared by the backends is written with ``?`` parameters and ``{now}`` for the database clock's time.
    """

    path: Path | None = None  # the SQLite file (None: a database server)
    read_only = False
    _has_also_in = True
    _NOW = ""  # SQL: the current time on the database's clock, seconds since 1970

    def __new__(cls, location: str | Path, *, busy_timeout_s: float = 120.0, create: bool = True,
                allow_network_fs: bool = False) -> Store:
        if cls is Store:
            if is_database_url(location):
                cls = _URL_BACKENDS["postgresql"]
            else:
                cls = SQLiteStore
        return super().__new__(cls)

    # -- what each backend provides ---------------------------------------------------------------------------

    def close(self) -> None:
        raise NotImplementedError

    def open_again(self) -> Store:
        """A second connection to the same store, with the same options (one per thread)."""
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One transaction on the backend's connection (yielded); committed at the end, rolled back on error."""
        raise NotImplementedError
        yield

    def add_runs(self, specs: Iterable[RunSpec]) -> int:
        """Insert the runs that are not in the store yet (one transaction); returns how many were new."""
        raise NotImplementedError

    def claim(self, run_ids: Sequence[str], *, worker: str | None = None, retry_failed: bool = False,
              stale_after: float = 600.0) -> Claim | None:
        """Claim the first claimable run among ``run_ids`` (in their order) for ``worker``; ``None`` if none is.

        Claimable: ``pending``; ``running`` but stale (see the module docstring); ``failed`` if
        ``retry_failed``. The claim is one transaction.
        """
        raise NotImplementedError

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """The rows of one query (each readable by column name)."""
        raise NotImplementedError

    def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        """One statement in its own transaction; returns the number of rows it changed."""
        raise NotImplementedError

    @property
    def _folder(self) -> Path | None:
        """The folder that run folders are recorded relative to (None: always absolute)."""
        return None

    # -- shared --------------------------------------------------------------------------------------------

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_run_dir(self, claim: Claim, run_dir: str | Path) -> None:
        """Record the run's folder: relative to the store's own folder when it lies below it (an SQLite store moved
        or copied with its run folders still finds them), absolute otherwise; records give it back absolute.
        Paths are taken as written (a symbolic link in them is kept, not resolved)."""
        path = os.path.abspath(run_dir)
        folder = self._folder
        if folder is not None and os.path.commonpath([path, str(folder)]) == str(folder):
            path = os.path.relpath(path, folder)
        self._update_held(claim, "run_dir = ?", (path,))

    def heartbeat(self, claim: Claim) -> bool:
        """Refresh the claim's heartbeat; ``False`` if the worker no longer holds the run."""
        return self._update_held(claim, "heartbeat = {now}", ())

    def finish(self, claim: Claim, result: dict[str, Any]) -> bool:
        """Mark the run done with its result (one statement; ``False`` if the claim was lost)."""
        return self._update_held(claim, "status = 'done', result = ?, finished_at = {now}, heartbeat = {now}",
                                 (json.dumps(_jsonable(result), sort_keys=True),))

    def fail(self, claim: Claim, error: str, result: dict[str, Any] | None = None) -> bool:
        """Mark the run failed with an error message (and whatever result there is)."""
        return self._update_held(claim, "status = 'failed', error = ?, result = ?, finished_at = {now}",
                                 (error, json.dumps(_jsonable(result or {}), sort_keys=True)))

    def hand_back(self, claim: Claim, worker: str) -> bool:
        """Return a claimed run to ``worker``, found still running it (its heartbeat had only gone stale)."""
        return self._update_held(claim, "worker = ?, heartbeat = {now}", (worker,))

    def release(self, claim: Claim) -> bool:
        """Give an interrupted run back (status ``pending``; the next claim resumes it)."""
        return self._update_held(claim, "status = 'pending', worker = NULL", ())

    def recover(self, worker: str) -> int:
        """Give back rows left ``running`` under ``worker``'s id by an earlier process (a reused pid).

        Call it before ``worker`` claims anything: then no run it holds can be live.
        """
        return self._write("UPDATE runs SET status = 'pending', worker = NULL WHERE status = 'running' AND worker = ?",
                           (worker,))

    def reset(self, run_ids: Sequence[str] | None = None, *, status: str = "failed") -> int:
        """Set runs in ``status`` (all, or those of ``run_ids``) back to ``pending`` with no attempts."""
        sql = "UPDATE runs SET status = 'pending', worker = NULL, attempts = 0, error = NULL WHERE status = ?"
        args: list[Any] = [status]
        if run_ids is not None:
            sql += f" AND run_id IN ({','.join('?' * len(run_ids))})"
            args += list(run_ids)
        return self._write(sql, args)

    def _update_held(self, claim: Claim, assignments: str, args: tuple[Any, ...]) -> bool:
        changed = self._write(
            f"UPDATE runs SET {assignments.format(now=self._NOW)}"
            " WHERE run_id = ? AND worker = ? AND status = 'running'",
            (*args, claim.run_id, claim.worker),
        )
        return changed == 1

    def runs(self, *, status: str | None = None, grid: str | None = None) -> list[RunRecord]:
        """All rows (optionally of one status / grid), ordered by creation then insertion."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}; valid choices: {', '.join(STATUSES)}")
        sql, args = "SELECT * FROM runs", []
        clauses = []
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        if grid is not None:
            clauses.append("grid = ?")
            args.append(grid)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY created_at, rowid"  # (PostgreSQL: a rowid column numbers the rows as SQLite's does)
        also_in: dict[str, list[str]] = {}
        if self._has_also_in:  # (a read-only store written before the table existed has none)
            for row in self._read("SELECT run_id, study FROM also_in ORDER BY rowid"):
                also_in.setdefault(row["run_id"], []).append(row["study"])
        return [_record(row, self._folder, also_in) for row in self._read(sql, args)]

    def get(self, run_id: str) -> RunRecord:
        """The record of one run (``KeyError`` naming the store if there is none)."""
        rows = self._read("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise KeyError(f"no run {run_id!r} in store {self}")
        studies = (self._read("SELECT study FROM also_in WHERE run_id = ? ORDER BY rowid", (run_id,))
                   if self._has_also_in else [])
        return _record(rows[0], self._folder, {run_id: [row["study"] for row in studies]})

    def counts(self, run_ids: Sequence[str] | None = None) -> dict[str, int]:
        """Number of runs per status (of all runs, or of ``run_ids``)."""
        counts = dict.fromkeys(STATUSES, 0)
        wanted = None if run_ids is None else set(run_ids)
        for row in self._read("SELECT run_id, status FROM runs"):
            if wanted is None or row["run_id"] in wanted:
                counts[row["status"]] += 1
        return counts


class SQLiteStore(Store):
    """A sweep results store on one SQLite file (created on first use), for workers on one machine."""

    # julianday('now') has millisecond resolution, on this machine's clock: the only clock a local store sees
    _NOW = "((julianday('now') - 2440587.5) * 86400.0)"

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 120.0, create: bool = True,
                 allow_network_fs: bool = False) -> None:
        """Open the store at ``path``; ``create=False`` (readers: ``ssmem runs``, the report) refuses a file that
        holds no store yet instead of writing a new schema into it. A writer refuses a path on a network file
        system unless ``allow_network_fs``."""
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.allow_network_fs = allow_network_fs
        if create and not allow_network_fs:
            _refuse_network_fs(self.path)
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            elif not self.path.is_file():
                raise FileNotFoundError(f"no results store at {self.path}")
            # isolation_level=None: autocommit; every write below opens its own explicit transaction
            self._conn = sqlite3.connect(str(self.path), timeout=busy_timeout_s, isolation_level=None,
                                         check_same_thread=False)
        except sqlite3.OperationalError as err:  # e.g. a folder given as the store
            raise self._named(err) from None
        self._conn.row_factory = sqlite3.Row
        self.read_only = False
        try:
            try:
                self._open(busy_timeout_s, create)
            except sqlite3.OperationalError as err:
                if create or not _cannot_write(err):
                    raise
                self._conn.close()  # a store shared read-only (or archived): read it as it is, write nothing
                self._open_read_only()
        except BaseException as err:
            self._conn.close()
            if isinstance(err, DamagedStoreError):
                raise
            # OperationalError (locked past the timeout, disk I/O, read-only, ...) is not the file's fault
            if isinstance(err, sqlite3.OperationalError) or (isinstance(err, sqlite3.DatabaseError)
                                                              and _is_damage(err)):
                raise self._named(err) from None
            if isinstance(err, sqlite3.DatabaseError):
                raise ValueError(f"{self.path} is not a results store (SQLite: {err})") from None
            raise

    def __str__(self) -> str:
        return str(self.path)

    def open_again(self) -> SQLiteStore:
        return SQLiteStore(self.path, busy_timeout_s=self.busy_timeout_s, allow_network_fs=self.allow_network_fs)

    def _open_read_only(self) -> None:
        """Read-only access: with the write-ahead log (``mode=ro``: a live sweep's latest rows), or, where SQLite
        cannot even open that (no write access to the folder for its shared-memory file), the database file as
        it is (``immutable``: rows still in the log are missed, and said to be)."""
        self.read_only = True
        try:
            self._connect("mode=ro")
            self._check_tables(create=False)
        except sqlite3.OperationalError:
            self._conn.close()
            self._connect("immutable=1")
            self._check_tables(create=False)
            if Path(f"{self.path}-wal").exists():
                print(f"ssmem: warning: store {self.path} is read without its write-ahead log ({self.path}-wal): "
                      "the latest changes of a running or killed sweep may be missing", file=sys.stderr)
        self._check_version()

    def _connect(self, mode: str) -> None:
        self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?{mode}", uri=True, isolation_level=None,
                                     check_same_thread=False)
        self._conn.row_factory = sqlite3.Row

    def _named(self, err: sqlite3.DatabaseError) -> sqlite3.DatabaseError:
        """The error with the store's path in front (SQLite's own messages name no file); a corrupt file's error
        says what to do."""
        if _is_damage(err) and not isinstance(err, DamagedStoreError):
            return DamagedStoreError(self.path, err)
        text = str(err)
        return err if text.startswith("store ") else type(err)(f"store {self.path}: {text}")

    def _open(self, busy_timeout_s: float, create: bool) -> None:
        """WAL mode and the schema (created on first use, its version checked otherwise); another application's
        database is refused before anything is written to it."""
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        self._check_tables(create)
        # switching a new file to WAL can report "locked" at once, without SQLite's busy wait, while another
        # worker is opening the same file: retry within the busy timeout
        mode = retry_while_locked(
            lambda: self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0], timeout_s=busy_timeout_s
        )
        if mode.lower() != "wal":
            raise RuntimeError(f"store {self.path}: could not switch SQLite to WAL mode (got {mode!r})")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        with self.transaction() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            if conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self._check_version()

    def _check_tables(self, create: bool) -> None:
        """Refuse another application's database (or an empty file, for a reader) before writing anything."""
        tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables and not create:
            raise ValueError(f"{self.path} is not a results store: it holds no tables (an empty file?); it was "
                             "left as it is")
        if tables and not {"meta", "runs"} <= tables:
            raise ValueError(
                f"{self.path} is not a results store: an SQLite database with other tables "
                f"({', '.join(sorted(tables))}); it was left as it is"
            )
        self._has_also_in = "also_in" in tables or not self.read_only  # (a writer creates it next)

    def _check_version(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) != SCHEMA_VERSION:
            raise ValueError(f"store {self.path} has schema version {row[0]}; this ssmem reads version "
                             f"{SCHEMA_VERSION}")

    # -- plumbing -------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection to the database file."""
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error): takes the write lock up front. SQLite's
        errors (read-only file, full disk, locked past the timeout, a corrupt file) name the store."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            if isinstance(err, sqlite3.OperationalError) or _is_damage(err):
                raise self._named(err) from None
            raise

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as err:
            if isinstance(err, sqlite3.OperationalError) or _is_damage(err):
                raise self._named(err) from None
            raise

    def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self.transaction() as conn:
            return conn.execute(sql, args).rowcount

    @property
    def _folder(self) -> Path:
        return Path(os.path.abspath(self.path)).parent

    # -- writing --------------------------------------------------------------------------------------------

    def add_runs(self, specs: Iterable[RunSpec]) -> int:
        specs = list(specs)
        rows = run_rows(specs)
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO runs (run_id, grid, study, recipe, eigs, train_mode, seed, overrides, params,"
                f" created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {self._NOW})",
                rows,
            )
            new = conn.total_changes - before
            # every study that lists a run (its own too: a later grid may list it first under another study)
            conn.executemany("INSERT OR IGNORE INTO also_in (run_id, study) VALUES (?, ?)",
                             [(s.run_id, study) for s in specs for study in (s.study, *s.also_in)])
            return new

    def claim(self, run_ids: Sequence[str], *, worker: str | None = None, retry_failed: bool = False,
              stale_after: float = 600.0) -> Claim | None:
        worker = worker or this_worker()
        wanted = set(run_ids)
        order = {run_id: i for i, run_id in enumerate(run_ids)}
        statuses = ["pending", "running"] + (["failed"] if retry_failed else [])
        with self.transaction() as conn:
            now = conn.execute(f"SELECT {self._NOW}").fetchone()[0]
            rows = conn.execute(
                f"SELECT run_id, status, worker, heartbeat, attempts FROM runs WHERE status IN "
                f"({','.join('?' * len(statuses))})",
                statuses,
            ).fetchall()
            candidates = sorted((r for r in rows if r["run_id"] in wanted), key=lambda r: order[r["run_id"]])
            for row in candidates:
                if row["status"] == "running" and not _is_stale(row["worker"], row["heartbeat"], now, stale_after):
                    continue
                resume = row["status"] == "running" or (row["status"] == "pending" and row["attempts"] > 0)
                conn.execute(
                    "UPDATE runs SET status = 'running', worker = ?, attempts = attempts + 1, claimed_at = ?,"
                    " heartbeat = ?, error = NULL WHERE run_id = ?",
                    (worker, now, now, row["run_id"]),
                )
                return Claim(row["run_id"], worker, row["attempts"] + 1, resume)
        return None


def _refuse_network_fs(path: Path) -> None:
    point, kind = file_system_of(path)
    if kind.lower() in NETWORK_FILE_SYSTEMS:
        raise ValueError(
            f"store {path} is on a network file system ({kind} at {point}): SQLite's locks and write-ahead log are "
            "not safe there (workers on two hosts can corrupt the store or claim a run twice). Use a PostgreSQL "
            "store for workers on several machines (--store postgresql://HOST/DB), or keep the SQLite store on a "
            "local disk (--store /local/disk/runs.db; the run folders may stay on the shared file system). If only "
            "this host will ever write the store, --allow-network-fs (allow_network_fs=True) opens it anyway."
        )


def _is_stale(worker: str | None, heartbeat: float | None, now: float, stale_after: float) -> bool:
    if worker is None:
        return True
    host, _, pid = worker.rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
        return True
    return heartbeat is None or now - heartbeat > stale_after


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _record(row: Any, folder: Path | None, also_in: dict[str, list[str]]) -> RunRecord:
    """A row (readable by column name) as a :class:`RunRecord` (the columns are named as the fields; three of
    them hold JSON; the run's folder is stored relative to the store's ``folder``, or absolute: by stores written
    before, by a database server's store, for a folder elsewhere; the other studies that hold it come from
    ``also_in``)."""
    values = {f.name: row[f.name] for f in fields(RunRecord) if f.name != "also_in"}
    values["also_in"] = tuple(dict.fromkeys(s for s in also_in.get(row["run_id"], ()) if s != row["study"]))
    if values["run_dir"]:
        values["run_dir"] = os.path.normpath(values["run_dir"] if folder is None else folder / values["run_dir"])
    values["overrides"] = tuple(json.loads(values["overrides"]))
    values["params"] = json.loads(values["params"])
    values["result"] = json.loads(values["result"]) if values["result"] else {}
    return RunRecord(**values)


def _jsonable(value: Any) -> Any:
    """Plain JSON types from results (numpy scalars/arrays, paths, tuples, non-finite floats as None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy / torch scalars and arrays
        return _jsonable(value.tolist())
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return str(value)
