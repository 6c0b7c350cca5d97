"""On the delay task a trained reservoir readout reaches R² ≈ MF(τ*) and cannot learn what MF does not hold."""

import numpy as np
import pytest
import torch

from ssmem.dynamics import finite_horizon_states, whitened_memory_basis, with_skip
from ssmem.ssm import S4D

HORIZON = 256  # Δ = 0.1, Re A = -1/2: |Ā|^256 = e^{-12.8}, so the state is stationary after this many steps
LENGTH = 768


def delay_r2(prediction: torch.Tensor, u: torch.Tensor, delay: int) -> torch.Tensor:
    """R² of predicting u_{t-delay} at the steps t ≥ HORIZON - 1 (targets have unit variance)."""
    target = u[:, HORIZON - 1 - delay : LENGTH - delay]
    return 1 - ((prediction[:, HORIZON - 1 :] - target) ** 2).mean() / (target**2).mean()


def train_reservoir(delay: int, *, skip: bool, steps: int = 200) -> tuple[float, np.ndarray]:
    """Train B, C (and D if ``skip``) of a frozen-eigenvalue S4D channel on the delay task; held-out R²."""
    torch.manual_seed(0)
    model = S4D(1, 16, init="s4d-inv", dt_min=0.1, dt_max=0.1, train="reservoir", seed=0, dtype=torch.float64)
    if not skip:
        with torch.no_grad():
            model.D.zero_()
        model.D.requires_grad_(False)
    generator = torch.Generator().manual_seed(1)
    u_train = torch.randn(64, LENGTH, generator=generator, dtype=torch.float64)
    u_test = torch.randn(64, LENGTH, generator=generator, dtype=torch.float64)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.03)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = 1 - delay_r2(model(u_train[..., None])[..., 0], u_train, delay)
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        r2 = delay_r2(model(u_test[..., None])[..., 0], u_test, delay).item()
    return r2, model.discrete_eigenvalues()[0].numpy()


@pytest.mark.parametrize("skip", [False, True])
def test_trained_reservoir_readout_reaches_the_memory_function(skip):
    delay = 24
    r2, modes = train_reservoir(delay, skip=skip)
    basis = whitened_memory_basis(modes, horizon=HORIZON)
    predicted = (with_skip(basis) if skip else basis).memory_function[delay]
    assert 0.2 < predicted < 0.4  # a delay the memory holds only partly
    assert r2 == pytest.approx(predicted, abs=0.02)


def test_delay_outside_the_memory_is_not_learned():
    delay = 200
    r2, modes = train_reservoir(delay, skip=True)
    assert with_skip(whitened_memory_basis(modes, horizon=HORIZON)).memory_function[delay] < 1e-6
    assert r2 < 0.02


def test_least_squares_readout_on_raw_states_reaches_the_memory_function(rng):
    # the optimum of the readout, fitted on raw (unwhitened) states: R² on held-out data = MF(τ*)
    modes = 0.97 * np.exp(1j * np.linspace(0.2, 2.9, 10))  # |Ā| = 0.97: stationary well within the horizon
    horizon, delay = 512, 40
    mf = whitened_memory_basis(modes, horizon=horizon).memory_function[delay]
    scores = []
    for part in range(2):
        u = rng.normal(size=(8, 6000))
        states = finite_horizon_states(modes, u, horizon=horizon)[:, horizon - 1 :].reshape(-1, 20)
        targets = u[:, horizon - 1 - delay : u.shape[1] - delay].reshape(-1)
        if part == 0:
            weights = np.linalg.lstsq(states, targets, rcond=None)[0]
        else:
            scores.append(1 - np.mean((states @ weights - targets) ** 2) / np.mean(targets**2))
    assert 0.1 < mf < 0.9
    assert scores[0] == pytest.approx(mf, abs=0.01)
