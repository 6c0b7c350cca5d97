"""The ``ssmem`` command line: a thin shell over the library.

Each verb lives in its own module under :mod:`ssmem.cli` with three names: ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Verb modules import heavy dependencies inside ``run`` so
that ``ssmem --help`` stays fast. To add a verb, write its module and list it in ``VERBS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__

# verb name → module under ssmem.cli (order = order in --help)
VERBS: dict[str, str] = {
    "eigs": "eigs",
    "memory": "memory",
    "recipes": "recipes",
    "validate": "validate",
    "train": "train",
    "sample": "sample",
    "data": "data",
    "experiment": "experiment",
    "sweep": "sweep",
    "runs": "runs",
    "report": "report",
    "paper": "paper",
}


class CLIError(Exception):
    """A user error on the command line: printed as ``ssmem: error: ...`` with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ssmem",
        description="ssmem: state space models that know what they remember.",
    )
    parser.add_argument("--version", action="version", version=f"ssmem {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for verb, module_name in VERBS.items():
        module = importlib.import_module(f"{__name__}.{module_name}")
        sub = verbs.add_parser(verb, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0
    from .. import _allocator

    _allocator.tune_allocator()  # training loops reuse their large CPU blocks (SSMEM_MALLOC_TUNING=0: off)
    try:
        return int(args._run(args) or 0)
    except CLIError as err:
        print(f"ssmem {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as err:
        # library errors carry a message written for the user (bad names, bad files, bad values)
        print(f"ssmem {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
