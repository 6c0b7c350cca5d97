"""The S4D layer: a diagonal state space model per channel, trainable or frozen eigenvalues (PAPER.md §1, §6).

Parameterisation (H = d_model channels, n = n_modes = d_state / 2 stored upper-half modes):

    Δ = exp(log_dt)                               (H,)    log-uniform in [dt_min, dt_max] at init
    A = -exp(log_A_real) + i·A_imag               (H, n)  so Re(A) < 0 always
    B, C complex, stored as real views (..., 2)   (H, n), C (H, n) or (2, H, n)
    D real skip                                   (H,)

Initialisation ("S4D-style"): A from an eigenvalue set (:mod:`ssmem.eigs`; a discrete set is converted per
channel at that channel's Δ, so the layer's Ā equals the set), B = 1, C complex normal (E|C|² = 1), D normal.

Train modes (:data:`TRAIN_MODES`): ``"all"`` trains A, Δ, B, C, D; ``"reservoir"`` freezes A and Δ (buffers);
``"readout"`` freezes A, Δ, B and C, so the kernel is a constant: ``freeze_kernel(L)`` computes it once for every
later forward pass (the harness does this for readout runs). ``freeze_fraction`` p (with ``"all"``) freezes the
eigenvalue and step of a fixed, seeded subset of round(p·n) modes per channel: their Ā never changes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..eigs import EigenvalueSet, continuous_eigenvalues, n_modes_of, resolve_set
from ._common import (
    SSMLayerCommon,
    refreeze_after_load,
    TRAIN_MODES,
    as_complex,
    check_common,
    full_precision,
    log_uniform_dt,
    make_generator,
    register_tensor,
    resolve_device,
    resolve_dtype,
)
from .kernels import (
    discretize_diagonal,
    ssm_convolution,
    ssm_convolution_reference,
    vandermonde_kernel,
    vandermonde_kernel_reference,
)


class S4D(SSMLayerCommon, nn.Module):
    """Diagonal state space layer, batch-first: ``(B, L, H) → (B, L, H)``.

    Args:
        d_model: H, number of channels (independent SSMs).
        d_state: N, the real state size per channel (even); ``n_modes = N/2`` complex modes are stored.
        init: eigenvalue set: a registered name (``ssmem.EIGENVALUE_SETS``), a file path, an array of discrete
            eigenvalues or an :class:`~ssmem.eigs.EigenvalueSet`.
        discretization: ``"zoh"`` or ``"bilinear"``.
        dt_min, dt_max: range of the log-uniform per-channel step Δ.
        bidirectional: add a second output vector C whose kernel runs over the reversed sequence.
        train: ``"all"``, ``"reservoir"`` or ``"readout"`` (see the module docstring).
        freeze_fraction: share of modes per channel whose eigenvalue and step are frozen (``train="all"`` only).
        seed: when given, every random draw of the initialisation (Δ, C, D, frozen-mode subset, random eigenvalue
            sets) comes from it, independent of the global torch RNG. None: the global torch RNG, and seed 0 for
            the eigenvalue set. Draw order: Δ, C, D, frozen subset.
        device, dtype: of the parameters (real dtype; complex tensors use the matching complex dtype).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        *,
        init: "str | np.ndarray | EigenvalueSet" = "s4d-inv",
        discretization: str = "zoh",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        bidirectional: bool = False,
        train: str = "all",
        freeze_fraction: float = 0.0,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_common(d_model, dt_min, dt_max, train, discretization, bidirectional, seed)
        n_modes = n_modes_of(d_state)
        if isinstance(freeze_fraction, bool) or not (
            isinstance(freeze_fraction, (int, float)) and 0.0 <= freeze_fraction <= 1.0
        ):
            raise ValueError(f"freeze_fraction must be in [0, 1], got {freeze_fraction!r}")
        if freeze_fraction > 0 and train != "all":
            raise ValueError(
                f"freeze_fraction={freeze_fraction} needs train='all' (train={train!r} already freezes every "
                "eigenvalue)"
            )
        eig_set = resolve_set(init)
        dtype, device = resolve_dtype(dtype), resolve_device(device)
        self._d_model, self._d_state, self._n_modes = int(d_model), int(d_state), n_modes
        self._discretization, self._bidirectional, self._train = discretization, bool(bidirectional), train
        self.freeze_fraction = float(freeze_fraction)
        self.init_name = eig_set.name

        generator = make_generator(seed)
        log_dt = log_uniform_dt(d_model, dt_min, dt_max, generator)  # (H,) float64
        # convert at the step the layer will actually use (after rounding to dtype), so Ā matches the set
        dt_used = log_dt.to(dtype).double().exp().numpy()
        A = continuous_eigenvalues(
            eig_set, d_state, dt=dt_used, discretization=discretization, seed=0 if seed is None else seed
        )  # (H, n) complex128
        if np.any(A.real >= 0) or not np.all(np.isfinite(A)):
            raise ValueError(f"eigenvalue set {eig_set.name!r} gives continuous eigenvalues with Re(A) >= 0")
        A = torch.from_numpy(A)  # CPU
        rounded = torch.complex(-torch.exp(torch.log(-A.real).to(dtype)), A.imag.to(dtype))  # what forward uses
        if not torch.isfinite(rounded).all():
            raise ValueError(
                f"eigenvalue set {eig_set.name!r} at dt_min={dt_min!r} gives continuous eigenvalues A = log(Ā)/Δ "
                f"beyond {dtype} (largest |A| {float(np.abs(A.numpy()).max()):.3g}); raise dt_min or use float64"
            )
        n_kernels = 2 if bidirectional else 1
        cpu = dict(dtype=torch.float64, device="cpu")  # drawn on the CPU (seeded), then moved
        C = torch.randn(n_kernels, d_model, n_modes, 2, generator=generator, **cpu) * math.sqrt(0.5)
        D = torch.randn(d_model, generator=generator, **cpu)
        B = torch.zeros(d_model, n_modes, 2, **cpu)
        B[..., 0] = 1.0

        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device, dtype=dtype)

        eigen_trainable = train == "all"
        kernel_trainable = train != "readout"
        register_tensor(self, "log_dt", cast(log_dt), eigen_trainable)
        register_tensor(self, "log_A_real", cast(torch.log(-A.real)), eigen_trainable)
        register_tensor(self, "A_imag", cast(A.imag), eigen_trainable)
        register_tensor(self, "B", cast(B), kernel_trainable)
        register_tensor(self, "C", cast(C if bidirectional else C[0]), kernel_trainable)
        self.D = nn.Parameter(cast(D))

        self.n_frozen_modes = round(self.freeze_fraction * n_modes)
        if self.freeze_fraction > 0:
            # exactly n_frozen_modes modes per channel, chosen by a seeded random ranking
            ranks = torch.rand(d_model, n_modes, generator=generator, device="cpu").argsort(-1).argsort(-1)
            self.register_buffer("freeze_mask", (ranks < self.n_frozen_modes).to(device))
            self.register_buffer("frozen_log_A_real", self.log_A_real.detach().clone())
            self.register_buffer("frozen_A_imag", self.A_imag.detach().clone())
            self.register_buffer("frozen_log_dt", self.log_dt.detach().clone())

        self.ssm_parameter_names: tuple[str, ...] = {
            "all": ("log_dt", "log_A_real", "A_imag", "B"),
            "reservoir": ("B",),
            "readout": (),
        }[train]
        self._step_cache: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.register_load_state_dict_post_hook(refreeze_after_load)

    # ------------------------------------------------------------------------------------------ properties

    @property
    def n_modes(self) -> int:
        """N/2: the complex modes of each channel (their conjugates are implied)."""
        return self._n_modes

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, d_state={self.d_state}, init={self.init_name!r}, "
            f"discretization={self.discretization!r}, bidirectional={self.bidirectional}, "
            f"train={self.train_mode!r}, freeze_fraction={self.freeze_fraction}"
        )

    # ------------------------------------------------------------------------------- continuous → discrete

    def _continuous(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(A (H, n) complex, Δ per mode (H, n) real), frozen modes taken from their buffers."""
        log_A_real, A_imag = self.log_A_real, self.A_imag
        log_dt = self.log_dt[:, None].expand(-1, self.n_modes)
        if self.freeze_fraction > 0:
            mask = self.freeze_mask
            log_A_real = torch.where(mask, self.frozen_log_A_real, log_A_real)
            A_imag = torch.where(mask, self.frozen_A_imag, A_imag)
            log_dt = torch.where(mask, self.frozen_log_dt[:, None], log_dt)
        return torch.complex(-torch.exp(log_A_real), A_imag), torch.exp(log_dt)

    def _B(self) -> torch.Tensor:
        return as_complex(self.B)  # (H, n)

    def _C(self) -> torch.Tensor:
        C = as_complex(self.C)
        return C if self.bidirectional else C[None]  # (K, H, n)

    def _discrete(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(Ā, B̄, log Ā), each (H, n) complex."""
        A, dt = self._continuous()
        return discretize_diagonal(A, dt, self._B(), self.discretization)

    # --------------------------------------------------------------------------------------------- kernel

    def _compute_kernel(self, length: int) -> torch.Tensor:
        """``K[k, h, l] = 2 Re Σ_n C[k, h, n] B̄[h, n] Ā[h, n]^l``: ``(K, H, L)``, K = 2 directions or 1."""
        _, B_bar, log_A_bar = self._discrete()  # (H, n) each
        return vandermonde_kernel(self._C() * B_bar, log_A_bar, length)

    @full_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution mode: ``x (B, L, H) → y (B, L, H)``, ``y = K * x + D x`` by FFT (contiguous output)."""
        self._check_input(x)
        if x.numel() == 0:  # an empty batch or sequence: nothing to convolve (the FFT refuses size 0)
            return x * self.D
        kernels, spectrum = self._kernels(x.shape[1])  # (K, H, L); the frozen kernel with its FFT, if any
        return ssm_convolution(x, kernels if self.bidirectional else kernels[0], self.D, spectrum=spectrum)

    def reference_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The straightforward twin of ``forward``: the materialised ``(K, H, n, L)`` Vandermonde kernel and one
        plain-autograd FFT convolution per direction (what the fused paths are tested against)."""
        _, B_bar, log_A_bar = self._discrete()
        kernel = vandermonde_kernel_reference(self._C() * B_bar, log_A_bar, x.shape[1])
        return ssm_convolution_reference(x, kernel, self.D)

    # ------------------------------------------------------------------------------------------ recurrence

    def initial_state(self, batch: int) -> torch.Tensor:
        """Zero state ``(B, H, n_modes)`` complex. Starts a generation: the step tensors are taken afresh from
        the parameters here (see :meth:`_step_tensors`)."""
        self._check_batch(batch)
        self._step_cache = None
        return torch.zeros(batch, self.d_model, self.n_modes, dtype=self._B().dtype, device=self.D.device)

    @full_precision
    def step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One recurrent step: ``x_t (B, H)``, state ``(B, H, n)`` → ``(y_t (B, H), new state)``."""
        self._check_step(x_t, state, self._n_modes)
        A_bar, B_bar, C = self._step_tensors()
        state = A_bar * state + B_bar * x_t[..., None]
        y_t = 2 * (C * state).sum(-1).real + self.D * x_t
        return y_t, state

    def _step_tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(Ā, B̄, C), each (H, n). Without autograd (generation) they are taken once per sequence, at its first
        step after :meth:`initial_state`, so a step costs only the O(H·N) state update; with autograd, at every
        step (the gradient needs them)."""
        if torch.is_grad_enabled():
            A_bar, B_bar, _ = self._discrete()
            return A_bar, B_bar, self._C()[0]
        if self._step_cache is None:
            A_bar, B_bar, _ = self._discrete()
            self._step_cache = (A_bar, B_bar, self._C()[0].clone())  # C itself is a complex view of a real parameter
        return self._step_cache

    # ------------------------------------------------------------------------------------------ inspection

    @torch.no_grad()
    def ssm_parameters(self) -> dict[str, torch.Tensor]:
        """Detached SSM tensors: ``A`` (H, n) complex, ``B`` (H, n) complex, ``C`` (H, n) or (2, H, n) complex,
        ``dt`` (H,), ``D`` (H,), and ``mode_dt`` (H, n), the step each mode uses (differs from ``dt`` only
        for modes frozen by ``freeze_fraction``)."""
        A, mode_dt = self._continuous()
        C = self._C()
        return {
            "A": A.detach().clone(),
            "B": self._B().detach().clone(),
            "C": (C if self.bidirectional else C[0]).detach().clone(),
            "dt": torch.exp(self.log_dt).detach().clone(),
            "D": self.D.detach().clone(),
            "mode_dt": mode_dt.detach().clone(),
        }

    @torch.no_grad()
    def discrete_eigenvalues(self) -> torch.Tensor:
        """Ā, ``(H, n_modes)`` complex (detached)."""
        return self._discrete()[0].detach().clone()

    def unused_parameter_count(self) -> int:
        """Entries of trainable parameters that no output depends on: with ``freeze_fraction``, a frozen mode's
        ``log_A_real`` and ``A_imag`` (its frozen copies are used) and ``log_dt`` of a channel whose modes are all
        frozen. They get zero gradients and are not counted as trainable (:func:`ssmem.ssm.count_parameters`)."""
        if self.freeze_fraction == 0 or self.n_frozen_modes == 0:
            return 0
        # every channel freezes n_frozen_modes modes (counted, not read from the mask: no device read)
        frozen = self.d_model * self.n_frozen_modes
        per_mode = frozen * sum(p.requires_grad for p in (self.log_A_real, self.A_imag))
        all_frozen = self.d_model if self.n_frozen_modes == self.n_modes else 0
        return per_mode + all_frozen * int(self.log_dt.requires_grad)

    def frozen_parameter_count(self) -> int:
        """The entries of :meth:`frozen_tensors`, counted without reading the mask (no device read)."""
        if self.train_mode != "all":
            return sum(t.numel() for t in self.frozen_tensors().values())
        if self.freeze_fraction > 0 and self.n_frozen_modes > 0:  # every channel freezes n_frozen_modes modes
            return self.d_model * (2 * self.n_frozen_modes + 1)
        return 0

    def frozen_tensors(self) -> dict[str, torch.Tensor]:
        """The SSM tensors that are frozen (not trained), by name.

        Reservoir: ``log_dt``, ``log_A_real``, ``A_imag``; readout: also ``B``, ``C``. With ``freeze_fraction``:
        the frozen modes' values (``log_A_real``, ``A_imag``: the masked entries) and the step of each channel
        that has a frozen mode (``log_dt``).
        """
        if self.train_mode == "reservoir":
            return {"log_dt": self.log_dt, "log_A_real": self.log_A_real, "A_imag": self.A_imag}
        if self.train_mode == "readout":
            return {
                "log_dt": self.log_dt,
                "log_A_real": self.log_A_real,
                "A_imag": self.A_imag,
                "B": self.B,
                "C": self.C,
            }
        if self.freeze_fraction > 0 and self.n_frozen_modes > 0:
            mask = self.freeze_mask
            return {
                "log_dt": self.frozen_log_dt[mask.any(-1)],
                "log_A_real": self.frozen_log_A_real[mask],
                "A_imag": self.frozen_A_imag[mask],
            }
        return {}


__all__ = ["S4D", "TRAIN_MODES"]
