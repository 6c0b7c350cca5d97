"""``ssmem export RUN_DIR --format safetensors [--checkpoint best|last] [--out FILE]``: a run's model as one file."""

from __future__ import annotations

import argparse

HELP = "write a trained run's model weights with its config to one file (safetensors), loadable without the run"

FORMATS = ("safetensors",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `ssmem train`")
    parser.add_argument("--format", choices=FORMATS, required=True, help="the file format (safetensors)")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best",
                        help="best = best validation weights (default), last = newest step checkpoint")
    parser.add_argument("--out", metavar="FILE", default=None,
                        help="the file to write (default: RUN_DIR/model-CHECKPOINT.safetensors); not a symbolic link")


def run(args: argparse.Namespace) -> int:
    from . import CLIError
    from ..train.trained import export_safetensors

    try:
        import safetensors  # noqa: F401
    except ImportError:
        raise CLIError("--format safetensors needs the safetensors package: pip install 'ssmem[safetensors]'") from None
    path = export_safetensors(args.run_dir, args.out, checkpoint=args.checkpoint)
    print(path)
    return 0
