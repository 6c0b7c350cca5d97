"""The judges of gradient, nonlinear-memory and short-memory on hand-made results: each claim's status follows
the numbers it reads, one case that holds and one that does not."""

import numpy as np

from ssmem.experiments import gradient, nonlinear_memory, short_memory


def statuses(findings) -> list[str]:
    return [f.status for f in findings]


# ----------------------------------------------------------------------------------------------- gradient


def _gradient_result(*, tanh_error: float, r2: list[float], predicted: list[float]) -> gradient.GradientResult:
    agreement = {name: {"rank": 16, "linear_exact_rel_error": 1e-13, "tanh_rel_error": tanh_error,
                        "population_rel_difference": 0.05} for name in ("s4d-inv", "random")}
    reservoir = {"delays": [0, 32, 96], "r2": np.array(r2), "predicted": np.array(predicted),
                 "profile": np.linspace(1, 0, 97)}
    return gradient.GradientResult(config=gradient.config(True), agreement=agreement, reservoir=reservoir)


def test_gradient_judge_follows_the_errors_and_the_unseen_delays():
    good = gradient.judge(_gradient_result(tanh_error=1e-12, r2=[0.99, 0.50, 0.001], predicted=[1.0, 0.51, 0.0]))
    assert statuses(good) == ["confirmed"] * 3
    assert "over 2 sets" in good[0].evidence and "delays [96] with MF < 0.005" in good[2].evidence
    # a tanh gradient off by 1e-6, a readout 0.03 short of its MF, an unseen delay learned to R² 0.03
    bad = gradient.judge(_gradient_result(tanh_error=1e-6, r2=[0.99, 0.48, 0.03], predicted=[1.0, 0.51, 0.0]))
    assert statuses(bad) == ["not confirmed"] * 3
    # every delay within sight of the memory: nothing to say about unseen ones
    seen = gradient.judge(_gradient_result(tanh_error=1e-12, r2=[0.99, 0.5, 0.2], predicted=[1.0, 0.5, 0.2]))
    assert statuses(seen) == ["confirmed", "confirmed", "inconclusive"]


# ----------------------------------------------------------------------------------------------- nonlinear-memory


def _estimate(mf: np.ndarray) -> nonlinear_memory.MemoryEstimate:
    return nonlinear_memory.MemoryEstimate(mf=mf, standard_error=np.full(mf.size, 0.01), capacity=float(mf.sum()),
                                           threshold=0.0, n_features=8)


def _nonlinear_result(*, excess: float, trained_gain: float, la_capacity: float):
    cfg = nonlinear_memory.NonlinearMemoryConfig(length=128, n_seq=8, steps=1, n_emp=100, max_delay=60)
    analytic = np.exp(-np.arange(61) / 30.0)
    before = 0.5 * analytic
    after = before.copy()
    after[list(nonlinear_memory.DELAYS)] += trained_gain
    after[10] = analytic[10] + excess  # τ = 10: not a trained delay
    comparison = {"S4D s4d-inv": {"capacity": 30.0}, "S4D random": {"capacity": 20.0},
                  "linear attention (A = I)": {"capacity": la_capacity}}
    return nonlinear_memory.NonlinearMemoryResult(
        config=cfg, empirical={"before": _estimate(before), "after": _estimate(after)},
        analytic={"layer1_after": 0.8 * analytic, "all_layers_after": analytic, "all_layers_before": analytic},
        task_r2=np.array([0.9, 0.8, 0.5]), final_loss=0.1, comparison=comparison, comparison_table="")


def test_nonlinear_memory_judge_follows_the_bound_the_gain_and_the_capacities():
    # within the bound: 3 SE + 0.01 = 0.04 above the analytic MF is allowed
    good = nonlinear_memory.judge(_nonlinear_result(excess=0.035, trained_gain=0.05, la_capacity=1.0))
    assert statuses(good) == ["confirmed"] * 3
    assert "= +0.035" in good[0].evidence and "linear attention (A = I) 1.0" in good[2].evidence
    # 0.045 above the bound's tolerance, memory lost at the trained delays, a running sum with 0.1 × min S4D MC
    bad = nonlinear_memory.judge(_nonlinear_result(excess=0.045, trained_gain=-0.05, la_capacity=2.0))
    assert statuses(bad) == ["not confirmed"] * 3


# ----------------------------------------------------------------------------------------------- short-memory


def _kernel_run(r2: float, predicted: float, modulus: tuple[float, float]) -> dict:
    return {"r2": np.array([r2 - 0.01, r2 + 0.01]), "predicted_before": np.array([predicted] * 2),
            "predicted_after": np.array([predicted] * 2), "mean_modulus_before": modulus[0],
            "mean_modulus_after": modulus[1]}


def _short_result(*, kernel_gap: float, product_gaps: tuple[float, float], reservoir_miss: float,
                  modulus_after: float) -> short_memory.ShortMemoryResult:
    linear, product = {}, {}
    for label, product_gap in zip(short_memory.INITS, product_gaps):
        linear[(label, "reservoir")] = _kernel_run(0.6, 0.6 + reservoir_miss, (0.99, 0.99))
        linear[(label, "learnable")] = _kernel_run(0.6 + kernel_gap, 0.9, (0.99, modulus_after))
        product[(label, "reservoir")] = {"r2": np.array([0.3]), "final_loss": 0.5}
        product[(label, "learnable")] = {"r2": np.array([0.3 + product_gap]), "final_loss": 0.2}
    cfg = short_memory.ShortMemoryConfig(bank={"length": 64}, deep={"length": 32}, n_kernels=2)
    return short_memory.ShortMemoryResult(config=cfg, kernels=np.eye(2, short_memory.KERNEL_LENGTH), linear=linear,
                                          product=product)


def test_short_memory_judge_counts_the_losing_cases():
    good = short_memory.judge(_short_result(kernel_gap=0.2, product_gaps=(0.1, 0.0), reservoir_miss=0.0,
                                            modulus_after=0.9))
    assert statuses(good) == ["confirmed"] * 3  # 3 of 4 cases lose by more than 0.02
    assert "short-product/mf-designed +0.000" in good[0].evidence
    # no case loses; the reservoir 0.05 from its analytic R² (0.01 spread + 0.04); learnable |Ā| grows
    bad = short_memory.judge(_short_result(kernel_gap=0.0, product_gaps=(0.01, -0.1), reservoir_miss=0.04,
                                           modulus_after=0.995))
    assert statuses(bad) == ["not confirmed"] * 3
    # two of four cases: neither most nor few
    even = short_memory.judge(_short_result(kernel_gap=0.2, product_gaps=(0.0, 0.0), reservoir_miss=0.0,
                                            modulus_after=0.9))
    assert statuses(even)[0] == "inconclusive"
