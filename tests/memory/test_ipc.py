"""Information processing capacity: closed forms (orthonormal targets, systems whose capacities are known), the
projection against least squares, degree 1 against the exact MF, the significance thresholds."""

import math

import numpy as np
import pytest
import torch

from ssmem.memory import memory_function
from ssmem.memory.empirical import diagonal_system
from ssmem.memory.ipc import (
    _target_capacities_reference,
    chi2_threshold,
    draw_inputs,
    draw_ipc,
    information_capacity,
    orthonormal_polynomials,
    span_targets,
    state_basis,
    target_capacities,
    target_families,
)

# four modes of a real diagonal SSM (d_state 8) whose memory has faded by delay 30
MODES = np.array([0.3 * np.exp(0.5j), 0.5 * np.exp(1.2j), 0.6 * np.exp(2.0j), 0.7 * np.exp(2.8j)])


@pytest.fixture(autouse=True)
def one_thread():
    """Small float64 problems: one thread avoids oversubscribing a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("distribution", ["uniform", "gaussian"])
def test_polynomials_are_orthonormal_under_their_distribution(distribution):
    # Gauss quadrature with 20 nodes integrates these products (degree ≤ 16) exactly
    if distribution == "uniform":
        nodes, weights = np.polynomial.legendre.leggauss(20)
        weights = weights / 2  # density 1/2 on [-1, 1]
    else:
        nodes, weights = np.polynomial.hermite_e.hermegauss(20)
        weights = weights / math.sqrt(2 * math.pi)  # weight exp(-u²/2) → the N(0, 1) density
    polys = orthonormal_polynomials(torch.as_tensor(nodes), 8, distribution).numpy()  # (20, 9)
    gram = polys.T @ (weights[:, None] * polys)
    np.testing.assert_allclose(gram, np.eye(9), atol=1e-10)


def test_projection_matches_least_squares_values_and_gradients():
    gen = torch.Generator().manual_seed(0)
    states = torch.randn(300, 6, dtype=torch.float64, generator=gen)
    states = (states @ torch.randn(6, 6, dtype=torch.float64, generator=gen) + 0.5).requires_grad_()
    targets = torch.randn(300, 5, dtype=torch.float64, generator=gen)
    targets[:, 0] += states[:, 0].detach() * 2  # one target the states largely explain
    targets.requires_grad_()
    weights = torch.arange(1.0, 6.0, dtype=torch.float64)

    basis, rank = state_basis(states)
    fast = target_capacities(basis, targets)
    reference = _target_capacities_reference(states, targets)
    assert rank == 6
    torch.testing.assert_close(fast, reference, rtol=1e-10, atol=1e-12)
    grads_fast = torch.autograd.grad((weights * fast).sum(), (states, targets))
    grads_reference = torch.autograd.grad((weights * reference).sum(), (states, targets))
    for g_fast, g_reference in zip(grads_fast, grads_reference):
        torch.testing.assert_close(g_fast, g_reference, rtol=1e-8, atol=1e-10)


def test_dependent_and_constant_state_columns_do_not_count():
    gen = torch.Generator().manual_seed(1)
    independent = torch.randn(400, 3, dtype=torch.float64, generator=gen)
    states = torch.cat([independent, independent[:, :1] - 2 * independent[:, 2:], torch.full((400, 1), 3.0)], 1)
    targets = torch.randn(400, 4, dtype=torch.float64, generator=gen) + independent[:, 1:2]
    basis, rank = state_basis(states)
    assert rank == 3 and basis.shape == (400, 3)
    torch.testing.assert_close(target_capacities(basis, targets), _target_capacities_reference(independent, targets))


def test_span_targets_enumerate_delay_subsets_and_power_orders():
    delays, powers = span_targets((2, 1), 2)
    assert delays.tolist() == [[0, 2], [0, 2], [1, 2], [1, 2]]
    assert powers.tolist() == [[1, 2], [2, 1], [1, 2], [2, 1]]
    assert target_families(3) == [(1,), (2,), (1, 1), (3,), (2, 1), (1, 1, 1)]
    # C(span, m - 1) delay subsets times the distinct orders of the powers
    assert span_targets((2, 1, 1), 6)[0].shape == (math.comb(6, 2) * 3, 3)


@pytest.fixture(scope="module")
def linear_result():
    n_samples, max_delay = 5000, 30
    u = np.random.default_rng(2).uniform(-1, 1, n_samples + max_delay - 1)
    return information_capacity(diagonal_system(MODES)(u), u, max_delay=max_delay, seed=0)


def test_degree_one_capacities_are_the_memory_function(linear_result):
    r = linear_result
    mf = memory_function(MODES, horizon=None, max_delay=29).mf
    first = np.array([r.capacity_of({k: 1}) for k in range(30)])
    # in-sample R²: biased up by (1 - MF)·rank/T, sampling s.d. ≈ √(4 MF (1 - MF)² / T); zero below the threshold
    sd = np.sqrt(4 * mf * (1 - mf) ** 2 / r.n_samples)
    kept = first > 0
    assert np.all(np.abs(first - mf)[kept] < 4 * sd[kept] + r.rank / r.n_samples + 1e-12)
    assert np.all(mf[~kept] < 2 * r.threshold[0])
    assert kept[:9].all()


def test_linear_system_has_all_capacity_in_degree_one(linear_result):
    r = linear_result
    assert r.rank == 8 and r.n_samples == 5000 and r.truncated_families == 0
    assert r.by_degree[1:].tolist() == [0.0, 0.0]
    assert r.total == pytest.approx(8.0, abs=0.1)


@pytest.mark.parametrize("distribution", ["uniform", "gaussian"])
def test_quadratic_system_puts_its_square_in_degree_two(distribution):
    u = draw_inputs(distribution, (4000,), seed=3).numpy()
    states = np.stack([u, np.roll(u, 1) ** 2, np.roll(u, 2)], axis=1)  # x_t = [u_t, u²_{t-1}, u_{t-2}]
    r = information_capacity(states, u, max_delay=8, distribution=distribution, seed=0)
    # u² is affine in the orthonormal P_2(u) under both distributions: that target is read exactly
    assert r.capacity_of({1: 2}) == pytest.approx(1.0, abs=1e-9)
    assert r.capacity_of({0: 1}) == pytest.approx(1.0, abs=1e-9)
    assert r.capacity_of({2: 1}) == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(r.by_degree[:2], [2.0, 1.0], atol=1e-9)
    # degree-3 targets sharing u_{t-1} with the u² state are uncorrelated with it yet not independent of it, so
    # their null spread exceeds χ²_r / T and a few heavy-tailed (Hermite) ones pass the threshold, barely
    assert r.by_degree[2] < 0.05
    assert r.rank == 3


def test_tanh_reservoir_total_is_at_most_its_rank_and_odd():
    rng = np.random.default_rng(4)
    n_units, n_steps, washout = 10, 4000, 100
    recurrent = rng.standard_normal((n_units, n_units))
    recurrent *= 0.9 / np.abs(np.linalg.eigvals(recurrent)).max()
    input_weights = rng.uniform(-1, 1, n_units)
    u = rng.uniform(-1, 1, washout + n_steps)
    states, x = np.zeros((u.size, n_units)), np.zeros(n_units)
    for t, u_t in enumerate(u):
        x = np.tanh(recurrent @ x + input_weights * u_t)
        states[t] = x
    r = information_capacity(states, u, max_delay=50, washout=washout, seed=0)
    assert r.rank == n_units and r.truncated_families == 0
    assert 0.5 * n_units < r.total <= n_units + 0.05
    # an odd map of the input (tanh, no bias): no even-degree target correlates with the state
    assert r.by_degree[1] == 0.0 and r.by_degree[2] > 0.0


def test_noise_states_have_no_capacity_after_the_chi2_threshold():
    rng = np.random.default_rng(5)
    states, u = rng.standard_normal((3000, 10)), rng.uniform(-1, 1, 3000)
    r = information_capacity(states, u, max_delay=20, patience=5, seed=0)
    assert r.total == 0.0 and r.threshold_method == "chi2"
    assert r.threshold[0] == pytest.approx(chi2_threshold(10, r.n_samples, 1e-4))
    # every family stops after exactly `patience` spans: Σ_families C(m - 1 + patience, m) × (orders of the powers)
    assert r.capacities.size == 5 + 5 + 15 + 5 + 2 * 15 + 35
    unthresholded = information_capacity(states, u, max_delay=20, threshold=0.0, seed=0)
    assert unthresholded.total > 0 and unthresholded.truncated_families == len(target_families(3))
    # a target unrelated to the states: E[C] = rank / (T - 1)
    assert unthresholded.raw_capacities.mean() == pytest.approx(10 / (unthresholded.n_samples - 1), rel=0.1)


def test_shuffle_threshold_agrees_with_chi2_for_gaussian_states():
    rng = np.random.default_rng(6)
    states, u = rng.standard_normal((3000, 10)), rng.uniform(-1, 1, 3000)
    shuffled = information_capacity(states, u, max_delay=10, patience=3, threshold="shuffle", seed=0)
    chi2 = chi2_threshold(10, shuffled.n_samples, 1e-4)
    np.testing.assert_allclose(shuffled.threshold, chi2, rtol=0.25)
    assert shuffled.total == 0.0 and shuffled.threshold_method == "shuffle"


def _square_memory(u: torch.Tensor) -> torch.Tensor:
    """(B, L, 1) → (B, L, 2): [u_t, u²_{t-1}]."""
    return torch.cat([u, torch.roll(u, 1, dims=1) ** 2], dim=-1)


def test_model_route_equals_the_states_route():
    from_model = information_capacity(_square_memory, max_delay=6, n_samples=1500, n_sequences=2, washout=5,
                                      max_degree=2, seed=7)
    inputs = draw_inputs("uniform", (2, 1505), seed=np.random.default_rng(7))
    from_states = information_capacity(_square_memory(inputs[..., None]), inputs, max_delay=6, washout=5,
                                       max_degree=2, seed=7)
    assert from_model.n_samples == 3000 and from_model.delays == from_states.delays
    np.testing.assert_allclose(from_model.raw_capacities, from_states.raw_capacities, rtol=0, atol=1e-14)
    assert from_model.capacity_of({1: 2}) == pytest.approx(1.0, abs=1e-9)


def test_bar_heights_are_the_capacities_per_degree():
    import matplotlib.pyplot as plt

    u = draw_inputs("uniform", (2000,), seed=8).numpy()
    r = information_capacity(np.stack([u, np.roll(u, 1) ** 2], 1), u, max_delay=4, seed=0)
    fig, ax = plt.subplots()
    heights = [bar.get_height() for bar in draw_ipc(r, ax)]
    plt.close(fig)
    np.testing.assert_allclose(heights, r.by_degree)


def test_bad_arguments_name_the_choices():
    u = np.linspace(-1, 1, 200)
    states = np.stack([u, u**2], 1)
    with pytest.raises(ValueError, match="valid choices: uniform, gaussian"):
        information_capacity(states, u, distribution="beta")
    with pytest.raises(ValueError, match="valid choices: chi2, shuffle"):
        information_capacity(states, u, threshold="bonferroni")
    with pytest.raises(ValueError, match=r"input on \[-1, 1\]"):
        information_capacity(states, 2 * u)
    with pytest.raises(ValueError, match="washout must be an integer >= max_delay - 1 = 9"):
        information_capacity(states, u, max_delay=10, washout=3)
    with pytest.raises(ValueError, match=r"states must be \(T, N\) with inputs \(T,\)"):
        information_capacity(states, u[:-1])
