"""``ssmem data``: list the tasks and the state of their data, or describe / prepare one task's data."""

from __future__ import annotations

import argparse
import dataclasses
import json

from . import run_seed_int

HELP = "list tasks and whether their data are here (ls), or describe / --prepare one task's data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", default="ls", help="'ls' (default) or a task name; the part after '/' is enough when unique (listops)")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="set a task parameter (repeatable), e.g. -p seq_len=512")
    parser.add_argument("--prepare", action="store_true", help="build the task now (generate / read, preprocess, fill the cache)")
    parser.add_argument("--seed", type=run_seed_int, default=0, help="run seed (used for the data only when data_seed is null); default 0")
    parser.add_argument("--data-dir", default=None, help="where releases live (subdirectories per data set); default $SSMEM_DATA")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress report while --prepare builds")


def resolve_name(name: str) -> str:
    """A registered task name from ``name`` or from its unique last component (``listops`` → ``lra/listops``)."""
    from ..data import TASKS

    if name in TASKS:
        return name
    matches = [n for n in TASKS.names() if n.split("/")[-1] == name]
    if len(matches) == 1:
        return matches[0]
    return TASKS.get(name).name  # raises, listing the valid names


def _params(name: str, overrides: list[str]):
    from ..data import TASKS
    from ..train.config import dataclass_from_dict, parse_override
    from ._overrides import check_key_value

    values = {}
    for text in overrides:
        check_key_value(text, "-p", "seq_len=512")
        key, value = parse_override(text)
        path = key.split(".")
        values[".".join(path)] = value
    return dataclass_from_dict(TASKS.get(name).params_cls, values, "params")


def _size(n_bytes: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n_bytes < 1024 or unit == "GiB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return ""


def _cache_dir(params) -> str | None:
    return getattr(params, "cache_dir", None)


def _list(args: argparse.Namespace) -> int:
    from ..data import TASKS
    from ..data._cache import cache_entries
    from ..data._sources import availability
    from . import CLIError

    if args.param or args.prepare:
        raise CLIError("-p and --prepare apply to one task: ssmem data NAME -p KEY=VALUE [--prepare]")
    rows = []
    for name, spec in TASKS.items():
        params = spec.params_cls()
        state = availability(name, params, args.data_dir)
        entries = cache_entries(name, _cache_dir(params))
        rows.append({
            "task": name, "ready": state.ready, "data": state.detail, "description": spec.description,
            "cache_entries": len(entries), "cache_bytes": sum(e.n_bytes for e in entries),
        })  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["task"]) for r in rows)
    for r in rows:
        cache = f"{r['cache_entries']} cached ({_size(r['cache_bytes'])})" if r["cache_entries"] else "not cached"
        print(f"{r['task']:<{width}}  {'ready' if r['ready'] else 'MISSING':<7}  {cache:<22}  {r['data']}")
    print("\n`ssmem data NAME` describes a task; `ssmem data NAME --prepare` builds and caches it.")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.name == "ls":
        return _list(args)
    from ..data import TASKS, build_task
    from ..data._cache import cache_entries, task_cache_dir
    from ..data._progress import data_progress
    from ..data._sources import availability
    from ..train.config import to_plain

    name = resolve_name(args.name)
    spec = TASKS.get(name)
    params = _params(name, args.param)
    state = availability(name, params, args.data_dir)
    out: dict = {"task": name, "description": spec.description, "params": to_plain(params), "ready": state.ready, "data": state.detail}
    if hasattr(params, "cache_dir"):
        out["cache_dir"] = str(task_cache_dir(name, params.cache_dir))
        out["cache_entries"] = len(cache_entries(name, params.cache_dir))
    if args.prepare:
        with data_progress(not (args.json or args.no_progress)):
            data = build_task(name, params, seed=args.seed, data_dir=args.data_dir)
        out["info"] = to_plain(dataclasses.asdict(data.info))
        out["sizes"] = {s: len(getattr(data, s)) for s in ("train", "val", "test")}
        if hasattr(params, "cache_dir"):
            out["cache_entries"] = len(cache_entries(name, params.cache_dir))
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    print(f"{name}: {spec.description}")
    print(f"data: {'ready' if state.ready else 'MISSING'} - {state.detail}")
    print("params:")
    for key, value in out["params"].items():
        print(f"  {key}: {value}")
    if "cache_dir" in out:
        print(f"cache: {out['cache_dir']} ({out['cache_entries']} entries)")
    if args.prepare:
        info = out["info"]
        shown = {k: v for k, v in info.items() if k != "extra"}
        print("info: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
        extra = {k: v for k, v in info["extra"].items() if not isinstance(v, (list, dict)) or len(str(v)) < 120}
        if extra:
            print("extra: " + ", ".join(f"{k}={v}" for k, v in extra.items()))
        print("sizes: " + ", ".join(f"{k}={v}" for k, v in out["sizes"].items()))
    elif not state.ready:
        print(f"\nthe data are missing: `ssmem data {name} --prepare` (with the same -p options) prints the expected layout")
    return 0
