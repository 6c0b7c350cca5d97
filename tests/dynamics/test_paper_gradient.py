"""The eigenvalue gradient of PAPER.md §5 against torch autograd (float64, a few modes, finite horizon T).

One channel, stored upper-half modes λ̄_n = exp(ρ_n + iθ_n), kernel K_τ = 2 Re Σ_n γ_n λ̄_n^τ (τ < T), teacher
information h*, population loss L = ½ Σ_{τ<T} (K_τ - h*_τ)² + const. The document's formula:

    ∂L/∂ρ_n + i ∂L/∂θ_n = 2 conj(γ_n) Σ_{τ<T} τ conj(λ̄_n)^τ r_τ,   r_τ = K_τ - h*_τ

the teacher reaches it only through its projection on S₂ = span{λ̄_n^τ, τ λ̄_n^τ}, and at the readout optimum it
is -Jᵀ (P_{S₂} - P_S) h*, bounded by ‖J‖₂ sqrt(MF₂(τ*) - MF(τ*)) for a delay teacher.
"""

import numpy as np
import pytest
import torch

from ssmem.memory.analytic import distinct_spectrum, memory_function, profile_from_poles
from ssmem.ssm import S4D
from ssmem.ssm.kernels import discretize_diagonal

HORIZON = 160
DT = 0.1
# three complex modes, far enough apart that the explicit (T, 4n) bases below are well conditioned
MODES = np.array([0.9 * np.exp(0.4j), 0.75 * np.exp(1.9j), 0.6 * np.exp(2.8j)])


def eigenvalue_gradient(modes: np.ndarray, coeffs: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """PAPER.md §5: ∂L/∂ρ_n + i ∂L/∂θ_n = 2 conj(γ_n) Σ_τ τ conj(λ̄_n)^τ r_τ: ``(n,), (n,), (T,) → (n,)`` complex."""
    tau = np.arange(residual.size)
    return 2 * np.conj(coeffs) * ((tau * residual) @ np.conj(modes[None, :] ** tau[:, None]))


def kernel_derivatives(modes: np.ndarray, coeffs: np.ndarray, horizon: int) -> np.ndarray:
    """J: the columns ∂K/∂ρ_n = τ·2Re(γ_n λ̄_n^τ), then ∂K/∂θ_n = -τ·2Im(γ_n λ̄_n^τ): ``(T, 2n)`` real."""
    tau = np.arange(horizon)[:, None]
    d = 2 * coeffs[None, :] * tau * modes[None, :] ** tau
    return np.concatenate([d.real, -d.imag], axis=1)


def projector(modes: np.ndarray, horizon: int, *, doubled: bool) -> np.ndarray:
    """P_S (or P_{S₂} with the sequences τ λ̄^τ added) on τ < T, from the explicit real sequences: ``(T, T)``."""
    tau = np.arange(horizon)[:, None]
    powers = modes[None, :] ** tau
    columns = [powers.real, powers.imag] + ([tau * powers.real, tau * powers.imag] if doubled else [])
    q, _ = np.linalg.qr(np.concatenate(columns, axis=1))
    return q @ q.T


def torch_kernel(log_modes: torch.Tensor, coeffs: torch.Tensor, horizon: int) -> torch.Tensor:
    """K_τ = 2 Re Σ_n γ_n exp(τ log λ̄_n), written directly (not through ssmem's kernels): ``(T,)``."""
    tau = torch.arange(horizon, dtype=torch.float64)
    return 2 * (coeffs[None, :] * torch.exp(tau[:, None] * log_modes[None, :])).sum(-1).real


def autograd_log_gradient(modes: np.ndarray, coeffs: np.ndarray, teacher: np.ndarray) -> np.ndarray:
    """Autograd of the population loss w.r.t. (ρ, θ), returned as ∂L/∂ρ + i ∂L/∂θ: ``(n,)`` complex."""
    rho = torch.tensor(np.log(np.abs(modes)), requires_grad=True)
    theta = torch.tensor(np.angle(modes), requires_grad=True)
    kernel = torch_kernel(torch.complex(rho, theta), torch.tensor(coeffs), HORIZON)
    h = torch.tensor(teacher)
    # delays the layer cannot see add a constant: kept, so the loss is the whole population loss
    loss = 0.5 * ((kernel - h[:HORIZON]) ** 2).sum() + 0.5 * (h[HORIZON:] ** 2).sum()
    loss.backward()
    return rho.grad.numpy() + 1j * theta.grad.numpy()


@pytest.fixture
def coeffs(rng):
    return rng.normal(size=MODES.size) + 1j * rng.normal(size=MODES.size)


@pytest.fixture
def teacher(rng):
    delays = np.arange(HORIZON + 8)
    return rng.normal(size=delays.size) * 0.9**delays  # reaches beyond the horizon


def test_eigenvalue_gradient_equals_autograd(coeffs, teacher):
    residual = torch_kernel(torch.tensor(np.log(MODES)), torch.tensor(coeffs), HORIZON).numpy() - teacher[:HORIZON]
    predicted = eigenvalue_gradient(MODES, coeffs, residual)
    np.testing.assert_allclose(predicted, autograd_log_gradient(MODES, coeffs, teacher), rtol=1e-10, atol=1e-12)
    # with respect to the complex eigenvalue itself (torch's ∂/∂Re + i ∂/∂Im): the factor τ λ̄^(τ-1)
    lam = torch.tensor(MODES, requires_grad=True)
    kernel = 2 * (torch.tensor(coeffs)[None, :] * lam[None, :] ** torch.arange(HORIZON)[:, None]).sum(-1).real
    (0.5 * ((kernel - torch.tensor(teacher[:HORIZON])) ** 2).sum()).backward()
    np.testing.assert_allclose(predicted / np.conj(MODES), lam.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_state_space_form_equals_autograd_of_a_sample_loss(coeffs, rng):
    """On a simulated sample: ∂L̂/∂ρ_n + i ∂L̂/∂θ_n = 2 mean_t e_t conj(c_n ξ_{n,t}), ξ_t = λ̄(ξ_{t-1} + x_{t-1})."""
    b_bar = rng.normal(size=MODES.size) + 1j * rng.normal(size=MODES.size)
    c = coeffs / b_bar
    u = rng.normal(size=(3, 60))
    targets = rng.normal(size=u.shape)  # any target series: the identity holds sample by sample
    rho = torch.tensor(np.log(np.abs(MODES)), requires_grad=True)
    theta = torch.tensor(np.angle(MODES), requires_grad=True)
    lam = torch.exp(torch.complex(rho, theta))
    x = torch.zeros(u.shape[0], MODES.size, dtype=torch.complex128)
    outputs = []
    for t in range(u.shape[1]):
        x = lam * x + torch.tensor(b_bar) * torch.tensor(u[:, t : t + 1])
        outputs.append(2 * (torch.tensor(c) * x).sum(-1).real)
    (0.5 * ((torch.stack(outputs, 1) - torch.tensor(targets)) ** 2).mean()).backward()

    x = np.zeros((u.shape[0], MODES.size), dtype=np.complex128)
    xi = np.zeros_like(x)
    gradient = np.zeros(MODES.size, dtype=np.complex128)
    for t in range(u.shape[1]):
        xi = MODES * (xi + x)  # ∂x_t/∂(ρ + iθ), from the previous state
        x = MODES * x + b_bar * u[:, t : t + 1]
        error = 2 * (c * x).sum(-1).real - targets[:, t]
        gradient += 2 * (error[:, None] * np.conj(c * xi)).sum(0)
    gradient /= u.size
    np.testing.assert_allclose(gradient, rho.grad.numpy() + 1j * theta.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_teacher_reaches_the_eigenvalue_gradient_only_through_the_doubled_memory_subspace(coeffs, teacher, rng):
    p_s = projector(MODES, HORIZON, doubled=False)
    p_s2 = projector(MODES, HORIZON, doubled=True)
    base = autograd_log_gradient(MODES, coeffs, teacher)
    outside = np.pad((np.eye(HORIZON) - p_s2) @ rng.normal(size=HORIZON), (0, teacher.size - HORIZON))
    np.testing.assert_allclose(autograd_log_gradient(MODES, coeffs, teacher + outside), base, atol=1e-11)
    # invisible to the readout (orthogonal to S) but inside S₂: it does move the eigenvalues
    gain = np.pad((p_s2 - p_s) @ rng.normal(size=HORIZON), (0, teacher.size - HORIZON))
    assert np.abs(autograd_log_gradient(MODES, coeffs, teacher + gain) - base).max() > 0.1


def test_doubled_memory_function_is_the_memory_of_repeated_poles():
    """MF₂(τ) = ‖P_{S₂} e_τ‖²: ssmem computes it as the MF of the spectrum with every pole repeated."""
    real, cplx = distinct_spectrum(MODES)
    doubled = profile_from_poles(np.repeat(real, 2), np.repeat(cplx, 2), horizon=HORIZON, max_delay=None,
                                 eigenvalues=MODES)
    np.testing.assert_allclose(doubled.mf, np.diag(projector(MODES, HORIZON, doubled=True)), atol=1e-12)
    np.testing.assert_allclose(memory_function(MODES, horizon=HORIZON).mf,
                               np.diag(projector(MODES, HORIZON, doubled=False)), atol=1e-12)
    assert doubled.capacity == pytest.approx(4 * MODES.size)


def _layer_at_readout_optimum(teacher: np.ndarray, rng) -> tuple[S4D, torch.Tensor, np.ndarray]:
    """A float64 ZOH S4D channel with Ā = MODES, random B̄, and C the least-squares optimum for ``teacher``.
    Returns the layer, its population loss (graph kept) and g = C·B̄ ``(n,)``."""
    layer = S4D(1, 2 * MODES.size, init=MODES, dt_min=DT, dt_max=DT, dtype=torch.float64, seed=0)
    with torch.no_grad():
        layer.B.copy_(torch.tensor(rng.normal(size=(1, MODES.size, 2))))
    params = layer.ssm_parameters()
    _, b_bar, _ = discretize_diagonal(params["A"], params["dt"][:, None], params["B"], "zoh")
    b_bar = b_bar[0].numpy()
    powers = b_bar[None, :] * MODES[None, :] ** np.arange(HORIZON)[:, None]  # (T, n)
    design = np.concatenate([2 * powers.real, -2 * powers.imag], axis=1)  # K = design @ [Re C, Im C]
    best, *_ = np.linalg.lstsq(design, teacher, rcond=None)
    with torch.no_grad():
        layer.C.copy_(torch.tensor(np.stack([best[: MODES.size], best[MODES.size :]], -1))[None])
    loss = 0.5 * ((layer.kernel(HORIZON)[0] - torch.tensor(teacher)) ** 2).sum()
    g = (best[: MODES.size] + 1j * best[MODES.size :]) * b_bar
    return layer, loss, g


@pytest.mark.parametrize("delay", [4, 120])
def test_s4d_gradient_at_the_readout_optimum(delay, rng):
    """The layer's own parameters (ZOH, log Re A, Im A, log Δ, B, C): at the readout optimum B̄'s dependence on A and
    Δ drops out, and the eigenvalue gradient is -Jᵀ(P_{S₂} - P_S)h*, bounded through MF₂ - MF."""
    teacher = np.zeros(HORIZON)
    teacher[delay] = 1.0
    layer, loss, g = _layer_at_readout_optimum(teacher, rng)
    loss.backward()
    assert np.abs(layer.C.grad.numpy()).max() < 1e-12 and np.abs(layer.B.grad.numpy()).max() < 1e-12

    residual = layer.kernel(HORIZON)[0].detach().numpy() - teacher
    grad = eigenvalue_gradient(MODES, g, residual)
    rho, theta = np.log(np.abs(MODES)), np.angle(MODES)
    np.testing.assert_allclose(layer.log_A_real.grad[0].numpy(), rho * grad.real, rtol=1e-8, atol=1e-13)
    np.testing.assert_allclose(layer.A_imag.grad[0].numpy(), DT * grad.imag, rtol=1e-8, atol=1e-13)
    np.testing.assert_allclose(layer.log_dt.grad.numpy(), [rho @ grad.real + theta @ grad.imag], rtol=1e-8,
                               atol=1e-13)

    J = kernel_derivatives(MODES, g, HORIZON)
    gain = projector(MODES, HORIZON, doubled=True) - projector(MODES, HORIZON, doubled=False)
    np.testing.assert_allclose(np.concatenate([grad.real, grad.imag]), -J.T @ gain @ teacher, atol=1e-12)

    mf = memory_function(MODES, horizon=HORIZON).mf[delay]
    real, cplx = distinct_spectrum(MODES)
    mf2 = profile_from_poles(np.repeat(real, 2), np.repeat(cplx, 2), horizon=HORIZON, max_delay=None,
                             eigenvalues=MODES).mf[delay]
    bound = np.linalg.norm(J, 2) * np.sqrt(max(mf2 - mf, 0.0))
    assert np.linalg.norm(grad) <= bound * (1 + 1e-9) + 1e-14
    if delay == 4:  # well within the memory: an O(1) push on the eigenvalues
        assert np.linalg.norm(grad) > 0.1
    else:  # beyond the doubled memory's reach (MF₂ - MF ≈ 3e-9 here, MF ≈ 4e-12): almost no push
        assert mf2 - mf < 1e-8 and np.linalg.norm(grad) < 1e-8
