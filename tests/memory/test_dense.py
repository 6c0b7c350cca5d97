"""Dense (S4) memory function: against a 60-digit dense Gram computation, S4-LegS == s4d-real, invariance."""

import numpy as np
import pytest
from ._mp_memory_reference import mp_dense_memory_function
from scipy.linalg import solve_triangular

from ssmem.eigs import discrete_eigenvalues, hippo_legs
from ssmem.memory import block_diagonal_system, dense_memory_function, memory_function


def bilinear_legs(d_state: int, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """S4's bilinear HiPPO-LegS, exactly lower triangular (so its eigenvalues are its diagonal)."""
    A, B = hippo_legs(d_state)
    left = np.eye(d_state) - dt * A / 2
    return (
        solve_triangular(left, np.eye(d_state) + dt * A / 2, lower=True),
        solve_triangular(left, dt * B, lower=True),
    )


def random_similarity(d_state: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    S = rng.standard_normal((d_state, d_state))
    return S, np.linalg.inv(S)


@pytest.mark.parametrize("rotate", [False, True])
def test_dense_legs_against_mpmath_dense_gram(rotate, rng):
    A_bar, B_bar = bilinear_legs(10, 0.1)
    if rotate:  # a genuinely dense matrix: LAPACK's eigenvalues of it are no longer exact
        S, S_inv = random_similarity(10, rng)
        A_bar, B_bar = S @ A_bar @ S_inv, S @ B_bar
    delays = [0, 1, 3, 8, 20, 50, 120, 199]
    profile = dense_memory_function(A_bar, B_bar, horizon=200)
    reference = mp_dense_memory_function(A_bar, B_bar, 200, delays, dps=60)
    np.testing.assert_allclose(profile.mf[delays], reference, atol=1e-9, rtol=0)
    assert profile.rank == 10 and profile.capacity == pytest.approx(10, abs=1e-9)


@pytest.mark.parametrize("d_state, dt", [(32, 0.01), (64, 0.001), (64, 0.1)])
def test_s4_legs_equals_its_eigenvalues_equals_s4d_real(d_state, dt, rng):
    """PAPER.md §4: S4-LegS with state N remembers exactly like s4d-real with N modes (d_state 2N), not s4d-legs."""
    A_bar, B_bar = bilinear_legs(d_state, dt)
    dense = dense_memory_function(A_bar, B_bar, horizon=1024)
    eigen = memory_function(np.diag(A_bar) + 0j, horizon=1024)  # its discrete eigenvalues (triangular: exact)
    s4d_real = memory_function(discrete_eigenvalues("s4d-real", 2 * d_state, dt=dt, discretization="bilinear"), horizon=1024)
    np.testing.assert_allclose(dense.mf, eigen.mf, atol=1e-10)
    np.testing.assert_allclose(dense.mf, s4d_real.mf, atol=1e-10)
    assert dense.rank == s4d_real.rank == d_state
    S, S_inv = random_similarity(d_state, rng)
    rotated = dense_memory_function(S @ A_bar @ S_inv, S @ B_bar, horizon=1024)
    np.testing.assert_allclose(rotated.mf, dense.mf, atol=1e-10)
    # ... and differently from s4d-legs (eigenvalues of LegS's normal part)
    s4d_legs = memory_function(discrete_eigenvalues("s4d-legs", d_state, dt=dt, discretization="bilinear"), horizon=1024)
    assert np.abs(s4d_legs.mf - dense.mf).max() > 1e-2


@pytest.mark.parametrize("name", ["random", "s4d-inv", "step"])
@pytest.mark.parametrize("horizon", [512, None])
def test_similarity_invariance(name, horizon, rng):
    modes = discrete_eigenvalues(name, 16, dt=0.05, seed=1)
    diagonal = memory_function(modes, horizon=horizon, max_delay=511)
    A_bar, B_bar = block_diagonal_system(modes)
    S, S_inv = random_similarity(16, rng)
    for A, B in ((A_bar, B_bar), (S @ A_bar @ S_inv, S @ B_bar), (A_bar, 3.0 * B_bar - 0.5 * A_bar @ B_bar)):
        dense = dense_memory_function(A, B, horizon=horizon, max_delay=511)
        np.testing.assert_allclose(dense.mf, diagonal.mf, atol=1e-10)
        assert dense.rank == 16


def test_unexcited_modes_drop_out(rng):
    modes = discrete_eigenvalues("lin", 12, dt=0.01)
    A_bar, B_bar = block_diagonal_system(modes)
    B_bar[4:6] = 0.0  # the third pair is never driven
    S, S_inv = random_similarity(12, rng)
    dense = dense_memory_function(S @ A_bar @ S_inv, S @ B_bar, horizon=300)
    excited = memory_function(np.delete(modes, 2), horizon=300)
    assert dense.rank == 10
    np.testing.assert_allclose(dense.mf, excited.mf, atol=1e-10)


def test_jordan_block_remembers_like_its_confluent_sequences():
    lam, T = 0.8, 60
    dense = dense_memory_function(np.array([[lam, 1.0], [0.0, lam]]), np.array([0.0, 1.0]), horizon=T)
    tau = np.arange(T)
    q, _ = np.linalg.qr(np.stack([lam**tau, tau * lam**tau], axis=1))  # span{λ^τ, τ λ^τ}
    np.testing.assert_allclose(dense.mf, (q**2).sum(1), atol=1e-12)
    assert dense.rank == 2


def test_bad_dense_inputs():
    with pytest.raises(ValueError, match="B_bar is zero"):
        dense_memory_function(np.eye(3) * 0.5, np.zeros(3), horizon=10)
    with pytest.raises(ValueError, match="must be real"):
        dense_memory_function(np.eye(2) * 0.5j, np.ones(2), horizon=10)
    with pytest.raises(ValueError, match=r"B_bar must have shape \(3,\)"):
        dense_memory_function(np.eye(3) * 0.5, np.ones(2), horizon=10)
