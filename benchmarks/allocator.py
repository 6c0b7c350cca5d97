"""Allocator tuning: a training step of the CPU recipes with glibc's default allocator vs the tuned one that the
``ssmem`` command sets (``ssmem._allocator``: large blocks reused from the heap instead of mapped and unmapped
every step).

The setting is process-wide, so each side runs in a child process of its own (``SSMEM_MALLOC_TUNING=0`` or 1);
the table gives the median step time over the timed steps and the minor page faults per step of each child.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from _common import device, script_main, setup, table
from _steps import CPU_RECIPES, recipe_step
from ssmem._allocator import GLIBC_VARIABLES

QUICK_RECIPES = ("lra/image-cpu", "lra/listops-cpu", "lra/text-cpu", "lm/shakespeare-cpu")


def child(recipe: str, steps: int) -> None:
    """Time ``steps`` training steps of ``recipe`` in this process and print one JSON line."""
    setup(int(os.environ.get("SSMEM_BENCH_THREADS", "1")))  # applies the tuning unless SSMEM_MALLOC_TUNING=0
    dev = device()
    step, batch, info = recipe_step(recipe, [], dev)
    for _ in range(3):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(json.dumps({"L": info.seq_len, "batch": batch, "median_s": statistics.median(times), "faults": faults / steps}))


def measure(recipe: str, tuned: bool, steps: int) -> dict:
    env = dict(os.environ, SSMEM_MALLOC_TUNING="1" if tuned else "0", SSMEM_BENCH_THREADS=str(torch.get_num_threads()))
    for name in GLIBC_VARIABLES:
        env.pop(name, None)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", recipe, str(steps)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(quick: bool) -> str:
    steps = 6 if quick else 12
    rows = []
    for recipe in QUICK_RECIPES if quick else CPU_RECIPES:
        if recipe == "lra/pathx-cpu" and quick:
            continue
        plain, tuned = measure(recipe, False, steps), measure(recipe, True, steps)
        rows.append([
            recipe, plain["L"], plain["batch"], plain["median_s"] * 1e3, tuned["median_s"] * 1e3,
            plain["median_s"] / tuned["median_s"], plain["faults"], tuned["faults"],
        ])
    headers = ["recipe", "L", "batch", "glibc default ms/step", "tuned ms/step", "speed-up",
               "page faults/step default", "page faults/step tuned"]  # fmt: skip
    return table(f"Training step with glibc's default vs the tuned allocator ({device().type}, median of {steps} steps)", headers, rows)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        return
    script_main(__doc__, run)


if __name__ == "__main__":
    main()
