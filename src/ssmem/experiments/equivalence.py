"""Experiment ``equivalence``: S4 ≡ S4D in memory (PAPER.md §4).

The dense S4 layer (HiPPO-LegS, state N, bilinear) against the diagonal systems the theory says remember
exactly like it (its own eigenvalues; ``s4d-real`` with N modes; S4 under random similarity transforms) and the
contrast ``s4d-legs`` (the normal part's eigenvalues, same real state size), via
:func:`ssmem.memory.memory_equivalence`, for several N. Every exact MF there is computed from eigenvalues (the
dense route too, from the reachable spectrum); the eigenvalue-free check is an empirical MF: least-squares
readouts trained on the simulated dense S4 recurrence itself (:class:`ssmem.memory.EmpiricalMemory`), against
the dense route's stationary MF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..eigs import hippo_legs
from ..memory import EmpiricalMemory, dense_memory_function, dense_system, discretize_dense, memory_equivalence
from ..memory.equivalence import MemoryEquivalence
from .registry import ExperimentContext, ExperimentOutput, Finding, judged, register_experiment

DT, HORIZON = 0.01, 1024
EMPIRICAL_N, EMPIRICAL_DELAYS = 8, 200  # the eigenvalue-free check: state size and delays estimated


@dataclass(frozen=True)
class EquivalenceConfig:
    """The state sizes N compared, and the training steps of the eigenvalue-free check (half as many held out)."""

    sizes: tuple[int, ...]
    n_train: int


def config(quick: bool) -> EquivalenceConfig:
    if quick:
        return EquivalenceConfig(sizes=(8, 16, 32), n_train=20000)
    return EquivalenceConfig(sizes=(8, 16, 32, 64), n_train=100000)


@dataclass
class EquivalenceResult:
    """The comparisons and the eigenvalue-free check.

    Attributes:
        comparisons: ``{N: MemoryEquivalence}`` for each N of ``config.sizes``, in that order.
        empirical_mf: ``(EMPIRICAL_DELAYS + 1,)`` MF of dense S4 (N = :data:`EMPIRICAL_N`) estimated by readouts
            trained on its simulated recurrence; ``empirical_se`` its standard error per delay and
            ``empirical_capacity`` its sum.
        exact_mf: ``(EMPIRICAL_DELAYS + 1,)`` the dense route's stationary MF of the same system.
    """

    config: EquivalenceConfig
    comparisons: dict[int, MemoryEquivalence]
    empirical_mf: np.ndarray
    empirical_se: np.ndarray
    empirical_capacity: float
    exact_mf: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        """``(EMPIRICAL_DELAYS + 1,)`` |empirical − exact| MF per delay."""
        return np.abs(self.empirical_mf - self.exact_mf)

    @property
    def tolerance(self) -> np.ndarray:
        """``(EMPIRICAL_DELAYS + 1,)`` the gap allowed per delay: 3 standard errors + 0.01."""
        return 3 * self.empirical_se + 0.01


def compute(cfg: EquivalenceConfig, *, seed: int) -> EquivalenceResult:
    """Compare S4 with its diagonal equivalents for every N, and estimate its MF from readouts."""
    comparisons = {n: memory_equivalence(n, dt=DT, horizon=HORIZON, seed=seed) for n in cfg.sizes}
    A_bar, B_bar = discretize_dense(*hippo_legs(EMPIRICAL_N), DT, "bilinear")
    exact = dense_memory_function(A_bar, B_bar, horizon=None, max_delay=EMPIRICAL_DELAYS).mf
    empirical = EmpiricalMemory(max_delay=EMPIRICAL_DELAYS, n_train=cfg.n_train, n_test=cfg.n_train // 2,
                                washout=max(1000, 4 * EMPIRICAL_DELAYS), seed=seed).fit(dense_system(A_bar, B_bar))
    return EquivalenceResult(config=cfg, comparisons=comparisons, empirical_mf=empirical.memory_function_,
                             empirical_se=empirical.standard_error_, empirical_capacity=empirical.capacity_,
                             exact_mf=exact)


def judge(result: EquivalenceResult) -> list[Finding]:
    """The expected-equal systems match S4; s4d-legs does not; the exact MF matches the readouts' estimate."""
    sizes = list(result.config.sizes)
    rows = [row for r in result.comparisons.values() for row in r.rows]
    matched = max(row.max_abs_diff for row in rows if row.expected_equal)
    contrast = min(row.max_abs_diff for row in rows if not row.expected_equal)
    gap, tolerance = result.gap, result.tolerance
    return [
        judged("S4 (dense HiPPO-LegS) and S4D with the same discrete eigenvalues have the same MF (also under "
               "similarity transforms)",
               all(r.equivalent for r in result.comparisons.values()),
               f"max |ΔMF| over the expected-equal systems and N ∈ {sizes}: {matched:.1e}"),
        judged("S4-LegS remembers like s4d-real with N modes, not like s4d-legs",
               contrast > 100 * max(matched, 1e-12),
               f"s4d-legs differs from S4 by max |ΔMF| ≥ {contrast:.3f} (vs {matched:.1e} for s4d-real)"),
        judged(f"The exact MF of dense S4 agrees with an eigenvalue-free estimate: readouts trained on the simulated "
               f"recurrence (N = {EMPIRICAL_N}, delays 0..{EMPIRICAL_DELAYS}) are within 3 SE + 0.01 at every delay",
               bool(np.all(gap <= tolerance)),
               f"max |empirical − exact| = {gap.max():.4f} (at τ = {int(np.argmax(gap))}, tolerance there "
               f"{tolerance[np.argmax(gap)]:.4f}); capacity over these delays: empirical "
               f"{result.empirical_capacity:.3f}, exact {result.exact_mf.sum():.3f}; {result.config.n_train} "
               f"training steps"),
    ]


def plot(result: EquivalenceResult):
    """Two panels: the MF of every system at the largest N; each system's distance to S4's MF, per N."""
    import matplotlib.pyplot as plt

    sizes = result.config.sizes
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    largest = result.comparisons[sizes[-1]]
    for k, row in enumerate(largest.rows):
        style = "-" if row.expected_equal else "--"
        axes[0].plot(row.profile.delays[1:], row.profile.mf[1:], style, lw=2.5 - 0.35 * k, color=f"C{k}",
                     label=row.system)
    axes[0].set(xscale="log", yscale="log", ylim=(1e-4, 1.05), xlabel="delay τ", ylabel="MF(τ)",
                title=f"N = {sizes[-1]}, Δ = {DT}, T = {HORIZON}")
    axes[0].legend(fontsize=7)
    for n in sizes:
        # exact zeros (S4 itself) have no place on the log axis
        diffs = [row.max_abs_diff if row.max_abs_diff > 0 else np.nan for row in result.comparisons[n].rows]
        axes[1].plot(np.arange(len(diffs)), diffs, "o", label=f"N = {n}")
    axes[1].set_xticks(np.arange(len(largest.rows)), [row.system for row in largest.rows], rotation=25, ha="right",
                       fontsize=7)
    axes[1].set(yscale="log", ylabel="max_τ |MF − MF_S4|",
                title="Distance to the dense S4 memory function\n(exact zeros, e.g. S4 itself, are not drawn)")
    axes[1].legend(fontsize=7)
    return fig


def results_of(result: EquivalenceResult) -> dict:
    """The numbers written to ``results.json``: per N the comparison table and rows; the eigenvalue-free check."""
    comparisons = result.comparisons
    tables = {str(n): r.table(markdown=True) for n, r in comparisons.items()}
    rows = {str(n): [{"system": row.system, "d_state": row.d_state, "capacity": row.profile.capacity,
                      "max_abs_diff": row.max_abs_diff, "eigenvalue_error": row.eigenvalue_error,
                      "expected_equal": row.expected_equal} for row in r.rows] for n, r in comparisons.items()}
    check = {"d_state": EMPIRICAL_N, "max_delay": EMPIRICAL_DELAYS, "n_train": result.config.n_train,
             "max_abs_diff": float(result.gap.max()), "capacity_empirical": result.empirical_capacity,
             "capacity_exact": float(result.exact_mf.sum())}
    return {"dt": DT, "horizon": HORIZON, "rows": rows, "tables": tables, "empirical_check": check}


@register_experiment("equivalence", "S4 ≡ S4D: MF of dense HiPPO-LegS vs its diagonal equivalents, and s4d-legs")
def run(ctx: ExperimentContext) -> ExperimentOutput:
    result = compute(config(ctx.quick), seed=ctx.seed)
    figures = [ctx.save_figure(plot(result), "equivalence.png")]
    return ExperimentOutput(results=results_of(result), findings=judge(result), figures=figures)
