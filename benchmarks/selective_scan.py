"""Goal 9: the selective scan and the IPC at scale.

* Mamba's chunked selective scan (:func:`ssmem.ssm.selective_scan.selective_scan`, its default method on the
  device: sequential chunks on CPU, recursive doubling on GPUs) against its loop twin
  (:func:`~ssmem.ssm.selective_scan.selective_scan_reference`), forward+backward, B = 16, E = 256 channels,
  N = 16 states, L = 1k-16k (quick: B = 2, E = 32, N = 8, L = 256 and 1024). Each row: both times (best of k,
  interleaved), the speed-up, the memory each keeps for the backward pass (the bytes autograd saves, counted by a
  saved-tensor hook: the same on every device), the CUDA peak where there is a GPU, and the largest differences of
  outputs and gradients relative to their largest values. A scan whose tensors would not fit the memory available
  is not run (the row says which).
* The IPC (:func:`ssmem.memory.information_capacity`) of a 64-unit tanh echo state network, degree ≤ 3, 50 delays:
  the time, the capacity per degree and the rank.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from _common import best_times, device, script_main, table
from ssmem.memory import information_capacity
from ssmem.resources import available_device_memory, available_memory, format_bytes
from ssmem.ssm.selective_scan import selective_scan, selective_scan_reference

FULL = dict(batch=16, channels=256, n_state=16, lengths=(1024, 4096, 16384))
QUICK = dict(batch=2, channels=32, n_state=8, lengths=(256, 1024))
# (B, L, E, N) float32 tensors at the peak of one forward+backward: the loop keeps a state, a decay and a drive per
# step (2.4 saved at E 32, N 8), the chunked scan one state per chunk and a few (B, L, E) tensors (0.4)
PEAK_TENSORS = {"loop": 3.5, "chunked": 1.0}


def scan_inputs(batch: int, length: int, channels: int, n_state: int, dev: torch.device) -> list[torch.Tensor]:
    """Seeded ``u, Δ, A, B, C, D`` (float32) of the shapes :func:`selective_scan` takes, requiring gradients."""
    gen = torch.Generator().manual_seed(0)

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen)

    u = draw(batch, length, channels)
    delta = torch.nn.functional.softplus(draw(batch, length, channels) - 3)  # steps of order 0.05
    A = -torch.exp(draw(channels, n_state) / 2)
    tensors = [u, delta, A, draw(batch, length, n_state), draw(batch, length, n_state), draw(channels)]
    return [t.to(dev).requires_grad_() for t in tensors]


def saved_bytes(fn) -> int:
    """Bytes of the tensors autograd saves for the backward pass while ``fn()`` runs (each storage once)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def forward_backward(scan, inputs: list[torch.Tensor], weights: torch.Tensor) -> list[torch.Tensor]:
    """Outputs and the gradients of Σ weights·y with respect to every input."""
    y = scan(*inputs)
    grads = torch.autograd.grad((y * weights).sum(), inputs)
    return [y.detach(), *grads]


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def scan_rows(quick: bool) -> list[list[object]]:
    sizes = QUICK if quick else FULL
    dev = device()
    batch, channels, n_state = sizes["batch"], sizes["channels"], sizes["n_state"]
    room = available_device_memory("cuda") if dev.type == "cuda" else available_memory()
    scans = {"loop": selective_scan_reference, "chunked": selective_scan}
    rows = []
    for length in sizes["lengths"]:
        label = f"({batch}, {length}, {channels}, {n_state})"
        need = {name: PEAK_TENSORS[name] * batch * length * channels * n_state * 4 for name in scans}
        fits = [name for name in scans if room is None or need[name] < 0.8 * room]
        if not fits:
            rows.append([label, float("nan"), float("nan"), float("nan"), "-", "-", "-", "-", "-",
                         f"not run: needs {format_bytes(need['chunked'])}"])
            continue
        inputs = scan_inputs(batch, length, channels, n_state, dev)
        weights = torch.randn(batch, length, channels, generator=torch.Generator().manual_seed(1)).to(dev)
        fns = {name: (lambda scan=scans[name]: forward_backward(scan, inputs, weights)) for name in fits}
        repeats = 1 if quick or length > 4096 else 3
        best = best_times(fns, repeats=repeats, warmup=0 if length > 4096 else 1, dev=dev)
        saved = {name: format_bytes(saved_bytes(lambda scan=scans[name]: scan(*inputs))) for name in fits}
        peak = "-"
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
            fns["chunked"]()
            peak = format_bytes(torch.cuda.max_memory_allocated(dev))
        if "loop" not in fits:
            rows.append([label, float("nan"), best["chunked"], float("nan"), "-", saved["chunked"], peak, "-", "-",
                         f"loop not run: needs {format_bytes(need['loop'])}"])
            continue
        slow, fast = fns["loop"](), fns["chunked"]()
        y_diff = rel_diff(fast[0], slow[0])
        grad_diff = max(rel_diff(f, s) for f, s in zip(fast[1:], slow[1:]))
        rows.append([label, best["loop"], best["chunked"], best["loop"] / best["chunked"], saved["loop"],
                     saved["chunked"], peak, y_diff, grad_diff, ""])
    return rows


def echo_state_states(n_units: int, u: np.ndarray, *, radius: float = 0.9, seed: int = 0) -> np.ndarray:
    """States ``(T, n_units)`` of x_t = tanh(W x_{t-1} + w u_t), W Gaussian scaled to spectral radius ``radius``."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n_units, n_units))
    W *= radius / np.max(np.abs(np.linalg.eigvals(W)))
    w_in = rng.uniform(-1, 1, n_units)
    x, states = np.zeros(n_units), np.empty((u.size, n_units))
    for t, u_t in enumerate(u):
        x = np.tanh(W @ x + w_in * u_t)
        states[t] = x
    return states


def ipc_rows(quick: bool) -> list[list[object]]:
    n_samples = 4000 if quick else 20000
    u = np.random.default_rng(1).uniform(-1, 1, n_samples + 49)
    states = echo_state_states(64, u)
    start = time.perf_counter()
    result = information_capacity(states, u, max_degree=3, max_delay=50, seed=0, progress=False)
    elapsed = time.perf_counter() - start
    by_degree = result.by_degree
    return [[64, 3, 50, result.n_samples, len(result.capacities), elapsed, by_degree[0], by_degree[1], by_degree[2],
             result.total, result.rank]]


def run(quick: bool) -> str:
    out = table(
        f"Selective scan forward+backward on {device().type}: chunked vs loop (seconds; saved = the bytes autograd "
        "keeps for the backward pass; differences relative to the largest value, outputs and gradients)",
        ["(B, L, E, N)", "loop s", "chunked s", "speed-up", "loop saved", "chunked saved", "CUDA peak (chunked)",
         "y diff", "grad diff", "note"], scan_rows(quick))
    out += "\n" + table(
        "IPC of a 64-unit tanh echo state network (uniform input, degree ≤ 3, delays 0..49, chi-squared threshold)",
        ["N", "degree", "delays", "samples", "targets", "seconds", "degree 1", "degree 2", "degree 3", "total", "rank"],
        ipc_rows(quick))
    return out


def main() -> None:
    script_main(__doc__, run)


if __name__ == "__main__":
    main()
