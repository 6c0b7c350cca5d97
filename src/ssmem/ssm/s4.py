"""The S4 layer: a dense real state matrix shared by the channels, initialised to HiPPO-LegS (PAPER.md §4).

    A (N, N) real, shared        HiPPO-LegS at init (ssmem.eigs.hippo_legs)
    Δ = exp(log_dt)  (H,)        log-uniform in [dt_min, dt_max]
    B (H, N) real                HiPPO-LegS B at init, per channel
    C (H, N) or (2, H, N) real   normal at init;  D (H,) normal

    bilinear:  Ā = (I - ΔA/2)⁻¹(I + ΔA/2),  B̄ = (I - ΔA/2)⁻¹ Δ B       (default)
    ZOH:       Ā = exp(ΔA),                 B̄ = ∫₀^Δ exp(sA) ds · B
    kernel:    K_l = C Ā^l B̄ (exact, by powers of Ā)

It serves the S4-vs-S4D studies: an S4 layer has exactly the memory of the diagonal system with Ā's eigenvalues.
It is written for clarity, not speed (kernel cost O(H·N²·L)). Train modes as in :class:`~ssmem.ssm.S4D`:
``"reservoir"`` freezes A and Δ, ``"readout"`` also B and C (the kernel is then a constant: ``freeze_kernel(L)``).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from ..eigs import hippo_legs
from .._values import is_integer
from ._common import (
    SSMLayerCommon,
    refreeze_after_load,
    check_common,
    full_precision,
    log_uniform_dt,
    make_generator,
    register_tensor,
    resolve_device,
    resolve_dtype,
)
from .kernels import dense_kernel, discretize_dense, ssm_convolution


class S4Dense(SSMLayerCommon, nn.Module):
    """Dense state space layer, batch-first: ``(B, L, H) → (B, L, H)``.

    Args:
        d_model: H, number of channels.
        d_state: N, the real state size (any positive integer; A is N×N).
        discretization: ``"bilinear"`` (default) or ``"zoh"``.
        dt_min, dt_max: range of the log-uniform per-channel step Δ.
        bidirectional: add a second output vector C whose kernel runs over the reversed sequence.
        train: ``"all"``, ``"reservoir"`` or ``"readout"``.
        seed: when given, the random draws (Δ, C, D, in that order) come from it, independent of the global RNG.
        device, dtype: of the parameters (real floating dtype).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        *,
        discretization: str = "bilinear",
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        bidirectional: bool = False,
        train: str = "all",
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_common(d_model, dt_min, dt_max, train, discretization, bidirectional, seed)
        if not is_integer(d_state) or d_state < 1:
            raise ValueError(f"d_state must be a positive integer (the size N of the dense state), got {d_state!r}")
        dtype, device = resolve_dtype(dtype), resolve_device(device)
        self._d_model, self._d_state = int(d_model), int(d_state)
        self._discretization, self._bidirectional, self._train = discretization, bool(bidirectional), train

        generator = make_generator(seed)
        log_dt = log_uniform_dt(d_model, dt_min, dt_max, generator)
        n_kernels = 2 if bidirectional else 1
        C = torch.randn(n_kernels, d_model, d_state, generator=generator, dtype=torch.float64, device="cpu")
        D = torch.randn(d_model, generator=generator, dtype=torch.float64, device="cpu")
        A, B = (torch.from_numpy(m) for m in hippo_legs(d_state))

        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device, dtype=dtype)

        eigen_trainable = train == "all"
        kernel_trainable = train != "readout"
        register_tensor(self, "A", cast(A), eigen_trainable)
        register_tensor(self, "log_dt", cast(log_dt), eigen_trainable)
        register_tensor(self, "B", cast(B.expand(d_model, -1).clone()), kernel_trainable)
        register_tensor(self, "C", cast(C if bidirectional else C[0]), kernel_trainable)
        self.D = nn.Parameter(cast(D))

        self.ssm_parameter_names: tuple[str, ...] = {
            "all": ("A", "log_dt", "B"),
            "reservoir": ("B",),
            "readout": (),
        }[train]
        self.register_load_state_dict_post_hook(refreeze_after_load)

    # ------------------------------------------------------------------------------------------ properties

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, d_state={self.d_state}, discretization={self.discretization!r}, "
            f"bidirectional={self.bidirectional}, train={self.train_mode!r}"
        )

    # -------------------------------------------------------------------------------------- discretisation

    def _C(self) -> torch.Tensor:
        return self.C if self.bidirectional else self.C[None]  # (K, H, N)

    def _discrete(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(Ā (H, N, N), B̄ (H, N)), computed in float64 and rounded to the layer's dtype: the matrix exponential
        or solve of a HiPPO matrix (norm ~ N·Δ) in float32 gave kernels 1e-3 off at N = 256 (rounded from float64:
        1e-7). The price is O(H·N³) float64 work and its backward, which grows with N (test
        ``tests/ssm/test_float32_discretization.py`` holds the accuracy; the cost is in the README's Performance)."""
        A_bar, B_bar = discretize_dense(self.A.double(), torch.exp(self.log_dt.double()), self.B.double(),
                                        self.discretization)
        return A_bar.to(self.A.dtype), B_bar.to(self.A.dtype)

    @torch.no_grad()
    def state_matrices(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Detached ``(Ā (H, N, N), B̄ (H, N), C (H, N) or (2, H, N))``."""
        A_bar, B_bar = self._discrete()
        return A_bar.detach().clone(), B_bar.detach().clone(), self.C.detach().clone()

    # --------------------------------------------------------------------------------------------- kernel

    def _compute_kernel(self, length: int) -> torch.Tensor:
        """``K[k, h, l] = C[k, h] Ā_h^l B̄_h``: ``(K, H, L)``, K = 2 directions or 1."""
        A_bar, B_bar = self._discrete()
        return dense_kernel(A_bar, B_bar, self._C(), length)

    @full_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution mode: ``x (B, L, H) → y (B, L, H)``, ``y = K * x + D x`` by FFT (contiguous output)."""
        self._check_input(x)
        if x.numel() == 0:  # an empty batch or sequence: nothing to convolve (the FFT refuses size 0)
            return x * self.D
        kernels, spectrum = self._kernels(x.shape[1])  # (K, H, L); the frozen kernel with its FFT, if any
        return ssm_convolution(x, kernels if self.bidirectional else kernels[0], self.D, spectrum=spectrum)

    # ------------------------------------------------------------------------------------------ recurrence

    def initial_state(self, batch: int) -> torch.Tensor:
        """Zero state ``(B, H, N)`` real."""
        self._check_batch(batch)
        return torch.zeros(batch, self.d_model, self.d_state, dtype=self.D.dtype, device=self.D.device)

    @full_precision
    def step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One recurrent step: ``x_t (B, H)``, state ``(B, H, N)`` → ``(y_t (B, H), new state)``."""
        self._check_step(x_t, state, self._d_state)
        A_bar, B_bar = self._discrete()
        state = torch.einsum("hij,bhj->bhi", A_bar, state) + B_bar * x_t[..., None]
        y_t = (self.C * state).sum(-1) + self.D * x_t
        return y_t, state

    # ------------------------------------------------------------------------------------------ inspection

    @torch.no_grad()
    def ssm_parameters(self) -> dict[str, torch.Tensor]:
        """Detached ``A`` (N, N), ``B`` (H, N), ``C`` (H, N) or (2, H, N), ``dt`` (H,), ``D`` (H,), all real."""
        return {
            "A": self.A.detach().clone(),
            "B": self.B.detach().clone(),
            "C": self.C.detach().clone(),
            "dt": torch.exp(self.log_dt).detach().clone(),
            "D": self.D.detach().clone(),
        }

    @torch.no_grad()
    def discrete_eigenvalues(self) -> torch.Tensor:
        """Eigenvalues of Ā per channel, ``(H, N)`` complex (unordered)."""
        return torch.linalg.eigvals(self._discrete()[0])

    def frozen_tensors(self) -> dict[str, torch.Tensor]:
        """Frozen SSM tensors: reservoir ``A``, ``log_dt``; readout also ``B``, ``C``; none when ``train="all"``."""
        if self.train_mode == "reservoir":
            return {"A": self.A, "log_dt": self.log_dt}
        if self.train_mode == "readout":
            return {"A": self.A, "log_dt": self.log_dt, "B": self.B, "C": self.C}
        return {}


class S4(S4Dense):
    """The former name of :class:`S4Dense`; it warns (a diagonal-plus-low-rank S4 is not what this layer is)."""

    def __init__(self, *args, **kwargs) -> None:
        warnings.warn("ssmem.S4 is renamed S4Dense (the dense HiPPO-LegS layer, not the DPLR S4); the name S4 will "
                      "be removed", DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)


__all__ = ["S4", "S4Dense"]
