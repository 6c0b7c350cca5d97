"""The memory-designed eigenvalue set: its closed-form MF, its optimality within the family, the optimiser."""


import numpy as np
import pytest

from ssmem.dynamics import whitened_memory_basis
from ssmem.eigs import EIGENVALUE_SETS, discrete_eigenvalues
from ssmem.memory import memory_function
from ssmem.eigs.designed import (
    arc_eigenvalues,
    ARC_DECAY,
    ARC_SPREAD,
    DEFAULT_TARGET_DELAY,
    R_MAX,
    circle_eigenvalues,
    circle_memory_function,
    circle_radius_for_delay,
    designed_eigenvalues,
    optimise_memory_eigenvalues,
)


@pytest.mark.parametrize("n_modes, radius, horizon", [(16, 0.99, 1024), (8, 0.9, 200), (4, 0.999, 100)])
def test_closed_form_memory_function_equals_the_numerical_one(n_modes, radius, horizon):
    numerical = whitened_memory_basis(circle_eigenvalues(n_modes, radius), horizon=horizon).memory_function
    np.testing.assert_allclose(circle_memory_function(n_modes, radius, horizon=horizon), numerical, atol=1e-12)


def test_stationary_closed_form_is_the_long_horizon_limit():
    # |Ā|^T negligible: the finite-horizon MF equals the stationary staircase (1 - ρ) ρ^⌊τ/N⌋
    radius, n_modes = 0.95, 8
    numerical = whitened_memory_basis(circle_eigenvalues(n_modes, radius), horizon=1000).memory_function[:200]
    stationary = circle_memory_function(n_modes, radius, horizon=None, max_delay=199)  # delays 0..199
    np.testing.assert_allclose(stationary, numerical, atol=1e-12)
    exact = memory_function(circle_eigenvalues(n_modes, radius), horizon=None, max_delay=199).mf
    np.testing.assert_allclose(stationary, exact, atol=1e-12)  # the same delays as memory_function's max_delay
    for bad in (0.0, 1.0, 1.2):
        with pytest.raises(ValueError, match=rf"radius must lie in \(0, 1\); got {bad}"):
            circle_memory_function(n_modes, bad, horizon=64)
    rho = radius ** (4 * n_modes)
    assert stationary[0] == pytest.approx(1 - rho) and stationary[16] == pytest.approx((1 - rho) * rho)


@pytest.mark.parametrize("horizon", [None, 1024])
def test_chosen_radius_maximises_the_target_delay(horizon):
    n_modes, target = 16, 300
    best = circle_radius_for_delay(n_modes, target, horizon=horizon)

    def mf_at(radius):
        return circle_memory_function(n_modes, radius, horizon=horizon, max_delay=target + 1)[target]

    for other in (best * 0.999, min(best * 1.0005, R_MAX), 0.99, 0.999):
        assert mf_at(best) >= mf_at(other) - 1e-12
    if horizon is None:
        m = target // 32
        assert best ** 64 == pytest.approx(m / (m + 1), rel=1e-9)
        assert mf_at(best) == pytest.approx((1 / (m + 1)) * (m / (m + 1)) ** m, rel=1e-9)


def test_registered_set_is_valid_and_deterministic():
    assert "mf-designed" in EIGENVALUE_SETS
    for d_state in (2, 8, 32, 64, 128):
        values = discrete_eigenvalues("mf-designed", d_state, dt=0.01)
        assert values.shape == (d_state // 2,)
        assert np.all((np.abs(values) > 0) & (np.abs(values) < 1))
        assert np.all((np.angle(values) > 0) & (np.angle(values) < np.pi))
        np.testing.assert_array_equal(values, discrete_eigenvalues("mf-designed", d_state, dt=0.5, seed=9))
    values = discrete_eigenvalues("mf-designed", 32, dt=1.0)
    np.testing.assert_allclose(values, designed_eigenvalues(16, target_delay=DEFAULT_TARGET_DELAY))
    # the arc rule: one radius 1 - c_r/τ*, phases φ(k + ½)/M with φ = c_φ N/τ*
    np.testing.assert_allclose(np.abs(values), 1 - ARC_DECAY / DEFAULT_TARGET_DELAY)
    np.testing.assert_allclose(np.angle(values), ARC_SPREAD * 32 / DEFAULT_TARGET_DELAY * (np.arange(16) + 0.5) / 16)


def test_designed_arc_holds_more_memory_at_its_target_than_the_circle_and_the_hippo_sets():
    horizon, target = 1024, 256
    designed = whitened_memory_basis(designed_eigenvalues(16, target_delay=target), horizon=horizon).memory_function
    circle = circle_memory_function(16, circle_radius_for_delay(16, target, horizon=horizon), horizon=horizon)
    assert designed[target] > 1.5 * circle[target]
    for name in ("s4d-inv", "s4d-lin", "s4d-legs"):
        for dt in (0.003, 0.0056, 0.01, 0.03):
            hippo = whitened_memory_basis(discrete_eigenvalues(name, 32, dt=dt), horizon=horizon).memory_function
            assert designed[target] > hippo[target]


def test_optimiser_improves_a_weighted_profile_from_the_closed_form():
    horizon, target = 128, 60
    weights = np.zeros(horizon)
    weights[target] = 1.0
    result = optimise_memory_eigenvalues(4, weights=weights, horizon=horizon, steps=25, lr=0.05)
    start = whitened_memory_basis(designed_eigenvalues(4, target_delay=target), horizon=horizon).memory_function[target]
    assert result.objective[0] == pytest.approx(start, rel=1e-9)
    assert result.objective[-1] > start
    numerical = whitened_memory_basis(result.eigenvalues, horizon=horizon).memory_function
    np.testing.assert_allclose(result.memory_function, numerical, atol=1e-9)
    assert result.objective[-1] == pytest.approx(numerical[target], rel=1e-9)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="radius"):
        circle_eigenvalues(4, 1.0)
    with pytest.raises(ValueError, match="arc"):
        arc_eigenvalues(4, 0.5, 4.0)
    with pytest.raises(ValueError, match="target_delay"):
        designed_eigenvalues(4, target_delay=0)
    with pytest.raises(ValueError, match="target_delay 2000 must lie inside the horizon 1024"):
        circle_radius_for_delay(16, 2000, horizon=1024)
    with pytest.raises(ValueError, match="valid choices: linear, log"):
        optimise_memory_eigenvalues(4, weights=np.ones(64), horizon=64, objective="max")
