"""Shared helpers of the benchmark scripts: the machine line, a timer and a plain-text table."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence

import torch

from ssmem.cli import positive_int


def add_common_arguments(parser) -> None:
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    parser.add_argument(
        "--threads", type=positive_int, default=1,
        help="torch CPU threads (default 1: on a shared machine extra threads mostly wait for each other)",
    )


ALLOCATOR = "default"  # "tuned" once setup() has applied the allocator tuning; named in the machine line


def setup(threads: int) -> None:
    """Torch's CPU threads, and the allocator tuning the ``ssmem`` command applies (``SSMEM_MALLOC_TUNING=0``: off)."""
    from ssmem._allocator import tune_allocator

    global ALLOCATOR
    torch.set_num_threads(threads)
    ALLOCATOR = "tuned" if tune_allocator() else "default"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """One line naming the machine the figures come from."""
    line = (
        f"machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, python {platform.python_version()}, {ALLOCATOR} allocator"
    )
    if torch.cuda.is_available():
        line += f", CUDA device {torch.cuda.get_device_name()}"
    return line


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def best_time(fn: Callable[[], object], *, repeats: int = 3, warmup: int = 1, dev: torch.device | None = None) -> float:
    """The best wall time (s) of ``repeats`` calls after ``warmup`` untimed ones (the best is the least disturbed
    by other processes on a shared machine)."""
    return best_times({"": fn}, repeats=repeats, warmup=warmup, dev=dev)[""]


def best_times(
    fns: Mapping[str, Callable[[], object]], *, repeats: int = 3, warmup: int = 1, dev: torch.device | None = None
) -> dict[str, float]:
    """:func:`best_time` of several functions whose times are compared, interleaved: each round calls every
    function once, so a burst of load from other processes slows all of them instead of skewing their ratio."""
    dev = dev or torch.device("cpu")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync(dev)
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync(dev)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable as plain text) with a title line."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [f"### {title}", ""]
    for k, row in enumerate(cells):
        lines.append("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |")
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines) + "\n"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if value == 0:
            return "0"
        if abs(value) >= 1000 or abs(value) < 1e-3:
            return f"{value:.2e}"
        return f"{value:.3g}"
    return str(value)


def script_main(doc: str | None, run: Callable[[bool], str]) -> None:
    """The command line of one benchmark script: ``--quick``, ``--threads``; prints the machine and its tables."""
    import argparse

    parser = argparse.ArgumentParser(description=doc)
    add_common_arguments(parser)
    args = parser.parse_args()
    setup(args.threads)
    print(machine())
    print(run(args.quick))
