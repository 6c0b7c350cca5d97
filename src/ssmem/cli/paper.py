"""``ssmem paper``: the main job (theory experiments, the LRA grid, the report), resumable."""

from __future__ import annotations

import argparse

from . import run_seed_int, stop_on_sigterm

HELP = "run the main job: theory experiments, the LRA grid and the report, into one folder (resumable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="folder for everything (run it again to resume)")
    parser.add_argument("--quick", action="store_true", help="quick sizes and the quick grid (about 3 min on 2 idle cores, after set-up)")
    parser.add_argument("--scale", default=None, choices=("cpu", "paper"),
                        help="LRA grid scale without --quick: cpu (hours on a CPU; the default) or paper (GPU, 6 "
                             "seeds)")
    parser.add_argument("--grid", default=None, help="run this grid (file or shipped name) instead")
    parser.add_argument("--seed", type=run_seed_int, default=0, help="seed of the theory experiments; default 0")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..paper import run_paper
    from . import CLIError

    if args.scale is not None and (args.quick or args.grid):
        raise CLIError(f"--scale {args.scale} picks the LRA grid without --quick and --grid; give one of the three")
    stop_on_sigterm()
    result = run_paper(args.out, quick=args.quick, scale=args.scale or "cpu", seed=args.seed, grid=args.grid,
                       progress=not args.no_progress)
    print("\nfindings:")
    for f in result.findings:
        print(f"  [{f.status}] {f.claim} ({f.source})")
    counts = ", ".join(f"{k} {v}" for k, v in result.sweep_counts.items() if v)
    print(f"\nexperiments: {len(result.experiments_run)} run, {len(result.experiments_kept)} kept, "
          f"{len(result.experiments_failed)} failed; LRA runs: {counts} ({result.runs_trained} trained now); "
          f"{result.wall_time_s:.0f} s")
    print(f"report: {result.report_html}")
    return 1 if result.experiments_failed or result.sweep_counts.get("failed") else 0
