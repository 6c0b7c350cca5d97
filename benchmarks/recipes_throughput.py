"""Goal 6: training throughput of every CPU recipe (steps/s, samples/s) and the top costs of a step.

Each recipe's model and optimizer on a fixed synthetic batch of the task's shapes (forward, backward, optimizer
step; data loading excluded). The "reference conv" column reruns the step with the layers' FFT convolution
swapped for the plain-autograd twin (``ssm_convolution_reference``), to show what the fused path buys; the
profile table lists the top operators (torch.profiler, self CPU time) of one train = all step of Pathfinder-CPU
(L = 1024, the largest CPU step that profiles in seconds; Path-X-CPU's costs are the same operators at L = 16384).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from _common import best_time, device, script_main, table
from _steps import CPU_RECIPES, recipe_step
from ssmem.ssm import kernels, s4, s4d


@contextmanager
def reference_convolution():
    """Route the S4D and S4 layers through the plain-autograd convolution (benchmark only)."""
    layers = (s4d, s4)  # each layer's forward calls the convolution through its own module
    saved = [module.ssm_convolution for module in layers]
    for module in layers:
        module.ssm_convolution = kernels.ssm_convolution_reference
    try:
        yield
    finally:
        for module, original in zip(layers, saved):
            module.ssm_convolution = original


def profile_table(recipe: str, dev: torch.device, rows: int = 8) -> str:
    from torch.profiler import ProfilerActivity, profile

    step, _, _ = recipe_step(recipe, [], dev)
    step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=activities) as prof:
        step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    body = [[e.key, e.count, e.self_cpu_time_total / 1e3, 100 * e.self_cpu_time_total / total] for e in events[:rows]]
    return table(f"Top costs of one training step of {recipe} (torch.profiler, self CPU time)", ["op", "calls", "ms", "%"], body)


def run(quick: bool) -> str:
    dev = device()
    rows = []
    for recipe in CPU_RECIPES:
        step, batch, info = recipe_step(recipe, [], dev)
        repeats = 2 if quick else 5
        seconds = best_time(step, repeats=repeats, warmup=1, dev=dev)
        with reference_convolution():
            ref_step, _, _ = recipe_step(recipe, [], dev)
            ref_seconds = best_time(ref_step, repeats=repeats, warmup=1, dev=dev)
        rows.append([recipe, info.seq_len, batch, 1 / seconds, batch / seconds, seconds * 1e3, ref_seconds * 1e3, ref_seconds / seconds])
    headers = ["recipe", "L", "batch", "steps/s", "samples/s", "ms/step", "ms/step reference conv", "speed-up"]
    out = table(f"Training throughput of the CPU recipes ({dev.type}, synthetic batches)", headers, rows)
    out += "\n" + profile_table("lra/pathfinder-cpu", dev)
    return out


def main() -> None:
    script_main(__doc__, run)


if __name__ == "__main__":
    main()
