"""The memory–accuracy trade-off across eigenvalue sets and steps Δ (PAPER.md §3).

Σ_τ MF(τ) = rank is a fixed budget: memory that reaches further back is less accurate per delay. For each set
and Δ the table gives the capacity, the memory length (how far back MF stays above a threshold), the accuracy
(mean MF over the first delays), the MF centroid Σ τ MF(τ) / Σ MF(τ) (where the budget sits), and the
information view: Σ_τ -½ log(1 - MF(τ)) nats, the mutual information between the state and the past inputs
summed over delays (Gaussian input; infinite when some delay is remembered exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..eigs import discrete_eigenvalues, resolve_set
from .analytic import memory_function
from .profile import DEFAULT_ACCURACY_DELAYS, DEFAULT_LENGTH_THRESHOLD, MemoryProfile


@dataclass(frozen=True)
class TradeoffRow:
    eigs: str
    dt: float | None  # None for sets defined on discrete eigenvalues (Δ does not change them)
    capacity: float
    rank: int
    memory_length: int
    accuracy: float
    centroid: float
    information: float
    profile: MemoryProfile


@dataclass(frozen=True)
class MemoryTradeoff:
    """Result of :func:`memory_tradeoff`: one row per (set, Δ)."""

    d_state: int
    horizon: int | None
    threshold: float
    n_delays: int
    rows: list[TradeoffRow] = field(default_factory=list)

    def table(self, *, markdown: bool = False) -> str:
        head = ["eigs", "dt", "rank", "capacity", f"length(MF>{self.threshold:g})", f"accuracy(first {self.n_delays})"]
        head += ["centroid", "info [nats]"]
        body = [
            [
                r.eigs,
                "—" if r.dt is None else f"{r.dt:g}",
                str(r.rank),
                f"{r.capacity:.4f}",
                str(r.memory_length),
                f"{r.accuracy:.4f}",
                f"{r.centroid:.1f}",
                f"{r.information:.3f}",
            ]
            for r in self.rows
        ]
        if markdown:
            lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
            return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body]) + "\n"
        widths = [max([len(h), *(len(c[i]) for c in body)]) for i, h in enumerate(head)]
        fmt = "  ".join(f"{{:>{w}}}" for w in widths)
        return "\n".join([fmt.format(*head)] + [fmt.format(*c) for c in body]) + "\n"


def tradeoff_row(eigs: str, dt: float | None, profile: MemoryProfile, *, threshold: float, n_delays: int) -> TradeoffRow:
    """The trade-off numbers of one profile."""
    mf = profile.mf
    with np.errstate(divide="ignore"):
        information = float(np.sum(profile.mutual_information))
    return TradeoffRow(
        eigs=eigs,
        dt=dt,
        capacity=profile.capacity,
        rank=profile.rank,
        memory_length=profile.memory_length(threshold),
        accuracy=profile.accuracy(min(n_delays, mf.size)),
        centroid=float(np.dot(profile.delays, mf) / mf.sum()),
        information=information,
        profile=profile,
    )


def memory_tradeoff(
    sets: Sequence[str] = ("s4d-inv", "s4d-lin", "s4d-legs", "s4d-real", "random", "lin", "step"),
    *,
    d_state: int = 32,
    dts: Sequence[float] = (0.001, 0.01, 0.1),
    horizon: int | None = 1024,
    max_delay: int | None = None,
    discretization: str = "zoh",
    seed: int = 0,
    threshold: float = DEFAULT_LENGTH_THRESHOLD,
    n_delays: int = DEFAULT_ACCURACY_DELAYS,
) -> MemoryTradeoff:
    """Memory length vs accuracy for each set (names or files) at each Δ; discrete-domain sets appear once."""
    if horizon is None and max_delay is None:
        max_delay = 4 * 1024 - 1  # a common delay range for the centroid and information columns
    rows = []
    for name in sets:
        eig_set = resolve_set(name)
        steps: list[float | None] = list(dts) if eig_set.domain == "continuous" else [None]
        for dt in steps:
            step = 1.0 if dt is None else dt  # discrete sets ignore the step
            modes = discrete_eigenvalues(eig_set, d_state, dt=step, discretization=discretization, seed=seed)
            profile = memory_function(modes, horizon=horizon, max_delay=max_delay)
            rows.append(tradeoff_row(eig_set.name, dt, profile, threshold=threshold, n_delays=n_delays))
    return MemoryTradeoff(d_state=d_state, horizon=horizon, threshold=threshold, n_delays=n_delays, rows=rows)
