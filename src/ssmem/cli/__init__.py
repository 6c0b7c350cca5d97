"""The ``ssmem`` command line: a thin shell over the library.

Each verb lives in its own module under :mod:`ssmem.cli` with three names: ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Verb modules import heavy dependencies inside ``run`` so
that ``ssmem --help`` stays fast. To add a verb, write its module and list it in ``VERBS``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sqlite3
import sys
from collections.abc import Sequence

from .. import __version__
from .._signals import stop_on_sigterm  # noqa: F401  (the verbs' SIGTERM set-up)

# verb name → module under ssmem.cli (order = order in --help)
VERBS: dict[str, str] = {
    "eigs": "eigs",
    "memory": "memory",
    "recipes": "recipes",
    "validate": "validate",
    "train": "train",
    "sample": "sample",
    "export": "export",
    "data": "data",
    "experiment": "experiment",
    "sweep": "sweep",
    "runs": "runs",
    "report": "report",
    "paper": "paper",
}


class CLIError(Exception):
    """A user error on the command line: printed as ``ssmem: error: ...`` with exit status 2."""


# ------------------------------------------------------------------ argparse value types (named in the errors)


def _number(kind: type, text: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None


def nonnegative_int(text: str) -> int:
    """An integer >= 0."""
    value = _number(int, text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def seed_int(text: str) -> int:
    """A seed: an integer in 0..2⁶³ - 1 (what NumPy's and torch's generators take)."""
    from .._values import MAX_SEED

    return _bounded_seed(text, MAX_SEED)


def run_seed_int(text: str) -> int:
    """A run's or experiment's seed, from which others are derived: an integer in 0..(2⁶³ - 1) // 1000 - 1."""
    from .._values import MAX_RUN_SEED

    return _bounded_seed(text, MAX_RUN_SEED)


def _bounded_seed(text: str, top: int) -> int:
    value = _number(int, text)
    if not 0 <= value <= top:
        raise argparse.ArgumentTypeError(f"must be an integer in 0..{top}, got {text}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (sizes, counts)."""
    value = _number(int, text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (steps)."""
    value = _number(float, text)
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def mf_threshold(text: str) -> float:
    """A memory-function threshold in [0, 1)."""
    value = _number(float, text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1) (MF lies in [0, 1]), got {text}")
    return value


def _wrong_kind(err: OSError) -> str:
    """A file where a folder was needed, or the reverse, said in words with the path."""
    path = err.filename
    if isinstance(err, IsADirectoryError):
        return f"{path} is a folder; name a file there"
    if path is not None and os.path.islink(path) and not os.path.exists(path):
        return f"{path} is a symbolic link to {os.readlink(path)}, which does not exist"
    if isinstance(err, FileExistsError) and path is not None and os.path.isfile(path):
        return f"{path} is a file; name a folder (it is created when missing)"
    if isinstance(err, NotADirectoryError):
        return f"{path}: a part of this path is a file, not a folder"
    return f"{path}: {err.strerror}"


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
        sub.set_defaults(_run=module.run, _parser=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help(sys.stderr)
        return 2
    if unknown:  # reported with the verb's own usage, not the top-level one
        args._parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    from .. import _allocator

    _allocator.request_for_cpu_work()  # CPU training reuses its large blocks (SSMEM_MALLOC_TUNING=0: off)
    try:
        return int(args._run(args) or 0)
    except BrokenPipeError:
        # the reader went away (`ssmem runs | head`): stop quietly; stdout is pointed at /dev/null so that the
        # interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CLIError as err:
        print(f"ssmem {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except (NotADirectoryError, FileExistsError, IsADirectoryError) as err:  # a path of the wrong kind: the user's
        print(f"ssmem {args.verb}: error: {_wrong_kind(err)}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as err:
        # library errors carry a message written for the user (bad names, bad files, bad values)
        print(f"ssmem {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as err:  # the machine said no: a read-only folder, a full disk, a locked store
        print(f"ssmem {args.verb}: error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
