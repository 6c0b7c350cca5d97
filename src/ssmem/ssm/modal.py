"""Pure functions of a MIMO diagonal state space model in its modal coordinates (the LRU and S5 layers).

One state of ``n`` complex modes is shared by all H channels:

    x_t = Ā ⊙ x_{t-1} + v_t,      v_t = B̄ u_t        Ā (n,) complex, B̄ (n, H) complex
    y_t = scale · Re(C x_t) + D ⊙ u_t                  C (H, n) complex, scale 1 (LRU) or 2 (S5: conjugates implied)

Each mode is a scalar linear recurrence, so its state is the causal convolution of its input with the powers
Ā_n^l: :func:`modal_convolution` takes that view (one FFT per mode, O(B·L·n·log L), never an (H, H, L) kernel),
:func:`modal_scan_reference` is the plain loop it is tested against. :func:`real_realization` writes the same
system as a real one of size 2n per input channel, the form :func:`ssmem.memory.dense_memory_function` reads.

:class:`ModalLayer` is the layer plumbing LRU and S5 share (forward, the reference twin, step, inspection); each
defines only its parameterisation, ``_modal() -> (Ā, log Ā, B̄, C)``.
"""

from __future__ import annotations

import numpy as np
import torch

from .._values import check_seed, is_integer
from ._common import SSMLayerCommon, check_train_mode, full_precision
from .kernels import complex_powers


def modal_scan_reference(v: torch.Tensor, A_bar: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
    """Plain loop ``x_t = Ā ⊙ x_{t-1} + v_t`` from ``x_{-1} = state`` (zero by default).

    Args:
        v: ``(B, L, n)`` complex driven input B̄ u_t.
        A_bar: ``(n,)`` complex.
        state: ``(B, n)`` complex or None.
    Returns:
        ``(B, L, n)``: the states x_0 … x_{L-1}.
    """
    x = torch.zeros_like(v[:, 0]) if state is None else state
    states = []
    for t in range(v.shape[1]):
        x = A_bar * x + v[:, t]
        states.append(x)
    return torch.stack(states, dim=1) if states else v.clone()


def modal_convolution(v: torch.Tensor, log_A_bar: torch.Tensor) -> torch.Tensor:
    """The states of :func:`modal_scan_reference` (zero initial state) by FFT convolution with Ā^l.

    ``x_t[n] = Σ_{l ≤ t} Ā_n^l · v_{t-l}[n]``, zero-padded to 2L so the circular product is causal.

    Args:
        v: ``(B, L, n)`` complex.
        log_A_bar: ``(n,)`` complex, a logarithm of Ā (Ā^l = exp(l·log Ā)).
    Returns:
        ``(B, L, n)`` complex.
    """
    length = v.shape[1]
    steps = torch.arange(length, device=v.device, dtype=log_A_bar.real.dtype)
    powers = complex_powers(log_A_bar, steps).transpose(0, 1)  # (L, n)
    n_fft = 2 * length
    spectrum = torch.fft.fft(v, n=n_fft, dim=1) * torch.fft.fft(powers, n=n_fft, dim=0)  # (B, 2L, n)
    return torch.fft.ifft(spectrum, n=n_fft, dim=1)[:, :length]


def modal_kernel(A_bar: torch.Tensor, B_bar: torch.Tensor, C: torch.Tensor, length: int, scale: float) -> torch.Tensor:
    """The MIMO convolution kernel ``K[o, i, l] = scale · Re(Σ_n C[o, n] Ā_n^l B̄[n, i])``.

    Args:
        A_bar: ``(n,)``; B_bar: ``(n, H)``; C: ``(H, n)``, complex; length: L; scale: 1 or 2.
    Returns:
        ``(H_out, H_in, L)`` real (H² L numbers: for inspection, not for the forward pass).
    """
    steps = torch.arange(length, device=A_bar.device, dtype=A_bar.real.dtype)
    powers = complex_powers(torch.log(A_bar), steps)  # (n, L)
    return scale * torch.einsum("on,nl,ni->oil", C, powers, B_bar).real


def real_realization(A_bar: torch.Tensor, B_bar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The real system of size 2n that each input channel drives: state ``(Re x, Im x)``.

    ``x ← Ā x + b u`` with complex Ā = a + iω, b = p + iq reads, in real coordinates,
    ``[Re x; Im x] ← [[a, -ω], [ω, a]] [Re x; Im x] + [p; q] u``.

    Args:
        A_bar: ``(n,)`` complex.  B_bar: ``(n, H)`` complex (column h drives channel h).
    Returns:
        ``(A (H, 2n, 2n), B (H, 2n))`` real, the same A for every channel.
    """
    a, w = torch.diag(A_bar.real), torch.diag(A_bar.imag)
    A_real = torch.cat([torch.cat([a, -w], dim=1), torch.cat([w, a], dim=1)], dim=0)  # (2n, 2n)
    H = B_bar.shape[1]
    B_real = torch.cat([B_bar.real, B_bar.imag], dim=0).transpose(0, 1)  # (H, 2n)
    return A_real.expand(H, -1, -1).clone(), B_real.contiguous()


def check_modal_arguments(d_model: int, train: str, bidirectional: bool, seed: int | None, name: str) -> None:
    """Validate what every modal layer takes; raise naming the bad value."""
    if not is_integer(d_model) or d_model < 1:
        raise ValueError(f"d_model must be a positive integer, got {d_model!r}")
    if not isinstance(bidirectional, (bool, np.bool_)):
        raise TypeError(f"bidirectional must be True or False, got {bidirectional!r}")
    if bidirectional:
        raise ValueError(f"{name} is a causal layer: bidirectional=True is not supported (use S4D or S4 for that)")
    check_seed(seed)
    check_train_mode(train)


class ModalLayer(SSMLayerCommon):
    """Shared plumbing of the MIMO diagonal layers: ``(B, L, H) → (B, L, H)`` through one state of ``n_modes``
    complex modes. A subclass sets ``_d_model``, ``_d_state``, ``_n_modes``, ``_train``, ``_bidirectional``,
    ``_discretization``, ``output_scale``, a parameter ``D`` (H,), and defines :meth:`_modal` and
    :meth:`frozen_tensors`."""

    output_scale: float
    _n_modes: int

    def _modal(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(Ā (n,), log Ā (n,), B̄ (n, H), C (H, n))``, complex, differentiable."""
        raise NotImplementedError

    @property
    def n_modes(self) -> int:
        """The complex modes of the shared state."""
        return self._n_modes

    # ---------------------------------------------------------------------------------------------- forward

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[-1] != self._d_model:
            raise ValueError(
                f"{type(self).__name__} expects input (B, L, H={self._d_model}); got shape {tuple(x.shape)}"
            )
        self._check_dtype(x)

    def _drive(self, x: torch.Tensor, B_bar: torch.Tensor) -> torch.Tensor:
        """``v = B̄ u``: ``x (..., H)`` real → ``(..., n)`` complex (two real products, no complex matmul)."""
        return torch.complex(x @ B_bar.real.T, x @ B_bar.imag.T)

    def _read(self, states: torch.Tensor, C: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``y = scale·Re(C x) + D u``: states ``(..., n)`` complex → ``(..., H)`` real."""
        return self.output_scale * (states.real @ C.real.T - states.imag @ C.imag.T) + self.D * x

    @full_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution mode: ``x (B, L, H) → y (B, L, H)``, each mode's state by FFT (:func:`modal_convolution`)."""
        self._check_input(x)
        if x.numel() == 0:  # the FFT refuses size 0
            return x * self.D
        _, log_A_bar, B_bar, C = self._modal()
        return self._read(modal_convolution(self._drive(x, B_bar), log_A_bar), C, x)

    @full_precision
    def reference_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reference twin of :meth:`forward`: the same layer by the plain loop :func:`modal_scan_reference`."""
        self._check_input(x)
        A_bar, _, B_bar, C = self._modal()
        return self._read(modal_scan_reference(self._drive(x, B_bar), A_bar), C, x)

    @full_precision
    def kernel(self, length: int) -> torch.Tensor:
        """The MIMO kernel ``(H_out, H_in, L)``: ``y = Σ_l K[:, :, l] u_{t-l} + D u_t`` (:func:`modal_kernel`)."""
        self._check_parameter_dtype()
        A_bar, _, B_bar, C = self._modal()
        return modal_kernel(A_bar, B_bar, C, length, self.output_scale)

    # ------------------------------------------------------------------------------------------- recurrence

    def initial_state(self, batch: int) -> torch.Tensor:
        """Zero state ``(B, n_modes)`` complex."""
        self._check_batch(batch)
        dtype = torch.complex128 if self.D.dtype == torch.float64 else torch.complex64
        return torch.zeros(batch, self._n_modes, dtype=dtype, device=self.D.device)

    @full_precision
    def step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One recurrent step: ``x_t (B, H)``, state ``(B, n)`` → ``(y_t (B, H), new state)``."""
        name = type(self).__name__
        if x_t.dim() != 2 or x_t.shape[-1] != self._d_model:
            raise ValueError(f"{name}.step expects x_t of shape (B, H={self._d_model}); got {tuple(x_t.shape)}")
        if tuple(state.shape) != (x_t.shape[0], self._n_modes):
            raise ValueError(
                f"{name}.step expects a state of shape {(x_t.shape[0], self._n_modes)} (initial_state"
                f"({x_t.shape[0]}) or the previous step's); got {tuple(state.shape)}"
            )
        self._check_dtype(x_t)
        A_bar, _, B_bar, C = self._modal()
        state = A_bar * state + self._drive(x_t, B_bar)
        return self._read(state, C, x_t), state

    # ------------------------------------------------------------------------------------------- inspection

    @torch.no_grad()
    def discrete_eigenvalues(self) -> torch.Tensor:
        """Ā of the shared state, repeated for every input channel: ``(H, n_modes)`` complex (detached)."""
        A_bar = self._modal()[0]
        return A_bar.expand(self._d_model, -1).clone()

    @torch.no_grad()
    def state_matrices(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The real system each input channel h drives (what :func:`ssmem.memory.layer_memory` reads): detached
        ``(Ā (H, 2n, 2n), B̄ (H, 2n), C (H, 2n))`` with state ``(Re x, Im x)`` (:func:`real_realization`), B̄[h]
        the channel's column of the input matrix, and C the readout of output channel h."""
        A_bar, _, B_bar, C = self._modal()
        A_real, B_real = real_realization(A_bar, B_bar)
        C_real = self.output_scale * torch.cat([C.real, -C.imag], dim=1)  # Re(C x) = Re C·Re x - Im C·Im x
        return A_real, B_real, C_real.detach().clone()

    def frozen_tensors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError


__all__ = ["ModalLayer", "modal_convolution", "modal_kernel", "modal_scan_reference", "real_realization"]
