"""The judges of fig1, equivalence and designed-init on hand-made results: each finding follows its comparison."""

import numpy as np

from ssmem.experiments import designed_init, equivalence, fig1
from ssmem.memory import MemoryProfile
from ssmem.memory.equivalence import EquivalenceRow, MemoryEquivalence


def _profile(mf: np.ndarray, capacity: float) -> MemoryProfile:
    return MemoryProfile(delays=np.arange(mf.size), mf=mf, capacity=capacity, rank=int(round(capacity)),
                         horizon=mf.size, method="hand-made", eigenvalues=np.zeros(0, complex))


def _statuses(findings) -> list[str]:
    return [f.status for f in findings]


def _fig1_result(decay: dict[str, float], capacity: dict[str, float]) -> fig1.Fig1Result:
    """MF(τ) = exp(-τ / decay) over 1024 delays: memory length (MF > 0.01) ≈ 4.6 × decay."""
    delays = np.arange(1024)
    return fig1.Fig1Result(profiles={name: _profile(np.exp(-delays / decay[name]), capacity[name])
                                     for name in fig1.SETS})


def test_fig1_judge_follows_memory_lengths_and_capacities():
    decay = {"s4d-inv": 200.0, "s4d-lin": 150.0, "random": 20.0, "lin": 20.0, "step": 30.0}
    capacity = {"s4d-inv": 32.0, "s4d-lin": 31.0, "random": 32.0, "lin": 32.0, "step": 32.0}
    assert _statuses(fig1.judge(_fig1_result(decay, capacity))) == ["confirmed", "confirmed"]
    # step remembering as long as s4d-lin, s4d-lin's capacity at 32: both claims fail
    worse = _fig1_result(decay | {"step": 150.0}, capacity | {"s4d-lin": 32.0})
    assert _statuses(fig1.judge(worse)) == ["not confirmed", "not confirmed"]
    # the memory lengths compared: the largest τ with exp(-τ / decay) > 0.01
    lengths = fig1.summary(_fig1_result(decay, capacity))
    assert lengths["s4d-lin"]["memory_length_0.01"] == 690 and lengths["step"]["memory_length_0.01"] == 138


def _equivalence_result(matched: float, contrast: float, gap: float) -> equivalence.EquivalenceResult:
    """Two sizes; rows at distance ``matched`` (expected equal) and ``contrast`` (s4d-legs); the empirical MF off
    the exact one by ``gap`` at τ = 3, with standard error 0.001 (tolerance 0.013)."""
    profile = _profile(np.ones(4), 4.0)
    comparisons = {n: MemoryEquivalence(d_state=n, dt=0.01, horizon=64, discretization="bilinear", rows=[
        EquivalenceRow("S4", n, profile, 0.0, np.nan, True),
        EquivalenceRow("s4d-real", n, profile, matched, 0.0, True),
        EquivalenceRow("s4d-legs", n, profile, contrast, np.nan, False),
    ]) for n in (8, 16)}
    exact = np.linspace(1.0, 0.1, 5)
    return equivalence.EquivalenceResult(
        config=equivalence.EquivalenceConfig(sizes=(8, 16), n_train=100), comparisons=comparisons,
        empirical_mf=exact + np.array([0, 0, 0, gap, 0]), empirical_se=np.full(5, 0.001),
        empirical_capacity=float(exact.sum() + gap), exact_mf=exact)


def test_equivalence_judge_follows_the_distances_and_the_sampling_tolerance():
    assert _statuses(equivalence.judge(_equivalence_result(1e-12, 0.3, 0.012))) == ["confirmed"] * 3
    # s4d-real off S4 beyond the tolerance: not equivalent, and s4d-legs no longer 100× farther
    assert _statuses(equivalence.judge(_equivalence_result(1e-3, 0.05, 0.012))) == [
        "not confirmed", "not confirmed", "confirmed"]
    # an empirical gap past 3 SE + 0.01 at one delay
    off = equivalence.judge(_equivalence_result(1e-12, 0.3, 0.014))
    assert _statuses(off) == ["confirmed", "confirmed", "not confirmed"] and "at τ = 3" in off[2].evidence


def _designed_result(arc: float, hippo: float, optimum: float, designed_r2: float,
                     default_r2: float) -> designed_init.DesignedInitResult:
    """MF(TARGET) of the arc, one HiPPO set and lin; the optimiser's last objective; reservoir R² per arm (the
    shortest delay, outside the judged band τ* ≥ L/4, at 1 to show it is left out)."""
    cfg = designed_init.DesignedInitConfig(opt_steps=3, length=512, n_train=1, steps=1, delays=(64, 128, 192, 256))

    def mf(at_target: float) -> np.ndarray:
        values = np.zeros(designed_init.HORIZON)
        values[designed_init.TARGET] = at_target
        return values

    def bank(r2: float) -> dict:
        return {"r2": np.array([1.0, r2, r2, r2]), "predicted_before": np.full(4, r2)}

    task_dt = 0.05
    task = {(designed_init.DESIGNED_ARM, "reservoir"): bank(designed_r2),
            (designed_init.DEFAULT_ARM, "reservoir"): bank(default_r2),
            (designed_init.best_arm(task_dt), "reservoir"): bank(0.5)}
    hippo_label = "s4d-inv (best Δ = 0.02)"
    return designed_init.DesignedInitResult(
        config=cfg, profiles={designed_init.ARC: mf(arc), hippo_label: mf(hippo), "lin": mf(0.9)},
        best_dt={"s4d-inv": 0.02}, best_hippo=hippo_label,
        objective={"from_arc": np.array([arc, optimum]), "from_hippo": np.array([hippo, optimum - 0.01])},
        task_dt=task_dt, task=task)


def test_designed_init_judge_follows_mf_at_target_optimum_and_task_r2():
    good = designed_init.judge(_designed_result(arc=0.3, hippo=0.1, optimum=0.34, designed_r2=0.6, default_r2=0.2))
    assert _statuses(good) == ["confirmed"] * 3
    assert "mf-designed 0.600, s4d-inv Δ=0.01 0.200, s4d-inv best Δ=0.05 0.500" in good[2].evidence
    # lin's larger MF(τ*) does not count: only the HiPPO sets are the comparison
    assert "(3.00×)" in good[0].evidence
    bad = designed_init.judge(_designed_result(arc=0.1, hippo=0.12, optimum=0.2, designed_r2=0.2, default_r2=0.6))
    assert _statuses(bad) == ["not confirmed"] * 3
    # the arc at exactly 85% of the optimum still counts as within 15%
    edge = designed_init.judge(_designed_result(arc=0.85, hippo=0.5, optimum=1.0, designed_r2=0.6, default_r2=0.2))
    assert _statuses(edge) == ["confirmed"] * 3
