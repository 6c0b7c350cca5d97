"""The Linear Recurrent Unit (Orvieto et al. 2023, "Resurrecting recurrent neural networks for long sequences").

One complex diagonal recurrence shared by all H channels (n = n_modes = d_state / 2 complex states, so the real
state size is d_state, as for S4D):

    λ = exp(-exp(ν_log) + i·exp(θ_log))            (n,)     |λ| < 1 for any ν_log
    γ = sqrt(1 - |λ|²)                               (n,)     keeps E|x|² of a white input near E|B u|²
    x_t = λ ⊙ x_{t-1} + γ ⊙ (B u_t)                  B (n, H) complex
    y_t = Re(C x_t) + D ⊙ u_t                        C (H, n) complex, D (H,) real

Ring initialisation: |λ|² uniform in (r_min², r_max²] and arg λ uniform in (0, max_phase]; B complex normal with
E|B_nh|² = 1/H, C complex normal with E|C_hn|² = 1/n, D standard normal.

The forward pass convolves each mode's input with the powers of λ by FFT (:func:`ssmem.ssm.modal.modal_convolution`);
``_reference`` runs the plain loop. Train modes: ``"all"`` trains everything; ``"reservoir"`` freezes ν_log and
θ_log (buffers; γ follows them); ``"readout"`` also freezes B, so the state is a fixed function of the input and
only the readout C, D trains.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..eigs import n_modes_of
from ._common import as_complex, make_generator, register_tensor, resolve_device, resolve_dtype
from .modal import ModalLayer, check_modal_arguments


def ring_init(
    n_modes: int, r_min: float, r_max: float, max_phase: float, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ν_log, θ_log)``, each ``(n,)`` float64 on CPU, with |λ|² uniform in (r_min², r_max²] and arg λ uniform in
    (0, max_phase] (draws in (0, 1] keep both logarithms finite). Draw order: modulus, then phase."""
    cpu = dict(dtype=torch.float64, device="cpu")
    u_modulus = 1 - torch.rand(n_modes, generator=generator, **cpu)
    u_phase = 1 - torch.rand(n_modes, generator=generator, **cpu)
    modulus_sq = r_min**2 + u_modulus * (r_max**2 - r_min**2)
    nu_log = torch.log(-0.5 * torch.log(modulus_sq))  # |λ| = exp(-ν), ν = -log|λ|² / 2
    theta_log = torch.log(max_phase * u_phase)
    return nu_log, theta_log


class LRU(ModalLayer, nn.Module):
    """Linear Recurrent Unit, batch-first: ``(B, L, H) → (B, L, H)``.

    Args:
        d_model: H, the channels (all read and write the one shared state).
        d_state: N, the real state size (even); ``n_modes = N/2`` complex states.
        r_min, r_max: the ring of the initial |λ|, ``0 <= r_min <= r_max < 1``.
        max_phase: the largest initial arg λ, in ``(0, 2π]``.
        bidirectional: must be False (the layer is causal).
        train: ``"all"``, ``"reservoir"`` or ``"readout"`` (see the module docstring).
        seed: when given, every random draw of the initialisation comes from it, independent of the global torch
            RNG. Draw order: |λ|, arg λ, B, C, D.
        device, dtype: of the parameters (real dtype; complex tensors use the matching complex dtype).
    """

    output_scale = 1.0

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        *,
        r_min: float = 0.9,
        r_max: float = 0.999,
        max_phase: float = 2 * math.pi,
        bidirectional: bool = False,
        train: str = "all",
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_modal_arguments(d_model, train, bidirectional, seed, "LRU")
        n_modes = n_modes_of(d_state)
        if not (0.0 <= r_min <= r_max < 1.0):
            raise ValueError(f"the ring needs 0 <= r_min <= r_max < 1, got r_min={r_min!r}, r_max={r_max!r}")
        if not (0.0 < max_phase <= 2 * math.pi):
            raise ValueError(f"max_phase must lie in (0, 2π], got {max_phase!r}")
        dtype, device = resolve_dtype(dtype), resolve_device(device)
        self._d_model, self._d_state, self._n_modes = int(d_model), int(d_state), n_modes
        self._train, self._bidirectional, self._discretization = train, False, "none"
        self.r_min, self.r_max, self.max_phase = float(r_min), float(r_max), float(max_phase)

        generator = make_generator(seed)
        nu_log, theta_log = ring_init(n_modes, r_min, r_max, max_phase, generator)
        cpu = dict(dtype=torch.float64, device="cpu")
        B = torch.randn(n_modes, d_model, 2, generator=generator, **cpu) / math.sqrt(2 * d_model)
        C = torch.randn(d_model, n_modes, 2, generator=generator, **cpu) / math.sqrt(2 * n_modes)
        D = torch.randn(d_model, generator=generator, **cpu)

        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device, dtype=dtype)

        register_tensor(self, "nu_log", cast(nu_log), train == "all")
        register_tensor(self, "theta_log", cast(theta_log), train == "all")
        register_tensor(self, "B", cast(B), train != "readout")
        self.C = nn.Parameter(cast(C))
        self.D = nn.Parameter(cast(D))
        self.ssm_parameter_names: tuple[str, ...] = {
            "all": ("nu_log", "theta_log", "B"),
            "reservoir": ("B",),
            "readout": (),
        }[train]

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, d_state={self.d_state}, r_min={self.r_min}, r_max={self.r_max}, "
            f"max_phase={self.max_phase:.4g}, train={self.train_mode!r}"
        )

    def _modal(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(λ (n,), log λ (n,), γ ⊙ B (n, H), C (H, n))``, complex."""
        nu = torch.exp(self.nu_log)
        log_lam = torch.complex(-nu, torch.exp(self.theta_log))  # (n,)
        gamma = torch.sqrt(-torch.expm1(-2 * nu))  # sqrt(1 - |λ|²) without cancellation for |λ| → 1
        return torch.exp(log_lam), log_lam, gamma[:, None] * as_complex(self.B), as_complex(self.C)

    @torch.no_grad()
    def ssm_parameters(self) -> dict[str, torch.Tensor]:
        """Detached ``lambda`` (n,) complex, ``gamma`` (n,), ``B`` (n, H) complex (before γ), ``C`` (H, n) complex,
        ``D`` (H,)."""
        A_bar, _, _, C = self._modal()
        return {
            "lambda": A_bar.detach().clone(),
            "gamma": torch.sqrt(-torch.expm1(-2 * torch.exp(self.nu_log))).detach().clone(),
            "B": as_complex(self.B).detach().clone(),
            "C": C.detach().clone(),
            "D": self.D.detach().clone(),
        }

    def frozen_tensors(self) -> dict[str, torch.Tensor]:
        """Reservoir: ``nu_log``, ``theta_log``; readout: also ``B``."""
        if self.train_mode == "all":
            return {}
        frozen = {"nu_log": self.nu_log, "theta_log": self.theta_log}
        if self.train_mode == "readout":
            frozen["B"] = self.B
        return frozen


__all__ = ["LRU"]
