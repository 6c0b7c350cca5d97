"""``ssmem experiment``: run one theory experiment into a folder, or list them."""

from __future__ import annotations

import argparse

from . import run_seed_int

HELP = "run a theory experiment (figures + results.json), or list them with 'ls'"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="an experiment name, or 'ls' to list the experiments")
    parser.add_argument("--quick", action="store_true", help="CPU-minutes size (default: full size)")
    parser.add_argument("--out", help="output folder (figures and results.json); required to run")
    parser.add_argument("--seed", type=run_seed_int, default=0, help="seed of every random draw; default 0")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..experiments import EXPERIMENTS, run_experiment
    from . import CLIError

    if args.name == "ls":
        width = max(len(name) for name in EXPERIMENTS)
        for name, experiment in EXPERIMENTS.items():
            print(f"{name:<{width}}  {experiment.description}")
        return 0
    EXPERIMENTS.get(args.name)  # unknown names fail before any work, listing the valid ones
    if args.out is None:
        raise CLIError(f"--out DIR is required to run experiment {args.name!r}")
    result = run_experiment(args.name, args.out, quick=args.quick, seed=args.seed, progress=not args.no_progress)
    print(f"{result.name}: {result.wall_time_s:.1f} s, {len(result.figures)} figures in {args.out}")
    for finding in result.findings:
        print(f"  [{finding.status}] {finding.claim}\n      {finding.evidence}")
    return 0
