"""The Mamba block: a selective (input-dependent) SSM with gating (Gu & Dao 2023, "Mamba: linear-time sequence
modeling with selective state spaces").

With H = d_model, E = expand·H inner channels, N = d_state real states per inner channel, R = dt_rank:

    (x, z) = split(in_proj u)                        u (B, L, H) → x, z (B, L, E)
    x = SiLU(causal depthwise conv1d(x))             kernel d_conv = 4, left zero padding
    (δ, B_t, C_t) = split(x_proj x)                  δ (B, L, R), B_t, C_t (B, L, N): input-dependent
    Δ = softplus(dt_proj δ + dt_bias)                (B, L, E)
    A = -exp(A_log)                                  (E, N), S4D-Real init A_log[e, n] = log(n + 1)
    h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t u_t          h (B, E, N): ZOH for A, Euler for B (as in the paper)
    y_t = h_t C_t + D ⊙ x_t                          D (E,), init 1
    out = out_proj(y ⊙ SiLU(z))                      (B, L, H)

Δ's bias is initialised so that softplus(dt_bias) is log-uniform in [dt_min, dt_max]. Weights are uniform in
±1/sqrt(fan_in) (dt_proj: ±1/sqrt(R)), drawn from the layer's seed.

The scan (:mod:`ssmem.ssm.selective_scan`) has two computations of one answer: :func:`selective_scan_reference`,
a plain loop over time (the specification), and :func:`selective_scan`, chunk by chunk with its backward pass
written out, that the tests hold equal to it on values and gradients. :meth:`Mamba.step` carries the conv window
and the SSM state.

Train modes: ``"all"``; ``"reservoir"`` freezes A_log and dt_bias (the decay rates); ``"readout"`` also freezes
in_proj, x_proj and dt_proj (frozen tensors are buffers). Mamba has no fixed eigenvalues (they depend on the
input), so it offers no ``discrete_eigenvalues`` and no ``kernel``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._values import check_seed, is_integer
from ._common import SSMLayerCommon, check_train_mode, full_precision, make_generator, register_tensor
from ._common import resolve_device, resolve_dtype
from .selective_scan import selective_scan, selective_scan_reference


def inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    """x with softplus(x) = y > 0: ``y + log(1 - exp(-y))``."""
    return y + torch.log(-torch.expm1(-y))


class Mamba(SSMLayerCommon, nn.Module):
    """The Mamba selective SSM block, batch-first: ``(B, L, H) → (B, L, H)``.

    Args:
        d_model: H.
        d_state: N, the real states of each inner channel (S4D-Real: decay rates 1..N).
        expand: E/H, the inner width factor.
        d_conv: width of the causal depthwise convolution.
        dt_rank: R, the rank of the Δ projection (default ⌈H/16⌉).
        dt_min, dt_max: range of the log-uniform initial softplus(dt_bias).
        dt_init_floor: the smallest initial step (a floor under the draw).
        chunk_size: T, the steps of one chunk of :func:`selective_scan` (default: its own).
        bidirectional: must be False (the block is causal).
        train: ``"all"``, ``"reservoir"`` or ``"readout"`` (see the module docstring).
        seed: when given, every random draw of the initialisation comes from it, independent of the global torch
            RNG. Draw order: in_proj, conv weight, conv bias, x_proj, dt_proj, Δ, out_proj.
        device, dtype: of the parameters.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        *,
        expand: int = 2,
        d_conv: int = 4,
        dt_rank: int | None = None,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        dt_init_floor: float = 1e-4,
        chunk_size: int | None = None,
        bidirectional: bool = False,
        train: str = "all",
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for label, value in (("d_model", d_model), ("d_state", d_state), ("expand", expand), ("d_conv", d_conv)):
            if not is_integer(value) or value < 1:
                raise ValueError(f"{label} must be a positive integer, got {value!r}")
        if dt_rank is None:
            dt_rank = -(-int(d_model) // 16)
        if not is_integer(dt_rank) or dt_rank < 1:
            raise ValueError(f"dt_rank must be a positive integer or None (⌈d_model/16⌉), got {dt_rank!r}")
        if chunk_size is not None and (not is_integer(chunk_size) or chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive integer or None (the scan's default), got {chunk_size!r}")
        if not (math.isfinite(dt_min) and math.isfinite(dt_max)) or not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, finite; got dt_min={dt_min!r}, dt_max={dt_max!r}")
        if not isinstance(bidirectional, bool):
            raise TypeError(f"bidirectional must be True or False, got {bidirectional!r}")
        if bidirectional:
            raise ValueError("Mamba is a causal block: bidirectional=True is not supported (use S4D or S4 for that)")
        check_seed(seed)
        check_train_mode(train)
        dtype, device = resolve_dtype(dtype), resolve_device(device)
        H, N, inner = int(d_model), int(d_state), int(expand) * int(d_model)
        self._d_model, self._d_state, self._train = H, N, train
        self._bidirectional, self._discretization = False, "zoh+euler"
        self.expand, self.d_conv, self.dt_rank, self.d_inner = int(expand), int(d_conv), int(dt_rank), inner
        self.chunk_size = chunk_size

        generator = make_generator(seed)
        cpu = dict(dtype=torch.float64, device="cpu")

        def uniform(shape: tuple[int, ...], bound: float) -> torch.Tensor:
            return (2 * torch.rand(shape, generator=generator, **cpu) - 1) * bound

        in_proj = uniform((2 * inner, H), 1 / math.sqrt(H))
        conv_weight = uniform((inner, 1, d_conv), 1 / math.sqrt(d_conv))
        conv_bias = uniform((inner,), 1 / math.sqrt(d_conv))
        x_proj = uniform((dt_rank + 2 * N, inner), 1 / math.sqrt(inner))
        dt_proj = uniform((inner, dt_rank), 1 / math.sqrt(dt_rank))
        u = torch.rand(inner, generator=generator, **cpu)
        dt = torch.exp(math.log(dt_min) + u * (math.log(dt_max) - math.log(dt_min))).clamp(min=dt_init_floor)
        out_proj = uniform((H, inner), 1 / math.sqrt(inner))
        A_log = torch.log(torch.arange(1, N + 1, **cpu)).expand(inner, N)

        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device, dtype=dtype).contiguous()

        projections_trainable = train != "readout"
        register_tensor(self, "in_proj_weight", cast(in_proj), projections_trainable)
        self.conv_weight = nn.Parameter(cast(conv_weight))
        self.conv_bias = nn.Parameter(cast(conv_bias))
        register_tensor(self, "x_proj_weight", cast(x_proj), projections_trainable)
        register_tensor(self, "dt_proj_weight", cast(dt_proj), projections_trainable)
        register_tensor(self, "dt_bias", cast(inverse_softplus(dt)), train == "all")
        register_tensor(self, "A_log", cast(A_log), train == "all")
        self.D = nn.Parameter(torch.ones(inner, device=device, dtype=dtype))
        self.out_proj_weight = nn.Parameter(cast(out_proj))
        self.ssm_parameter_names: tuple[str, ...] = ("A_log", "dt_bias") if train == "all" else ()

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, d_state={self.d_state}, expand={self.expand}, d_conv={self.d_conv}, "
            f"dt_rank={self.dt_rank}, train={self.train_mode!r}"
        )

    # ---------------------------------------------------------------------------------------------- pieces

    def _selection(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x (..., E)`` after the conv → ``(Δ (..., E), B_t (..., N), C_t (..., N))``."""
        low_rank, B_t, C_t = F.linear(x, self.x_proj_weight).split([self.dt_rank, self._d_state, self._d_state], -1)
        delta = F.softplus(F.linear(low_rank, self.dt_proj_weight) + self.dt_bias)
        return delta, B_t, C_t

    def _A(self) -> torch.Tensor:
        return -torch.exp(self.A_log)  # (E, N)

    def _mamba(self, x: torch.Tensor, scan) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self._d_model:
            raise ValueError(f"Mamba expects input (B, L, H={self._d_model}); got shape {tuple(x.shape)}")
        self._check_dtype(x)
        length = x.shape[1]
        xs, z = F.linear(x, self.in_proj_weight).chunk(2, dim=-1)  # (B, L, E) each
        conv = F.conv1d(xs.transpose(1, 2), self.conv_weight, self.conv_bias, padding=self.d_conv - 1,
                         groups=self.d_inner)  # (B, E, L + d_conv - 1): keep the first L (causal)
        xs = F.silu(conv[..., :length].transpose(1, 2))
        delta, B_t, C_t = self._selection(xs)
        y = scan(xs, delta, self._A(), B_t, C_t, self.D)
        return F.linear(y * F.silu(z), self.out_proj_weight)

    @full_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, L, H) → (B, L, H)`` with the chunked :func:`selective_scan`."""
        return self._mamba(x, lambda *args: selective_scan(*args, chunk_size=self.chunk_size))

    @full_precision
    def reference_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reference twin of :meth:`forward`: the same block with :func:`selective_scan_reference`."""
        return self._mamba(x, selective_scan_reference)

    def kernel(self, length: int) -> torch.Tensor:
        raise TypeError("Mamba is selective: its kernel depends on the input, so it has no kernel(length)")

    # ------------------------------------------------------------------------------------------ recurrence

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero state: ``(conv window (B, E, d_conv - 1), SSM state (B, E, N))``."""
        self._check_batch(batch)
        conv = torch.zeros(batch, self.d_inner, self.d_conv - 1, dtype=self.D.dtype, device=self.D.device)
        ssm = torch.zeros(batch, self.d_inner, self._d_state, dtype=self.D.dtype, device=self.D.device)
        return conv, ssm

    @full_precision
    def step(
        self, x_t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One recurrent step: ``x_t (B, H)``, state from :meth:`initial_state` → ``(y_t (B, H), new state)``."""
        if x_t.dim() != 2 or x_t.shape[-1] != self._d_model:
            raise ValueError(f"Mamba.step expects x_t of shape (B, H={self._d_model}); got {tuple(x_t.shape)}")
        conv_state, h = state
        batch = x_t.shape[0]
        expected = ((batch, self.d_inner, self.d_conv - 1), (batch, self.d_inner, self._d_state))
        if (tuple(conv_state.shape), tuple(h.shape)) != expected:
            raise ValueError(f"Mamba.step expects a state of shapes {expected} (initial_state({batch}) or the "
                             f"previous step's); got {(tuple(conv_state.shape), tuple(h.shape))}")
        self._check_dtype(x_t)
        xs, z = F.linear(x_t, self.in_proj_weight).chunk(2, dim=-1)  # (B, E) each
        window = torch.cat([conv_state, xs[..., None]], dim=-1)  # (B, E, d_conv): oldest input first
        xs = F.silu((window * self.conv_weight[:, 0]).sum(-1) + self.conv_bias)
        delta, B_t, C_t = self._selection(xs)
        h = torch.exp(delta[..., None] * self._A()) * h + (delta * xs)[..., None] * B_t[:, None, :]
        y = (h * C_t[:, None, :]).sum(-1) + self.D * xs
        return F.linear(y * F.silu(z), self.out_proj_weight), (window[..., 1:], h)

    # ------------------------------------------------------------------------------------------ inspection

    def frozen_tensors(self) -> dict[str, torch.Tensor]:
        """Reservoir: ``A_log``, ``dt_bias``; readout: also ``in_proj_weight``, ``x_proj_weight``,
        ``dt_proj_weight``."""
        if self.train_mode == "all":
            return {}
        frozen = {"A_log": self.A_log, "dt_bias": self.dt_bias}
        if self.train_mode == "readout":
            frozen.update(in_proj_weight=self.in_proj_weight, x_proj_weight=self.x_proj_weight,
                          dt_proj_weight=self.dt_proj_weight)
        return frozen

    @torch.no_grad()
    def ssm_parameters(self) -> dict[str, torch.Tensor]:
        """Detached ``A`` (E, N), ``dt_bias_softplus`` (E,) = softplus(dt_bias) (the step at zero δ), ``D`` (E,)."""
        return {
            "A": self._A().detach().clone(),
            "dt_bias_softplus": F.softplus(self.dt_bias).detach().clone(),
            "D": self.D.detach().clone(),
        }


__all__ = ["Mamba", "selective_scan", "selective_scan_reference"]
