"""Goal 3: cost of a training step with frozen kernels (train = readout, reservoir) relative to train = all, for
the LRA CPU recipes (synthetic batches of each task's shapes; forward + backward + optimizer step).

A readout step skips exactly the kernel side (the kernel, its FFT, backward and gradient product: frozen once);
the rest of the step is the same work in every mode. The last columns split the step that way: kernel share =
(all - readout) / all, and the cut of the readout step's own work that readout / all = 0.6 would need with the
kernel side unchanged (r / (r + k) = 0.6 needs r = 1.5 k)."""

from __future__ import annotations

from functools import partial

import torch

from _common import best_times, device, script_main, table
from _steps import LRA_CPU_RECIPES, recipe_step
from ssmem.ssm import S4D

MODES = ("all", "reservoir", "readout")  # timed in turns (best_times): load bursts do not skew their ratios
READOUT_TARGET = 0.6  # the goal: readout / all at most this


def kernel_side_split(all_time: float, readout_time: float, *, target: float) -> tuple[float, float]:
    """``(kernel share, cut)``: the kernel side's share of a train = all step, k = all - readout, over all; and the
    share of the readout step's own work r that would have to go for r / (r + k) = target with k unchanged (0 when
    the target is already met)."""
    kernel_side = max(all_time - readout_time, 0.0)
    needed = kernel_side * target / (1 - target)
    return kernel_side / all_time, max(0.0, 1 - needed / readout_time)


def forward_backward(layer: S4D, x: torch.Tensor) -> None:
    layer(x).square().mean().backward()


def run(quick: bool) -> str:
    dev = device()
    rows = []
    for recipe in LRA_CPU_RECIPES:
        steps = {}
        for mode in MODES:
            steps[mode], batch, info = recipe_step(recipe, [f"model.train={mode}"], dev)
        times = best_times(steps, repeats=2 if quick else 7, warmup=1, dev=dev)
        rows.append([
            recipe, info.seq_len, batch, times["all"] * 1e3, times["reservoir"] * 1e3, times["readout"] * 1e3,
            times["reservoir"] / times["all"], times["readout"] / times["all"],
            *kernel_side_split(times["all"], times["readout"], target=READOUT_TARGET),
        ])
    layer_rows = []
    for length, batch in ((1024, 16), (4096, 4 if quick else 16)):
        x = torch.randn(batch, length, 256, device=dev, requires_grad=True)
        layers = {mode: S4D(256, 64, bidirectional=True, train=mode, seed=0, device=dev) for mode in MODES}
        layers["readout"].freeze_kernel(length)
        times = best_times(
            {mode: partial(forward_backward, layer, x) for mode, layer in layers.items()},
            repeats=2 if quick else 5, warmup=1, dev=dev,
        )
        layer_rows.append([length, batch, times["all"] * 1e3, times["reservoir"] * 1e3, times["readout"] * 1e3,
                           times["reservoir"] / times["all"], times["readout"] / times["all"]])
    headers = ["recipe", "L", "batch", "all ms/step", "reservoir ms/step", "readout ms/step", "reservoir / all",
               "readout / all", "kernel share of all", f"readout cut for {READOUT_TARGET}"]
    note = " (quick: 2 repeats, B = 4 at L = 4096 below; judge the goal on the full run)" if quick else ""
    out = table(f"Training step with frozen kernels vs train = all ({dev.type}){note}", headers, rows)
    out += "\n" + table(
        "One bidirectional S4D layer (H = 256, N = 64) forward+backward, frozen kernels vs train = all",
        ["L", "B", "all ms", "reservoir ms", "readout ms", "reservoir / all", "readout / all"], layer_rows,
    )
    return out


def main() -> None:
    script_main(__doc__, run)


if __name__ == "__main__":
    main()
