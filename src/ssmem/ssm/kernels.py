"""Pure kernel functions of diagonal and dense state space layers (torch, differentiable, device-agnostic).

Per channel h (PAPER.md §1), with the ``n_modes`` upper-half modes of a real system of size N = 2·n_modes:

    ZOH:          Ā = exp(Δ A),                  B̄ = (exp(Δ A) - 1) / A · B   (computed with expm1)
    bilinear:     Ā = (1 + Δ A/2) / (1 - Δ A/2),  B̄ = Δ B / (1 - Δ A/2)
    kernel:       K_l = 2·Re(Σ_n C_n B̄_n Ā_n^l),  l = 0..L-1
    recurrence:   x_k = Ā x_{k-1} + B̄ u_k,        y_k = 2·Re(C x_k) + D u_k
    convolution:  y = K * u + D u

Bidirectional layers carry two output vectors C (shape ``(2, H, n)``): the first kernel acts causally, the
second on the reversed sequence, ``y = K0 * u + flip(K1 * flip(u)) + D u``.

Layout: the layers and :func:`ssm_convolution` take batch-first sequences ``(B, L, H)``; the FFTs run over the
last axis of channel-first copies ``(B, H, L)`` (:func:`fft_conv` takes those directly). Every fast function
has a plain reference twin in this file
(:func:`vandermonde_kernel_reference`, :func:`ssm_convolution_reference`, :func:`diagonal_scan_reference`,
:func:`dense_scan_reference`). A frozen kernel's FFT is computed once (:func:`kernel_spectrum`) and passed to
:func:`ssm_convolution`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable

from ..eigs.discretize import DISCRETIZATIONS, check_discretization


# ----------------------------------------------------------------------------------------------- discretisation


def discretize_diagonal(
    A: torch.Tensor, dt: torch.Tensor, B: torch.Tensor, discretization: str = "zoh"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Discretise a diagonal system.

    Args:
        A: ``(..., n)`` complex continuous eigenvalues.
        dt: step, broadcastable to ``A`` (e.g. ``(H, 1)`` per channel or ``(H, n)`` per mode), real.
        B: ``(..., n)`` complex input vector.
    Returns:
        ``(A_bar, B_bar, log_A_bar)``, each ``(..., n)`` complex; ``log_A_bar`` is a logarithm of Ā (exactly Δ·A
        for ZOH; :func:`bilinear_log` for bilinear), used to form powers Ā^l = exp(l·log Ā).
    """
    check_discretization(discretization)
    dtA = dt * A
    if discretization == "zoh":
        A_bar = torch.exp(dtA)
        # expm1: exp(ΔA) - 1 loses digits when |ΔA| is small (float32); an A below the normal range (torch's
        # complex division by a subnormal is NaN) has B̄ = ΔB to working precision
        tiny = A.abs() < torch.finfo(A.real.dtype).tiny
        B_bar = torch.where(tiny, dt * B, torch.expm1(dtA) / torch.where(tiny, torch.ones_like(A), A) * B)
        return A_bar, B_bar, dtA
    denominator = 1 - dtA / 2
    A_bar = (1 + dtA / 2) / denominator
    B_bar = dt * B / denominator
    return A_bar, B_bar, bilinear_log(dtA)


def bilinear_log(dtA: torch.Tensor) -> torch.Tensor:
    """log Ā of the bilinear Ā = (1 + z/2)/(1 - z/2), z = ΔA = a + ib (Re A < 0), from z itself.

    log|Ā| = ½ log1p(2a / ((1 - a/2)² + (b/2)²)) while |Ā| is near 1 (the argument is |Ā|² - 1, exactly), and
    ½ (log|1 + z/2|² - log|1 - z/2|²) once |Ā|² < ½ (where log1p of a number near -1 would cancel); arg Ā =
    atan2(b/2, 1 + a/2) + atan2(b/2, 1 - a/2) (a branch of the logarithm: integer powers do not depend on it).
    Taking the log of a rounded Ā instead loses the decay rate of modes with |Ā| near 1 (float32: relative errors
    of 1e-3, a stable mode rounded onto the unit circle), and Ā = 0 (z = -2) has log |Ā| = -inf: it is -10⁴ here,
    whose powers are 1 at l = 0 and 0 after, with finite gradients.
    """
    a, half_b = dtA.real, dtA.imag / 2
    numerator = (1 + a / 2) ** 2 + half_b**2  # |1 + z/2|²
    denominator = (1 - a / 2) ** 2 + half_b**2  # |1 - z/2|² > 1 (a < 0)
    excess = 2 * a / denominator  # |Ā|² - 1
    near_one = excess > -0.5
    zero = numerator == 0
    log_near_one = 0.5 * torch.log1p(torch.where(near_one, excess, torch.zeros_like(a)))
    log_small = 0.5 * (torch.log(torch.where(near_one | zero, torch.ones_like(a), numerator)) - torch.log(denominator))
    log_modulus = torch.where(zero, torch.full_like(a, -1e4), torch.where(near_one, log_near_one, log_small))
    numerator_re = torch.where(zero, torch.ones_like(a), 1 + a / 2)  # atan2(0, 0) has no gradient
    angle = torch.atan2(half_b, numerator_re) + torch.atan2(half_b, 1 - a / 2)
    return torch.complex(log_modulus, angle)


def discretize_dense(
    A: torch.Tensor, dt: torch.Tensor, B: torch.Tensor, discretization: str = "bilinear"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Discretise a dense real system per channel.

    Args:
        A: ``(N, N)`` real state matrix (shared by the channels).
        dt: ``(H,)`` steps.
        B: ``(H, N)`` input vectors.
    Returns:
        ``(A_bar (H, N, N), B_bar (H, N))``. Bilinear: Ā = (I - ΔA/2)⁻¹(I + ΔA/2), B̄ = (I - ΔA/2)⁻¹ Δ B.
        ZOH: Ā = exp(ΔA) and B̄ = ∫₀^Δ exp(sA) ds B, both read off the exponential of the augmented matrix
        [[A, B], [0, 0]]·Δ (no inverse of A needed).
    """
    check_discretization(discretization)
    d_state = A.shape[-1]
    H = dt.shape[0]
    eye = torch.eye(d_state, dtype=A.dtype, device=A.device)
    dtA = dt[:, None, None] * A  # (H, N, N)
    if discretization == "bilinear":
        left = eye - dtA / 2
        A_bar = torch.linalg.solve(left, eye + dtA / 2)
        B_bar = torch.linalg.solve(left, (dt[:, None] * B)[..., None])[..., 0]
        return A_bar, B_bar
    augmented = torch.zeros(H, d_state + 1, d_state + 1, dtype=A.dtype, device=A.device)
    augmented[:, :d_state, :d_state] = dtA
    augmented[:, :d_state, d_state] = dt[:, None] * B
    expm = torch.linalg.matrix_exp(augmented)
    return expm[:, :d_state, :d_state], expm[:, :d_state, d_state]


# ------------------------------------------------------------------------------------------- Vandermonde kernels


def vandermonde_kernel_reference(coeffs: torch.Tensor, log_A_bar: torch.Tensor, length: int) -> torch.Tensor:
    """Reference kernel ``K[k, h, l] = 2·Re(Σ_n coeffs[k, h, n] · exp(l · log_A_bar[h, n]))``.

    Materialises the whole ``(H, n, L)`` Vandermonde matrix: simple and exact, for tests and benchmarks.

    Args:
        coeffs: ``(K, H, n)`` complex, C·B̄ for each of the K output vectors (1, or 2 when bidirectional).
        log_A_bar: ``(H, n)`` complex, log Ā.
        length: L.
    Returns:
        ``(K, H, L)`` real.
    """
    steps = torch.arange(length, device=log_A_bar.device, dtype=log_A_bar.real.dtype)
    vandermonde = torch.exp(log_A_bar[..., None] * steps)  # (H, n, L)
    return 2 * torch.einsum("khn,hnl->khl", coeffs, vandermonde).real


def complex_powers(log_base: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """``exp(log_base[..., None] · exponents)`` for complex ``log_base`` and real ``exponents``: the powers
    ``Ā^s`` of a diagonal transition, shape ``log_base.shape + exponents.shape``.

    Computed as ``exp(s·Re) · (cos(s·Im) + i·sin(s·Im))`` (:func:`torch.polar`) from real tensors: torch's complex
    ``exp`` is not vectorised on CPU, and this form is 3-4× faster there (values equal to rounding; differentiable).
    """
    return torch.polar(torch.exp(log_base.real[..., None] * exponents), log_base.imag[..., None] * exponents)


def vandermonde_kernel(
    coeffs: torch.Tensor, log_A_bar: torch.Tensor, length: int, *, block: int | None = None
) -> torch.Tensor:
    """Kernel ``K[k, h, l] = 2·Re(Σ_n coeffs[k, h, n] · Ā[h, n]^l)`` without an ``(H, n, L)`` tensor.

    Blocked Vandermonde product: write l = c·i + j (0 ≤ j < c, block size c ≈ √L), so that
    Ā^l = Ā^(c·i) · Ā^j and

        K[k, h, c·i + j] = 2·Re(Σ_n (coeffs[k, h, n] · Ā[h, n]^(c·i)) · Ā[h, n]^j)

    is one batched matrix product of an ``(K, H, n, L/c)`` and an ``(H, n, c)`` factor. Forward and autograd
    then hold O(H·n·√L + K·H·L) numbers instead of O(H·n·L) (H = 256, n = 32, L = 16384: a few MB of factors
    instead of 1 GB). Same result as :func:`vandermonde_kernel_reference` up to rounding.

    Args:
        coeffs: ``(K, H, n)`` complex (C·B̄ per output vector).
        log_A_bar: ``(H, n)`` complex, log Ā.
        length: L ≥ 1.
        block: block size c (default ⌈√L⌉).
    Returns:
        ``(K, H, L)`` real.
    """
    if length < 1:
        raise ValueError(f"kernel length must be >= 1, got {length}")
    if coeffs.dim() != 3 or coeffs.shape[1:] != log_A_bar.shape:
        raise ValueError(f"coeffs must be (K, H, n) with (H, n) = {tuple(log_A_bar.shape)}; got {tuple(coeffs.shape)}")
    block = block or math.isqrt(length - 1) + 1
    n_blocks = -(-length // block)
    real = log_A_bar.real.dtype
    inner = complex_powers(log_A_bar, torch.arange(block, device=log_A_bar.device, dtype=real))  # (H, n, c)
    outer_steps = block * torch.arange(n_blocks, device=log_A_bar.device, dtype=real)
    weights = coeffs[..., None] * complex_powers(log_A_bar, outer_steps)  # (K, H, n, m)
    kernel = 2 * torch.einsum("khnm,hnj->khmj", weights, inner).real  # (K, H, m, c)
    return kernel.reshape(*kernel.shape[:2], n_blocks * block)[..., :length]


def dense_kernel(A_bar: torch.Tensor, B_bar: torch.Tensor, C: torch.Tensor, length: int) -> torch.Tensor:
    """Exact kernel of a dense system ``K[k, h, l] = C[k, h] · Ā[h]^l · B̄[h]`` by repeated doubling.

    The Krylov block [B̄, ĀB̄, …, Ā^(m-1)B̄] is doubled with Ā^m until it holds L columns (log2 L matrix
    products).

    Args:
        A_bar: ``(H, N, N)``; B_bar: ``(H, N)``; C: ``(K, H, N)``; length: L ≥ 1.
    Returns:
        ``(K, H, L)``.
    """
    if length < 1:
        raise ValueError(f"kernel length must be >= 1, got {length}")
    krylov = B_bar[..., None]  # (H, N, m)
    power = A_bar  # Ā^m
    while krylov.shape[-1] < length:
        krylov = torch.cat([krylov, power @ krylov], dim=-1)
        power = power @ power
    return torch.einsum("khn,hnl->khl", C, krylov[..., :length])


# ------------------------------------------------------------------------------------------------ convolution


def fft_conv(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Causal convolution ``y[..., t] = Σ_{l ≤ t} kernel[..., l] · u[..., t - l]`` by FFT (zero-padded to 2L).

    Plain autograd version, the reference twin of :func:`ssm_convolution`'s fused path.

    Args:
        u: ``(B, H, L)`` real; kernel: ``(H, L)`` real.
    Returns:
        ``(B, H, L)``.
    """
    length = u.shape[-1]
    n_fft = 2 * length
    spectrum = torch.fft.rfft(u, n=n_fft) * torch.fft.rfft(kernel, n=n_fft)
    return torch.fft.irfft(spectrum, n=n_fft)[..., :length]


def ssm_convolution_reference(
    x: torch.Tensor, kernel: torch.Tensor, D: torch.Tensor, *, spectrum: KernelSpectrum | None = None
) -> torch.Tensor:
    """Reference twin of :func:`ssm_convolution`: transpose to channel-first, one :func:`fft_conv` per
    direction (the anticausal one on the flipped sequence), transpose back; plain autograd. Same arguments and
    result (``spectrum`` is accepted and not used: the twin transforms the kernel itself)."""
    u = x.transpose(1, 2)
    if kernel.dim() == 2:
        kernel = kernel[None]
    y = fft_conv(u, kernel[0])
    if kernel.shape[0] == 2:
        y = y + fft_conv(u.flip(-1), kernel[1]).flip(-1)
    return (y + D[:, None] * u).transpose(1, 2)


def circular_kernel(kernel: torch.Tensor) -> torch.Tensor:
    """Both directions of a layer's kernel in one circular kernel of length 2L.

    A circular convolution of length 2L of the zero-padded input with ``c`` gives ``K0 * u`` for the causal part
    (``c[l] = K0[l]``, l < L) and the anticausal part ``Σ_{l ≥ 1} K1[l] u[t + l]`` from ``c[2L - l] = K1[l]``,
    with ``K1[0]`` added to ``c[0]``; ``c[L] = 0``.

    Args:
        kernel: ``(H, L)`` or ``(1, H, L)`` (causal) or ``(2, H, L)`` (bidirectional).
    Returns:
        ``(H, 2L)``.
    """
    if kernel.dim() == 2:
        kernel = kernel[None]
    causal = kernel[0]
    zeros = causal.new_zeros(causal.shape[:-1] + (1,))
    if kernel.shape[0] == 1:
        return torch.cat([causal, torch.zeros_like(causal)], dim=-1)
    anticausal = kernel[1]
    head = causal[..., :1] + anticausal[..., :1]
    return torch.cat([head, causal[..., 1:], zeros, anticausal[..., 1:].flip(-1)], dim=-1)


class KernelSpectrum(NamedTuple):
    """The kernel's side of the fused FFT convolution, for a kernel that takes no gradient (a frozen kernel):
    ``rfft`` of :func:`circular_kernel` at n = 2L and its conjugate (the backward's factor), each ``(H, L + 1)``
    complex. Made by :func:`kernel_spectrum`; readout-mode layers compute it once with their kernel."""

    spectrum: torch.Tensor
    conjugate: torch.Tensor


def kernel_spectrum(kernel: torch.Tensor) -> KernelSpectrum:
    """The :class:`KernelSpectrum` of a kernel ``(H, L)``, ``(1, H, L)`` or ``(2, H, L)`` (bidirectional), for
    :func:`ssm_convolution`'s ``spectrum`` argument. No gradient flows back to ``kernel`` through it."""
    with torch.no_grad():
        spectrum = torch.fft.rfft(circular_kernel(kernel), n=2 * kernel.shape[-1])
        return KernelSpectrum(spectrum, spectrum.conj_physical())


def _padded_channel_first(x: torch.Tensor) -> torch.Tensor:
    """``(B, L, H)`` → a new contiguous ``(B, H, 2L)``: the sequence transposed into the first half, zeros after.

    One copy does the transpose and the zero padding of the FFT input (``rfft(u, n=2L)`` on a transposed view
    reads strided memory and pads through a second buffer)."""
    batch, length, channels = x.shape
    padded = x.new_empty(batch, channels, 2 * length)
    padded[..., :length].copy_(x.transpose(1, 2))
    padded[..., length:].zero_()
    return padded


def _plus_skip(y: torch.Tensor, D: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``y (B, H, L)`` (any strides) transposed, plus ``D·x`` for ``x (B, L, H)``: one pass that writes a
    contiguous ``(B, L, H)`` result, so the layers' pointwise ops that follow run on contiguous memory."""
    return torch.addcmul(y.transpose(1, 2), D, x, out=x.new_empty(x.shape))


def _batch_sum_of_products(a: torch.Tensor, b: torch.Tensor, *, by_rows: bool | None = None) -> torch.Tensor:
    """``Σ_i a[i] · b[i]`` over the leading (batch) axis.

    ``by_rows`` (default: on the CPU) accumulates one row at a time into one result of a row's shape:
    ``(a * b).sum(0)`` first writes the whole batch-sized product, 1.4-4× slower on CPU for the kernel gradient's
    spectra. On a GPU the row loop would launch B small kernels per layer and step; one product and one reduction
    do it in two."""
    if by_rows is None:
        by_rows = a.device.type == "cpu"
    if not by_rows:
        return (a * b).sum(0)
    total = a.new_zeros(a.shape[1:])
    for row in range(a.shape[0]):
        total.addcmul_(a[row], b[row])
    return total


class _FusedConvolution(torch.autograd.Function):
    """``y = (irfft(rfft(u, 2L) · rfft(c))[..., :L] + D·u)`` on batch-first sequences, with a hand-written backward.

    ``u`` is the input transposed to ``(B, H, L)``; the transposes are folded into the zero padding before each
    forward FFT and into the skip term after each inverse FFT (:func:`_padded_channel_first`, :func:`_plus_skip`),
    so input, output and gradients stay contiguous ``(B, L, H)``.

    Backward (all FFTs of length 2L, ``G = rfft(∂y)``): ``∂u = irfft(G · conj(rfft c))[:L] + D ∂y``,
    ``∂c = irfft(Σ_b G · conj(rfft u))``, ``∂D = Σ_{b,t} ∂y·u``. Four batch-sized FFTs per forward+backward, where
    plain autograd also runs complex-to-complex FFTs and pad/slice copies in its backward. First derivatives only
    (a second backward raises); :func:`ssm_convolution_reference` is differentiable to any order.

    ``frozen``: a :class:`KernelSpectrum` computed beforehand (then ``circular`` is None and takes no gradient), so
    a frozen kernel costs no FFT per call.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, x: torch.Tensor, circular: torch.Tensor | None, D: torch.Tensor, frozen: KernelSpectrum | None = None
    ) -> torch.Tensor:
        length = x.shape[1]
        n_fft = 2 * length
        u_hat = torch.fft.rfft(_padded_channel_first(x))
        if frozen is None:
            c_hat = torch.fft.rfft(circular, n=n_fft)
            # conjugates stored physically: a conjugate view would be copied again at every use in the backward
            c_hat_conj = c_hat.conj_physical()
        else:
            c_hat, c_hat_conj = frozen
        kernel_grad = ctx.needs_input_grad[1]  # it needs conj(rfft(u)) kept; otherwise multiply in place
        product = u_hat * c_hat if kernel_grad else u_hat.mul_(c_hat)
        y = _plus_skip(torch.fft.irfft(product, n=n_fft)[..., :length], D, x)
        u_hat_conj = u_hat.conj_physical_() if kernel_grad else None
        ctx.save_for_backward(x, u_hat_conj, c_hat_conj, D)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: torch.Tensor):  # type: ignore[override]
        x, u_hat_conj, c_hat_conj, D = ctx.saved_tensors
        length = x.shape[1]
        n_fft = 2 * length
        grad_x = grad_c = grad_D = None
        g_hat = torch.fft.rfft(_padded_channel_first(grad_y))
        if ctx.needs_input_grad[1]:
            grad_c = torch.fft.irfft(_batch_sum_of_products(u_hat_conj, g_hat), n=n_fft)
        if ctx.needs_input_grad[0]:  # ĝ is not needed after this: multiply in place
            grad_x = _plus_skip(torch.fft.irfft(g_hat.mul_(c_hat_conj), n=n_fft)[..., :length], D, grad_y)
        if ctx.needs_input_grad[2]:
            grad_D = (grad_y * x).sum((0, 1))
        return grad_x, grad_c, grad_D, None


def ssm_convolution(
    x: torch.Tensor, kernel: torch.Tensor, D: torch.Tensor, *, spectrum: KernelSpectrum | None = None
) -> torch.Tensor:
    """The convolution view of an SSM layer on batch-first sequences (fused path: one FFT convolution for both
    directions, transposes folded into the padding and the skip term).

    Args:
        x: ``(B, L, H)`` real input.
        kernel: ``(H, L)`` (causal) or ``(2, H, L)`` (bidirectional: ``kernel[1]`` acts on the reversed sequence).
        D: ``(H,)`` skip.
        spectrum: ``kernel_spectrum(kernel)``, computed beforehand for a kernel that takes no gradient (a frozen
            kernel used for many calls): the kernel's FFT is then not repeated. A kernel that requires a gradient
            is refused with it (the gradient would be lost).
    Returns:
        ``(B, L, H)`` contiguous: ``K0 * x + D x`` per channel, plus ``flip(K1 * flip(x))`` when bidirectional.
        Equal to :func:`ssm_convolution_reference` up to rounding, values and gradients. Inside ``torch.func``
        transforms (``grad``, ``vmap``, ``jacrev``, ...) the reference twin runs instead: it is plain autograd.
    """
    if x.dim() != 3:
        raise ValueError(f"ssm_convolution expects x of shape (B, L, H); got {tuple(x.shape)}")
    if functorch_active():  # torch.func (grad, vmap, jacrev, ...): the reference twin, plain autograd
        return ssm_convolution_reference(x, kernel, D)
    if spectrum is None:
        return _FusedConvolution.apply(x, circular_kernel(kernel), D)
    if kernel.requires_grad and torch.is_grad_enabled():
        raise ValueError("spectrum= is for a kernel that takes no gradient; this kernel requires one (leave it out)")
    expected = (x.shape[2], x.shape[1] + 1)
    if tuple(spectrum.spectrum.shape) != expected or tuple(spectrum.conjugate.shape) != expected:
        raise ValueError(
            f"the kernel spectrum must be (H, L + 1) = {expected} for x of shape {tuple(x.shape)}; got "
            f"{tuple(spectrum.spectrum.shape)} (make it with kernel_spectrum(kernel) at this length)"
        )
    return _FusedConvolution.apply(x, None, D, spectrum)


def functorch_active() -> bool:
    """Whether a ``torch.func`` transform (grad, vmap, ...) is running.

    The fused convolution's in-place FFT products and first-order backward do not compose with those transforms,
    and a frozen kernel would ignore parameters a transform batches, so both step aside under one. PyTorch has no
    public query for this: the private one is looked up defensively, and where it is missing (a future PyTorch)
    the answer is False and a transform through the fused path raises rather than silently giving wrong values
    (``tests/ssm/test_torch_interop.py`` runs grad, vmap and jacrev through every layer).
    """
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return bool(active and active())


# ------------------------------------------------------------------------------------- plain-loop references


def diagonal_scan_reference(
    u: torch.Tensor, A_bar: torch.Tensor, B_bar: torch.Tensor, C: torch.Tensor, D: torch.Tensor
) -> torch.Tensor:
    """Plain loop over time of the diagonal recurrence (reference twin of the convolution view).

    Args:
        u: ``(B, H, L)`` real; A_bar, B_bar: ``(H, n)`` complex; C: ``(H, n)`` or ``(2, H, n)`` complex
        (``C[1]`` runs over the reversed sequence); D: ``(H,)``.
    Returns:
        ``(B, H, L)``: ``y_t = 2·Re(C x_t) + D u_t`` (+ the backward pass when bidirectional).
    """
    C = C[None] if C.dim() == 2 else C
    batch, H, length = u.shape
    y = D[:, None] * u
    for direction in range(C.shape[0]):
        order = range(length) if direction == 0 else range(length - 1, -1, -1)
        state = torch.zeros(batch, *A_bar.shape, dtype=A_bar.dtype, device=u.device)
        outputs = [None] * length
        for t in order:
            state = A_bar * state + B_bar * u[:, :, t, None]
            outputs[t] = 2 * (C[direction] * state).sum(-1).real
        y = y + torch.stack(outputs, dim=-1)
    return y


def dense_scan_reference(
    u: torch.Tensor, A_bar: torch.Tensor, B_bar: torch.Tensor, C: torch.Tensor, D: torch.Tensor
) -> torch.Tensor:
    """Plain loop over time of a dense recurrence ``x_t = Ā x_{t-1} + B̄ u_t``, ``y_t = C x_t + D u_t``.

    Args:
        u: ``(B, H, L)``; A_bar: ``(H, N, N)``; B_bar: ``(H, N)``; C: ``(H, N)`` or ``(2, H, N)``; D: ``(H,)``.
    Returns:
        ``(B, H, L)`` (bidirectional: ``C[1]`` runs over the reversed sequence).
    """
    C = C[None] if C.dim() == 2 else C
    batch, H, length = u.shape
    y = D[:, None] * u
    for direction in range(C.shape[0]):
        order = range(length) if direction == 0 else range(length - 1, -1, -1)
        state = torch.zeros(batch, H, A_bar.shape[-1], dtype=A_bar.dtype, device=u.device)
        outputs = [None] * length
        for t in order:
            state = torch.einsum("hij,bhj->bhi", A_bar, state) + B_bar * u[:, :, t, None]
            outputs[t] = (C[direction] * state).sum(-1)
        y = y + torch.stack(outputs, dim=-1)
    return y
