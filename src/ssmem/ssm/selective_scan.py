"""The selective scan of a Mamba layer, and the linear recurrence under it.

With E channels, N real states per channel and input-dependent steps Δ_t, vectors B_t and C_t:

    h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t u_t          h (B, E, N), h_{-1} = 0
    y_t = h_t C_t + D ⊙ u_t                          y (B, L, E)

Two computations of one answer. :func:`selective_scan_reference` is a plain loop over time under autograd (the
specification). :func:`selective_scan` goes through the sequence in chunks of T steps and has its backward pass
written out (:class:`_SelectiveScan`): autograd then keeps only the inputs and the state entering each chunk, not
a state per step, and the decays ``a_t = exp(Δ_t A)`` and drives ``b_t = Δ_t B_t u_t`` exist one chunk at a time.

The backward pass is the same recurrence run backwards. With ``g_t = ∂loss/∂h_t`` (through every later step),

    g_t = G_t + a_{t+1} ⊙ g_{t+1},   G_t = ∂loss/∂y_t ⊗ C_t   (B, E, N)
    ∂loss/∂b_t = g_t,   ∂loss/∂log a_t = g_t ⊙ h_{t-1} ⊙ a_t,   ∂loss/∂C_t = Σ_e ∂loss/∂y_t[e] h_t[e]

and the chain rule through ``log a_t = Δ_t A`` and ``b_t = (Δ_t u_t) B_t`` gives the gradients of Δ, A, u and B.
Each chunk's states are recomputed from the state that entered it.

Within a chunk the recurrence runs either step by step (one fused multiply-add per step over ``(B, E, N)``, which
stays in cache: the fastest on CPUs) or by recursive doubling (⌈log₂ T⌉ steps over the whole chunk, more work but
few kernel launches: the default on GPUs); :func:`linear_recurrence` holds both.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .._values import is_integer
from ._common import exact_float32

# steps per chunk: the (T, B, E, N) tensors held at once (B 16, E 256, N 16, T 16: 4 MiB each, in cache); doubling
# takes longer chunks, as its steps are whole-chunk operations
DEFAULT_CHUNK = {"sequential": 16, "doubling": 128}
METHODS = ("auto", "sequential", "doubling")


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half-precision inputs, else the input's own (float64 stays float64)."""
    return torch.promote_types(dtype, torch.float32)


def selective_scan_reference(
    u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, D: torch.Tensor
) -> torch.Tensor:
    """The selective scan as a plain loop over time: the specification :func:`selective_scan` is tested against.

    Args:
        u: ``(B, L, E)`` input.
        delta: ``(B, L, E)`` positive steps Δ.
        A: ``(E, N)`` continuous state matrix (diagonal per channel, real, negative).
        B: ``(B, L, N)`` input vectors, one per step (shared by the E channels).
        C: ``(B, L, N)`` output vectors, one per step.
        D: ``(E,)`` skip.
    Returns:
        ``(B, L, E)``, in u's dtype: ``y_t = C_t · h_t + D u_t``, ``h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t``,
        accumulated in float32 at least.
    """
    out_dtype = u.dtype
    u, delta, A, B, C, D = (t.to(accumulation_dtype(out_dtype)) for t in (u, delta, A, B, C, D))
    h = u.new_zeros(u.shape[0], u.shape[2], A.shape[1])  # (B, E, N)
    outputs = []
    # one step's views from unbind (whose gradient is one stack), not by indexing (one full-length gradient each)
    for u_t, delta_t, B_t, C_t in zip(u.unbind(1), delta.unbind(1), B.unbind(1), C.unbind(1)):
        decay = torch.exp(delta_t[..., None] * A)  # (B, E, N)
        h = decay * h + (delta_t * u_t)[..., None] * B_t[:, None, :]
        outputs.append((h * C_t[:, None, :]).sum(-1))  # (B, E)
    y = torch.stack(outputs, dim=1) if outputs else u.new_zeros(u.shape)
    return (y + D * u).to(out_dtype)


def linear_recurrence(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, method: str, *,
                      reverse: bool = False) -> torch.Tensor:
    """``h_t = a_t ⊙ h_{t-1} + b_t`` from ``h_{-1} = h0``, every t (time first); with ``reverse``,
    ``h_t = a_t ⊙ h_{t+1} + b_t`` from ``h_T = h0``.

    Args:
        a, b: ``(T, ...)``; ``b`` is overwritten with the result (no second chunk-sized tensor).
        h0: ``(...)``.
        method: ``"sequential"`` (T fused steps) or ``"doubling"`` (⌈log₂ T⌉ steps: after the step of span s,
            ``b_t`` holds the recurrence over the 2s steps up to t and ``a_t`` their product).
    Returns:
        ``b``, now ``h (T, ...)``.
    """
    steps = b.shape[0]
    if steps == 0:
        return b
    first = steps - 1 if reverse else 0
    b[first].addcmul_(a[first], h0)
    if method == "sequential":
        for t in (range(steps - 2, -1, -1) if reverse else range(1, steps)):
            b[t].addcmul_(a[t], b[t + 1 if reverse else t - 1])
        return b
    a = a.clone()  # (h0 is folded into the first b: the products of a never reach it)
    span = 1
    while span < steps:
        late, early = slice(span, None), slice(None, -span)
        to, src = (early, late) if reverse else (late, early)
        b[to] = torch.addcmul(b[to], a[to], b[src])  # the right side is read before the write
        a[to] = a[to] * a[src]
        span *= 2
    return b


def _chunk_terms(delta: torch.Tensor, du: torch.Tensor, A: torch.Tensor, B: torch.Tensor):
    """``delta, du (B, T, E)``, ``B (B, T, N)`` → the decays and drives ``(T, B, E, N)``, time first."""
    a = torch.exp(delta.transpose(0, 1)[..., None] * A)
    return a, du.transpose(0, 1)[..., None] * B.transpose(0, 1)[:, :, None, :]


def _scan_backward(grad_y, u, delta, A, B, C, *entering, chunk: int, method: str):
    """The gradients of :class:`_SelectiveScan`'s inputs (the module docstring's backward pass)."""
    du = delta * u
    grad_du, grad_delta, grad_B, grad_C = (torch.zeros_like(t) for t in (du, delta, B, C))
    grad_A = torch.zeros_like(A)
    carry = torch.zeros_like(entering[0])  # a_{t+1} ⊙ g_{t+1} from the chunk after
    for k in reversed(range(len(entering))):
        part = slice(k * chunk, (k + 1) * chunk)
        a, states = _chunk_terms(delta[:, part], du[:, part], A, B[:, part])
        states = linear_recurrence(a, states, entering[k], method)
        g_y = grad_y[:, part].transpose(0, 1)  # (T, B, E)
        g = g_y[..., None] * C[:, part].transpose(0, 1)[:, :, None, :]  # G_t
        g[-1] += carry  # backwards in time the same recurrence, with the decay of the step after
        linear_recurrence(a[1:], g[:-1], g[-1], method, reverse=True)
        carry = a[0] * g[0]
        grad_C[:, part] = torch.einsum("tben,tbe->btn", states, g_y)
        g_log_a = g * a  # (T, B, E, N), times h_{t-1}:
        g_log_a[1:] *= states[:-1]
        g_log_a[0] *= entering[k]
        grad_delta[:, part] = torch.einsum("tben,en->bte", g_log_a, A)
        grad_A += torch.einsum("tben,bte->en", g_log_a, delta[:, part])
        grad_du[:, part] = torch.einsum("tben,btn->bte", g, B[:, part])
        grad_B[:, part] = torch.einsum("tben,bte->btn", g, du[:, part])
    grad_delta += grad_du * u
    return grad_du * delta, grad_delta, grad_A, grad_B, grad_C, None, None


class _SelectiveScan(torch.autograd.Function):
    """``(u, Δ, A, B, C) → Σ_n h_t C_t`` (no skip) with the backward pass of the module docstring."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, chunk: int, method: str):  # noqa: D102 (the class says it)
        batch, length, channels = u.shape
        du = delta * u
        h = u.new_zeros(batch, channels, A.shape[1])
        y = u.new_empty(batch, length, channels)
        entering = []
        for start in range(0, length, chunk):
            part = slice(start, start + chunk)
            entering.append(h)
            a, states = _chunk_terms(delta[:, part], du[:, part], A, B[:, part])
            states = linear_recurrence(a, states, h, method)
            y[:, part] = torch.einsum("tben,btn->bte", states, C[:, part])
            h = states[-1].clone()
        ctx.save_for_backward(u, delta, A, B, C, *entering)
        ctx.chunk, ctx.method = chunk, method
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):  # noqa: D102
        with exact_float32(grad_y.device.type):  # even if called under mixed precision
            return _scan_backward(grad_y, *ctx.saved_tensors, chunk=ctx.chunk, method=ctx.method)


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor,
    *,
    chunk_size: int | None = None,
    method: str = "auto",
) -> torch.Tensor:
    """:func:`selective_scan_reference` chunk by chunk with a written-out backward pass (same arguments, same
    result to rounding). Autograd keeps the inputs and one ``(B, E, N)`` state per chunk.

    Args:
        chunk_size: T, the steps of one chunk (default 16 sequential, 128 doubling): the memory held at once is
            a few ``(T, B, E, N)`` tensors.
        method: how a chunk's recurrence runs: ``"sequential"``, ``"doubling"``, or ``"auto"`` (sequential on
            CPU, doubling elsewhere).
    """
    if chunk_size is not None and (not is_integer(chunk_size) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if method not in METHODS:
        raise ValueError(f"unknown scan method {method!r}; valid choices: {', '.join(METHODS)}")
    if method == "auto":
        method = "sequential" if u.device.type == "cpu" else "doubling"
    out_dtype = u.dtype
    u, delta, A, B, C, D = (t.to(accumulation_dtype(out_dtype)) for t in (u, delta, A, B, C, D))
    if u.shape[1] == 0:
        return (D * u).to(out_dtype)
    with exact_float32(u.device.type):  # its contractions in float32 under mixed precision and TF32 too
        y = _SelectiveScan.apply(u, delta, A, B, C, int(chunk_size or DEFAULT_CHUNK[method]), method)
    return (y + D * u).to(out_dtype)


__all__ = ["linear_recurrence", "selective_scan", "selective_scan_reference"]
