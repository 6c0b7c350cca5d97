"""``ssmem runs``: list and filter the runs of a results store."""

from __future__ import annotations

import argparse
import json

HELP = "list and filter the runs of a sweep results store"

COLUMNS = ("run_id", "status", "recipe", "eigs", "train_mode", "seed", "steps", "val", "test", "time")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default="runs.db",
                        help="the results store (an SQLite file or a postgresql:// URL); default runs.db")
    parser.add_argument("--status", default=None, choices=("pending", "running", "done", "failed"),
                        help="only runs in this status")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="only runs whose field, override or result KEY equals VALUE (repeatable), e.g. "
                             "eigs=s4d-inv, model.train=reservoir, study=main")
    parser.add_argument("--json", action="store_true", help="print the full rows as JSON")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..sweep import Store, parse_override
    from ..sweep.store import is_database_url
    from . import CLIError
    from ._overrides import check_key_value

    if not is_database_url(args.store) and not Path(args.store).is_file():
        raise CLIError(f"no results store at {args.store}")
    for text in args.filter:
        check_key_value(text, "--filter", "eigs=s4d-inv")
    filters = [parse_override(text) for text in args.filter]
    with Store(args.store, create=False) as store:
        records = store.runs()
    for key, wanted in filters:  # checked against every run: --status may leave none with the value
        _check_filter(records, key, wanted)
    records = [r for r in records if (args.status is None or r.status == args.status)
               and all(_matches(_value(r, k), v) for k, v in filters)]
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2))
        return 0
    rows = [_row(r) for r in records]
    widths = [max([len(c)] + [len(row[i]) for row in rows]) for i, c in enumerate(COLUMNS)]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)))
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    print(f"\n{len(records)} runs" + (": " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) if counts else ""))
    return 0


def _check_filter(records: list, key: str, wanted: object) -> None:
    """A filter names a key some run has, and a value some run has for it (else the valid ones are listed)."""
    from . import CLIError

    if not records:
        return
    keys = set(records[0].__dataclass_fields__)
    for r in records:
        keys |= set(r.params) | set(r.result)
    if key not in keys and key.removeprefix("result.") not in keys:
        raise CLIError(f"--filter: no run has a key {key!r}; keys: {', '.join(sorted(keys))}")
    values = sorted({str(v) for r in records for v in _as_tuple(_value(r, key)) if v is not None})
    if not any(_matches(_value(r, key), wanted) for r in records) and len(values) <= 50:
        raise CLIError(f"--filter: no run has {key} = {wanted!r}; values in the store: {', '.join(values)}")


def _value(record, key: str) -> object:
    """What ``--filter KEY=...`` compares: every study that lists the run for ``study``, else ``record.get``."""
    return record.studies if key == "study" else record.get(key)


def _as_tuple(value: object) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _matches(value: object, wanted: object) -> bool:
    if isinstance(value, tuple):
        return any(_matches(v, wanted) for v in value)
    if value == wanted:
        return True
    return value is not None and str(value) == str(wanted)


def _row(r) -> list[str]:
    res = r.result
    return [
        r.run_id, r.status, r.recipe, r.eigs or "-", r.train_mode or "-", str(r.seed),
        _fmt(res.get("steps")), _fmt(res.get("best_val_metric", res.get("final_val_metric"))),
        _fmt(res.get("test_metric")), _fmt(res.get("wall_time_s", res.get("wall_time")), "{:.0f}s"),
    ]


def _fmt(value: object, spec: str = "{:.4g}") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return spec.format(value)
    return str(value)
