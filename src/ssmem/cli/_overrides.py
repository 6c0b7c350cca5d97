"""Shared by the verbs that take ``key=value`` arguments: the form check (:func:`check_key_value`), and for
``RECIPE [key=value ...]`` overrides that may come before or after the options (:func:`split_overrides`).

argparse cannot mix a variable-length positional with options (``RECIPE --run-dir DIR a=b`` would leave
``a=b`` unparsed), so those verbs collect everything after the recipe and sort it here.
"""

from __future__ import annotations

import argparse

from . import CLIError


def check_key_value(text: str, option: str, example: str) -> None:
    """``text`` (given to ``option``) has the form ``KEY=VALUE`` with a key (CLIError naming ``example``)."""
    if "=" not in text or not text.partition("=")[0].strip():
        raise CLIError(f"{option} {text!r} is not of the form KEY=VALUE (e.g. {option} {example})")


def split_overrides(args: argparse.Namespace, flags: dict[str, str]) -> None:
    """Move options found among ``args.overrides`` to ``args`` (``flags``: option → "value" | "flag").

    ``-h``/``--help`` among them print the verb's help and exit, as they would before the recipe."""
    items = args.overrides or []
    if "-h" in items or "--help" in items:
        args._parser.print_help()
        raise SystemExit(0)
    late = argparse.ArgumentParser(prog=args._parser.prog, add_help=False, exit_on_error=False)
    for option, kind in flags.items():
        if kind == "flag":
            late.add_argument(option, action="store_true")
        else:
            late.add_argument(option)
    try:
        found, rest = late.parse_known_args(items)
    except argparse.ArgumentError as err:
        raise CLIError(str(err)) from None
    for option, kind in flags.items():
        dest = option.lstrip("-").replace("-", "_")
        value = getattr(found, dest)
        if kind == "flag":
            setattr(args, dest, bool(getattr(args, dest)) or value)
        elif value is not None:
            setattr(args, dest, value)
    unknown = [item for item in rest if item.startswith("-")]
    if unknown:
        raise CLIError(f"unknown option {unknown[0]!r}; options: {', '.join(flags)}")
    bad = [item for item in rest if "=" not in item]
    if bad:
        raise CLIError(f"{bad[0]!r} is not an override of the form key=value (e.g. model.init=s4d-lin)")
    args.overrides = rest
