"""The store: claims, statuses, stale rows (both backends: SQLite and PostgreSQL); WAL mode, read-only and
damaged files, network file systems (SQLite)."""

import json
import math
import sqlite3
import time

import numpy as np
import pytest

from ssmem.sweep import Store, parse_grid
from ssmem.sweep.store import SQLiteStore

GRID = parse_grid({"name": "g", "recipes": ["r1", "r2"], "eigs": ["s4d-inv"], "seeds": [1, 2]})


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A new store of each backend (the PostgreSQL one in a new database of the test server)."""
    location = tmp_path / "runs.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with Store(location) as s:
        yield s


def test_wal_mode(tmp_path):
    with Store(tmp_path / "runs.db") as store:
        assert sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_add_is_idempotent(store):
    specs = GRID.runs()
    assert store.add_runs(specs) == 4
    assert store.add_runs(specs) == 0
    rec = store.get(specs[0].run_id)
    assert rec.status == "pending" and rec.attempts == 0 and rec.params == specs[0].params
    assert rec.overrides == specs[0].overrides


def test_claims_follow_order_and_never_repeat(store):
    specs = GRID.runs()
    store.add_runs(specs)
    ids = [s.run_id for s in specs][::-1]
    a = store.claim(ids, worker="hostA:1", stale_after=3600)
    b = store.claim(ids, worker="hostB:2", stale_after=3600)
    assert (a.run_id, b.run_id) == (ids[0], ids[1])
    assert not a.resume and a.attempt == 1
    assert store.counts() == {"pending": 2, "running": 2, "done": 0, "failed": 0}
    assert store.finish(a, {"test_metric": np.float32(0.5), "curve": np.arange(3), "bad": math.nan})
    rec = store.get(a.run_id)
    assert rec.status == "done" and rec.result == {"test_metric": 0.5, "curve": [0, 1, 2], "bad": None}
    # a claim that was lost (another worker) cannot write
    assert not store.finish(a, {"x": 1})
    assert store.fail(b, "boom")
    assert store.get(b.run_id).error == "boom"
    c = store.claim(ids, worker="hostA:1")
    d = store.claim(ids, worker="hostA:1")
    assert {c.run_id, d.run_id} == set(ids[2:])
    assert store.claim(ids, worker="hostA:1") is None  # failed runs are not retried by default
    retry = store.claim(ids, worker="hostA:1", retry_failed=True)
    assert retry.run_id == b.run_id and retry.attempt == 2 and not retry.resume


def test_stale_running_rows_are_reclaimed_with_resume(store):
    specs = GRID.runs()
    store.add_runs(specs)
    ids = [specs[0].run_id]
    held = store.claim(ids, worker="elsewhere:123", stale_after=3600)
    assert store.claim(ids, worker="me:1", stale_after=3600) is None  # fresh heartbeat on another host: held
    time.sleep(0.05)
    taken = store.claim(ids, worker="me:1", stale_after=0.01)  # heartbeat too old: stale
    assert taken.run_id == held.run_id and taken.resume and taken.attempt == 2
    assert not store.heartbeat(held)  # the old worker lost the run
    assert store.release(taken)
    again = store.claim(ids, worker="me:2")
    assert again.resume and again.attempt == 3  # a released (interrupted) run resumes


def test_dead_local_worker_is_stale_at_once(store):
    import socket
    import subprocess
    import sys

    specs = GRID.runs()
    store.add_runs(specs)
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = f"{socket.gethostname()}:{int(proc.stdout)}"
    store.claim([specs[0].run_id], worker=dead, stale_after=3600)
    taken = store.claim([specs[0].run_id], worker="x:1", stale_after=3600)
    assert taken is not None and taken.resume


def test_runs_filters_and_reset(store):
    specs = GRID.runs()
    store.add_runs(specs)
    c = store.claim([specs[1].run_id], worker="w:1")
    store.fail(c, "x")
    assert [r.run_id for r in store.runs(status="failed")] == [specs[1].run_id]
    assert len(store.runs()) == 4 and store.runs()[0].run_id == specs[0].run_id
    with pytest.raises(ValueError, match="valid choices: pending, running, done, failed"):
        store.runs(status="finished")
    assert store.reset() == 1
    assert store.get(specs[1].run_id).status == "pending"
    json.dumps(store.get(specs[1].run_id).to_dict())


def test_own_leftover_rows_are_recovered(store):
    specs = GRID.runs()
    store.add_runs(specs)
    ids = [s.run_id for s in specs]
    store.claim(ids, worker="me:7", stale_after=3600)
    assert store.claim(ids[:1], worker="me:7", stale_after=3600) is None  # held, fresh: not claimable
    assert store.recover("me:7") == 1
    again = store.claim(ids[:1], worker="me:7", stale_after=3600)
    assert again.resume and again.attempt == 2


def test_retry_while_locked_waits_out_a_locked_database_and_gives_up_at_the_timeout():
    from ssmem.sweep.store import retry_while_locked

    outcomes = [sqlite3.OperationalError("database is locked"), sqlite3.OperationalError("database is busy"), "wal"]

    def operation():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retry_while_locked(operation, timeout_s=5.0, pause_s=0.001) == "wal"
    assert outcomes == []

    def always_locked():
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        retry_while_locked(always_locked, timeout_s=0.05, pause_s=0.001)

    def other_error():
        raise sqlite3.OperationalError("no such table: runs")

    calls = []
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_while_locked(lambda: calls.append(1) or other_error(), timeout_s=5.0, pause_s=0.001)
    assert calls == [1]  # not retried


def test_a_store_that_cannot_be_written_is_read_as_it_is(tmp_path, monkeypatch):
    """`ssmem runs` and the report on a store shared read-only (they switched it to WAL and wrote its schema
    first, and failed with "attempt to write a readonly database")."""
    path = tmp_path / "runs.db"
    specs = GRID.runs()[:3]
    writer = Store(path)  # a live sweep: its latest rows are still in the write-ahead log
    writer.add_runs(specs)
    writer.finish(writer.claim([s.run_id for s in specs], worker="w:1"), {"test_metric": 0.5})
    before = path.read_bytes()

    def refuse(self, busy_timeout_s, create):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(SQLiteStore, "_open", refuse)
    with Store(path, create=False) as reader:
        assert reader.read_only and [r.status for r in reader.runs()] == ["done", "pending", "pending"]
        assert reader.get(specs[0].run_id).result == {"test_metric": 0.5}
    assert path.read_bytes() == before
    writer.close()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        Store(path)  # a writer is not quietly turned into a reader


def test_run_folders_are_recorded_as_written(tmp_path):
    """Below the store's folder: relative, through any link in the path (a moved experiment folder keeps its
    linked runs folder); elsewhere: absolute."""
    import shutil

    (tmp_path / "scratch" / "runs").mkdir(parents=True)
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "runs").symlink_to(tmp_path / "scratch" / "runs")
    specs = GRID.runs()[:2]
    with Store(tmp_path / "exp" / "runs.db") as store:
        store.add_runs(specs)
        for spec, folder in zip(specs, (tmp_path / "exp" / "runs", tmp_path / "elsewhere")):
            store.set_run_dir(store.claim([spec.run_id], worker="w:1"), folder / spec.run_id)
    rows = sqlite3.connect(tmp_path / "exp" / "runs.db").execute("SELECT run_dir FROM runs ORDER BY rowid")
    assert [r[0] for r in rows] == [f"runs/{specs[0].run_id}", str(tmp_path / "elsewhere" / specs[1].run_id)]
    (tmp_path / "archive").mkdir()
    shutil.move(str(tmp_path / "exp"), str(tmp_path / "archive" / "exp"))
    with Store(tmp_path / "archive" / "exp" / "runs.db", create=False) as store:
        assert store.get(specs[0].run_id).run_dir == str(tmp_path / "archive" / "exp" / "runs" / specs[0].run_id)


MOUNTS = """\
server:/export /shared nfs4 rw,vers=4.2 0 0
/dev/sdb1 /shared/local\\040disk ext4 rw 0 0
user@host:/data /mnt/ssh fuse.sshfs rw 0 0
tmpfs /shared/local\\040disk/tmp tmpfs rw 0 0
/dev/sda1 / ext4 rw,relatime 0 0
"""  # (the root listed last: the innermost mount wins, not the last one listed)


@pytest.mark.parametrize("path, expected", [
    ("/home/me/runs.db", ("/", "ext4")),
    ("/shared/sweeps/runs.db", ("/shared", "nfs4")),
    ("/shared/local disk/runs.db", ("/shared/local disk", "ext4")),  # a mount inside a mount, an escaped blank
    ("/shared/local disk/tmp/x/runs.db", ("/shared/local disk/tmp", "tmpfs")),
    ("/shared", ("/shared", "nfs4")),
    ("/shared-not/runs.db", ("/", "ext4")),  # a prefix of the name is not a parent folder
    ("/mnt/ssh/runs.db", ("/mnt/ssh", "fuse.sshfs")),
])
def test_the_file_system_of_a_path_is_its_innermost_mount(path, expected):
    from ssmem.sweep.store import mount_of

    assert mount_of(path, MOUNTS) == expected


def test_a_store_on_a_network_file_system_is_refused_with_advice(tmp_path, monkeypatch):
    import ssmem.sweep.store as store_module
    from ssmem.cli import main

    seen = []
    monkeypatch.setattr(store_module, "file_system_of", lambda path: seen.append(path) or ("/shared", "nfs4"))
    path = tmp_path / "runs.db"
    with pytest.raises(ValueError, match=r"store .*runs.db is on a network file system \(nfs4 at /shared\)") as err:
        Store(path)
    assert "postgresql://" in str(err.value) and "--allow-network-fs" in str(err.value)
    assert seen == [path] and not path.exists()  # refused before anything was written
    with Store(path, allow_network_fs=True) as store:  # one host only: the user's call
        store.add_runs(GRID.runs())
        with store.open_again() as again:  # (the runner's heartbeat thread opens its own connection so)
            assert again.allow_network_fs
    with Store(path, create=False) as reader:  # reading a finished store there is safe
        assert len(reader.runs()) == 4

    grid = tmp_path / "g.yaml"
    grid.write_text("recipes: [memory/delay]\nseeds: [1]\noverrides: [train.max_steps=1]\n")
    assert main(["sweep", str(grid), "--store", str(tmp_path / "other.db"), "--no-progress"]) == 2
    assert not (tmp_path / "other.db").exists()


def test_a_damaged_store_names_its_file_and_how_to_recover_it(tmp_path, capsys):
    from ssmem.cli import main
    from ssmem.sweep import parse_grid
    from ssmem.sweep.store import DamagedStoreError

    path = tmp_path / "runs.db"
    with Store(path) as store:
        store.add_runs(parse_grid({"name": "big", "recipes": ["a"], "seeds": list(range(300))}).runs())
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every row in the database file itself
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data), page):  # the page headers of the table's pages
        data[start:start + 12] = b"\xff" * 12
    path.write_bytes(data)
    for create in (True, False):
        with pytest.raises(DamagedStoreError, match=rf"store {path} is damaged \(SQLite: database disk image is "
                                                    r"malformed\)") as err:
            Store(path, create=create).runs()
        assert f"sqlite3 {path} .recover | sqlite3 recovered.db" in str(err.value)
    assert main(["runs", "--store", str(path)]) == 1
    assert f"store {path} is damaged" in capsys.readouterr().err


def test_the_file_system_of_a_store_not_written_yet_is_its_nearest_folders(tmp_path):
    from ssmem.sweep.store import file_system_of

    assert file_system_of(tmp_path / "new" / "deeper" / "runs.db") == file_system_of(tmp_path)
    assert file_system_of(tmp_path)[1] != ""
