"""Sweeps: grids of runs, the results store (SQLite, or PostgreSQL for several machines), and the runner that
resumes and shards."""

from .grid import Grid, RunSpec, Study, check_runs, list_grids, load_grid, parse_grid, parse_override, run_id_for
from .postgres import PostgresStore
from .runner import FAILED_STATUSES, RunFn, SweepSummary, parse_shard, run_sweep, select_shard, shard_of
from .store import STATUSES, Claim, DamagedStoreError, RunRecord, SQLiteStore, Store, this_worker
from .train_run import result_to_dict, train_run

__all__ = [
    "FAILED_STATUSES",
    "STATUSES",
    "Claim",
    "DamagedStoreError",
    "Grid",
    "PostgresStore",
    "RunFn",
    "RunRecord",
    "RunSpec",
    "SQLiteStore",
    "Store",
    "Study",
    "check_runs",
    "SweepSummary",
    "list_grids",
    "load_grid",
    "parse_grid",
    "parse_override",
    "parse_shard",
    "result_to_dict",
    "run_id_for",
    "run_sweep",
    "select_shard",
    "shard_of",
    "this_worker",
    "train_run",
]
