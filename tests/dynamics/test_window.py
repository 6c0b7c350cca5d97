"""The shared-readout window basis against least squares on simulated states, and against ssmem.memory."""

import numpy as np
import pytest

from ssmem.dynamics import (
    finite_horizon_states,
    optimal_readout,
    step_weights,
    teacher_information,
    whitened_memory_basis,
    window_basis,
    with_skip,
)
from ssmem.eigs import discrete_eigenvalues
from ssmem.memory import memory_function


@pytest.mark.parametrize("name, dt", [("s4d-inv", 0.01), ("s4d-lin", 0.01), ("random", 1.0), ("lin", 1.0), ("mf-designed", 1.0)])
def test_basis_memory_function_equals_the_memory_package(name, dt):
    modes = discrete_eigenvalues(name, 32, dt=dt)
    ours = whitened_memory_basis(modes, horizon=1024).memory_function
    np.testing.assert_allclose(ours, memory_function(modes, horizon=1024).mf, atol=1e-9)


def test_step_weights_count_the_steps_that_see_each_delay():
    c = step_weights(10, 6)  # steps 6, 7, 8, 9
    np.testing.assert_allclose(c, [1, 1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25])


def test_window_prediction_equals_least_squares_on_simulated_states(rng):
    # slow modes: the steps of the window see clearly different horizons, so the stationary MF would be wrong
    modes = discrete_eigenvalues("s4d-inv", 12, dt=0.01)
    length, start = 160, 80
    kernel = rng.normal(size=30)
    u = rng.normal(size=(3000, length))
    states = finite_horizon_states(modes, u, horizon=length)[:, start:]  # (n, L - start, 12)
    target = np.stack([np.convolve(row, kernel)[:length] for row in u])[:, start:]
    features = np.concatenate([states, u[:, start:, None]], axis=-1).reshape(-1, 13)  # state + direct term
    weights = np.linalg.lstsq(features, target.reshape(-1), rcond=None)[0]
    fitted_r2 = 1 - np.mean((features @ weights - target.reshape(-1)) ** 2) / np.mean(target**2)
    weighted = np.sqrt(step_weights(length, start)) * teacher_information(kernel, horizon=length)
    predicted = optimal_readout(window_basis(modes, length=length, start=start, skip=True), weighted).r2
    full_horizon = optimal_readout(
        with_skip(whitened_memory_basis(modes, horizon=length)), teacher_information(kernel, horizon=length)
    ).r2
    assert fitted_r2 == pytest.approx(predicted, abs=0.005)
    assert abs(full_horizon - predicted) > 0.01  # for these modes the shared readout over the window matters
