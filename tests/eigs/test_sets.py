"""Every registered eigenvalue set: shape, stability, determinism, and its defining formula."""

import numpy as np
import pytest

from ssmem.eigs import (
    EIGENVALUE_SETS,
    continuous_eigenvalues,
    discrete_eigenvalues,
    hippo_legs,
    hippo_legs_normal_part,
    n_modes_of,
    set_eigenvalues,
    to_continuous,
    to_discrete,
)
from ssmem._registry import UnknownNameError

ALL_SETS = EIGENVALUE_SETS.names()
D_STATE = 32
M = D_STATE // 2


def test_paper_sets_are_registered():
    for name in ["s4d-inv", "s4d-lin", "s4d-legs", "s4d-real", "random", "lin", "step"]:
        assert name in EIGENVALUE_SETS


@pytest.mark.parametrize("name", ALL_SETS)
@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_shape_and_stability(name, discretization):
    dt = np.array([1e-3, 1e-2, 1e-1])
    A = continuous_eigenvalues(name, D_STATE, dt=dt, discretization=discretization, seed=3)
    A_bar = discrete_eigenvalues(name, D_STATE, dt=dt, discretization=discretization, seed=3)
    assert A.shape == A_bar.shape == (3, M)
    assert A.dtype == A_bar.dtype == np.complex128
    assert np.all(A.real < 0)
    assert np.all(np.abs(A_bar) < 1) and np.all(np.abs(A_bar) > 0)
    # the two views are one system: discretising A gives A_bar
    np.testing.assert_allclose(to_discrete(A, dt[:, None], discretization), A_bar, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ALL_SETS)
def test_seed_determinism(name):
    first = set_eigenvalues(name, D_STATE, seed=7)
    again = set_eigenvalues(name, D_STATE, seed=7)
    np.testing.assert_array_equal(first, again)
    other = set_eigenvalues(name, D_STATE, seed=8)
    if EIGENVALUE_SETS.get(name).seeded:
        assert not np.array_equal(first, other)
    else:
        np.testing.assert_array_equal(first, other)


def test_s4d_inv_formula():
    n = np.arange(M)
    expected = -0.5 + 1j * (D_STATE / np.pi) * (D_STATE / (2 * n + 1) - 1)
    np.testing.assert_allclose(set_eigenvalues("s4d-inv", D_STATE), expected, rtol=0, atol=0)


def test_s4d_lin_formula():
    np.testing.assert_array_equal(set_eigenvalues("s4d-lin", D_STATE), -0.5 + 1j * np.pi * np.arange(M))


def test_s4d_real_formula():
    np.testing.assert_array_equal(set_eigenvalues("s4d-real", D_STATE), -(np.arange(M) + 1.0) + 0j)


def test_hippo_legs_matrix_and_its_eigenvalues():
    A, B = hippo_legs(6)
    assert A[0, 0] == -1 and A[2, 2] == -3 and A[0, 3] == 0
    assert A[3, 1] == pytest.approx(-np.sqrt(7 * 3))
    np.testing.assert_allclose(B, np.sqrt(2 * np.arange(6) + 1))
    # triangular: the eigenvalues are -1, ..., -N (the s4d-real set taken with N modes)
    np.testing.assert_allclose(np.sort(np.linalg.eigvals(A).real), -np.arange(6, 0, -1.0))


def test_s4d_legs_are_the_normal_part_frequencies():
    S = hippo_legs_normal_part(D_STATE)
    np.testing.assert_allclose(S, -S.T, atol=1e-12)  # skew-symmetric
    eig = np.linalg.eigvals(S)
    expected = np.sort(eig.imag[eig.imag > 0])
    got = set_eigenvalues("s4d-legs", D_STATE)
    np.testing.assert_allclose(got.real, -0.5)
    np.testing.assert_allclose(got.imag, expected, rtol=1e-9)


def test_lin_formula():
    k = np.arange(1, M + 1)
    got = set_eigenvalues("lin", D_STATE)
    np.testing.assert_allclose(np.abs(got), 0.99 * k / M, rtol=1e-14)
    np.testing.assert_allclose(np.angle(got), np.pi * (k - 0.5) / M, rtol=1e-14)


def test_step_has_four_moduli_levels_with_even_phases():
    got = set_eigenvalues("step", D_STATE)
    levels = np.unique(np.round(np.abs(got), 12))
    np.testing.assert_allclose(levels, 0.99 * np.arange(1, 5) / 4, rtol=1e-12)
    for level in levels:
        phases = np.sort(np.angle(got[np.isclose(np.abs(got), level)]))
        assert len(phases) == M // 4
        np.testing.assert_allclose(np.diff(phases), np.pi / len(phases), rtol=1e-12)
        assert 0 < phases[0] and phases[-1] < np.pi


def test_random_is_uniform_by_area_in_the_upper_half_disk():
    z = set_eigenvalues("random", 2 * 20000, seed=0)
    assert np.all(np.abs(z) < 1) and np.all(z.imag > 0)
    # uniform by area: P(|z| < r) = r^2, so E|z|^2 = 1/2 and the phase is uniform on (0, pi)
    assert np.mean(np.abs(z) ** 2) == pytest.approx(0.5, abs=0.01)
    assert np.mean(np.angle(z)) == pytest.approx(np.pi / 2, abs=0.02)


@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_discrete_sets_round_trip_through_a_layer_step(discretization):
    A_bar = set_eigenvalues("lin", D_STATE)
    A = to_continuous(A_bar, 0.05, discretization)
    np.testing.assert_allclose(to_discrete(A, 0.05, discretization), A_bar, rtol=1e-13)


@pytest.mark.parametrize("d_state", [0, 3, 31, -2, 2.0, True])
def test_bad_d_state(d_state):
    with pytest.raises(ValueError, match="d_state must be an even integer"):
        n_modes_of(d_state)


def test_unknown_set_names_the_valid_choices():
    with pytest.raises(UnknownNameError, match="valid choices: .*s4d-inv") as err:
        set_eigenvalues("s4d-invv", 8)
    assert "Did you mean 's4d-inv'" in str(err.value)


def test_discrete_set_needs_dt():
    with pytest.raises(ValueError, match="pass dt"):
        continuous_eigenvalues("lin", 8)


@pytest.mark.parametrize("dt", [0.0, -1.0, np.nan])
def test_bad_dt(dt):
    with pytest.raises(ValueError, match="dt must be positive"):
        discrete_eigenvalues("s4d-inv", 8, dt=dt)


def test_bad_discretization():
    with pytest.raises(ValueError, match="valid choices: zoh, bilinear"):
        discrete_eigenvalues("s4d-inv", 8, dt=0.1, discretization="euler")
