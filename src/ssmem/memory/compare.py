"""Memory of S4D eigenvalue sets vs two classical recurrences.

* **Echo-state linear RNN**: x_t = W x_{t-1} + w_in u_t with a random dense W (iid Gaussian, rescaled to
  spectral radius ρ < 1) and a random input vector, both seeded. Its eigenvalues fill a disk of radius ρ
  (circular law), so it remembers like the `random` set: short, accurate memory.
* **Linear attention as a recurrence**: the state S_t = S_{t-1} + k_t v_tᵀ is a running sum, i.e. a linear
  recurrence with Ā = I: every eigenvalue is 1. Fed a scalar input, every state coordinate is a multiple of
  the same number Σ_{k<T} u_{t-k}, so the reachable subspace is one-dimensional whatever the state size:
  no forgetting means no way to tell delays apart. Within a horizon T the best readout reconstructs any
  u_{t-τ} with MF(τ) = 1/T, capacity 1; for T → ∞ the MF vanishes at every delay. This is why its MF is
  degenerate, and why forgetting (|λ| < 1, spread over delays) is what gives a recurrence memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..eigs import discrete_eigenvalues
from .analytic import memory_function
from .dense import dense_memory_function
from .profile import DEFAULT_ACCURACY_DELAYS, DEFAULT_LENGTH_THRESHOLD, MemoryProfile


def echo_state_system(d_state: int, *, spectral_radius: float = 0.9, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random echo-state linear RNN: ``(W (N, N), w_in (N,))`` float64, W rescaled to ``spectral_radius``."""
    if not 0 < spectral_radius < 1:
        raise ValueError(f"spectral_radius must be in (0, 1) for a stable echo-state network; got {spectral_radius!r}")
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((d_state, d_state))
    W *= spectral_radius / np.max(np.abs(np.linalg.eigvals(W)))
    return W, rng.standard_normal(d_state)


def linear_attention_system(d_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear attention written as a linear recurrence on a scalar input: ``(I (N, N), ones (N,))``."""
    return np.eye(d_state), np.ones(d_state)


@dataclass(frozen=True)
class ComparisonRow:
    system: str
    d_state: int
    profile: MemoryProfile
    memory_length: int
    accuracy: float


@dataclass(frozen=True)
class MemoryComparison:
    """Result of :func:`compare_memory`."""

    horizon: int | None
    rows: list[ComparisonRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, *, markdown: bool = False) -> str:
        head = ["system", "d_state", "rank", "capacity", "memory length", "accuracy", "MF(0)", "MF(100)"]
        body = [
            [
                r.system,
                str(r.d_state),
                str(r.profile.rank),
                f"{r.profile.capacity:.4f}",
                str(r.memory_length),
                f"{r.accuracy:.4f}",
                f"{r.profile.mf[0]:.4f}",
                f"{r.profile.mf[100]:.2e}" if r.profile.mf.size > 100 else "—",
            ]
            for r in self.rows
        ]
        if markdown:
            lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
            lines += ["| " + " | ".join(c) + " |" for c in body]
        else:
            widths = [max(len(h), *(len(c[i]) for c in body)) for i, h in enumerate(head)]
            fmt = "  ".join(f"{{:<{w}}}" for w in widths)
            lines = [fmt.format(*head)] + [fmt.format(*c) for c in body]
        return "\n".join(lines + [f"note: {n}" for n in self.notes]) + "\n"


def compare_memory(
    sets: Sequence[str] = ("s4d-inv", "s4d-lin", "random"),
    *,
    d_state: int = 32,
    dt: float = 0.01,
    horizon: int | None = 1024,
    spectral_radius: float = 0.9,
    seed: int = 0,
    threshold: float = DEFAULT_LENGTH_THRESHOLD,
    n_delays: int = DEFAULT_ACCURACY_DELAYS,
) -> MemoryComparison:
    """MF and MC of S4D sets, a random echo-state linear RNN and linear attention, all with real state size N."""
    max_delay = 4 * 1024 - 1 if horizon is None else None
    rows: list[ComparisonRow] = []
    notes: list[str] = []

    def add(system: str, profile: MemoryProfile) -> None:
        accuracy = profile.accuracy(min(n_delays, profile.mf.size))  # (a horizon shorter than n_delays: all of it)
        rows.append(ComparisonRow(system, d_state, profile, profile.memory_length(threshold), accuracy))

    for name in sets:
        modes = discrete_eigenvalues(name, d_state, dt=dt, seed=seed)
        add(f"S4D {name}", memory_function(modes, horizon=horizon, max_delay=max_delay))
    W, w_in = echo_state_system(d_state, spectral_radius=spectral_radius, seed=seed)
    add(f"echo-state RNN (rho={spectral_radius:g})", dense_memory_function(W, w_in, horizon=horizon, max_delay=max_delay))
    if horizon is None:
        notes.append("linear attention (all eigenvalues 1) has no stationary memory: MF = 1/T -> 0 as T -> inf")
    else:
        A_la, B_la = linear_attention_system(d_state)
        add("linear attention (A = I)", dense_memory_function(A_la, B_la, horizon=horizon))
        notes.append("linear attention: a running sum, rank 1 whatever d_state; MF(tau) = 1/T at every delay")
    return MemoryComparison(horizon=horizon, rows=rows, notes=notes)
