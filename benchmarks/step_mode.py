"""Goal 4: recurrent (step-mode) generation vs recomputing the convolution for every new token.

One unidirectional S4D layer (H = 256, N = 64, batch 1). Step mode costs O(H·N) per token whatever the
position; recomputing the convolution over the prefix costs a full forward at length t for token t. Tokens/s of
generating L tokens by recomputation = L / Σ_t forward(t), with the sum integrated (trapezoid) from forward times
measured at a few prefix lengths. The second table shows the per-token step cost growing as H·N.
"""

from __future__ import annotations


import numpy as np
import torch

from _common import best_time, device, script_main, table
from ssmem.ssm import S4D


def step_time(layer: S4D, n_steps: int, dev: torch.device) -> float:
    """Seconds per token of step-mode generation (output fed back as the next input)."""
    x = torch.randn(1, layer.d_model, device=dev)

    @torch.no_grad()
    def generate() -> None:
        state = layer.initial_state(1)
        x_t = x
        for _ in range(n_steps):
            x_t, state = layer.step(x_t, state)

    return best_time(generate, repeats=2, warmup=1, dev=dev) / n_steps


def recompute_time(layer: S4D, length: int, dev: torch.device) -> float:
    """Seconds to generate ``length`` tokens by running the convolution over each prefix (integrated)."""
    points = np.unique(np.geomspace(1, length, 8).astype(int))
    times = []
    for t in points:
        x = torch.randn(1, int(t), layer.d_model, device=dev)
        with torch.no_grad():
            times.append(best_time(lambda: layer(x), repeats=2, warmup=1, dev=dev))
    grid = np.arange(1, length + 1)
    return float(np.interp(grid, points, times).sum())


def run(quick: bool) -> str:
    dev = device()
    H, N = 256, 64
    layer = S4D(H, N, seed=0, device=dev)
    n_steps = 200 if quick else 1000
    per_token = step_time(layer, n_steps, dev)
    rows = []
    for length in (1024, 16384):
        total = recompute_time(layer, length, dev)
        rows.append([length, 1 / per_token, length / total, (total / length) / per_token])
    out = table(
        f"Generation, one S4D layer H = {H}, N = {N}, batch 1 ({dev.type}); step mode timed over {n_steps} tokens "
        "(its cost does not depend on the position), recomputation from forward times at 8 prefix lengths",
        ["L", "step-mode tokens/s", "recompute-conv tokens/s (interpolated)", "speed-up"], rows,
    )
    scaling = []
    for h, n in ((64, 64), (256, 64), (1024, 64), (256, 256), (256, 1024)):
        t = step_time(S4D(h, n, seed=0, device=dev), n_steps // 2, dev)
        scaling.append([h, n, h * n, t * 1e6, t * 1e9 / (h * n)])
    out += "\n" + table("Step-mode cost per token vs H·N (O(H·N): ns per H·N flattens once the per-call overhead is amortised)",
                        ["H", "N", "H·N", "µs/token", "ns per H·N"], scaling)
    return out


def main() -> None:
    script_main(__doc__, run)


if __name__ == "__main__":
    main()
