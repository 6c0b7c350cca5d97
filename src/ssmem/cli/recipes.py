"""``ssmem recipes``: list the shipped recipes, one line each."""

from __future__ import annotations

import argparse
import json

HELP = "list the shipped training recipes (name and one-line description)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("group", nargs="?", help="only recipes of this group (e.g. memory, lra)")
    parser.add_argument("--json", action="store_true", help="print JSON (name → description)")


def run(args: argparse.Namespace) -> int:
    from ..train import list_recipes

    recipes = [r for r in list_recipes() if args.group is None or r.name.split("/")[0] == args.group]
    if not recipes:
        from . import CLIError

        groups = sorted({r.name.split("/")[0] for r in list_recipes()})
        raise CLIError(f"no recipe group {args.group!r}; groups: {', '.join(groups)}")
    if args.json:
        print(json.dumps({r.name: r.description for r in recipes}, indent=2))
        return 0
    width = max(len(r.name) for r in recipes)
    for r in recipes:
        print(f"{r.name:<{width}}  {r.description}")
    return 0
