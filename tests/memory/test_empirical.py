"""Empirical MF by simulation agrees with the analytic MF within its stated sampling error."""

import numpy as np
import pytest
import torch

from ssmem.eigs import discrete_eigenvalues
from ssmem.memory import block_diagonal_system, memory_function
from ssmem.memory.empirical import EmpiricalMemory, dense_system, diagonal_system
from ssmem.ssm import S4D


@pytest.mark.parametrize("name, d_state, dt", [("s4d-inv", 8, 0.1), ("lin", 8, 0.1), ("s4d-lin", 12, 0.2)])
def test_empirical_agrees_with_analytic(name, d_state, dt):
    modes = discrete_eigenvalues(name, d_state, dt=dt)
    analytic = memory_function(modes, horizon=None, max_delay=60)
    est = EmpiricalMemory(max_delay=60, n_train=20000, n_test=10000, washout=500, bias_correction="analytic", seed=1)
    est.fit(diagonal_system(modes))
    z = (est.memory_function_ - analytic.mf) / est.standard_error_
    assert np.max(np.abs(z)) < 4.0
    assert est.n_features_ == d_state
    assert est.profile_.method == "empirical" and est.profile_.capacity == pytest.approx(est.capacity_)
    # the capacity over these delays, within the summed standard errors
    assert abs(est.capacity_ - analytic.mf.sum()) < 4 * est.standard_error_.sum()


def test_bias_corrections_relate_as_documented():
    A_bar, B_bar = block_diagonal_system(discrete_eigenvalues("lin", 6, dt=0.1))
    kwargs = dict(max_delay=40, n_train=3000, n_test=3000, washout=100, seed=3)
    none = EmpiricalMemory(bias_correction="none", **kwargs).fit(dense_system(A_bar, B_bar))
    corrected = EmpiricalMemory(bias_correction="analytic", **kwargs).fit(dense_system(A_bar, B_bar))
    surrogate = EmpiricalMemory(bias_correction="surrogate", **kwargs).fit(dense_system(A_bar, B_bar))
    np.testing.assert_allclose(none.raw_memory_function_, corrected.raw_memory_function_)  # same seed, same data
    inflation = 1 + 6 / (3000 - 6 - 1)
    expected = np.clip(1 - (1 - none.raw_memory_function_) / inflation, 0, 1)
    np.testing.assert_allclose(corrected.memory_function_, expected, atol=1e-15)
    assert none.threshold_ == 0.0 and surrogate.threshold_ > 0.0
    kept = surrogate.memory_function_ > 0
    np.testing.assert_allclose(surrogate.memory_function_[kept], corrected.memory_function_[kept])
    assert np.all(corrected.memory_function_[~kept] <= surrogate.threshold_)
    # far delays (analytic MF ~ 0) fall below the surrogate threshold
    analytic = memory_function(discrete_eigenvalues("lin", 6, dt=0.1), horizon=None, max_delay=40)
    assert np.all(surrogate.memory_function_[analytic.mf < 1e-6] == 0.0)


def test_module_output_memory_closed_form():
    """A one-channel S4D layer seen through its output y = K * u + D u: MF_y(τ) = h_τ² / Σ h² (one feature)."""
    layer = S4D(1, 8, init="s4d-inv", dt_min=0.1, dt_max=0.1, seed=0, dtype=torch.float64)
    with torch.no_grad():
        h = layer.kernel(4000)[0].numpy().copy()
        h[0] += layer.D.item()
    expected = h[:31] ** 2 / np.sum(h**2)
    est = EmpiricalMemory(max_delay=30, n_train=20000, n_test=10000, washout=3000, bias_correction="analytic").fit(layer)
    assert est.n_features_ == 1
    assert np.max(np.abs(est.memory_function_ - expected) / est.standard_error_) < 4.0


def test_bad_settings_and_outputs():
    with pytest.raises(ValueError, match="valid choices: surrogate, analytic, none"):
        EmpiricalMemory(bias_correction="bootstrap")
    with pytest.raises(ValueError, match=r"washout \(5\) must be >= max_delay \(10\)"):
        EmpiricalMemory(max_delay=10, washout=5)
    with pytest.raises(ValueError, match="features of shape"):
        EmpiricalMemory(max_delay=2, n_train=10, n_test=10, washout=2).fit(lambda u: np.zeros((3, 2)))
    with pytest.raises(TypeError, match="callable or an nn.Module"):
        EmpiricalMemory().fit(42)
