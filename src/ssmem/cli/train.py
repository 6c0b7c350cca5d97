"""``ssmem train RECIPE [key=value ...] --run-dir DIR [--resume | --overwrite]``: train one model (also under
torchrun)."""

from __future__ import annotations

import argparse
import json
import os

HELP = "train a model from a recipe (key=value overrides), writing metrics and checkpoints to --run-dir"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="a recipe name (see `ssmem recipes`) or a path to a YAML file")
    parser.add_argument(
        "overrides", nargs=argparse.REMAINDER, metavar="key=value", help="e.g. model.init=s4d-lin train.max_steps=200"
    )
    parser.add_argument("--run-dir", help="directory for config.yaml, metrics.jsonl, checkpoints (required)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --run-dir (same "
                        "recipe and overrides; only device, description and train.num_workers may change)")
    parser.add_argument("--overwrite", action="store_true", help="start afresh in a --run-dir that holds an earlier "
                        "run (its files are replaced) or files ssmem did not write (they are left in place)")
    parser.add_argument("--ignore-memory-check", action="store_true",
                        help="train even when the estimated peak memory exceeds what the machine has available")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..resources import check_training_memory
    from ..train import load_recipe, train
    from . import CLIError, stop_on_sigterm
    from ._overrides import split_overrides

    split_overrides(args, {"--run-dir": "value", "--resume": "flag", "--overwrite": "flag",
                           "--ignore-memory-check": "flag", "--no-progress": "flag"})
    if not args.run_dir:
        raise CLIError("--run-dir DIR is required")
    if args.resume and args.overwrite:
        raise CLIError("--resume continues the run in --run-dir and --overwrite replaces it: give one")
    cfg = load_recipe(args.recipe, args.overrides)
    if not args.ignore_memory_check:
        check_training_memory(cfg)  # before the data set or the model is allocated
    stop_on_sigterm()  # a half-written checkpoint is removed; --resume continues from the last whole one
    result = train(cfg, args.run_dir, resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        summary = {
            "status": result.status,
            "steps": result.steps,
            "metric": result.metric,
            "best_val": result.best_val_metric,
            "test": result.test_metric,
            **({"baselines": result.baselines} if result.baselines else {}),
            "wall_time_s": round(result.wall_time_s, 2),
            "run_dir": result.run_dir,
        }
        print(json.dumps(summary))
        if result.message:
            print(result.message)
    return 0 if result.status == "completed" else 1
