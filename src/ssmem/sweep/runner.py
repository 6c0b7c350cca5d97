"""Run a sweep: claim runs from the store one at a time, run each, record the result; resume; shard.

Workers need no coordination beyond the store: start any number of ``run_sweep`` calls (processes on one
machine with an SQLite store; processes on several machines with a PostgreSQL store: SLURM array tasks,
Kubernetes jobs, ...; ``shard=(i, n)`` splits the grid up front instead) on one grid and one store, and each run
is done once. Stopping a worker at any point loses at most the current run's progress since its last
checkpoint: the run's row stays ``running`` (SIGKILL) or goes back to ``pending`` (Ctrl-C, SIGTERM), and
the next claim resumes it in its run directory with ``resume=True``.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .._io import FolderBusyError, StorageError
from .grid import Grid, RunSpec, check_runs, load_grid
from .store import Claim, Store, this_worker

# statuses a run function may report for a run that ended without a usable result
FAILED_STATUSES = ("failed", "diverged", "error")


class RunFn(Protocol):
    """What the sweep calls for one run: train ``spec`` in ``run_dir`` and return a JSON-able result dict.

    ``resume`` is true when an earlier attempt of this run was interrupted in ``run_dir``. A result whose
    ``status`` is one of ``FAILED_STATUSES`` marks the run failed; an exception does too.
    """

    def __call__(self, spec: RunSpec, run_dir: Path, *, resume: bool) -> dict[str, Any]: ...


@dataclass
class SweepSummary:
    """What one ``run_sweep`` call did, and where its shard of the grid stands."""

    grid: str
    shard: tuple[int, int]
    total: int  # runs in this shard
    counts: dict[str, int]  # status -> runs of this shard, after the call
    ran: list[str] = field(default_factory=list)  # run ids this call finished (done)
    failed: list[str] = field(default_factory=list)  # run ids this call marked failed
    wall_time_s: float = 0.0

    @property
    def complete(self) -> bool:
        return self.counts.get("done", 0) == self.total


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (0 ≤ i < n) → ``(i, n)``."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or n < 1 or not 0 <= i < n:
        raise ValueError(f"shard {text!r} must be i/n with 0 <= i < n (e.g. 0/4 … 3/4)")
    return i, n


def shard_of(run_id: str, n_shards: int) -> int:
    """The shard a run belongs to: a hash of its id modulo ``n_shards`` (the same on every machine)."""
    return int(hashlib.sha256(run_id.encode()).hexdigest()[:12], 16) % n_shards


def select_shard(specs: Sequence[RunSpec], shard: tuple[int, int]) -> list[RunSpec]:
    """The runs of shard ``(index, count)``: a stable hash of each run id picks its shard, so every run belongs
    to exactly one shard whatever the order or number of runs."""
    index, count = shard
    return [s for s in specs if shard_of(s.run_id, count) == index]


def run_sweep(
    grid: Grid | str | Path,
    *,
    store: Store | str | Path,
    runs_dir: str | Path,
    shard: tuple[int, int] = (0, 1),
    retry_failed: bool = False,
    run_fn: RunFn | None = None,
    progress: bool = True,
    max_runs: int | None = None,
    stale_after: float = 600.0,
    heartbeat_every: float = 30.0,
    log: Callable[[str], None] | None = None,
    memory_check: bool = True,
) -> SweepSummary:
    """Run every run of ``grid`` in ``shard`` that is not done yet; returns a summary.

    ``runs_dir/<run_id>`` is each run's directory. ``run_fn`` defaults to :func:`ssmem.sweep.train_run`
    (``ssmem.train.train``). ``max_runs`` stops after that many runs (finished or failed) of this call.
    ``stale_after`` (s) is how old a heartbeat must be before another host may take over a running row.
    With the default ``run_fn`` every run's configuration is checked first (:func:`check_runs`), and each run's
    estimated peak memory against the worker's machine before it trains (``memory_check``; a run that does not
    fit fails with the estimate instead of exhausting the machine).
    """
    started = time.time()
    if not isinstance(grid, Grid):
        grid = load_grid(grid)
    specs = select_shard(grid.runs(), shard)
    if run_fn is None:
        from .train_run import train_run

        check_runs(specs)
        run_fn = functools.partial(train_run, progress=progress, memory_check=memory_check)
    own_store = not isinstance(store, Store)
    db = Store(store) if own_store else store
    runs_dir = Path(runs_dir)
    by_id = {s.run_id: s for s in specs}
    ids = [s.run_id for s in specs]
    summary = SweepSummary(grid=grid.name, shard=shard, total=len(specs), counts={})
    worker = this_worker()
    say = log or _stderr
    try:
        db.add_runs(specs)
        db.recover(worker)
        bar = _ProgressBar(len(specs), db.counts(ids), enabled=progress, name=grid.name)
        n_this_call = 0
        tried: set[str] = set()
        while max_runs is None or n_this_call < max_runs:
            # a run this call already tried is not tried again by it (a failed run is retried once per call)
            todo = [run_id for run_id in ids if run_id not in tried]
            claim = db.claim(todo, worker=worker, retry_failed=retry_failed, stale_after=stale_after)
            if claim is None:
                break
            tried.add(claim.run_id)
            n_this_call += 1
            spec = by_id[claim.run_id]
            run_dir = runs_dir / spec.run_id
            try:
                _prepare_run_dir(run_dir, resume=claim.resume, attempt=claim.attempt)
                db.set_run_dir(claim, run_dir)
            except BaseException:  # e.g. --runs-dir under a file: the run goes back to pending, not left running
                db.release(claim)
                raise
            counts = db.counts(ids)
            bar.message(f"[{counts['done'] + 1}/{len(specs)}] {spec.run_id}"
                        + (f" (resuming, attempt {claim.attempt})" if claim.resume else ""), say)
            ok = _run_one(db, claim, spec, run_dir, run_fn, heartbeat_every=heartbeat_every, say=say)
            if ok is not None:  # None: another live process is training it
                (summary.ran if ok else summary.failed).append(spec.run_id)
            bar.update(db.counts(ids))
        bar.close()
        summary.counts = db.counts(ids)
    finally:
        if own_store:
            db.close()
    summary.wall_time_s = time.time() - started
    return summary


# a full disk, a quota, a read-only file system: every later run would fail the same way
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
# refused or failing reads and writes: the machine's fault where the sweep writes (runs, store files, data cache), a
# run's own where they name its data (a release file it may not read fails that run only)
PLACE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EIO})


def _machine_error(err: BaseException, run_dir: Path, store: Path | None) -> bool:
    if isinstance(err, StorageError):  # a write that a full or failing disk stopped, whatever raised it underneath
        return True
    if not isinstance(err, OSError):
        return False
    if err.errno in MACHINE_ERRNOS:
        return True
    if err.errno not in PLACE_ERRNOS or not err.filename:
        return False
    from ..data._cache import cache_root

    path = os.path.abspath(err.filename)
    places = (os.path.abspath(run_dir.parent), os.path.abspath(cache_root(None)))
    in_store = store is not None and path.startswith(os.path.abspath(store))  # (None: a database server)
    return in_store or any(os.path.commonpath([path, p]) == p for p in places)


def _run_one(db: Store, claim: Claim, spec: RunSpec, run_dir: Path, run_fn: RunFn, *, heartbeat_every: float,
             say: Callable[[str], None]) -> bool | None:
    """Run one claimed run; record done/failed; give the run back if interrupted. True if done, None if another
    live process holds its run directory (a stale-looking claim that was not stale: the run is left to it)."""
    beat = _Heartbeat(db, claim, every=heartbeat_every)
    beat.start()
    try:
        result = run_fn(spec, run_dir, resume=claim.resume)
    except (KeyboardInterrupt, SystemExit):
        beat.stop()
        db.release(claim)
        raise
    except FolderBusyError as err:
        beat.stop()
        if err.holder is not None:  # the holder is the worker that trains it (train runs in the worker)
            db.hand_back(claim, err.holder)
        else:
            db.release(claim)
        say(f"  skipped: {spec.run_id}: {err}")
        return None
    except Exception as err:  # a failed run is recorded, the sweep goes on
        beat.stop()
        message = "".join(traceback.format_exception_only(type(err), err)).strip()
        if _machine_error(err, run_dir, db.path):  # the machine's fault, not the run's
            db.release(claim)
            say(f"  stopped: {spec.run_id}: {message}\n  the run is kept to resume from its last checkpoint: free "
                "space or fix the permissions, then run the sweep again")
            raise
        db.fail(claim, f"{message}\n{traceback.format_exc()}")
        say(f"  failed: {spec.run_id}: {message}")
        return False
    beat.stop()
    result = dict(result or {})
    status = str(result.get("status", "completed"))
    if status in FAILED_STATUSES:
        db.fail(claim, f"run ended with status {status!r}: {result.get('message', '')}".strip(), result)
        say(f"  failed: {spec.run_id}: status {status}")
        return False
    if not db.finish(claim, result):
        say(f"  warning: {spec.run_id}: another worker took this run over (its heartbeat was older than the "
            f"stale limit); this worker's result stays in {run_dir} but not in the store")
        return False
    return True


def _prepare_run_dir(run_dir: Path, *, resume: bool, attempt: int) -> None:
    """A fresh attempt never reuses an old attempt's files: they are moved aside, not deleted."""
    if not resume and run_dir.exists() and any(run_dir.iterdir()):
        k = attempt - 1
        aside = run_dir.with_name(f"{run_dir.name}.attempt{k}")
        while aside.exists():
            k += 1
            aside = run_dir.with_name(f"{run_dir.name}.attempt{k}")
        shutil.move(str(run_dir), str(aside))
    run_dir.mkdir(parents=True, exist_ok=True)


class _Heartbeat:
    """Refreshes a claim's heartbeat from a thread (with its own connection to ``store``) while the run trains."""

    def __init__(self, store: Store, claim: Claim, *, every: float) -> None:
        self.store, self.claim, self.every = store, claim, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ssmem-sweep-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        store = None
        try:
            while not self._stop.wait(self.every):
                try:
                    store = store or self.store.open_again()
                    if not store.heartbeat(self.claim):
                        return  # the claim was lost: nothing left to keep alive
                except Exception:  # noqa: BLE001  (a locked store, a server briefly unreachable: beat again later)
                    if store is not None:
                        store.close()
                    store = None
        finally:
            if store is not None:
                store.close()


class _ProgressBar:
    """A tqdm bar over the shard's runs (counted by done + failed), or nothing when disabled."""

    def __init__(self, total: int, counts: dict[str, int], *, enabled: bool, name: str) -> None:
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=counts["done"] + counts["failed"], desc=f"sweep {name}",
                             unit="run", file=sys.stderr, dynamic_ncols=True, disable=None)  # no bar off a terminal
            self._bar.set_postfix_str(_postfix(counts))

    def message(self, text: str, say: Callable[[str], None]) -> None:
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            say(text)

    def update(self, counts: dict[str, int]) -> None:
        if self._bar is not None:
            self._bar.n = counts["done"] + counts["failed"]
            self._bar.set_postfix_str(_postfix(counts))
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _postfix(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v)


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
