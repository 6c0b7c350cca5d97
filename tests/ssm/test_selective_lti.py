"""With input-independent Δ, B, C the selective scan is an LTI system: it equals the convolution of an S4D-Real
layer (real eigenvalues A, one per state) discretised as Mamba does, Ā = exp(ΔA) and B̄ = Δ·B."""

import torch

from ssmem.ssm import Mamba
from ssmem.ssm.kernels import ssm_convolution_reference, vandermonde_kernel_reference
from ssmem.ssm.mamba import selective_scan, selective_scan_reference


def _lti_output(u, dt, A, B, C, D):
    """S4D's convolution path: ``u (B, L, E)``, ``dt (E,)``, ``A (E, N)`` real, ``B, C (N,)``, ``D (E,)``."""
    log_A_bar = (dt[:, None] * A).to(torch.complex128)  # (E, N): ZOH, Ā = exp(ΔA)
    coeffs = (C * dt[:, None] * B).to(torch.complex128) / 2  # C·B̄ with B̄ = ΔB; the kernel takes 2·Re
    kernel = vandermonde_kernel_reference(coeffs[None], log_A_bar, u.shape[1])[0]  # (E, L)
    return ssm_convolution_reference(u, kernel, D)


def test_constant_selection_gives_the_s4d_real_recurrence_on_values_and_gradients():
    layer = Mamba(4, 5, expand=2, seed=3, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    length, channels = 23, layer.d_inner
    # the layer's own decay rates and step: dt_proj = 0 makes Δ = softplus(dt_bias) for every input
    with torch.no_grad():
        layer.dt_proj_weight.zero_()
    xs = torch.randn(2, length, channels, generator=generator, dtype=torch.float64)
    delta = layer._selection(xs)[0].detach()  # (B, L, E)
    A = layer._A().detach().requires_grad_()
    dt = torch.nn.functional.softplus(layer.dt_bias).detach()
    torch.testing.assert_close(delta, dt.expand_as(delta), rtol=0, atol=1e-15)
    u = torch.randn(2, length, channels, generator=generator, dtype=torch.float64, requires_grad=True)
    B = torch.randn(5, generator=generator, dtype=torch.float64, requires_grad=True)
    C = torch.randn(5, generator=generator, dtype=torch.float64, requires_grad=True)
    D = torch.randn(channels, generator=generator, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, length, channels, generator=generator, dtype=torch.float64)
    inputs = (u, A, B, C, D)

    expected = _lti_output(u, dt, A, B, C, D)
    expected_grads = torch.autograd.grad((expected * weights).sum(), inputs)
    for scan in (selective_scan, selective_scan_reference):
        out = scan(u, delta, A, B.expand(2, length, 5), C.expand(2, length, 5), D)
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-11)
        for got, want in zip(torch.autograd.grad((out * weights).sum(), inputs), expected_grads):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_selection_that_varies_with_the_input_is_not_lti():
    # the guard of the test above: a Δ that moves with the input breaks the equality
    generator = torch.Generator().manual_seed(1)
    u = torch.randn(1, 17, 3, generator=generator, dtype=torch.float64)
    A = -torch.arange(1, 5, dtype=torch.float64).expand(3, 4)
    B, C, D = (torch.randn(n, generator=generator, dtype=torch.float64) for n in (4, 4, 3))
    dt = torch.full((3,), 0.3, dtype=torch.float64)
    delta = dt * (1 + 0.5 * torch.tanh(u))
    out = selective_scan(u, delta, A, B.expand(1, 17, 4), C.expand(1, 17, 4), D)
    assert (out - _lti_output(u, dt, A, B, C, D)).abs().max() > 1e-3
