"""The S5 layer (Smith, Warrington & Linderman 2023, "Simplified state space layers for sequence modeling").

One MIMO diagonal SSM over all H channels, n = n_modes = d_state / 2 stored complex modes (their conjugates are
implied, so the real state size is d_state, as for S4D):

    A = -exp(log_A_real) + i·A_imag                  (n,)     Re A < 0 always
    Δ = exp(log_dt)                                  (n,)     one step per mode, log-uniform in [dt_min, dt_max]
    Ā, B̄ = discretise(A, Δ) (ZOH or bilinear)         B (n, H) complex, B̄ = B·(Ā - 1)/A for ZOH
    x_t = Ā ⊙ x_{t-1} + B̄ u_t
    y_t = 2·Re(C x_t) + D ⊙ u_t                       C (H, n) complex, D (H,) real

HiPPO-N initialisation: A holds the upper-half eigenvalues of the normal part of HiPPO-LegS, -1/2 + S
(:func:`ssmem.eigs.hippo.hippo_legs_normal_part`, N = d_state), with S = V diag(-iμ) Vᴴ (V unitary, from the
Hermitian iS). B = Vᴴ B₀ and C = C₀ V on the kept modes, with real B₀ (N, H) ~ N(0, 1/H) and C₀ (H, N) ~ N(0, 1/N):
with the conjugate modes added back this is exactly the real system (-1/2 + S, B₀, C₀) in eigen-coordinates.

The forward pass convolves each mode's input with the powers of Ā by FFT (:func:`ssmem.ssm.modal.modal_convolution`:
O(B·L·n·log L), no (H, H, L) kernel); ``_reference`` runs the plain loop. Train modes: ``"all"``; ``"reservoir"``
freezes A and Δ (buffers); ``"readout"`` also freezes B (only C and D train).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..eigs import n_modes_of
from ..eigs.hippo import hippo_legs_normal_part
from ._common import as_complex, log_uniform_dt, make_generator, register_tensor, resolve_device, resolve_dtype
from .kernels import check_discretization, discretize_diagonal
from .modal import ModalLayer, check_modal_arguments


def hippo_n_modes(d_state: int) -> tuple[np.ndarray, np.ndarray]:
    """The upper-half eigenpairs of -1/2 + S (HiPPO-N), ascending in frequency.

    Returns:
        ``(eigenvalues (n,) complex128, V (N, n) complex128)``, V's columns orthonormal eigenvectors, n = N/2.
    """
    S = hippo_legs_normal_part(d_state)
    mu, V = np.linalg.eigh(1j * S)  # iS V = V μ  ⇒  S V = V (-iμ): Im(-iμ) > 0 for μ < 0
    upper = np.flatnonzero(mu < 0)[::-1]  # μ ascending, so the reversed negatives ascend in |μ|
    return -0.5 - 1j * mu[upper], V[:, upper]


class S5(ModalLayer, nn.Module):
    """Simplified state space layer, batch-first: ``(B, L, H) → (B, L, H)``.

    Args:
        d_model: H, the channels (all read and write the one shared state).
        d_state: N, the real state size (even); ``n_modes = N/2`` complex modes are stored.
        discretization: ``"zoh"`` or ``"bilinear"``.
        dt_min, dt_max: range of the log-uniform per-mode step Δ.
        bidirectional: must be False (the layer is causal).
        train: ``"all"``, ``"reservoir"`` or ``"readout"`` (see the module docstring).
        seed: when given, every random draw of the initialisation comes from it, independent of the global torch
            RNG. Draw order: Δ, B₀, C₀, D.
        device, dtype: of the parameters (real dtype; complex tensors use the matching complex dtype).
    """

    output_scale = 2.0

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        *,
        discretization: str = "zoh",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        bidirectional: bool = False,
        train: str = "all",
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_modal_arguments(d_model, train, bidirectional, seed, "S5")
        check_discretization(discretization)
        if not (math.isfinite(dt_min) and math.isfinite(dt_max)) or not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, finite; got dt_min={dt_min!r}, dt_max={dt_max!r}")
        n_modes = n_modes_of(d_state)
        dtype, device = resolve_dtype(dtype), resolve_device(device)
        self._d_model, self._d_state, self._n_modes = int(d_model), int(d_state), n_modes
        self._train, self._bidirectional, self._discretization = train, False, discretization

        generator = make_generator(seed)
        log_dt = log_uniform_dt(n_modes, dt_min, dt_max, generator)  # (n,) float64
        cpu = dict(dtype=torch.float64, device="cpu")
        B0 = torch.randn(d_state, d_model, generator=generator, **cpu) / math.sqrt(d_model)
        C0 = torch.randn(d_model, d_state, generator=generator, **cpu) / math.sqrt(d_state)
        D = torch.randn(d_model, generator=generator, **cpu)
        A, V = hippo_n_modes(d_state)
        V = torch.from_numpy(V)
        B = torch.view_as_real(V.conj().T @ B0.to(V.dtype))  # (n, H, 2)
        C = torch.view_as_real(C0.to(V.dtype) @ V)  # (H, n, 2)
        A = torch.from_numpy(A)

        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device, dtype=dtype)

        eigen_trainable = train == "all"
        register_tensor(self, "log_dt", cast(log_dt), eigen_trainable)
        register_tensor(self, "log_A_real", cast(torch.log(-A.real)), eigen_trainable)
        register_tensor(self, "A_imag", cast(A.imag), eigen_trainable)
        register_tensor(self, "B", cast(B), train != "readout")
        self.C = nn.Parameter(cast(C))
        self.D = nn.Parameter(cast(D))
        self.ssm_parameter_names: tuple[str, ...] = {
            "all": ("log_dt", "log_A_real", "A_imag", "B"),
            "reservoir": ("B",),
            "readout": (),
        }[train]

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, d_state={self.d_state}, discretization={self.discretization!r}, "
            f"train={self.train_mode!r}"
        )

    def _continuous(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A (n,) complex, Δ (n,) real)``."""
        return torch.complex(-torch.exp(self.log_A_real), self.A_imag), torch.exp(self.log_dt)

    def _modal(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(Ā (n,), log Ā (n,), B̄ (n, H), C (H, n))``, complex."""
        A, dt = self._continuous()
        # discretise with unit B: the per-mode factor B̄/B then scales every column of B
        A_bar, b_scale, log_A_bar = discretize_diagonal(A, dt, torch.ones_like(A), self.discretization)
        return A_bar, log_A_bar, b_scale[:, None] * as_complex(self.B), as_complex(self.C)

    @torch.no_grad()
    def ssm_parameters(self) -> dict[str, torch.Tensor]:
        """Detached ``A`` (n,) complex, ``dt`` (n,), ``B`` (n, H) complex, ``C`` (H, n) complex, ``D`` (H,)."""
        A, dt = self._continuous()
        return {
            "A": A.detach().clone(),
            "dt": dt.detach().clone(),
            "B": as_complex(self.B).detach().clone(),
            "C": as_complex(self.C).detach().clone(),
            "D": self.D.detach().clone(),
        }

    def frozen_tensors(self) -> dict[str, torch.Tensor]:
        """Reservoir: ``log_dt``, ``log_A_real``, ``A_imag``; readout: also ``B``."""
        if self.train_mode == "all":
            return {}
        frozen = {"log_dt": self.log_dt, "log_A_real": self.log_A_real, "A_imag": self.A_imag}
        if self.train_mode == "readout":
            frozen["B"] = self.B
        return frozen


__all__ = ["S5"]
