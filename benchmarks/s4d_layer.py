"""Goals 1 and 7: S4D forward+backward throughput, fast path vs the materialising reference twin.

Reference: the (H, N/2, L) Vandermonde tensor (``vandermonde_kernel_reference``) and one autograd FFT convolution
per direction (``ssm_convolution_reference``). Fast: the layer as shipped (blocked Vandermonde product, one fused
FFT convolution for both directions with a hand-written backward). Both run on the same layer and input; the
table gives their times, the speed-up and the largest output/gradient difference relative to the largest value,
and each path's gradient error against the same layer and input in float64 (the float32 rounding each carries).
"""

from __future__ import annotations

import copy

import torch

from _common import best_times, device, script_main, table
from ssmem.ssm import S4D


def _forward_backward(layer: S4D, x: torch.Tensor, forward) -> tuple[torch.Tensor, list[torch.Tensor]]:
    layer.zero_grad(set_to_none=True)
    x.grad = None
    y = forward(x)
    y.square().mean().backward()
    grads = [x.grad] + [p.grad for p in layer.parameters()]
    return y.detach(), grads


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def run(quick: bool) -> str:
    dev = device()
    batch, H, N = 16, 256, 64
    if quick:
        cases = [(1024, batch), (4096, batch)]
    else:
        cases = [(1024, batch), (4096, batch), (16384, batch)]
    rows = []
    for length, b in cases:
        for bidirectional in (False, True):
            layer = S4D(H, N, bidirectional=bidirectional, seed=0, device=dev)
            x = torch.randn(b, length, H, device=dev, generator=None).requires_grad_()
            repeats = 1 if length >= 16384 else 2
            y_ref, g_ref = _forward_backward(layer, x, layer.reference_forward)
            y_fast, g_fast = _forward_backward(layer, x, layer)
            out_err = rel_diff(y_fast, y_ref)
            grad_err = max(rel_diff(a, r) for a, r in zip(g_fast, g_ref))
            exact = copy.deepcopy(layer).double()
            _, g_exact = _forward_backward(exact, x.detach().double().requires_grad_(), exact)
            fast_vs_exact = max(rel_diff(a.double(), e) for a, e in zip(g_fast, g_exact))
            ref_vs_exact = max(rel_diff(r.double(), e) for r, e in zip(g_ref, g_exact))
            del y_ref, g_ref, y_fast, g_fast, exact, g_exact
            times = best_times({
                "ref": lambda: _forward_backward(layer, x, layer.reference_forward),
                "fast": lambda: _forward_backward(layer, x, layer),
            }, repeats=repeats, warmup=0, dev=dev)
            t_ref, t_fast = times["ref"], times["fast"]
            rows.append([length, b, "bi" if bidirectional else "uni", t_ref, t_fast, b / t_ref, b / t_fast, t_ref / t_fast,
                         out_err, grad_err, fast_vs_exact, ref_vs_exact])
    headers = ["L", "B", "dir", "ref s", "fast s", "ref samples/s", "fast samples/s", "speed-up", "max rel diff y",
               "max rel diff grads", "grads fast vs f64", "grads ref vs f64"]
    title = f"S4D forward+backward, H = {H}, N = {N}, float32, {dev.type} (reference: materialised Vandermonde + per-direction FFT conv)"
    return table(title, headers, rows)


def main() -> None:
    script_main(__doc__, run)


if __name__ == "__main__":
    main()
