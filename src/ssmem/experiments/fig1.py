"""Experiment ``fig1``: the paper's Fig. 1 — |Ā| by index and MF by delay for five eigenvalue sets.

N = 32 (16 modes), horizon T = 1024; the continuous sets are discretised at Δ = 0.01 (the geometric middle
of S4D's default range [1e-3, 1e-1]). Quick and full runs are the same (the computation is exact and fast).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..eigs import discrete_eigenvalues
from ..memory import MemoryProfile, memory_function, plot_memory_profiles
from .registry import ExperimentContext, ExperimentOutput, Finding, judged, register_experiment

SETS = ("s4d-inv", "s4d-lin", "random", "lin", "step")
HIPPO = ("s4d-inv", "s4d-lin")
D_STATE, HORIZON, DT = 32, 1024, 0.01
FIGURE = "fig1_memory_profiles.png"
MF_DELAYS = (0, 8, 32, 128, 512)  # the delays whose MF the results list


@dataclass
class Fig1Result:
    """The exact memory profile of each set (delays 0..T-1, N = :data:`D_STATE`, T = :data:`HORIZON`).

    Attributes:
        profiles: ``{set name: MemoryProfile}`` in the order of :data:`SETS`.
    """

    profiles: dict[str, MemoryProfile]


def compute(*, seed: int) -> Fig1Result:
    """The memory function of every set in :data:`SETS` (``seed`` draws the ``random`` set)."""
    return Fig1Result(profiles={
        name: memory_function(discrete_eigenvalues(name, D_STATE, dt=DT, seed=seed), horizon=HORIZON)
        for name in SETS
    })


def summary(result: Fig1Result) -> dict[str, dict]:
    """Per set: capacity, rank, memory length (MF > 0.01), the share of Σ MF beyond τ = N, MF at :data:`MF_DELAYS`."""
    return {
        name: {
            "capacity": p.capacity,
            "rank": p.rank,
            "memory_length_0.01": p.memory_length(0.01),
            "mf_share_beyond_N": float(p.mf[D_STATE:].sum() / p.capacity),
            "mf_at": {str(tau): float(p.mf[tau]) for tau in MF_DELAYS},
        }
        for name, p in result.profiles.items()
    }


def judge(result: Fig1Result) -> list[Finding]:
    """HiPPO sets remember longest; the capacity is the number of distinct eigenvalues."""
    numbers = summary(result)
    hippo_len = min(numbers[n]["memory_length_0.01"] for n in HIPPO)
    other_len = max(numbers[n]["memory_length_0.01"] for n in SETS if n not in HIPPO)
    expected_rank = {"s4d-lin": D_STATE - 1}  # its n = 0 mode is real: one real dimension
    ranks_ok = all(abs(numbers[n]["capacity"] - expected_rank.get(n, D_STATE)) < 1e-6 for n in SETS)
    return [
        judged("HiPPO sets (s4d-inv, s4d-lin) spread MF over long delays; random, lin and step concentrate it on "
               "short delays (memory length at MF > 0.01)",
               hippo_len > other_len,
               "memory length: " + ", ".join(f"{n} {numbers[n]['memory_length_0.01']}" for n in SETS)
               + "; share of the capacity beyond τ = N: "
               + ", ".join(f"{n} {numbers[n]['mf_share_beyond_N']:.2f}" for n in SETS)),
        judged("The capacity Σ MF is the number of distinct eigenvalues of the real system (32; 31 for s4d-lin)",
               ranks_ok, "capacity: " + ", ".join(f"{n} {numbers[n]['capacity']:.6f}" for n in SETS)),
    ]


def plot(result: Fig1Result, out_dir: Path) -> list[str]:
    """Write the two-panel figure (|Ā| by index, MF by delay) into ``out_dir``; return its name."""
    plot_memory_profiles(list(result.profiles.values()), list(result.profiles), Path(out_dir) / FIGURE,
                         title=f"N = {D_STATE}, T = {HORIZON}, Δ = {DT} for the continuous sets")
    return [FIGURE]


@register_experiment("fig1", "Fig. 1: |Ā| by index and MF by delay for s4d-inv, s4d-lin, random, lin, step (N=32, T=1024)")
def run(ctx: ExperimentContext) -> ExperimentOutput:
    result = compute(seed=ctx.seed)
    return ExperimentOutput(results={"d_state": D_STATE, "horizon": HORIZON, "dt": DT, "sets": summary(result)},
                            findings=judge(result), figures=plot(result, ctx.out_dir))
