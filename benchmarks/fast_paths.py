"""Goal 7: the smaller accelerations the layers use, each against its plain twin measured in the same run.

* complex powers Ā^l: ``exp(l·Re) · (cos + i sin)`` from real tensors (:func:`ssmem.ssm.kernels.complex_powers`)
  vs torch's complex ``exp``;
* the kernel gradient's batch sum Σ_b a_b·b_b accumulated one row at a time vs the batch-sized product summed;
* step mode with the discretised tensors cached (generation, no autograd) vs recomputed at every step;
* batch norm over batch and time as BatchNorm1d on (B·L, H) rows vs on the (B, H, L) transpose (forward+backward).

Each row gives both times, the ratio and the largest difference of the results relative to the largest value.
"""

from __future__ import annotations

import torch
from torch import nn

from _common import best_time, device, script_main, table
from ssmem.ssm import S4D
from ssmem.ssm.kernels import _batch_sum_of_products, complex_powers


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def powers_row(H: int, n: int, length: int, dev: torch.device, repeats: int) -> list:
    gen = torch.Generator().manual_seed(0)
    log_base = torch.complex(-0.01 * torch.rand(H, n, generator=gen), torch.rand(H, n, generator=gen)).to(dev)
    steps = torch.arange(length, dtype=torch.float32, device=dev)
    fast = lambda: complex_powers(log_base, steps)  # noqa: E731
    plain = lambda: torch.exp(log_base[..., None] * steps)  # noqa: E731
    return [f"complex powers ({H}, {n}, {length})", best_time(plain, repeats=repeats, dev=dev) * 1e3,
            best_time(fast, repeats=repeats, dev=dev) * 1e3, rel_diff(fast(), plain())]


def batch_sum_row(B: int, H: int, length: int, dev: torch.device, repeats: int) -> list:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(B, H, length + 1, dtype=torch.complex64, generator=gen).to(dev)
    b = torch.randn(B, H, length + 1, dtype=torch.complex64, generator=gen).to(dev)
    fast = lambda: _batch_sum_of_products(a, b)  # noqa: E731
    plain = lambda: (a * b).sum(0)  # noqa: E731
    return [f"batch sum of products ({B}, {H}, {length + 1})", best_time(plain, repeats=repeats, dev=dev) * 1e3,
            best_time(fast, repeats=repeats, dev=dev) * 1e3, rel_diff(fast(), plain())]


def step_row(H: int, N: int, n_steps: int, dev: torch.device, repeats: int) -> list:
    layer = S4D(H, N, seed=0, device=dev)
    x = torch.randn(n_steps, 1, H, device=dev)

    def generate(cached: bool) -> torch.Tensor:
        with torch.set_grad_enabled(not cached):  # with autograd on, the step recomputes Ā, B̄ every time
            state, out = layer.initial_state(1), []
            for t in range(n_steps):
                y_t, state = layer.step(x[t], state)
                out.append(y_t.detach())
        return torch.stack(out)

    return [f"step mode, H = {H}, N = {N} (per token, µs)",
            best_time(lambda: generate(False), repeats=repeats, dev=dev) / n_steps * 1e6,
            best_time(lambda: generate(True), repeats=repeats, dev=dev) / n_steps * 1e6,
            rel_diff(generate(True), generate(False))]


def batch_norm_row(B: int, length: int, H: int, dev: torch.device, repeats: int) -> list:
    norm = nn.BatchNorm1d(H, device=dev)
    x = torch.randn(B, length, H, device=dev, requires_grad=True)

    def rows() -> torch.Tensor:
        return norm(x.reshape(-1, H)).reshape(x.shape)

    def transposed() -> torch.Tensor:
        return norm(x.transpose(1, 2)).transpose(1, 2)

    def forward_backward(fn) -> None:
        x.grad = None
        fn().square().mean().backward()

    return [f"batch norm (B = {B}, L = {length}, H = {H}), fwd+bwd",
            best_time(lambda: forward_backward(transposed), repeats=repeats, dev=dev) * 1e3,
            best_time(lambda: forward_backward(rows), repeats=repeats, dev=dev) * 1e3,
            rel_diff(rows().detach(), transposed().detach())]


def run(quick: bool) -> str:
    dev = device()
    repeats = 3 if quick else 7
    rows = [
        powers_row(64, 32, 1024, dev, repeats),
        powers_row(256, 32, 4096, dev, repeats),
        batch_sum_row(64, 64, 256, dev, repeats),
        batch_sum_row(16, 32, 4096 if quick else 16384, dev, repeats),
        step_row(256, 64, 100 if quick else 400, dev, 2 if quick else 3),
        batch_norm_row(32, 1024, 128, dev, repeats),
    ]
    out_rows = [[name, plain, fast, plain / fast, diff] for name, plain, fast, diff in rows]
    return table(f"Smaller fast paths vs their plain twins ({dev.type}; ms unless stated)",
                 ["path", "plain", "fast", "speed-up", "max rel diff"], out_rows)


def main() -> None:
    script_main(__doc__, run)


if __name__ == "__main__":
    main()
