"""The sweep runner: every run done exactly once across concurrent workers, kills and resumes."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from ssmem.sweep import Store, load_grid, run_sweep

# A worker script: a fake run function that "trains" STEPS steps of DT seconds, checkpointing each, and logs
# completions with one short append (atomic for lines this small). Optional HOST (the host name it reports, a
# second machine; "-" for this one) and HEARTBEAT (seconds between heartbeats).
WORKER = textwrap.dedent(
    """
    import os, socket, sys, time
    from pathlib import Path

    grid, store, runs_dir, log_dir, steps, dt = sys.argv[1:7]
    host, heartbeat = (sys.argv[7:9] + ["-", "30"][len(sys.argv[7:9]):])  # optional: a second machine's name
    if host != "-":
        socket.gethostname = lambda: host
    from ssmem.sweep import run_sweep

    steps, dt, log_dir = int(steps), float(dt), Path(log_dir)

    def fake_run(spec, run_dir, *, resume):
        ckpt = run_dir / "ckpt.txt"
        start = int(ckpt.read_text()) if resume and ckpt.exists() else 0
        if resume:
            with open(log_dir / "resumed.log", "a") as f:
                f.write(f"{spec.run_id} {start}\\n")
        for step in range(start, steps):
            time.sleep(dt)
            tmp = run_dir / "ckpt.tmp"
            tmp.write_text(str(step + 1))
            os.replace(tmp, ckpt)
        with open(log_dir / "completed.log", "a") as f:
            f.write(f"{spec.run_id} {os.getpid()}\\n")
        return {"status": "completed", "steps": steps, "test_metric": spec.seed / 10000, "started_from": start}

    (log_dir / f"ready-{os.getpid()}").write_text("")
    while not (log_dir / "go").exists():
        time.sleep(0.01)
    summary = run_sweep(grid, store=store, runs_dir=runs_dir, run_fn=fake_run, progress=False, log=lambda s: None,
                        heartbeat_every=float(heartbeat))
    print(len(summary.ran))
    """
)


def _setup(tmp_path, n_seeds):
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"name": "t", "recipes": ["a", "b"], "eigs": ["s4d-inv", "s4d-lin"],
                                    "seeds": list(range(n_seeds))}))
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    logs = tmp_path / "logs"
    logs.mkdir()
    return grid, script, logs


def _start(script, grid, tmp_path, logs, steps, dt):
    return subprocess.Popen(
        [sys.executable, str(script), str(grid), str(tmp_path / "runs.db"), str(tmp_path / "runs"), str(logs),
         str(steps), str(dt)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for(predicate, timeout=60.0):
    """Poll ``predicate`` until it holds (TimeoutError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


def _completed(logs):
    path = logs / "completed.log"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_two_concurrent_workers_do_every_run_exactly_once(tmp_path):
    grid, script, logs = _setup(tmp_path, n_seeds=4)  # 16 runs
    workers = [_start(script, grid, tmp_path, logs, steps=3, dt=0.01) for _ in range(2)]
    wait_for(lambda: len(list(logs.glob("ready-*"))) == 2)
    (logs / "go").write_text("")
    outs = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), [o[1] for o in outs]
    ran = [int(o[0]) for o in outs]
    lines = _completed(logs)
    ids = sorted(line.split()[0] for line in lines)
    expected = sorted(s.run_id for s in load_grid(grid).runs())
    assert ids == expected  # every run completed, none twice
    assert sum(ran) == 16 and min(ran) > 0  # both workers took part
    assert {line.split()[1] for line in lines} == {str(w.pid) for w in workers}
    with Store(tmp_path / "runs.db") as store:
        records = store.runs()
        assert sorted(r.run_id for r in records) == expected
        assert all(r.status == "done" and r.attempts == 1 for r in records)
        assert {r.result["test_metric"] for r in records} == {s / 10000 for s in range(4)}


def test_killed_worker_resumes_from_checkpoint_and_finishes_each_run_once(tmp_path):
    grid, script, logs = _setup(tmp_path, n_seeds=1)  # 4 runs
    (logs / "go").write_text("")
    worker = _start(script, grid, tmp_path, logs, steps=30, dt=0.02)
    runs_dir = tmp_path / "runs"

    def second_run_halfway():
        if len(_completed(logs)) != 1:
            return False
        ckpts = [p for p in runs_dir.glob("*/ckpt.txt") if p.parent.name != _completed(logs)[0].split()[0]]
        return any(int(p.read_text() or 0) >= 5 for p in ckpts)

    wait_for(second_run_halfway)
    worker.send_signal(signal.SIGKILL)
    worker.communicate()
    first = _completed(logs)[0].split()[0]
    with Store(tmp_path / "runs.db") as store:
        assert sqlite_ok(store.path)
        running = store.runs(status="running")
        assert len(running) == 1 and store.counts()["done"] == 1
        killed = running[0].run_id
        killed_at = int((runs_dir / killed / "ckpt.txt").read_text())

    # resume in this process with the same fake run function
    sys.path.insert(0, str(tmp_path))
    try:
        env_argv = sys.argv
        sys.argv = ["worker.py", str(grid), str(tmp_path / "runs.db"), str(runs_dir), str(logs), "30", "0.001"]
        namespace = {"__name__": "fake"}
        source = WORKER.split("(log_dir / f\"ready-")[0]
        exec(compile(source, "worker", "exec"), namespace)
    finally:
        sys.argv = env_argv
        sys.path.remove(str(tmp_path))
    summary = run_sweep(grid, store=tmp_path / "runs.db", runs_dir=runs_dir, run_fn=namespace["fake_run"],
                        progress=False, log=lambda s: None)
    assert summary.complete and summary.counts["done"] == 4
    ids = [line.split()[0] for line in _completed(logs)]
    assert sorted(ids) == sorted(s.run_id for s in load_grid(grid).runs())  # each exactly once
    assert ids[0] == first and ids.count(killed) == 1
    resumed = [line.split() for line in (logs / "resumed.log").read_text().split("\n")[:-1]]
    assert resumed == [[killed, str(killed_at)]] and killed_at >= 5  # continued from its checkpoint
    with Store(tmp_path / "runs.db") as store:
        rec = store.get(killed)
        assert rec.status == "done" and rec.attempts == 2 and rec.result["started_from"] == killed_at
        assert [r.attempts for r in store.runs() if r.run_id != killed] == [1, 1, 1]


def sqlite_ok(path: Path) -> bool:
    import sqlite3

    return sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_failures_are_recorded_and_retried_on_request(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"recipes": ["a"], "seeds": [1, 2, 3]}))
    calls = []

    def flaky(spec, run_dir, *, resume):
        calls.append((spec.seed, resume))
        if spec.seed == 2:
            raise RuntimeError("loss exploded at step 7")
        if spec.seed == 3:
            return {"status": "diverged", "message": "NaN loss"}
        return {"status": "completed", "test_metric": 0.9}

    kw = dict(store=tmp_path / "s.db", runs_dir=tmp_path / "runs", progress=False, log=lambda s: None)
    summary = run_sweep(grid, run_fn=flaky, **kw)
    assert summary.counts == {"pending": 0, "running": 0, "done": 1, "failed": 2}
    assert not summary.complete
    with Store(tmp_path / "s.db") as store:
        errors = {r.seed: r.error for r in store.runs(status="failed")}
    assert "RuntimeError: loss exploded at step 7" in errors[2]
    assert "status 'diverged': NaN loss" in errors[3]
    assert run_sweep(grid, run_fn=flaky, **kw).ran == []  # nothing to do
    (tmp_path / "runs").joinpath(_id_of(grid, 2), "junk.txt").write_text("old attempt")
    calls.clear()
    run_sweep(grid, run_fn=flaky, retry_failed=True, **kw)
    assert sorted(calls) == [(2, False), (3, False)]
    # the failed attempt's files were moved aside, not reused
    assert (tmp_path / "runs" / f"{_id_of(grid, 2)}.attempt1" / "junk.txt").exists()
    assert not (tmp_path / "runs" / _id_of(grid, 2) / "junk.txt").exists()


def test_interrupt_gives_the_run_back(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"recipes": ["a"], "seeds": [1]}))

    def interrupted(spec, run_dir, *, resume):
        raise KeyboardInterrupt

    kw = dict(store=tmp_path / "s.db", runs_dir=tmp_path / "r", progress=False, log=lambda s: None)
    try:
        run_sweep(grid, run_fn=interrupted, **kw)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interrupt was swallowed")
    seen = []
    summary = run_sweep(grid, run_fn=lambda spec, run_dir, *, resume: seen.append(resume) or {}, **kw)
    assert seen == [True] and summary.complete


def test_a_full_disk_stops_the_sweep_and_keeps_the_run_to_resume(tmp_path):
    """ENOSPC, a read-only cache and the like would fail every run the same way: they were all marked failed
    (and --retry-failed started them over, their checkpoints moved aside)."""
    import errno

    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"recipes": ["a"], "seeds": [1, 2]}))

    def disk_full(spec, run_dir, *, resume):
        raise OSError(errno.ENOSPC, "No space left on device", str(run_dir / "checkpoints" / "step-00000004.pt"))

    messages = []
    kw = dict(store=tmp_path / "s.db", runs_dir=tmp_path / "r", progress=False, log=messages.append)
    with pytest.raises(OSError, match="No space left on device"):
        run_sweep(grid, run_fn=disk_full, **kw)
    assert any("the run is kept to resume from its last checkpoint" in m for m in messages)
    with Store(tmp_path / "s.db") as store:
        assert {r.status for r in store.runs()} == {"pending"}  # nothing failed, nothing left running
    seen = []
    assert run_sweep(grid, run_fn=lambda spec, run_dir, *, resume: seen.append(resume) or {}, **kw).complete
    assert seen == [True, False]  # the interrupted run resumes in its folder; the other starts


def test_a_run_refused_its_own_data_fails_alone(tmp_path):
    """Permission denied on a release file is that run's problem (the sweep stopped at it on every call); on the
    sweep's own folders it is the machine's."""
    import errno

    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"recipes": ["a", "b"], "seeds": [1]}))

    def refused(spec, run_dir, *, resume):
        if spec.recipe == "a":
            raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "releases" / "train.tsv"))
        return {}

    kw = dict(store=tmp_path / "s.db", runs_dir=tmp_path / "r", progress=False, log=lambda s: None)
    summary = run_sweep(grid, run_fn=refused, **kw)
    assert summary.counts["failed"] == 1 and summary.counts["done"] == 1

    def refused_checkpoint(spec, run_dir, *, resume):
        raise PermissionError(errno.EACCES, "Permission denied", str(run_dir / "checkpoints" / "step-00000002.pt"))

    with pytest.raises(PermissionError):
        run_sweep(grid, run_fn=refused_checkpoint, retry_failed=True, **kw)


def test_shards_run_disjoint_parts(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"recipes": ["a", "b", "c"], "seeds": [1, 2, 3, 4]}))
    done = {}
    for i in range(3):
        s = run_sweep(grid, store=tmp_path / "s.db", runs_dir=tmp_path / "r", shard=(i, 3), progress=False,
                      run_fn=lambda spec, run_dir, *, resume: {"x": 1}, log=lambda s: None)
        done[i] = set(s.ran)
        assert s.complete and s.total == len(s.ran)
    assert sum(len(v) for v in done.values()) == 12
    assert not (done[0] & done[1]) and not (done[1] & done[2])
    with Store(tmp_path / "s.db") as store:
        assert json.dumps(store.counts()) == json.dumps({"pending": 0, "running": 0, "done": 12, "failed": 0})


def _id_of(grid, seed):
    return next(s.run_id for s in load_grid(grid).runs() if s.seed == seed)


def test_no_half_written_rows_after_kill_during_writes(tmp_path):
    # a writer hammering the store is killed at a random moment; the file is intact and every row whole
    script = tmp_path / "hammer.py"
    script.write_text(textwrap.dedent(
        """
        import sys
        from ssmem.sweep import Store, parse_grid
        store = Store(sys.argv[1])
        grid = parse_grid({"name": "h", "recipes": ["a"], "seeds": list(range(400))})
        store.add_runs(grid.runs())
        ids = [s.run_id for s in grid.runs()]
        print("ready", flush=True)
        while True:
            c = store.claim(ids, worker="w:1")
            if c is None:
                break
            store.finish(c, {"payload": list(range(200)), "id": c.run_id})
        """
    ))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "h.db")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    import sqlite3

    def n_done():
        conn = sqlite3.connect(tmp_path / "h.db", timeout=30)
        try:
            return conn.execute("SELECT count(*) FROM runs WHERE status = 'done'").fetchone()[0]
        finally:
            conn.close()

    wait_for(lambda: n_done() >= 5)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert sqlite_ok(tmp_path / "h.db")
    with Store(tmp_path / "h.db") as store:
        records = store.runs()
    assert len(records) == 400
    done = [r for r in records if r.status == "done"]
    assert 0 < len(done) < 400, "the kill should land mid-sweep"
    assert all(r.result == {"payload": list(range(200)), "id": r.run_id} for r in done)
    assert all(r.result == {} for r in records if r.status != "done")
    assert sum(r.status == "running" for r in records) <= 1


def test_a_stale_looking_run_whose_directory_is_busy_is_left_to_the_process_training_it(tmp_path):
    """A live worker whose heartbeat went stale (a suspended process, say) still holds its run directory: a
    second worker must not fail the run, nor train over it, but hand the claim back to the lock's holder."""
    import socket

    from ssmem._io import exclusive_folder

    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"recipes": ["a"], "seeds": [1]}))
    store_path = tmp_path / "s.db"
    with Store(store_path) as store:
        store.add_runs(load_grid(grid).runs())
        (run_id,) = [r.run_id for r in store.runs()]
        store.claim([run_id], worker="otherhost:1", stale_after=0)
        with store.transaction() as conn:
            conn.execute("UPDATE runs SET heartbeat = 0")  # long stale
    run_dir = tmp_path / "runs" / run_id

    def like_train(spec, run_dir, *, resume):  # takes the run directory's lock first, as ssmem.train does
        with exclusive_folder(run_dir, "busy"):
            return {"status": "completed"}

    with exclusive_folder(run_dir, "busy"):  # the live holder
        summary = run_sweep(grid, store=store_path, runs_dir=tmp_path / "runs", run_fn=like_train, progress=False,
                            log=lambda s: None, stale_after=1.0)
    assert summary.ran == [] and summary.failed == []
    with Store(store_path) as store:
        record = store.get(run_id)
    assert record.status == "running" and record.worker == f"{socket.gethostname()}:{os.getpid()}"


def test_a_linked_runs_folder_is_recorded_through_its_link(tmp_path):
    """The runner gave the store resolved paths: a runs folder linked from beside the store was recorded by its
    target, and lost when the experiment folder moved."""
    (tmp_path / "scratch").mkdir()
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "runs").symlink_to(tmp_path / "scratch")
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"recipes": ["a"], "seeds": [1]}))
    run_sweep(grid, store=tmp_path / "exp" / "s.db", runs_dir=tmp_path / "exp" / "runs", progress=False,
              run_fn=lambda spec, run_dir, *, resume: {}, log=lambda s: None)
    import sqlite3

    (stored,) = sqlite3.connect(tmp_path / "exp" / "s.db").execute("SELECT run_dir FROM runs").fetchone()
    assert stored.startswith("runs/")



def test_a_sweep_run_that_would_not_fit_in_memory_is_refused_before_it_allocates(tmp_path, monkeypatch):
    import ssmem.resources as resources
    from ssmem.sweep import parse_grid
    from ssmem.sweep.train_run import train_run

    monkeypatch.setattr(resources, "available_memory", lambda: 2**20)  # a machine with 1 MiB free
    spec = parse_grid({"name": "g", "recipes": ["memory/delay"], "seeds": [1]}).runs()[0]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with pytest.raises(resources.InsufficientMemoryError, match=r"not enough memory .*--ignore-memory-check to ssmem sweep"):
        train_run(spec, run_dir, resume=False)
    assert list(run_dir.iterdir()) == []
    summary = run_sweep(parse_grid({"name": "g", "recipes": ["memory/delay"], "seeds": [1]}), store=tmp_path / "s.db",
                        runs_dir=tmp_path / "runs", progress=False, log=lambda s: None)
    assert summary.counts.get("failed") == 1  # the worker goes on to the next run


def test_sweep_command_passes_its_memory_override(tmp_path, monkeypatch):
    import ssmem.sweep as sweep
    from ssmem.cli import main

    seen = {}

    def fake(grid, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "run_sweep", fake)
    main(["sweep", "lra-quick", "--store", str(tmp_path / "s.db"), "--runs-dir", str(tmp_path / "r"),
          "--ignore-memory-check"])
    assert seen["memory_check"] is False
