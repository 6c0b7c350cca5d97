"""The PostgreSQL store under real workers: several processes, a worker killed on another host, the server's clock,
the same records and report as the SQLite store. (The store's own tests run on both backends: test_store.py.)"""

import signal
import subprocess
import sys
import time

import pytest
import yaml

from ssmem.sweep import Store, load_grid, run_sweep
from ssmem.sweep.postgres import PostgresStore, display_url

from .test_runner import WORKER, wait_for


def _grid(tmp_path, n_seeds):
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"name": "t", "recipes": ["a", "b"], "eigs": ["s4d-inv", "s4d-lin"],
                                    "seeds": list(range(n_seeds))}))
    (tmp_path / "worker.py").write_text(WORKER)
    (tmp_path / "logs").mkdir()
    return grid


def _start(tmp_path, grid, store, *, steps, dt, host="-"):
    return subprocess.Popen(
        [sys.executable, str(tmp_path / "worker.py"), str(grid), store, str(tmp_path / "runs"),
         str(tmp_path / "logs"), str(steps), str(dt), host, "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _completed(tmp_path):
    path = tmp_path / "logs" / "completed.log"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def test_concurrent_workers_do_every_run_exactly_once(tmp_path, pg_url):
    grid = _grid(tmp_path, n_seeds=5)  # 20 runs
    workers = [_start(tmp_path, grid, pg_url, steps=2, dt=0.01) for _ in range(3)]
    wait_for(lambda: len(list((tmp_path / "logs").glob("ready-*"))) == 3)
    (tmp_path / "logs" / "go").write_text("")  # all three claim from the first moment
    outs = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), [o[1] for o in outs]
    expected = sorted(s.run_id for s in load_grid(grid).runs())
    assert sorted(run_id for run_id, _ in _completed(tmp_path)) == expected  # every run completed, none twice
    assert sum(int(o[0]) for o in outs) == 20
    with Store(pg_url) as store:
        records = store.runs()
    assert sorted(r.run_id for r in records) == expected
    assert all(r.status == "done" and r.attempts == 1 for r in records)
    assert {r.worker.rpartition(":")[2] for r in records} <= {str(w.pid) for w in workers}


def test_a_worker_killed_on_another_host_goes_stale_by_the_server_clock_and_its_run_resumes(tmp_path, pg_url):
    """Its process cannot be checked from here: only its heartbeat, older than stale_after on the server's clock,
    frees the run; then the run resumes from its checkpoint and every run is done once."""
    grid = _grid(tmp_path, n_seeds=1)  # 4 runs
    (tmp_path / "logs" / "go").write_text("")
    worker = _start(tmp_path, grid, pg_url, steps=400, dt=0.02, host="node-b")
    runs_dir = tmp_path / "runs"
    wait_for(lambda: any(int(p.read_text() or 0) >= 3 for p in runs_dir.glob("*/ckpt.txt")))
    with Store(pg_url) as store:
        (held,) = store.runs(status="running")
        assert held.worker == f"node-b:{worker.pid}"
        time.sleep(2.0)  # longer than stale_after below, yet the worker's heartbeat (every 0.1 s) keeps it fresh
        assert store.claim([held.run_id], worker="here:1", stale_after=1.5) is None
        worker.send_signal(signal.SIGKILL)
        worker.communicate()
        assert store.claim([held.run_id], worker="here:1", stale_after=1.5) is None  # dead, not seen to be yet
        killed_at = int((runs_dir / held.run_id / "ckpt.txt").read_text())
        time.sleep(2.0)
    summary = run_sweep(grid, store=pg_url, runs_dir=runs_dir, run_fn=_checkpointing_run(tmp_path, steps=400),
                        progress=False, log=lambda s: None, stale_after=1.5)
    assert summary.complete and summary.ran[0] == held.run_id
    ids = [s.run_id for s in load_grid(grid).runs()]
    assert sorted(run_id for run_id, _ in _completed(tmp_path)) == sorted(ids)  # each exactly once
    with Store(pg_url) as store:
        record = store.get(held.run_id)
        assert record.status == "done" and record.attempts == 2
        assert record.result["started_from"] == killed_at >= 3  # resumed from the killed worker's checkpoint
        assert [r.attempts for r in store.runs() if r.run_id != held.run_id] == [1, 1, 1]


def _checkpointing_run(tmp_path, *, steps):
    """The worker script's run function, in this process (no sleeps)."""

    def fake_run(spec, run_dir, *, resume):
        ckpt = run_dir / "ckpt.txt"
        start = int(ckpt.read_text()) if resume and ckpt.exists() else 0
        ckpt.write_text(str(steps))
        with open(tmp_path / "logs" / "completed.log", "a") as f:
            f.write(f"{spec.run_id} here\n")
        return {"status": "completed", "steps": steps, "test_metric": spec.seed / 10000, "started_from": start}

    return fake_run


def test_a_worker_whose_clock_runs_ahead_does_not_take_fresh_runs(pg_url, monkeypatch):
    """Heartbeats are written and judged on the server's clock: a machine an hour ahead sees another host's fresh
    heartbeat as fresh (judged by its own clock, every run of the other host would look an hour old)."""
    specs = load_grid_runs()
    with Store(pg_url) as store:
        store.add_runs(specs)
        held = store.claim([specs[0].run_id], worker="node-b:1")
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 3600.0)
        assert store.claim([specs[0].run_id], worker="node-c:1", stale_after=60) is None
        assert store.heartbeat(held)
        monkeypatch.undo()
        record = store.get(specs[0].run_id)
        (server_now,) = store._read(f"SELECT {store._NOW} AS now")[0].values()
    assert abs(record.heartbeat - server_now) < 5 and abs(record.claimed_at - server_now) < 5


def load_grid_runs():
    from ssmem.sweep import parse_grid

    return parse_grid({"name": "g", "recipes": ["r1", "r2"], "seeds": [1, 2]}).runs()


def test_sqlite_and_postgresql_stores_hold_the_same_records(tmp_path, pg_url):
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"name": "same", "studies": [
        {"name": "main", "recipes": ["a", "b"], "eigs": ["s4d-inv", "s4d-lin"], "seeds": [1, 2]},
        {"name": "extra", "recipes": ["a"], "eigs": ["s4d-inv"], "seeds": [1, 3]},  # one run shared with main
    ]}))

    def fake(spec, run_dir, *, resume):
        if spec.seed == 3:
            return {"status": "diverged", "message": "NaN loss"}
        return {"test_metric": spec.seed / 10, "curve": [spec.seed, 0.5], "recipe": spec.recipe}

    records = {}
    for name, location in (("sqlite", tmp_path / "runs.db"), ("postgresql", pg_url)):
        summary = run_sweep(grid, store=location, runs_dir=tmp_path / name, run_fn=fake, progress=False,
                            log=lambda s: None)
        assert summary.counts == {"pending": 0, "running": 0, "done": 8, "failed": 1}
        with Store(location, create=False) as store:
            records[name] = [_comparable(r.to_dict(), tmp_path / name) for r in store.runs()]
    assert records["sqlite"] == records["postgresql"]
    assert any(r["also_in"] == ["extra"] for r in records["postgresql"])


def _comparable(row, runs_dir):
    """A record without what differs between two sweeps: times, the worker, the runs folder's place."""
    for key in ("created_at", "claimed_at", "heartbeat", "finished_at", "worker"):
        assert key not in ("created_at", "claimed_at") or row[key] is not None
        row.pop(key)
    row["run_dir"] = str(row["run_dir"]).replace(str(runs_dir), "RUNS")
    row["also_in"] = list(row["also_in"])
    return row


def test_readers_refuse_a_database_without_a_store_and_a_foreign_runs_table(pg_url):
    import psycopg

    with pytest.raises(ValueError, match="no results store in database .* nothing was written"):
        Store(pg_url, create=False)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
                            ).fetchone()[0] == 0
        conn.execute("CREATE TABLE runs (id int)")
    with pytest.raises(ValueError, match="holds a table runs that is not an ssmem results store"):
        Store(pg_url)
    with pytest.raises(ValueError, match="search_path names no schema that exists .*CREATE SCHEMA"):
        Store(pg_url.replace("search_path%3Dssmem_test_", "search_path%3Dnone_such_"))


def test_a_server_that_cannot_be_reached_is_a_connection_error_naming_it_without_its_password(tmp_path):
    pytest.importorskip("psycopg", reason="the PostgreSQL driver is not installed (pip install 'ssmem[postgres]')")
    url = f"postgresql://me:secret@/sweeps?host={tmp_path}&connect_timeout=1"
    with pytest.raises(ConnectionError, match=r"store postgresql://me:\*\*\*@/sweeps.*cannot connect") as caught:
        PostgresStore(url)
    assert "secret" not in str(caught.value)
    assert display_url("postgresql://h/db?user=me&password=secret") == "postgresql://h/db?user=me&password=***"


def test_a_claim_skips_a_row_another_worker_is_claiming_instead_of_waiting_or_taking_it(pg_url):
    specs = load_grid_runs()
    ids = [s.run_id for s in specs]
    with Store(pg_url) as first, Store(pg_url, busy_timeout_s=2.0) as second:
        first.add_runs(specs)
        with first.transaction() as conn:  # a worker in the middle of claiming the first run
            conn.execute("SELECT run_id FROM runs WHERE run_id = %s FOR UPDATE", (ids[0],))
            taken = second.claim(ids, worker="node-c:1")
            assert taken.run_id == ids[1]
        assert second.claim(ids, worker="node-c:1").run_id == ids[0]  # the lock is gone, the row still pending


def test_a_connection_cut_while_a_run_trains_is_made_again(pg_url):
    """A worker's connection idles for as long as a run trains; the server may end it meanwhile (a restart, an idle
    timeout): finishing the run then connects again instead of losing its result."""
    import psycopg

    specs = load_grid_runs()
    with Store(pg_url) as store:
        store.add_runs(specs)
        claim = store.claim([specs[0].run_id], worker="w:1")
        (pid,) = store._read("SELECT pg_backend_pid() AS pid")[0].values()
        with psycopg.connect(pg_url, autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        assert store.finish(claim, {"test_metric": 0.5})
        assert store.get(specs[0].run_id).result == {"test_metric": 0.5}
        (again,) = store._read("SELECT pg_backend_pid() AS pid")[0].values()
    assert again != pid


def test_workers_that_start_together_create_the_schema_once(pg_url):
    """Concurrent CREATE TABLE IF NOT EXISTS statements can fail on a duplicate key: the schema is made under a lock."""
    import threading

    n = 8
    barrier, errors = threading.Barrier(n), []

    def open_store():
        barrier.wait()
        try:
            Store(pg_url).close()
        except Exception as err:  # noqa: BLE001  (collected and shown below)
            errors.append(err)

    threads = [threading.Thread(target=open_store) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Store(pg_url, create=False) as store:
        assert store._read("SELECT value FROM meta")[0]["value"] == "1"


def test_a_role_without_rights_on_the_store_is_told_so_by_name(pg_url, capsys):
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    from ssmem.cli import main

    with Store(pg_url) as store:
        store.add_runs(load_grid_runs())
    role = f"reader_{pg_url.rpartition('ssmem_test_')[2]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{role}'")
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")  # it sees the tables, may read none
    parts = urlsplit(pg_url)
    port = f":{parts.port}" if parts.port else ""
    as_reader = urlunsplit(parts._replace(netloc=f"{role}:{role}@{parts.hostname or ''}{port}"))
    try:
        with pytest.raises(PermissionError, match=rf"store .*{schema}: permission denied for table"):
            Store(as_reader, create=False)
        assert main(["runs", "--store", as_reader]) == 1
        err = capsys.readouterr().err
        assert "permission denied" in err and f"{role}:***@" in err
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM {role}")
            conn.execute(f"DROP ROLE {role}")
