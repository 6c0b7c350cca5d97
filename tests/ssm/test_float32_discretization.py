"""float32 layers against the same layers in float64: the discretisation keeps what float32 can hold."""

import copy

import pytest
import torch

from ssmem.ssm import S4Dense, S4D


def relative_error(layer, length):
    with torch.no_grad():
        k32, k64 = layer.kernel(length), copy.deepcopy(layer).double().kernel(length)
    return float((k32.double() - k64).norm() / k64.norm())


@pytest.mark.parametrize("init, bound", [("s4d-lin", 1e-5), ("s4d-inv", 5e-5), ("s4d-legs", 5e-5)])
def test_bilinear_slow_modes_keep_their_decay_in_float32(init, bound):
    """log Ā from ΔA itself (was the log of a rounded Ā: 2.5-4e-4 off at Δ = 1e-4, L = 16384)."""
    layer = S4D(2, 64, init=init, discretization="bilinear", dt_min=1e-4, dt_max=1e-4, seed=0)
    assert relative_error(layer, 16384) < bound  # measured 1.6e-6, 9.3e-6, 1.4e-5
    wide = S4D(1, 256, init="s4d-inv", discretization="bilinear", dt_min=1.0, dt_max=1.0, seed=0)
    assert (wide._discrete()[2].real < 0).all()  # every mode decays (a stable one was rounded onto the circle)


def test_bilinear_zero_eigenvalue_is_finite_and_exact():
    """ΔA = -2 gives Ā = 0 (s4d-real at Δ = 1): the log was -inf and every output and gradient NaN."""
    layer = S4D(2, 8, init="s4d-real", discretization="bilinear", dt_min=1.0, dt_max=1.0, seed=0,
                dtype=torch.float64)
    assert (layer.discrete_eigenvalues() == 0).any()
    x = torch.randn(3, 16, 2, dtype=torch.float64)
    y = layer(x)
    y.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters() if p.grad is not None)
    state, steps = layer.initial_state(3), []
    for t in range(16):  # the recurrence itself, one step at a time
        y_t, state = layer.step(x[:, t], state)
        steps.append(y_t)
    torch.testing.assert_close(y, torch.stack(steps, dim=1), rtol=0, atol=1e-12)


def test_s4_is_discretised_in_float64():
    """The matrix exponential of a HiPPO matrix in float32 gave kernels 3e-5 off at N = 64 (now 4e-7)."""
    assert relative_error(S4Dense(1, 64, discretization="zoh", dt_min=0.01, dt_max=0.01, seed=1), 4096) < 3e-6


def test_extreme_but_allowed_values_are_finite_or_named():
    layer = S4D(1, 2, init="s4d-real", seed=0)
    with torch.no_grad():
        layer.log_A_real.fill_(-100.0)  # |A| = 4e-44: subnormal in float32 (complex division by it was NaN)
    kernel = layer.kernel(4)
    assert torch.isfinite(kernel).all()
    dt = float(torch.exp(layer.log_dt[0].detach()))
    torch.testing.assert_close(kernel[0], 2 * (layer.C[0, :, 0] * dt).sum().expand(4), rtol=1e-5, atol=0)
    with pytest.raises(ValueError, match=r"dt_min=1e-40 gives continuous eigenvalues A = log\(Ā\)/Δ beyond torch.float32"):
        S4D(1, 2, init="random", dt_min=1e-40, dt_max=1e-40, seed=0)
    for layer in (S4D(2, 4).half(), S4Dense(2, 4).bfloat16()):
        for call in (lambda: layer.kernel(5), lambda: layer.initial_state(1)):
            with pytest.raises(ValueError, match="computes in float32 or float64 but its parameters are"):
                call()


@pytest.mark.parametrize("z", [-1.9, -1.999, -2.0001, -2 + 0.01j, -1.999 + 0.01j, -5.0, -1e-4 + 0.5j])
def test_bilinear_log_is_exact_to_float32_across_the_disk(z):
    """Near Ā = 0 the log1p form cancels (0.38 off at ΔA = -1.999): the log of |1 ± z/2|² is taken there."""
    from ssmem.ssm.kernels import bilinear_log

    z32 = torch.tensor([complex(z)], dtype=torch.complex64)
    z64 = z32.to(torch.complex128)  # the same input, computed exactly
    exact = (1 + z64 / 2) / (1 - z64 / 2)
    got = torch.exp(bilinear_log(z32).to(torch.complex128))
    assert float(abs(got - exact) / abs(exact)) < 1e-6  # measured ≤ 4e-7


def test_bilinear_fast_modes_keep_float32_accuracy():
    layer = S4D(2, 64, init="s4d-real", discretization="bilinear", dt_min=0.1, dt_max=0.1, seed=0)
    assert relative_error(layer, 1024) < 1e-6  # measured 1.2e-7 (1.8e-5 with log1p alone)
