"""Fast paths of the S4D layer against their reference twins: the fused FFT convolution and the blocked
Vandermonde kernel, values and gradients, and the float32 accuracy of both against float64 truth."""

import inspect

import pytest
import torch

from ssmem.ssm import S4D
from ssmem.ssm.kernels import (
    _batch_sum_of_products,
    circular_kernel,
    complex_powers,
    kernel_spectrum,
    ssm_convolution,
    ssm_convolution_reference,
    vandermonde_kernel,
    vandermonde_kernel_reference,
)

from .counting import count_calls

F64 = torch.float64


def outputs_and_grads(layer: S4D, x: torch.Tensor, weight: torch.Tensor, forward) -> list[torch.Tensor]:
    inputs = [x] + list(layer.parameters())
    y = forward(x)
    return [y.detach()] + list(torch.autograd.grad((y * weight).sum(), inputs))


@pytest.mark.parametrize("n_kernels", [1, 2])
@pytest.mark.parametrize("length", [1, 2, 37])
def test_fused_convolution_equals_reference_values_and_gradients(n_kernels, length):
    gen = torch.Generator().manual_seed(10 * length + n_kernels)
    u = torch.randn(3, length, 4, generator=gen, dtype=F64, requires_grad=True)
    kernel = torch.randn(n_kernels, 4, length, generator=gen, dtype=F64, requires_grad=True)
    D = torch.randn(4, generator=gen, dtype=F64, requires_grad=True)
    weight = torch.randn(3, length, 4, generator=gen, dtype=F64)
    fast = ssm_convolution(u, kernel, D)
    ref = ssm_convolution_reference(u, kernel, D)
    assert fast.is_contiguous()
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-12)
    grads_fast = torch.autograd.grad((fast * weight).sum(), (u, kernel, D))
    grads_ref = torch.autograd.grad((ref * weight).sum(), (u, kernel, D))
    for g_fast, g_ref in zip(grads_fast, grads_ref):
        torch.testing.assert_close(g_fast, g_ref, rtol=0, atol=1e-12)


def test_fused_convolution_gradcheck():
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(2, 6, 3, generator=gen, dtype=F64, requires_grad=True)
    kernel = torch.randn(2, 3, 6, generator=gen, dtype=F64, requires_grad=True)
    D = torch.randn(3, generator=gen, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(ssm_convolution, (u, kernel, D))


def test_fused_convolution_skips_unneeded_gradients():
    # readout layers: the kernel needs no gradient, and the input gradient alone must still be exact
    gen = torch.Generator().manual_seed(1)
    u = torch.randn(2, 9, 3, generator=gen, dtype=F64, requires_grad=True)
    kernel = torch.randn(3, 9, generator=gen, dtype=F64)
    D = torch.randn(3, generator=gen, dtype=F64)
    (g_fast,) = torch.autograd.grad(ssm_convolution(u, kernel, D).square().sum(), u)
    (g_ref,) = torch.autograd.grad(ssm_convolution_reference(u, kernel, D).square().sum(), u)
    torch.testing.assert_close(g_fast, g_ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_kernels", [1, 2])
def test_precomputed_kernel_spectrum_equals_the_plain_convolution(n_kernels):
    # a frozen kernel's FFT computed once: values and the input and skip gradients equal the reference twin's
    gen = torch.Generator().manual_seed(20 + n_kernels)
    u = torch.randn(3, 11, 4, generator=gen, dtype=F64, requires_grad=True)
    kernel = torch.randn(n_kernels, 4, 11, generator=gen, dtype=F64)
    D = torch.randn(4, generator=gen, dtype=F64, requires_grad=True)
    weight = torch.randn(3, 11, 4, generator=gen, dtype=F64)
    spectrum = kernel_spectrum(kernel)
    assert spectrum.spectrum.shape == (4, 12)
    torch.testing.assert_close(spectrum.conjugate, spectrum.spectrum.conj(), rtol=0, atol=0)
    fast = ssm_convolution(u, kernel, D, spectrum=spectrum)
    ref = ssm_convolution_reference(u, kernel, D)
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-12)
    grads_fast = torch.autograd.grad((fast * weight).sum(), (u, D))
    grads_ref = torch.autograd.grad((ref * weight).sum(), (u, D))
    for g_fast, g_ref in zip(grads_fast, grads_ref):
        torch.testing.assert_close(g_fast, g_ref, rtol=0, atol=1e-12)


def test_reference_twin_takes_the_fast_paths_arguments():
    # the layers call either (benchmarks route them through the twin): one signature, spectrum ignored by the twin
    assert inspect.signature(ssm_convolution_reference) == inspect.signature(ssm_convolution)
    gen = torch.Generator().manual_seed(3)
    u, kernel, D = (torch.randn(*shape, generator=gen, dtype=F64) for shape in ((2, 7, 3), (2, 3, 7), (3,)))
    torch.testing.assert_close(
        ssm_convolution_reference(u, kernel, D, spectrum=kernel_spectrum(kernel)), ssm_convolution(u, kernel, D),
        rtol=0, atol=1e-12,
    )


def test_precomputed_kernel_spectrum_refuses_a_trainable_kernel_and_a_wrong_length():
    u = torch.randn(2, 8, 3, dtype=F64)
    kernel = torch.randn(3, 8, dtype=F64, requires_grad=True)
    D = torch.randn(3, dtype=F64)
    with pytest.raises(ValueError, match="takes no gradient"):
        ssm_convolution(u, kernel, D, spectrum=kernel_spectrum(kernel))
    with torch.no_grad():  # no gradient taken: allowed
        torch.testing.assert_close(
            ssm_convolution(u, kernel, D, spectrum=kernel_spectrum(kernel)), ssm_convolution(u, kernel, D)
        )
    short = kernel_spectrum(kernel.detach()[..., :5])
    with pytest.raises(ValueError, match=r"\(H, L \+ 1\) = \(3, 9\).*got \(3, 6\)"):
        ssm_convolution(u, kernel.detach(), D, spectrum=short)


def test_frozen_readout_layer_computes_the_kernel_spectrum_once(monkeypatch):
    # a readout step does no kernel work once frozen: the kernel and its FFT are made by freeze_kernel only
    import ssmem.ssm._common as common

    calls = []

    def counting_spectrum(kernel):
        calls.append(kernel.shape)
        return kernel_spectrum(kernel)

    monkeypatch.setattr(common, "kernel_spectrum", counting_spectrum)
    import ssmem.ssm.s4d

    computed = count_calls(monkeypatch, ssmem.ssm.s4d, "vandermonde_kernel")
    layer = S4D(4, 8, bidirectional=True, train="readout", seed=0, dtype=F64)
    x = torch.randn(2, 10, 4, dtype=F64, requires_grad=True)
    weight = torch.randn(2, 10, 4, dtype=F64)
    outputs_and_grads(layer, x, weight, layer)
    assert calls == [] and len(computed) == 1  # not frozen: a kernel per forward pass
    layer.freeze_kernel(10)
    for _ in range(3):
        results = outputs_and_grads(layer, x, weight, layer)
    assert calls == [(2, 4, 10)] and len(computed) == 2
    for got, want in zip(results, outputs_and_grads(layer, x, weight, layer.reference_forward)):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-11)


def test_circular_kernel_layout():
    k0 = torch.tensor([[1.0, 2.0, 3.0]])
    k1 = torch.tensor([[10.0, 20.0, 30.0]])
    assert circular_kernel(k0).tolist() == [[1.0, 2.0, 3.0, 0.0, 0.0, 0.0]]
    # c[0] = K0[0] + K1[0], c[l] = K0[l], c[L] = 0, c[2L - l] = K1[l]
    assert circular_kernel(torch.stack([k0, k1])).tolist() == [[11.0, 2.0, 3.0, 0.0, 30.0, 20.0]]


@pytest.mark.parametrize("bidirectional", [False, True])
def test_s4d_layer_equals_reference_twin_float64(bidirectional):
    layer = S4D(8, 16, bidirectional=bidirectional, seed=3, dtype=F64)
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 300, 8, generator=gen, dtype=F64, requires_grad=True)
    weight = torch.randn(2, 300, 8, generator=gen, dtype=F64)
    fast = outputs_and_grads(layer, x, weight, layer)
    ref = outputs_and_grads(layer, x, weight, layer.reference_forward)
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_s4d_float32_fast_path_is_as_accurate_as_reference(bidirectional):
    """Float32: the fast output equals the reference twin's to 1e-5 (relative to the largest value), and against
    the float64 truth the fast path is as accurate as the reference (within 10%), for the output and every gradient
    (float32 gradients of Δ and A carry ~1e-4 relative rounding on both paths: sums over B·L terms)."""
    layer64 = S4D(16, 64, bidirectional=bidirectional, seed=5, dtype=F64)
    layer32 = S4D(16, 64, bidirectional=bidirectional, seed=5, dtype=torch.float32)
    layer32.load_state_dict({k: v.float() for k, v in layer64.state_dict().items()})
    gen = torch.Generator().manual_seed(6)
    x64 = torch.randn(4, 2048, 16, generator=gen, dtype=F64)
    weight64 = torch.randn(4, 2048, 16, generator=gen, dtype=F64) / 2048
    truth = outputs_and_grads(layer64, x64.clone().requires_grad_(), weight64, layer64)
    x32, weight32 = x64.float().requires_grad_(), weight64.float()
    fast = outputs_and_grads(layer32, x32, weight32, layer32)
    ref = outputs_and_grads(layer32, x32, weight32, layer32.reference_forward)
    assert float((fast[0] - ref[0]).abs().max() / ref[0].abs().max()) < 1e-5
    for t, f, r in zip(truth, fast, ref):
        scale = t.abs().max()
        err_fast = float((f.double() - t).abs().max() / scale)
        err_ref = float((r.double() - t).abs().max() / scale)
        assert err_fast < 1.1 * err_ref + 1e-7  # measured: at most 1.04× the reference's error


def test_blocked_kernel_float32_long_sequence_accuracy():
    """L = 16384 with slowly decaying modes: the blocked product Ā^(c·i)·Ā^j in float32 is as close to the float64
    kernel as the materialised exp(l·log Ā), and its gradients agree with the reference twin's."""
    H, n, length = 4, 32, 16384
    layer = S4D(H, 2 * n, init="s4d-lin", dt_min=1e-3, dt_max=1e-2, seed=7, dtype=F64)
    _, B_bar, log_A_bar = layer._discrete()
    coeffs = (layer._C() * B_bar).detach()
    log_A_bar = log_A_bar.detach()
    truth = vandermonde_kernel_reference(coeffs, log_A_bar, length)
    c32 = coeffs.to(torch.complex64).requires_grad_()
    l32 = log_A_bar.to(torch.complex64).requires_grad_()
    fast = vandermonde_kernel(c32, l32, length)
    ref = vandermonde_kernel_reference(c32, l32, length)
    scale = truth.abs().max()
    err_fast = float((fast.detach().double() - truth).abs().max() / scale)
    err_ref = float((ref.detach().double() - truth).abs().max() / scale)
    assert err_fast < 1e-5 and err_fast < 3 * err_ref + 1e-6
    weight = torch.randn(1, H, length, generator=torch.Generator().manual_seed(8)) / length
    g_fast = torch.autograd.grad((fast * weight).sum(), (c32, l32))
    g_ref = torch.autograd.grad((ref * weight).sum(), (c32, l32))
    for a, b in zip(g_fast, g_ref):
        assert float((a - b).abs().max() / b.abs().max()) < 1e-4


def test_cached_step_equals_uncached_step_and_refreshes_after_a_parameter_change():
    layer = S4D(4, 8, seed=9, dtype=F64)
    gen = torch.Generator().manual_seed(10)
    inputs = torch.randn(5, 2, 4, generator=gen, dtype=F64)

    def run(grad: bool) -> torch.Tensor:
        state, outputs = layer.initial_state(2), []
        with torch.set_grad_enabled(grad):
            for x_t in inputs:
                y_t, state = layer.step(x_t, state)
                outputs.append(y_t.detach())
        return torch.stack(outputs)

    cached, fresh = run(False), run(True)
    torch.testing.assert_close(cached, fresh, rtol=0, atol=1e-14)
    # and both equal the convolution view
    conv = layer(inputs.transpose(0, 1)).detach().transpose(0, 1)
    torch.testing.assert_close(cached, conv, rtol=1e-10, atol=1e-10)
    with torch.no_grad():
        layer.log_A_real.add_(0.5)
    changed = run(False)
    torch.testing.assert_close(changed, run(True), rtol=0, atol=1e-14)
    assert (changed - cached).abs().max() > 1e-3


def test_fused_convolution_refuses_second_derivatives_instead_of_dropping_terms():
    gen = torch.Generator().manual_seed(11)
    u = torch.randn(1, 5, 2, generator=gen, dtype=F64, requires_grad=True)
    kernel = torch.randn(2, 5, generator=gen, dtype=F64, requires_grad=True)
    D = torch.randn(2, generator=gen, dtype=F64)
    (g,) = torch.autograd.grad(ssm_convolution(u, kernel, D).square().sum(), kernel, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        g.sum().backward()
    # the reference twin gives the second derivative: d/du Σ_l ∂/∂k_l Σ_t y_t² is nonzero
    (g_ref,) = torch.autograd.grad(ssm_convolution_reference(u, kernel, D).square().sum(), kernel, create_graph=True)
    (gg,) = torch.autograd.grad(g_ref.sum(), u)
    assert gg.abs().max() > 1e-3


def test_fused_convolution_takes_any_strides():
    # a transposed view as input and a broadcast (zero-stride) output gradient, as y.sum() produces
    gen = torch.Generator().manual_seed(12)
    channel_first = torch.randn(2, 3, 7, generator=gen, dtype=F64)
    u = channel_first.transpose(1, 2).requires_grad_()
    kernel = torch.randn(2, 3, 7, generator=gen, dtype=F64, requires_grad=True)
    D = torch.randn(3, generator=gen, dtype=F64, requires_grad=True)
    fast = ssm_convolution(u, kernel, D)
    ref = ssm_convolution_reference(u, kernel, D)
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-12)
    grads_fast = torch.autograd.grad(fast.sum(), (u, kernel, D))
    grads_ref = torch.autograd.grad(ref.sum(), (u, kernel, D))
    for g_fast, g_ref in zip(grads_fast, grads_ref):
        torch.testing.assert_close(g_fast, g_ref, rtol=0, atol=1e-12)


def test_complex_powers_equal_complex_exp_values_and_gradients():
    gen = torch.Generator().manual_seed(13)
    decay = -torch.rand(5, 4, generator=gen, dtype=F64)
    frequency = 20 * torch.randn(5, 4, generator=gen, dtype=F64)
    log_base = torch.complex(decay, frequency).requires_grad_()
    exponents = torch.arange(9, dtype=F64) * 3.5
    fast = complex_powers(log_base, exponents)
    plain = torch.exp(log_base[..., None] * exponents)
    torch.testing.assert_close(fast, plain, rtol=1e-13, atol=1e-15)
    weight = torch.randn(5, 4, 9, generator=gen, dtype=torch.complex128)
    (g_fast,) = torch.autograd.grad((fast * weight).real.sum(), log_base)
    (g_plain,) = torch.autograd.grad((plain * weight).real.sum(), log_base)
    torch.testing.assert_close(g_fast, g_plain, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("batch", [0, 1, 5])
def test_batch_sum_of_products_equals_the_materialised_sum(batch):
    # the kernel gradient's reduction Σ_b conj(û_b)·ĝ_b, accumulated row by row
    gen = torch.Generator().manual_seed(batch)
    u_hat_conj = torch.randn(batch, 3, 7, generator=gen, dtype=torch.complex128)
    g_hat = torch.randn(batch, 3, 7, generator=gen, dtype=torch.complex128)
    expected = torch.einsum("bhf,bhf->hf", u_hat_conj, g_hat)
    for by_rows in (True, False, None):  # the CPU's row loop, the GPUs' one reduction, and the device's default
        got = _batch_sum_of_products(u_hat_conj, g_hat, by_rows=by_rows)
        torch.testing.assert_close(got, expected, rtol=1e-14, atol=1e-14)
