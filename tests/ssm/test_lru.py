"""LRU: the FFT path equals the plain loop (values and gradients), step equals forward, the ring initialisation,
the train modes, and its memory function through the dense route."""

import math

import numpy as np
import pytest
import torch

from ssmem.memory import dense_memory_function, layer_memory, memory_function
from ssmem.ssm import LRU, count_parameters

from .freezing import assert_freezes_exactly
from .stepping import recurrent_outputs


def _layer(**kwargs) -> LRU:
    # a wide ring and all phases, so that fast, slow and oscillating modes all take part
    options = dict(r_min=0.3, r_max=0.95, seed=1, dtype=torch.float64)
    return LRU(3, 10, **{**options, **kwargs})


def test_fft_path_equals_the_loop_on_values_and_gradients():
    layer = _layer()
    x = torch.randn(2, 37, 3, dtype=torch.float64)
    weights = torch.randn(2, 37, 3, dtype=torch.float64)
    fast, slow = layer(x), layer.reference_forward(x)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
    params = [p for p in layer.parameters()]
    grads_fast = torch.autograd.grad((fast * weights).sum(), params)
    grads_slow = torch.autograd.grad((slow * weights).sum(), params)
    for g_fast, g_slow in zip(grads_fast, grads_slow):
        torch.testing.assert_close(g_fast, g_slow, rtol=1e-10, atol=1e-11)


def test_step_equals_forward():
    layer = _layer()
    x = torch.randn(2, 25, 3, dtype=torch.float64)
    torch.testing.assert_close(recurrent_outputs(layer, x), layer(x), rtol=0, atol=1e-12)


def test_kernel_convolution_equals_forward():
    layer = _layer()
    x = torch.randn(2, 19, 3, dtype=torch.float64)
    K = layer.kernel(19)  # (H_out, H_in, L)
    y = torch.stack([sum(K[:, :, l] @ x[:, t - l].T for l in range(t + 1)).T for t in range(19)], dim=1)
    torch.testing.assert_close(y + layer.D * x, layer(x), rtol=0, atol=1e-12)


def test_ring_initialisation_and_normalisation():
    r_min, r_max, max_phase = 0.4, 0.6, math.pi / 4
    layer = LRU(2, 400, r_min=r_min, r_max=r_max, max_phase=max_phase, seed=0, dtype=torch.float64)
    lam = layer.ssm_parameters()["lambda"]
    assert lam.abs().min() >= r_min - 1e-12 and lam.abs().max() <= r_max + 1e-12
    assert lam.angle().min() > 0 and lam.angle().max() <= max_phase + 1e-12
    # the draws fill the ring: |λ|² uniform in (r_min², r_max²], mean (r_min² + r_max²)/2 within 4 standard errors
    sq = lam.abs() ** 2
    assert abs(sq.mean() - (r_min**2 + r_max**2) / 2) < 4 * (r_max**2 - r_min**2) / math.sqrt(12 * 200)
    torch.testing.assert_close(layer.ssm_parameters()["gamma"], torch.sqrt(1 - lam.abs() ** 2))


def test_seeded_initialisation_is_reproducible_and_leaves_the_global_rng_alone():
    rng = torch.get_rng_state()
    a, b, c = LRU(3, 8, seed=5), LRU(3, 8, seed=5), LRU(3, 8, seed=6)
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.B, c.B)


@pytest.mark.parametrize(
    "train, frozen", [("all", set()), ("reservoir", {"nu_log", "theta_log"}), ("readout", {"nu_log", "theta_log", "B"})]
)
def test_train_modes_freeze_exactly_the_named_tensors(train, frozen):
    layer = LRU(3, 8, seed=2, train=train)
    assert_freezes_exactly(layer, frozen, torch.randn(2, 11, 3))


def test_parameter_count_by_formula():
    H, N = 5, 12
    n = N // 2
    total = 2 * n + 2 * n * H + 2 * H * n + H  # ν_log, θ_log, B, C (complex), D
    for train, frozen in (("all", 0), ("reservoir", 2 * n), ("readout", 2 * n + 2 * n * H)):
        counts = count_parameters(LRU(H, N, train=train, seed=0))
        assert (counts.total, counts.frozen, counts.trainable) == (total, frozen, total - frozen)


def test_layer_memory_equals_the_dense_mf_of_the_explicit_system():
    layer = LRU(2, 6, r_min=0.2, r_max=0.9, seed=3, dtype=torch.float64)
    params = layer.ssm_parameters()
    lam, gamma, B = params["lambda"].numpy(), params["gamma"].numpy(), params["B"].numpy()
    result = layer_memory(layer, horizon=40)
    for h in range(2):
        # the complex diagonal system as a real one: each mode a 2×2 rotation-scaling block
        A_real = np.zeros((6, 6))
        B_real = np.zeros(6)
        for k, z in enumerate(lam):
            A_real[2 * k : 2 * k + 2, 2 * k : 2 * k + 2] = [[z.real, -z.imag], [z.imag, z.real]]
            B_real[2 * k : 2 * k + 2] = [(gamma[k] * B[k, h]).real, (gamma[k] * B[k, h]).imag]
        expected = dense_memory_function(A_real, B_real, horizon=40)
        np.testing.assert_allclose(result.profiles[h].mf, expected.mf, rtol=0, atol=1e-10)
        # and the diagonal route: MF depends on the eigenvalues alone
        diagonal = memory_function(layer.discrete_eigenvalues()[h].numpy(), horizon=40)
        np.testing.assert_allclose(result.profiles[h].mf, diagonal.mf, rtol=0, atol=1e-10)
    assert result.profiles[0].capacity == pytest.approx(6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bidirectional": True}, r"LRU is a causal layer: bidirectional=True is not supported"),
        ({"r_min": 0.9, "r_max": 0.5}, r"0 <= r_min <= r_max < 1, got r_min=0.9, r_max=0.5"),
        ({"r_max": 1.0}, r"r_max=1.0"),
        ({"max_phase": 0.0}, r"max_phase must lie in \(0, 2π\], got 0.0"),
        ({"train": "some"}, r"unknown train mode 'some'; valid choices: all, reservoir, readout"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LRU(2, 4, **kwargs)


def test_an_impulse_enters_the_state_scaled_by_gamma():
    # γ = sqrt(1 - |λ|²) makes Σ_t |λ^t γ b|² = |b|²: a unit impulse on channel h leaves the state γ ⊙ B[:, h]
    layer = _layer()
    params = layer.ssm_parameters()
    impulse = torch.zeros(1, 3, dtype=torch.float64)
    impulse[0, 1] = 1.0
    _, state = layer.step(impulse, layer.initial_state(1))
    expected = torch.sqrt(1 - params["lambda"].abs() ** 2) * params["B"][:, 1]
    torch.testing.assert_close(state[0], expected, rtol=1e-13, atol=0)
