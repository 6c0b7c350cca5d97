"""The results store on a PostgreSQL server: one database that workers on any number of machines share.

``Store("postgresql://user@host/db")`` opens it (psycopg 3: ``pip install 'ssmem[postgres]'``). The tables are
the SQLite store's (:data:`ssmem.sweep.store._SCHEMA`, with PostgreSQL's types), so records, ``ssmem runs`` and
the report are the same. What a database server changes:

- a claim locks the one row it takes (``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1``): workers claiming at the
  same moment skip each other's rows instead of waiting, and a row is never claimed twice;
- every time (``created_at``, ``heartbeat``, ...) is ``now()`` on the server, and a heartbeat is stale when the
  server's clock says it is older than ``stale_after``: the workers' own clocks never enter;
- the schema is created under an advisory lock, so workers starting together do not race to create it.

Tables live in the connection's schema (``public``, or the first of ``search_path``: one database can hold
several stores, e.g. ``postgresql://host/db?options=-csearch_path%3Dsweep2``).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from .grid import RunSpec
from .store import SCHEMA_VERSION, Claim, Store, _pid_alive, _SCHEMA, register_url_backend, run_rows, this_worker

T = TypeVar("T")

# an arbitrary 64-bit key: the advisory lock that serialises schema creation and run insertion
_LOCK_KEY = 0x55A5_3E3E_7ECE_0001

# SQLite's types → PostgreSQL's (REAL is float4 in PostgreSQL: times need float8); an identity column numbers
# rows in insertion order, as SQLite's implicit rowid does
_PG_SCHEMA = (
    _SCHEMA.replace(" REAL", " DOUBLE PRECISION")
    .replace("CREATE TABLE IF NOT EXISTS runs (",
             "CREATE TABLE IF NOT EXISTS runs (\n    rowid       BIGINT GENERATED ALWAYS AS IDENTITY,")
    .replace("CREATE TABLE IF NOT EXISTS also_in (",
             "CREATE TABLE IF NOT EXISTS also_in (\n    rowid  BIGINT GENERATED ALWAYS AS IDENTITY,")
)


def display_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    url = re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url)
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", url)


class PostgresStore(Store):
    """A sweep results store in a PostgreSQL database (see the module docstring)."""

    _NOW = "extract(epoch from now())::float8"

    def __init__(self, url: str, *, busy_timeout_s: float = 120.0, create: bool = True,
                 allow_network_fs: bool = False) -> None:
        """Connect to ``url``; ``create=False`` (readers) refuses a database that holds no store instead of
        creating the tables. ``busy_timeout_s`` bounds each wait for a lock (and the connection);
        ``allow_network_fs`` is the SQLite store's option, unused here."""
        self.url = url
        self.busy_timeout_s = busy_timeout_s
        try:
            import psycopg
        except ImportError:
            raise ValueError(f"store {self}: a PostgreSQL store needs the psycopg package: "
                             "pip install 'ssmem[postgres]' (or pip install 'psycopg[binary]')") from None
        self._psycopg = psycopg
        self._connect()
        try:
            self._open(create)
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> None:
        psycopg = self._psycopg
        from psycopg.conninfo import conninfo_to_dict
        from psycopg.rows import dict_row

        # TCP keepalives: the worker's connection idles while a run trains (hours), and a firewall or NAT on the way
        # may cut a connection that looks dead; settings in the URL win
        defaults = {"connect_timeout": max(1, int(self.busy_timeout_s)), "keepalives": 1, "keepalives_idle": 60,
                    "keepalives_interval": 10, "keepalives_count": 6}
        try:
            given = conninfo_to_dict(self.url)
            self._conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row,
                                         **{k: v for k, v in defaults.items() if k not in given})
            self._conn.execute(f"SET lock_timeout = {int(self.busy_timeout_s * 1000)}")
        except psycopg.Error as err:
            raise ConnectionError(f"store {self}: cannot connect to the PostgreSQL server: "
                                  f"{_first_line(err)}") from None

    def __str__(self) -> str:
        return display_url(self.url)

    def open_again(self) -> PostgresStore:
        return PostgresStore(self.url, busy_timeout_s=self.busy_timeout_s, create=False)

    def _open(self, create: bool) -> None:
        """The schema (created on first use, under the advisory lock; its version checked otherwise); a ``runs``
        table of another application is refused before anything is written."""
        with self.transaction() as conn:
            if conn.execute("SELECT current_schema() AS name").fetchone()["name"] is None:
                raise ValueError(f"store {self}: its search_path names no schema that exists in the database; "
                                 "create the schema first (CREATE SCHEMA name)")
            if create:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            # (the catalog, not information_schema: that one hides tables the role was granted nothing on)
            tables = {row["name"] for row in conn.execute(
                "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
                " AND c.relname IN ('runs', 'meta', 'also_in')")}
            if not tables and not create:
                raise ValueError(f"no results store in database {self}: it has no ssmem tables (runs, meta); "
                                 "nothing was written to it")
            if tables and not {"meta", "runs"} <= tables:
                raise ValueError(f"database {self} holds a table {', '.join(sorted(tables))} that is not an ssmem "
                                 "results store; it was left as it is (use another database, or another schema: "
                                 "?options=-csearch_path%3DNAME)")
            if create and tables != {"runs", "meta", "also_in"}:  # (workers need no CREATE right once it exists)
                for statement in _PG_SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) DO NOTHING",
                             (str(SCHEMA_VERSION),))
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or int(row["value"]) != SCHEMA_VERSION:
            version = "none" if row is None else row["value"]
            raise ValueError(f"store {self} has schema version {version}; this ssmem reads version "
                             f"{SCHEMA_VERSION}")

    # -- plumbing -------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection to the server."""
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One transaction (``COMMIT`` at the end, ``ROLLBACK`` on error) on the connection it yields; a lost
        connection or a server that went away is a :class:`ConnectionError` naming the store."""
        try:
            with self._conn.transaction():
                yield self._conn
        except self._psycopg.Error as err:
            raise self._named(err) from None

    def _run(self, operation: Callable[[Any], T]) -> T:
        """``operation(connection)`` in one transaction; where the connection was lost (the server restarted, a
        connection cut while it idled), once more on a new connection. Every operation of the store may be run
        twice: its writes set the same values again, except a claim whose commit was lost on the way back, which
        leaves its row running under this worker with a heartbeat never refreshed (stale after ``stale_after``, then
        resumed)."""
        for attempt in (1, 2):
            if self._conn.closed or self._conn.broken:
                self._conn.close()
                self._connect()
            try:
                with self._conn.transaction():
                    return operation(self._conn)
            except self._psycopg.OperationalError as err:
                if attempt == 1 and self._conn.broken:
                    continue
                raise self._named(err) from None
            except self._psycopg.Error as err:
                raise self._named(err) from None
        raise AssertionError("unreachable")

    def _named(self, err: Exception) -> Exception:
        """The server's error as the OSError it amounts to, naming the store (the command line reports those)."""
        if isinstance(err, self._psycopg.OperationalError):  # the connection, the server, a lock timeout
            return ConnectionError(f"store {self}: {_first_line(err)}")
        if isinstance(err, self._psycopg.errors.InsufficientPrivilege):  # a role not granted the store's tables
            return PermissionError(f"store {self}: {_first_line(err)} (the role needs SELECT, and for workers "
                                   "INSERT and UPDATE, on the tables runs, meta and also_in)")
        return err

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._run(lambda conn: conn.execute(sql.replace("?", "%s"), list(args)).fetchall())

    def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self._run(lambda conn: conn.execute(sql.replace("?", "%s"), list(args)).rowcount)

    # -- writing --------------------------------------------------------------------------------------------

    def add_runs(self, specs: Iterable[RunSpec]) -> int:
        specs = list(specs)
        rows = run_rows(specs)
        studies = [(s.run_id, study) for s in specs for study in (s.study, *s.also_in)]

        def insert(conn: Any) -> int:
            # workers that start together insert the same rows: one at a time, so none waits on another's
            # half-inserted batch (which could deadlock two of them)
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            cursor = conn.cursor()
            cursor.executemany(
                "INSERT INTO runs (run_id, grid, study, recipe, eigs, train_mode, seed, overrides, params,"
                f" created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, {self._NOW})"
                " ON CONFLICT (run_id) DO NOTHING",
                rows,
            )
            new = cursor.rowcount if rows else 0
            cursor.executemany("INSERT INTO also_in (run_id, study) VALUES (%s, %s) ON CONFLICT DO NOTHING", studies)
            return new

        return self._run(insert)

    def claim(self, run_ids: Sequence[str], *, worker: str | None = None, retry_failed: bool = False,
              stale_after: float = 600.0) -> Claim | None:
        """See :meth:`Store.claim`. Only the claimed row is locked (``LIMIT 1`` above ``SKIP LOCKED``): a row
        skipped because it is locked is being claimed by another worker at this moment, so none is missed."""
        worker = worker or this_worker()
        dead = self._dead_local_workers()

        def take(conn: Any) -> dict[str, Any] | None:
            row = conn.execute(
                "SELECT runs.run_id, runs.status, runs.attempts"
                " FROM unnest(%(ids)s::text[]) WITH ORDINALITY AS wanted(run_id, position)"
                " JOIN runs ON runs.run_id = wanted.run_id"
                " WHERE runs.status = 'pending' OR (runs.status = 'failed' AND %(retry)s)"
                "    OR (runs.status = 'running' AND (runs.worker IS NULL OR runs.worker = ANY(%(dead)s)"
                f"        OR runs.heartbeat IS NULL OR runs.heartbeat < {self._NOW} - %(stale)s))"
                " ORDER BY wanted.position LIMIT 1 FOR UPDATE OF runs SKIP LOCKED",
                {"ids": list(run_ids), "retry": retry_failed, "dead": dead, "stale": float(stale_after)},
            ).fetchone()
            if row is not None:
                conn.execute(
                    f"UPDATE runs SET status = 'running', worker = %s, attempts = attempts + 1,"
                    f" claimed_at = {self._NOW}, heartbeat = {self._NOW}, error = NULL WHERE run_id = %s",
                    (worker, row["run_id"]),
                )
            return row

        row = self._run(take)
        if row is None:
            return None
        resume = row["status"] == "running" or (row["status"] == "pending" and row["attempts"] > 0)
        return Claim(row["run_id"], worker, row["attempts"] + 1, resume)

    def _dead_local_workers(self) -> list[str]:
        """Workers of this host that hold running rows and whose process is gone (stale at once, as in SQLite)."""
        host = socket.gethostname()
        held = self._read("SELECT DISTINCT worker FROM runs WHERE status = 'running' AND worker IS NOT NULL")
        dead = []
        for row in held:
            name, _, pid = row["worker"].rpartition(":")
            if name == host and pid.isdigit() and not _pid_alive(int(pid)):
                dead.append(row["worker"])
        return dead


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


register_url_backend("postgresql", PostgresStore)
