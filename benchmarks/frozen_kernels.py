"""Goal 3: cost of a training step with frozen kernels (train = readout, reservoir) relative to train = all, for
the LRA CPU recipes (synthetic batches of each task's shapes; forward + backward + optimizer step)."""

from __future__ import annotations


import torch

from _common import best_time, device, script_main, table
from _steps import LRA_CPU_RECIPES, recipe_step
from ssmem.ssm import S4D


def run(quick: bool) -> str:
    dev = device()
    rows = []
    for recipe in LRA_CPU_RECIPES:
        times = {}
        for mode in ("all", "reservoir", "readout"):
            step, batch, info = recipe_step(recipe, [f"model.train={mode}"], dev)
            times[mode] = best_time(step, repeats=2 if quick else 5, warmup=1, dev=dev)
        rows.append([
            recipe, info.seq_len, batch, times["all"] * 1e3, times["reservoir"] * 1e3, times["readout"] * 1e3,
            times["reservoir"] / times["all"], times["readout"] / times["all"],
        ])
    layer_rows = []
    for length, batch in ((1024, 16), (4096, 4 if quick else 16)):
        times = {}
        for mode in ("all", "reservoir", "readout"):
            layer = S4D(256, 64, bidirectional=True, train=mode, seed=0, device=dev)
            x = torch.randn(batch, length, 256, device=dev, requires_grad=True)
            times[mode] = best_time(lambda: layer(x).square().mean().backward(), repeats=2 if quick else 3, warmup=1, dev=dev)
        layer_rows.append([length, batch, times["all"] * 1e3, times["reservoir"] * 1e3, times["readout"] * 1e3,
                           times["reservoir"] / times["all"], times["readout"] / times["all"]])
    headers = ["recipe", "L", "batch", "all ms/step", "reservoir ms/step", "readout ms/step", "reservoir / all", "readout / all"]
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
