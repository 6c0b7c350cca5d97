"""``ssmem sweep``: run a grid of runs into a results store; resumes, shards, retries."""

from __future__ import annotations

import argparse
import os
import sys

from . import positive_float, positive_int, stop_on_sigterm

HELP = "run a sweep grid (recipes x eigenvalue sets x train modes x seeds) into a results store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("grid", help="a grid YAML file, or the name of a shipped grid (e.g. lra-quick, lra-cpu)")
    parser.add_argument("--store", default="runs.db",
                        help="the results store: an SQLite file for workers on one machine (default runs.db), or "
                             "postgresql://USER@HOST/DB for workers on several machines")
    parser.add_argument("--allow-network-fs", action="store_true",
                        help="open an SQLite store on a network file system anyway (only if one host writes it)")
    parser.add_argument("--runs-dir", default="runs", help="directory of the run directories; default runs/")
    parser.add_argument("--shard", default="0/1", help="i/n: run only shard i of n (0 <= i < n); default 0/1")
    parser.add_argument("--retry-failed", action="store_true", help="run failed runs again (from scratch)")
    parser.add_argument("--max-runs", type=positive_int, default=None, help="stop after this many runs")
    parser.add_argument("--ignore-memory-check", action="store_true",
                        help="train runs whose estimated peak memory exceeds what the machine has available")
    parser.add_argument("--list", action="store_true",
                        help="print the grid's runs, with the estimated GPU-hours of paper-scale runs, and exit")
    parser.add_argument("--rate", type=positive_float, default=None, metavar="UNITS_PER_S",
                        help="the GPU's rate for --list's estimates (benchmarks/gpu_check.py measures it; default: an "
                             "assumed H100's, see ssmem.sweep.cost)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..sweep import Store, check_runs, load_grid, parse_shard, run_sweep, select_shard
    from ..sweep.postgres import display_url

    grid = load_grid(args.grid)
    shard = parse_shard(args.shard)
    if args.list:
        specs = select_shard(grid.runs(), shard)
        check_runs(specs)
        print_runs(grid.name, specs, rate=args.rate)
        return 0
    stop_on_sigterm()  # the current run is given back and resumes next time
    # started by torchrun, each process is a worker of its own (on GPU LOCAL_RANK): the runs it trains are not the
    # other processes' runs, so they must not join one data-parallel group, as `ssmem train` under torchrun does
    for name in ("WORLD_SIZE", "RANK"):
        os.environ.pop(name, None)
    # run_sweep opens the store once the grid's runs are checked; one let onto a network file system is opened here
    store = Store(args.store, allow_network_fs=True) if args.allow_network_fs else args.store
    try:
        summary = run_sweep(grid, store=store, runs_dir=args.runs_dir, shard=shard, retry_failed=args.retry_failed,
                            progress=not args.no_progress, max_runs=args.max_runs,
                            memory_check=not args.ignore_memory_check)
    finally:
        if isinstance(store, Store):
            store.close()
    counts = ", ".join(f"{k} {v}" for k, v in summary.counts.items())
    print(f"sweep {grid.name} shard {shard[0]}/{shard[1]}: {summary.total} runs ({counts}); this call finished "
          f"{len(summary.ran)}, failed {len(summary.failed)} in {summary.wall_time_s:.0f} s")
    if summary.failed or summary.counts.get("failed"):
        print(f"failed runs: ssmem runs --store {display_url(args.store)} --status failed  (retry: --retry-failed)",
              file=sys.stderr)
        return 1
    return 0


def print_runs(name: str, specs: list, *, rate: float | None) -> None:
    """One line per run (id, recipe, overrides, estimated GPU-hours where the cost model knows the task), then the
    hours by recipe and in all."""
    from ..sweep.cost import ASSUMED_H100_RATE, run_cost

    by_recipe: dict[str, list[float]] = {}
    unknown = 0
    for spec in specs:
        cost = run_cost(spec.recipe, list(spec.overrides), rate=rate or ASSUMED_H100_RATE)
        hours = f"{cost.hours:.2f} h" if cost is not None else "?"
        print(f"{spec.run_id}  {spec.recipe}  {' '.join(spec.overrides)}  {hours}")
        if cost is None:
            unknown += 1
        else:
            by_recipe.setdefault(spec.recipe, []).append(cost.hours)
    if not by_recipe:
        return
    gpu = "GPU" if rate else "H100 (assumed rate)"
    print(f"\nestimated {gpu} hours of {name}:")
    for recipe, hours in by_recipe.items():
        print(f"  {recipe:<22} {len(hours):>4} runs  {sum(hours):8.1f} h")
    total = sum(sum(h) for h in by_recipe.values())
    print(f"  {'all':<22} {sum(map(len, by_recipe.values())):>4} runs  {total:8.1f} h"
          + (f" (and {unknown} runs the cost model cannot size)" if unknown else ""))
