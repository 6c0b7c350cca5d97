"""A PostgreSQL server for the store tests: ``$SSMEM_TEST_POSTGRES`` (CI sets it), or a throwaway cluster that
``scripts/pg-scratch.sh`` starts for the session where PostgreSQL's server programs are installed.

Tests that need it are skipped, with the reason, only where no server can be had (no psycopg, no server
programs, a cluster that would not start); a server named by ``$SSMEM_TEST_POSTGRES`` that cannot be reached
is an error, not a skip.
"""

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

SCRATCH = Path(__file__).resolve().parents[2] / "scripts" / "pg-scratch.sh"


@pytest.fixture(scope="session")
def postgres_server():
    """The URL of a PostgreSQL server on which the tests may create and drop databases."""
    url = os.environ.get("SSMEM_TEST_POSTGRES")
    if url:
        import psycopg  # noqa: F401  (a server was named: a missing driver is an error, not a reason to skip)
        yield url
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("no PostgreSQL tests: psycopg is not installed (pip install 'ssmem[postgres]')")
    folder = tempfile.mkdtemp(prefix="ssmem-pg-", dir="/tmp")  # short: it holds the server's socket
    started = subprocess.run(["bash", str(SCRATCH), "start", folder], capture_output=True, text=True)
    if started.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        reason = (started.stderr.strip().splitlines() or ["(no message)"])[-1]
        pytest.skip(f"no PostgreSQL tests: a scratch server could not be started ({reason}); set "
                    "SSMEM_TEST_POSTGRES to a server URL to run them")
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(SCRATCH), "stop", folder], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server):
    """The URL of a new, empty store location for one test: a schema of its own on the server (dropped afterwards),
    chosen through the URL as a user would (``options=-csearch_path=...``)."""
    import psycopg

    schema = f"ssmem_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    parts = urlsplit(postgres_server)
    query = "&".join(q for q in (parts.query, f"options=-csearch_path%3D{schema}") if q)
    yield urlunsplit(parts._replace(query=query))
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
