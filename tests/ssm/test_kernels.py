"""The pure kernel functions: fast paths against their reference twins and against closed forms."""

import numpy as np
import pytest
import torch

from ssmem.eigs import to_discrete
from ssmem.ssm.kernels import (
    dense_kernel,
    dense_scan_reference,
    diagonal_scan_reference,
    discretize_dense,
    discretize_diagonal,
    fft_conv,
    ssm_convolution,
    vandermonde_kernel,
    vandermonde_kernel_reference,
)

F64, C128 = torch.float64, torch.complex128


def random_modes(gen: torch.Generator, H: int, n: int) -> torch.Tensor:
    """Stable continuous eigenvalues (H, n): Re in (-1, -0.05), Im in (-3, 3)."""
    re = -(0.05 + 0.95 * torch.rand(H, n, generator=gen, dtype=F64))
    im = 6 * torch.rand(H, n, generator=gen, dtype=F64) - 3
    return torch.complex(re, im)


def random_complex(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.complex(torch.randn(*shape, generator=gen, dtype=F64), torch.randn(*shape, generator=gen, dtype=F64))


@pytest.mark.parametrize("length, block", [(1, None), (2, None), (97, None), (97, 5), (64, 8), (10, 64)])
def test_blocked_vandermonde_equals_reference_values_and_gradients(length, block):
    gen = torch.Generator().manual_seed(length)
    log_A_bar = (0.3 * random_modes(gen, 3, 4)).requires_grad_()
    coeffs = random_complex(gen, 2, 3, 4).requires_grad_()
    fast = vandermonde_kernel(coeffs, log_A_bar, length, block=block)
    ref = vandermonde_kernel_reference(coeffs, log_A_bar, length)
    assert fast.shape == (2, 3, length) and fast.dtype == F64
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-12)
    weight = torch.randn(2, 3, length, generator=gen, dtype=F64)
    grads_fast = torch.autograd.grad((fast * weight).sum(), (coeffs, log_A_bar))
    grads_ref = torch.autograd.grad((ref * weight).sum(), (coeffs, log_A_bar))
    for g_fast, g_ref in zip(grads_fast, grads_ref):
        torch.testing.assert_close(g_fast, g_ref, rtol=1e-10, atol=1e-11)


def test_vandermonde_reference_closed_form():
    # one mode, one channel: K_l = 2 Re(w z^l)
    z, w = 0.9 * np.exp(0.7j), 0.3 - 1.1j
    K = vandermonde_kernel_reference(
        torch.tensor([[[w]]], dtype=C128), torch.log(torch.tensor([[z]], dtype=C128)), 6
    )
    expected = 2 * np.real(w * z ** np.arange(6))
    np.testing.assert_allclose(K[0, 0].numpy(), expected, rtol=0, atol=1e-14)


class LargestTensor:
    """Records the largest tensor (numel, bytes) any torch op produces inside the ``with`` block."""

    def __enter__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        record = self
        self.largest, self.largest_bytes = 0, 0

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                for t in out if isinstance(out, (tuple, list)) else (out,):
                    if isinstance(t, torch.Tensor):
                        record.largest = max(record.largest, t.numel())
                        record.largest_bytes = max(record.largest_bytes, t.numel() * t.element_size())
                return out

        self.mode = Mode()
        self.mode.__enter__()
        return self

    def __exit__(self, *exc):
        self.mode.__exit__(*exc)


def test_blocked_vandermonde_holds_no_full_vandermonde_tensor():
    H, n, length = 16, 32, 4096
    gen = torch.Generator().manual_seed(0)
    log_A_bar = (0.01 * random_modes(gen, H, n)).to(torch.complex64).requires_grad_()
    coeffs = random_complex(gen, 1, H, n).to(torch.complex64).requires_grad_()
    with LargestTensor() as record:
        vandermonde_kernel(coeffs, log_A_bar, length).sum().backward()
    # the largest tensors are the kernel's own size (H·L complex = 2·H·L reals in real views); a materialised
    # Vandermonde matrix would have H·n·L = 32·H·L numbers
    assert record.largest <= 2 * H * length < H * n * length


@pytest.mark.slow
def test_lra_path_x_kernel_fits_in_a_few_hundred_megabytes():
    from ssmem.ssm import S4D

    layer = S4D(256, 64, seed=0)
    with LargestTensor() as record:
        layer.kernel(16384).pow(2).sum().backward()
    # the (H, N/2, L) Vandermonde tensor would be 256·32·16384 complex64 = 1 GiB; the kernel itself is 16 MiB
    assert record.largest_bytes <= 2 * 256 * 16384 * 8


def test_discretize_diagonal_matches_numpy_and_closed_forms():
    gen = torch.Generator().manual_seed(1)
    A = random_modes(gen, 2, 3)
    dt = torch.tensor([[0.1], [0.7]], dtype=F64)
    B = random_complex(gen, 2, 3)
    for method in ("zoh", "bilinear"):
        A_bar, B_bar, log_A_bar = discretize_diagonal(A, dt, B, method)
        np.testing.assert_allclose(A_bar.numpy(), to_discrete(A.numpy(), dt.numpy(), method), rtol=1e-14)
        torch.testing.assert_close(torch.exp(log_A_bar), A_bar, rtol=1e-14, atol=0)
        if method == "zoh":
            # B̄ = ∫_0^Δ exp(sA) ds · B, by the trapezoid rule on a fine grid
            s = torch.linspace(0, 1, 20001, dtype=F64)[:, None, None] * dt
            integral = torch.trapezoid(torch.exp(s * A), s.to(C128), dim=0) * B
            torch.testing.assert_close(B_bar, integral, rtol=1e-8, atol=1e-10)
        else:
            torch.testing.assert_close(B_bar, dt * B / (1 - dt * A / 2), rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="valid choices: zoh, bilinear"):
        discretize_diagonal(A, dt, B, "euler")


def test_zoh_input_matrix_keeps_float32_precision_at_small_steps():
    """B̄ = (exp(ΔA) - 1)/A·B loses digits in float32 as ΔA → 0 (relative 7e-5 at Δ = 1e-4, Path-X's dt_min);
    with expm1 it stays within a few float32 ulps of the float64 value."""
    A = torch.tensor([[-0.5 + 3.1j, -0.5 + 300.0j, -0.01 + 0.0j]], dtype=C128)
    B = torch.ones_like(A)
    for step in (1e-4, 1e-3, 1e-2):
        dt = torch.tensor([[step]], dtype=F64)
        reference = discretize_diagonal(A, dt, B, "zoh")[1]
        single = discretize_diagonal(A.to(torch.complex64), dt.float(), B.to(torch.complex64), "zoh")[1]
        assert ((single.to(C128) - reference).abs() / reference.abs()).max() < 1e-6


def realify(lam: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor):
    """Real 2n-dim system with the same input/output map as z' = λz + βu, y = 2 Re(γ z) (one channel)."""
    n = lam.shape[-1]
    A = torch.zeros(2 * n, 2 * n, dtype=F64)
    for i in range(n):
        a, b = lam[i].real, lam[i].imag
        A[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.stack([torch.stack([a, -b]), torch.stack([b, a])])
    B = torch.stack([beta.real, beta.imag], -1).reshape(2 * n)
    C = torch.stack([2 * gamma.real, -2 * gamma.imag], -1).reshape(2 * n)
    return A, B, C


@pytest.mark.parametrize("method", ["zoh", "bilinear"])
def test_dense_route_equals_diagonal_route(method):
    """A real block-diagonal realisation of complex modes gives the same kernel through the dense functions."""
    gen = torch.Generator().manual_seed(2)
    lam, beta, gamma = random_modes(gen, 1, 3)[0], random_complex(gen, 3), random_complex(gen, 3)
    dt = torch.tensor([0.3, 0.05], dtype=F64)
    A, B, C = realify(lam, beta, gamma)
    A_bar_dense, B_bar_dense = discretize_dense(A, dt, B.expand(2, -1), method)
    dense = dense_kernel(A_bar_dense, B_bar_dense, C.expand(1, 2, -1), 40)
    _, B_bar, log_A_bar = discretize_diagonal(lam.expand(2, -1), dt[:, None], beta.expand(2, -1), method)
    diagonal = vandermonde_kernel_reference(gamma * B_bar[None], log_A_bar, 40)
    torch.testing.assert_close(dense, diagonal, rtol=0, atol=1e-12)


def test_dense_kernel_equals_explicit_powers():
    gen = torch.Generator().manual_seed(3)
    A_bar = 0.3 * torch.randn(2, 4, 4, generator=gen, dtype=F64)
    B_bar = torch.randn(2, 4, generator=gen, dtype=F64)
    C = torch.randn(2, 2, 4, generator=gen, dtype=F64)
    K = dense_kernel(A_bar, B_bar, C, 11)
    for h in range(2):
        power = torch.eye(4, dtype=F64)
        for l in range(11):
            for k in range(2):
                assert abs(K[k, h, l] - C[k, h] @ power @ B_bar[h]) < 1e-13
            power = A_bar[h] @ power


def test_fft_conv_equals_direct_convolution():
    gen = torch.Generator().manual_seed(4)
    u = torch.randn(2, 3, 17, generator=gen, dtype=F64)
    kernel = torch.randn(3, 17, generator=gen, dtype=F64)
    y = fft_conv(u, kernel)
    for b in range(2):
        for h in range(3):
            direct = np.convolve(u[b, h].numpy(), kernel[h].numpy())[:17]
            np.testing.assert_allclose(y[b, h].numpy(), direct, rtol=0, atol=1e-12)


def test_bidirectional_convolution_is_causal_plus_anticausal():
    gen = torch.Generator().manual_seed(5)
    L = 9
    u = torch.randn(1, L, 2, generator=gen, dtype=F64)  # batch-first (B, L, H)
    kernel = torch.randn(2, 2, L, generator=gen, dtype=F64)
    D = torch.randn(2, generator=gen, dtype=F64)
    y = ssm_convolution(u, kernel, D)
    for h in range(2):
        for t in range(L):
            causal = sum(kernel[0, h, l] * u[0, t - l, h] for l in range(t + 1))
            anticausal = sum(kernel[1, h, l] * u[0, t + l, h] for l in range(L - t))
            assert abs(y[0, t, h] - (causal + anticausal + D[h] * u[0, t, h])) < 1e-12


def test_scan_references_on_a_hand_computed_case():
    # one channel, one mode: x1 = b u1, x2 = a b u1 + b u2; y = 2 Re(c x) + d u
    a, b, c, d = 0.5 + 0.5j, 1 - 1j, 0.25j, 0.1
    u = torch.tensor([[[1.0, 2.0]]], dtype=F64)
    y = diagonal_scan_reference(
        u, torch.tensor([[a]]), torch.tensor([[b]]), torch.tensor([[c]]), torch.tensor([d], dtype=F64)
    )
    x1, x2 = b * 1, a * b * 1 + b * 2
    expected = [2 * (c * x1).real + d, 2 * (c * x2).real + 2 * d]
    np.testing.assert_allclose(y[0, 0].numpy(), expected, rtol=0, atol=1e-15)
    # the dense reference on the realised system gives the same numbers
    A, B, C = realify(torch.tensor([0j], dtype=C128), torch.tensor([b]), torch.tensor([c]))
    A_bar = torch.tensor([[a.real, -a.imag], [a.imag, a.real]], dtype=F64)
    y_dense = dense_scan_reference(u, A_bar[None], B[None], C[None], torch.tensor([d], dtype=F64))
    np.testing.assert_allclose(y_dense[0, 0].numpy(), expected, rtol=0, atol=1e-15)
