"""The predicted readout gradient equals autograd (float64); the best loss and R² formulas hold."""

import numpy as np
import pytest
import torch

from ssmem.dynamics import (
    empirical_teacher_information,
    error_signal,
    input_autocorrelation,
    nonlinear_readout_gradient,
    optimal_readout,
    predicted_readout_gradient,
    readout_loss,
    teacher_information,
    whitened_memory_basis,
    whitened_states,
)
from ssmem.eigs import discrete_eigenvalues

HORIZON = 48


@pytest.fixture
def basis():
    return whitened_memory_basis(discrete_eigenvalues("s4d-inv", 12, dt=0.1), horizon=HORIZON)


def teacher_targets(u: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """ŷ_t = Σ_τ h_τ u_{t-τ} by direct summation (zero input before t = 0)."""
    y = np.zeros_like(u)
    for tau, h in enumerate(kernel):
        y[..., tau:] += h * u[..., : u.shape[-1] - tau]
    return y


def test_population_gradient_equals_autograd_of_the_population_loss(basis, rng):
    h = teacher_information(rng.normal(size=HORIZON + 10) * np.exp(-0.1 * np.arange(HORIZON + 10)), horizon=HORIZON)
    w = rng.normal(size=basis.rank)
    # the population loss written independently: ½ Σ_τ (Σ_k w_k α̃_τk - h_τ)² over all delays (α̃ = 0 beyond T)
    w_t = torch.tensor(w, requires_grad=True)
    vectors = torch.cat([torch.tensor(basis.vectors), torch.zeros(10, basis.rank, dtype=torch.float64)])
    loss = 0.5 * ((vectors @ w_t - torch.tensor(h)) ** 2).sum()
    loss.backward()
    np.testing.assert_allclose(predicted_readout_gradient(basis, w, h), w_t.grad.numpy(), atol=1e-12)
    assert readout_loss(basis, w, h) == pytest.approx(loss.item(), rel=1e-12)


def test_sample_gradient_equals_autograd_on_simulated_states(basis, rng):
    kernel = rng.normal(size=20)
    u = rng.normal(size=(4, 400))
    y = teacher_targets(u, kernel)
    w = rng.normal(size=basis.rank)
    states = torch.tensor(whitened_states(basis, u)[:, HORIZON - 1 :])  # steps that see the whole horizon
    targets = torch.tensor(y[:, HORIZON - 1 :])
    w_t = torch.tensor(w, requires_grad=True)
    (0.5 * ((states @ w_t - targets) ** 2).mean()).backward()
    h = teacher_information(kernel, horizon=HORIZON)
    R = input_autocorrelation(u, horizon=HORIZON)
    exact = predicted_readout_gradient(basis, w, h, input_autocorrelation=R)
    np.testing.assert_allclose(exact, w_t.grad.numpy(), atol=1e-10)
    # the population prediction is its expectation: close, not equal, for 4·353 steps
    population = predicted_readout_gradient(basis, w, h)
    assert np.linalg.norm(population - w_t.grad.numpy()) < 0.25 * np.linalg.norm(population)
    assert np.linalg.norm(population - w_t.grad.numpy()) > 1e-6
    # a teacher reaching past the horizon: its unseen delays still correlate with the seen ones in the sample
    long_kernel = rng.normal(size=HORIZON + 5)
    w_t.grad = None
    (0.5 * ((states @ w_t - torch.tensor(teacher_targets(u, long_kernel)[:, HORIZON - 1 :])) ** 2).mean()).backward()
    long_h = teacher_information(long_kernel, horizon=HORIZON)
    wide_R = input_autocorrelation(u, horizon=HORIZON, delays=HORIZON + 5)
    np.testing.assert_allclose(wide_R[:, :HORIZON], R, atol=1e-15)
    np.testing.assert_allclose(predicted_readout_gradient(basis, w, long_h, input_autocorrelation=wide_R),
                               w_t.grad.numpy(), atol=1e-10)
    with pytest.raises(ValueError, match=rf"reaches delay {HORIZON + 4} .* delays={HORIZON + 5}\)"):
        predicted_readout_gradient(basis, w, long_h, input_autocorrelation=R)


@pytest.mark.parametrize("activation, loss", [("tanh", "mse"), ("sigmoid", "bce"), ("sigmoid", "mse"), ("identity", "mse")])
def test_nonlinear_readout_gradient_equals_autograd(basis, rng, activation, loss):
    u = rng.normal(size=(3, 300))
    kernel = np.zeros(10)
    kernel[[2, 7]] = [1.0, -0.5]
    y = teacher_targets(u, kernel)
    target = (y > 0).astype(float) if loss == "bce" else np.tanh(y)
    w = 0.3 * rng.normal(size=basis.rank)
    states = torch.tensor(whitened_states(basis, u))
    w_t = torch.tensor(w, requires_grad=True)
    z = states @ w_t
    out = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda v: v}[activation](z)
    target_t = torch.tensor(target)
    if loss == "bce":
        per_step = torch.nn.functional.binary_cross_entropy(out, target_t, reduction="none")
    else:
        per_step = 0.5 * (out - target_t) ** 2
    per_step[:, HORIZON - 1 :].mean().backward()
    G = error_signal(z.detach().numpy(), target, activation=activation, loss=loss)
    np.testing.assert_allclose(nonlinear_readout_gradient(basis, u, G), w_t.grad.numpy(), atol=1e-10)


def test_optimum_has_zero_gradient_and_the_projected_loss(basis, rng):
    h = teacher_information(rng.normal(size=HORIZON + 5), horizon=HORIZON)
    opt = optimal_readout(basis, h, noise_variance=0.3)
    np.testing.assert_allclose(predicted_readout_gradient(basis, opt.weights, h), 0.0, atol=1e-12)
    assert readout_loss(basis, opt.weights, h, noise_variance=0.3) == pytest.approx(opt.loss, rel=1e-12)
    projected = basis.project(h[:HORIZON])
    assert opt.loss == pytest.approx(0.5 * (h @ h - projected @ projected + 0.3), rel=1e-12)
    # any other readout is worse
    assert readout_loss(basis, opt.weights + 0.01 * rng.normal(size=basis.rank), h, noise_variance=0.3) > opt.loss


def test_best_r2_of_a_delay_teacher_is_the_memory_function(basis):
    mf = basis.memory_function
    for delay in (0, 3, 11, 30):
        assert optimal_readout(basis, teacher_information(delay, horizon=HORIZON)).r2 == pytest.approx(mf[delay], abs=1e-12)
    # a delay beyond the horizon is invisible
    assert optimal_readout(basis, teacher_information(HORIZON + 4, horizon=HORIZON)).r2 == 0.0


def test_empirical_teacher_information_recovers_the_kernel(rng):
    kernel = np.array([0.0, 1.0, 0.0, -2.0, 0.5])
    u = rng.normal(size=(8, 5000))
    estimate = empirical_teacher_information(u, teacher_targets(u, kernel), horizon=16)
    np.testing.assert_allclose(estimate[:5], kernel, atol=0.05)
    np.testing.assert_allclose(estimate[5:], 0.0, atol=0.05)


def test_bad_arguments_are_named(basis):
    with pytest.raises(ValueError, match="delay >= 0"):
        teacher_information(-1, horizon=8)
    with pytest.raises(ValueError, match="horizon = 48"):
        predicted_readout_gradient(basis, np.zeros(basis.rank), np.zeros(10))
    with pytest.raises(ValueError, match="valid choices: mse, bce"):
        error_signal(np.zeros(3), np.zeros(3), activation="tanh", loss="hinge")
    with pytest.raises(ValueError, match="valid choices: identity, tanh, sigmoid"):
        error_signal(np.zeros(3), np.zeros(3), activation="relu", loss="mse")
    with pytest.raises(ValueError, match="loss 'bce' needs outputs in \\(0, 1\\), so activation 'sigmoid'; got activation 'tanh'"):
        error_signal(np.zeros(3), np.zeros(3), activation="tanh", loss="bce")
    u = np.zeros((3, 40))
    with pytest.raises(ValueError, match=r"horizon must be an integer in 1..40 \(the sequence length\); got 48"):
        nonlinear_readout_gradient(basis, u, u)
    with pytest.raises(ValueError, match=r"horizon must be an integer in 1..40 \(the sequence length\); got 0"):
        input_autocorrelation(u, horizon=0)
    with pytest.raises(ValueError, match=r"inputs \(40,\) and the signal \(3, 40\) must be sequences"):
        nonlinear_readout_gradient(basis, u[0], u)
    with pytest.raises(ValueError, match=r"delays must be an integer >= horizon \(8\); got 4"):
        input_autocorrelation(u, horizon=8, delays=4)
    teacher = teacher_information(3, horizon=HORIZON)
    for noise in (-0.5, float("nan")):
        with pytest.raises(ValueError, match=rf"noise_variance must be a finite number >= 0, got {noise}"):
            optimal_readout(basis, teacher, noise_variance=noise)
        with pytest.raises(ValueError, match="noise_variance must be a finite number >= 0"):
            readout_loss(basis, np.zeros(basis.rank), teacher, noise_variance=noise)
    with pytest.raises(ValueError, match="teacher information must be finite"):
        optimal_readout(basis, np.full(HORIZON, np.nan))
    with pytest.raises(ValueError, match=r"modes are one system's eigenvalues, shape \(n_modes,\); got shape \(2, 2\)"):
        whitened_memory_basis(np.full((2, 2), 0.5 + 0.1j), horizon=HORIZON)
