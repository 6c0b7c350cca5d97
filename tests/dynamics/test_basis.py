"""The whitened memory basis: orthonormal, the right capacity, and equal to a high-precision MF."""

import mpmath
import numpy as np
import pytest

from ssmem.dynamics import (
    distinct_poles,
    finite_horizon_states,
    memory_vectors,
    whitened_memory_basis,
    whitened_states,
    whitening_matrix,
    with_skip,
)
from ssmem.eigs import discrete_eigenvalues


def high_precision_mf(modes: np.ndarray, horizon: int, digits: int = 60) -> np.ndarray:
    """MF(τ) = α_τᵀ Σ⁻¹ α_τ with the real Gram matrix inverted in ``digits``-digit arithmetic."""
    with mpmath.workdps(digits):
        poles = [mpmath.mpc(z.real, z.imag) for z in modes]
        rows = []
        for tau in range(horizon):
            row = []
            for z in poles:
                power = z**tau
                row += [power.real, power.imag]
            rows.append(row)
        vectors = mpmath.matrix(rows)
        gram_inverse = (vectors.T * vectors) ** -1
        return np.array([float((vectors[t, :] * gram_inverse * vectors[t, :].T)[0]) for t in range(horizon)])


@pytest.mark.parametrize(
    "name, dt",
    [("random", 1.0), ("lin", 1.0), ("s4d-inv", 0.001)],  # cond(G) ~ 1e10..1e17: the Gram route fails in float64
)
def test_basis_matches_high_precision_memory_function(name, dt):
    modes = discrete_eigenvalues(name, 12, dt=dt, seed=3)
    basis = whitened_memory_basis(modes, horizon=64)
    reference = high_precision_mf(modes, 64)
    assert basis.rank == 12
    np.testing.assert_allclose(basis.memory_function, reference, atol=1e-10)


@pytest.mark.parametrize("name, d_state, rank", [("s4d-inv", 32, 32), ("s4d-lin", 32, 31), ("s4d-real", 32, 16)])
def test_capacity_is_the_number_of_distinct_real_eigenvalues(name, d_state, rank):
    modes = discrete_eigenvalues(name, d_state, dt=0.01)
    basis = whitened_memory_basis(modes, horizon=1024)
    assert basis.rank == rank
    np.testing.assert_allclose(basis.vectors.T @ basis.vectors, np.eye(rank), atol=1e-12)
    assert basis.memory_function.sum() == pytest.approx(rank, abs=1e-9)


def test_repeated_modes_count_once():
    modes = np.array([0.5 + 0.3j, 0.5 - 0.3j, 0.2 + 0j, 0.2 + 0j])
    poles = distinct_poles(modes)
    assert sorted(poles.imag) == pytest.approx([-0.3, 0.0, 0.3])
    assert whitened_memory_basis(modes, horizon=50).rank == 3


@pytest.mark.parametrize(
    "modes",
    [[0.5 + 1e-11j], [0.5, 0.5 + 5e-11], [1e-11 + 0j, 2e-11 + 0j]],
    ids=["nearly-real-pair", "close-real-poles", "tiny-poles"],
)
def test_close_but_distinct_poles_count_as_the_exact_memory_function_counts_them(modes):
    """Distinct to float64 (relative 1e-12) means distinct in both: two memory dimensions, the same MF."""
    from ssmem.memory import memory_function

    modes = np.array(modes)
    exact = memory_function(modes, horizon=64)
    basis = whitened_memory_basis(modes, horizon=64)
    assert basis.rank == 2 and exact.capacity == pytest.approx(2.0, abs=1e-9)
    np.testing.assert_allclose(basis.memory_function, exact.mf, atol=1e-12)


def test_single_real_mode_has_the_geometric_memory_function():
    # one real eigenvalue a: MF(τ) = a^{2τ} (1 - a²) / (1 - a^{2T}) over a horizon T
    a, horizon = 0.8, 40
    mf = whitened_memory_basis(np.array([a + 0j]), horizon=horizon).memory_function
    tau = np.arange(horizon)
    np.testing.assert_allclose(mf, a ** (2 * tau) * (1 - a**2) / (1 - a ** (2 * horizon)), rtol=1e-12)


def test_whitening_maps_raw_vectors_and_states_to_the_basis(rng):
    modes = discrete_eigenvalues("s4d-inv", 16, dt=0.05)
    b_bar = rng.normal(size=8) + 1j * rng.normal(size=8)
    basis = whitened_memory_basis(modes, horizon=128)
    W = whitening_matrix(modes, basis, input_weights=b_bar)
    raw = memory_vectors(modes, horizon=128, input_weights=b_bar)
    np.testing.assert_allclose(raw @ W.T, basis.vectors, atol=1e-9)
    u = rng.normal(size=(2, 300))
    np.testing.assert_allclose(
        finite_horizon_states(modes, u, horizon=128, input_weights=b_bar) @ W.T, whitened_states(basis, u), atol=1e-9
    )
    b_bar[[2, 5]] = 0  # silent modes: their states stay 0, so no W can reach the basis (it was off by 0.5)
    with pytest.raises(ValueError, match=r"input_weights are zero for modes \[2, 5\]"):
        whitening_matrix(modes, basis, input_weights=b_bar)


def test_finite_horizon_states_equal_the_recurrence_while_t_is_inside_the_horizon(rng):
    modes = np.array([0.9 * np.exp(0.4j), 0.5 * np.exp(2.0j)])
    u = rng.normal(size=60)
    z = np.zeros(2, dtype=complex)
    states = []
    for u_t in u:
        z = modes * z + u_t
        states.append(np.concatenate([z.real, z.imag]))
    np.testing.assert_allclose(finite_horizon_states(modes, u, horizon=60), np.array(states), atol=1e-12)


def test_skip_adds_the_current_input_direction():
    modes = discrete_eigenvalues("s4d-inv", 8, dt=0.1)
    basis = whitened_memory_basis(modes, horizon=100)
    skip = with_skip(basis)
    assert skip.rank == basis.rank + 1
    assert skip.memory_function[0] == pytest.approx(1.0, abs=1e-12)
    assert skip.memory_function.sum() == pytest.approx(basis.rank + 1, abs=1e-9)


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="horizon"):
        whitened_memory_basis(np.array([0.5 + 0.1j]), horizon=0)
    with pytest.raises(ValueError, match=r"\|Ā\| < 1"):
        whitened_memory_basis(np.array([1.2 + 0j]), horizon=10)


def test_a_zero_eigenvalue_remembers_only_the_current_input():
    """Ā = 0 maps u_t to the state at once and forgets it: α_τ = [τ = 0], no NaN (0·log 0)."""
    raw = memory_vectors(np.array([0.5 + 0j, 0.0 + 0j]), horizon=4)
    assert np.allclose(raw[:, 0], 0.5 ** np.arange(4), rtol=1e-15) and np.array_equal(raw[:, 1], [1.0, 0.0, 0.0, 0.0])
    u = np.random.default_rng(0).standard_normal(16)
    states = finite_horizon_states(np.array([0.5 + 0j, 0.0 + 0j]), u, horizon=16)
    assert np.allclose(states[:, 1], u, atol=1e-12) and np.isfinite(states).all()
