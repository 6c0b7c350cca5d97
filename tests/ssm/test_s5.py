"""S5: the FFT path equals the plain loop (values and gradients), step equals forward, HiPPO-N initialisation is
the real system (-1/2 + S, B₀, C₀) in eigen-coordinates, the train modes, and the memory function."""

import numpy as np
import pytest
import scipy.linalg
import torch

from ssmem.eigs import continuous_eigenvalues
from ssmem.eigs.hippo import hippo_legs_normal_part
from ssmem.memory import dense_memory_function, layer_memory, memory_function
from ssmem.ssm import S5, count_parameters

from .freezing import assert_freezes_exactly
from .stepping import recurrent_outputs


@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_fft_path_equals_the_loop_on_values_and_gradients(discretization):
    layer = S5(3, 10, discretization=discretization, dt_min=1e-2, dt_max=0.5, seed=1, dtype=torch.float64)
    x = torch.randn(2, 37, 3, dtype=torch.float64)
    weights = torch.randn(2, 37, 3, dtype=torch.float64)
    fast, slow = layer(x), layer.reference_forward(x)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
    params = list(layer.parameters())
    grads_fast = torch.autograd.grad((fast * weights).sum(), params)
    grads_slow = torch.autograd.grad((slow * weights).sum(), params)
    for g_fast, g_slow in zip(grads_fast, grads_slow):
        torch.testing.assert_close(g_fast, g_slow, rtol=1e-10, atol=1e-11)


def test_step_equals_forward():
    layer = S5(3, 8, seed=2, dtype=torch.float64)
    x = torch.randn(2, 25, 3, dtype=torch.float64)
    torch.testing.assert_close(recurrent_outputs(layer, x), layer(x), rtol=0, atol=1e-12)


def test_hippo_n_initialisation_is_the_real_normal_hippo_system():
    # one shared step Δ: the layer must equal x ← exp(ΔA) x + A⁻¹(exp(ΔA) - I) B₀ u, y = C₀ x + D u, with
    # A = -I/2 + S (N × N, real) and B₀, C₀ the seeded draws in the documented order (Δ, B₀, C₀, D)
    H, N, dt = 3, 8, 0.05
    layer = S5(H, N, dt_min=dt, dt_max=dt, seed=4, dtype=torch.float64)
    generator = torch.Generator().manual_seed(4)
    torch.rand(N // 2, generator=generator, dtype=torch.float64)  # the Δ draw
    B0 = torch.randn(N, H, generator=generator, dtype=torch.float64).numpy() / np.sqrt(H)
    C0 = torch.randn(H, N, generator=generator, dtype=torch.float64).numpy() / np.sqrt(N)
    A = -0.5 * np.eye(N) + hippo_legs_normal_part(N)
    A_bar = scipy.linalg.expm(dt * A)
    B_bar = np.linalg.solve(A, A_bar - np.eye(N)) @ B0
    x = torch.randn(2, 30, H, dtype=torch.float64)
    state, outputs = np.zeros((2, N)), []
    for t in range(30):
        state = state @ A_bar.T + x[:, t].numpy() @ B_bar.T
        outputs.append(state @ C0.T)
    expected = np.stack(outputs, axis=1) + layer.D.detach().numpy() * x.numpy()
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=0, atol=1e-12)
    # its eigenvalues are the S4D-LegS set (the same normal part of HiPPO-LegS)
    np.testing.assert_allclose(layer.ssm_parameters()["A"].numpy(), continuous_eigenvalues("s4d-legs", N, dt=1.0),
                               rtol=1e-12)


def test_seeded_initialisation_is_reproducible_and_leaves_the_global_rng_alone():
    rng = torch.get_rng_state()
    a, b, c = S5(3, 8, seed=5), S5(3, 8, seed=5), S5(3, 8, seed=6)
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.B, c.B)
    dt = a.ssm_parameters()["dt"]
    assert dt.min() >= 1e-3 * (1 - 1e-6) and dt.max() <= 1e-1 * (1 + 1e-6)


@pytest.mark.parametrize(
    "train, frozen",
    [
        ("all", set()),
        ("reservoir", {"log_dt", "log_A_real", "A_imag"}),
        ("readout", {"log_dt", "log_A_real", "A_imag", "B"}),
    ],
)
def test_train_modes_freeze_exactly_the_named_tensors(train, frozen):
    layer = S5(3, 8, seed=2, train=train)
    assert_freezes_exactly(layer, frozen, torch.randn(2, 11, 3))


def test_parameter_count_by_formula():
    H, N = 5, 12
    n = N // 2
    total = 3 * n + 2 * n * H + 2 * H * n + H  # log Δ, log(-Re A), Im A, B, C (complex), D
    for train, frozen in (("all", 0), ("reservoir", 3 * n), ("readout", 3 * n + 2 * n * H)):
        counts = count_parameters(S5(H, N, train=train, seed=0))
        assert (counts.total, counts.frozen, counts.trainable) == (total, frozen, total - frozen)


def test_layer_memory_equals_the_dense_mf_of_the_explicit_system():
    layer = S5(2, 6, dt_min=0.1, dt_max=0.5, seed=3, dtype=torch.float64)
    params = layer.ssm_parameters()
    A, dt, B = params["A"].numpy(), params["dt"].numpy(), params["B"].numpy()
    A_bar = np.exp(dt * A)
    B_bar = ((A_bar - 1) / A)[:, None] * B  # ZOH, (n, H)
    result = layer_memory(layer, horizon=40)
    for h in range(2):
        # the real form of the n complex modes: state (Re x, Im x)
        A_real = np.block([[np.diag(A_bar.real), -np.diag(A_bar.imag)], [np.diag(A_bar.imag), np.diag(A_bar.real)]])
        B_real = np.concatenate([B_bar[:, h].real, B_bar[:, h].imag])
        expected = dense_memory_function(A_real, B_real, horizon=40)
        np.testing.assert_allclose(result.profiles[h].mf, expected.mf, rtol=0, atol=1e-10)
        diagonal = memory_function(layer.discrete_eigenvalues()[h].numpy(), horizon=40)
        np.testing.assert_allclose(result.profiles[h].mf, diagonal.mf, rtol=0, atol=1e-10)
    assert result.profiles[0].capacity == pytest.approx(6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bidirectional": True}, r"S5 is a causal layer: bidirectional=True is not supported"),
        ({"dt_min": 0.2, "dt_max": 0.1}, r"need 0 < dt_min <= dt_max, finite; got dt_min=0.2, dt_max=0.1"),
        ({"discretization": "euler"}, r"unknown discretization 'euler'; valid choices: zoh, bilinear"),
        ({"d_state": 5}, r"d_state must be an even integer >= 2"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        S5(2, **{"d_state": 4, **kwargs})
