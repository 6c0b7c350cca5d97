"""Causal linear attention (Katharopoulos et al. 2020) as a recurrent layer, batch-first ``(B, L, H) → (B, L, H)``.

With the positive feature map φ(a) = elu(a) + 1 and keys, queries, values projected from the input,

    q_t = φ(W_q x_t), k_t = φ(W_k x_t)     (N,)      N = d_state
    v_t = W_v x_t                           (H,)
    S_t = S_{t-1} + k_t v_tᵀ                (N, H)    the state: N·H real numbers
    z_t = z_{t-1} + k_t                     (N,)      the normaliser
    y_t = W_o (S_tᵀ q_t / (z_tᵀ q_t + ε)) + D ⊙ x_t

The state is a running sum: its transition is the identity (A = I, every eigenvalue 1), so it never forgets, and
how much of the past a readout can recover is set by what k_t v_tᵀ writes, which depends on the input (the
write is quadratic in x). ``normalize=False`` drops the normaliser (y_t = W_o S_tᵀ q_t / √N + D x_t), which
keeps the output's dependence on the state linear.

Forward: the chunked form (within a chunk of T steps the causal (T, T) score matrix, across chunks the carried
state); :meth:`LinearAttention.reference_forward` is the plain loop over time, and :meth:`step` the recurrence.

Train modes: ``"all"`` trains every projection; ``"reservoir"`` freezes W_q and W_k (which inputs are written
and how they are read back: the layer's memory); ``"readout"`` also freezes W_v, leaving W_o and D.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._values import check_seed, is_integer
from ._common import (
    SSMLayerCommon,
    check_train_mode,
    full_precision,
    make_generator,
    register_tensor,
    resolve_device,
    resolve_dtype,
)

EPS = 1e-6  # added to the normaliser z_tᵀ q_t (positive: φ > 0)


def feature_map(a: torch.Tensor) -> torch.Tensor:
    """φ(a) = elu(a) + 1: positive, so the normaliser never vanishes."""
    return F.elu(a) + 1


class LinearAttention(SSMLayerCommon, nn.Module):
    """Causal linear attention with an N × H state (see the module docstring).

    Args:
        d_model: H.
        d_state: N, the key/query features: the state holds N·H real numbers.
        normalize: divide by the normaliser z_tᵀ q_t (True) or scale by 1/√N (False).
        chunk_size: T, the steps of one chunk of the forward pass.
        bidirectional: must be False (the layer is causal).
        train: ``"all"``, ``"reservoir"`` or ``"readout"`` (see the module docstring).
        seed: when given, the random draws (W_q, W_k, W_v, W_o, in that order) come from it, independent of the
            global RNG.
        device, dtype: of the parameters.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 8,
        *,
        normalize: bool = True,
        chunk_size: int = 64,
        bidirectional: bool = False,
        train: str = "all",
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for label, value in (("d_model", d_model), ("d_state", d_state), ("chunk_size", chunk_size)):
            if not is_integer(value) or value < 1:
                raise ValueError(f"{label} must be a positive integer, got {value!r}")
        if not isinstance(bidirectional, bool) or not isinstance(normalize, bool):
            raise TypeError(f"bidirectional and normalize must be True or False, got {bidirectional!r}, {normalize!r}")
        if bidirectional:
            raise ValueError("LinearAttention is causal: bidirectional=True is not supported (use S4D or S4 for that)")
        check_seed(seed)
        check_train_mode(train)
        dtype, device = resolve_dtype(dtype), resolve_device(device)
        H, N = int(d_model), int(d_state)
        self._d_model, self._d_state, self._train = H, N, train
        self._bidirectional, self._discretization = False, "none"
        self.normalize, self.chunk_size = normalize, int(chunk_size)

        generator = make_generator(seed)

        def uniform(rows: int) -> torch.Tensor:  # nn.Linear's default bound, 1/√fan_in
            bound = 1 / math.sqrt(H)
            draw = (2 * torch.rand(rows, H, generator=generator, dtype=torch.float64) - 1) * bound
            return draw.to(device=device, dtype=dtype)

        register_tensor(self, "q_weight", uniform(N), train == "all")
        register_tensor(self, "k_weight", uniform(N), train == "all")
        register_tensor(self, "v_weight", uniform(H), train != "readout")
        self.out_weight = nn.Parameter(uniform(H))
        self.D = nn.Parameter(torch.zeros(H, device=device, dtype=dtype))
        self.ssm_parameter_names: tuple[str, ...] = ()  # no eigenvalues: the transition is the identity

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, d_state={self.d_state}, normalize={self.normalize}, train={self.train_mode!r}"

    def _project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x (..., H)`` → ``q (..., N)``, ``k (..., N)``, ``v (..., H)``."""
        return feature_map(F.linear(x, self.q_weight)), feature_map(F.linear(x, self.k_weight)), F.linear(x, self.v_weight)

    def _read(self, numerator: torch.Tensor, denominator: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``numerator (..., H)`` = Sᵀq, ``denominator (...)`` = zᵀq → the output ``(..., H)``."""
        if self.normalize:
            attended = numerator / (denominator + EPS)[..., None]
        else:
            attended = numerator / math.sqrt(self._d_state)
        return F.linear(attended, self.out_weight) + self.D * x

    @full_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, L, H) → (B, L, H)``, chunk by chunk: within a chunk the causal scores, across chunks the state."""
        self._check_input(x)
        if x.shape[1] == 0:  # an empty sequence: no chunk to attend over
            return x * self.D
        q, k, v = self._project(x)
        batch, length, _ = x.shape
        state = x.new_zeros(batch, self._d_state, self._d_model)  # S (B, N, H)
        total = x.new_zeros(batch, self._d_state)  # z (B, N)
        numerators, denominators = [], []
        for start in range(0, length, self.chunk_size):
            qc, kc, vc = (t[:, start : start + self.chunk_size] for t in (q, k, v))  # (B, T, ·)
            scores = torch.tril(qc @ kc.mT)  # (B, T, T): step s ≤ t of the chunk
            numerators.append(scores @ vc + qc @ state)
            denominators.append(scores.sum(-1) + (qc @ total[..., None])[..., 0])
            state = state + kc.mT @ vc
            total = total + kc.sum(1)
        return self._read(torch.cat(numerators, 1), torch.cat(denominators, 1), x)

    @full_precision
    def reference_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reference twin of :meth:`forward`: the recurrence, one step at a time."""
        self._check_input(x)
        state = self.initial_state(x.shape[0])
        outputs = []
        for t in range(x.shape[1]):
            y_t, state = self.step(x[:, t], state)
            outputs.append(y_t)
        return torch.stack(outputs, dim=1) if outputs else x * self.D

    def kernel(self, length: int) -> torch.Tensor:
        raise TypeError("LinearAttention writes k_t v_tᵀ, quadratic in the input: it has no kernel(length)")

    # ------------------------------------------------------------------------------------------ recurrence

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero state: ``(S (B, N, H), z (B, N))``."""
        self._check_batch(batch)
        S = torch.zeros(batch, self._d_state, self._d_model, dtype=self.D.dtype, device=self.D.device)
        return S, torch.zeros(batch, self._d_state, dtype=self.D.dtype, device=self.D.device)

    @full_precision
    def step(
        self, x_t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One recurrent step: ``x_t (B, H)``, state from :meth:`initial_state` → ``(y_t (B, H), new state)``."""
        name = type(self).__name__
        if x_t.dim() != 2 or x_t.shape[-1] != self._d_model:
            raise ValueError(f"{name}.step expects x_t of shape (B, H={self._d_model}); got {tuple(x_t.shape)}")
        S, z = state
        expected = ((x_t.shape[0], self._d_state, self._d_model), (x_t.shape[0], self._d_state))
        if (tuple(S.shape), tuple(z.shape)) != expected:
            raise ValueError(f"{name}.step expects a state of shapes {expected} (initial_state({x_t.shape[0]}) or "
                             f"the previous step's); got {(tuple(S.shape), tuple(z.shape))}")
        self._check_dtype(x_t)
        q, k, v = self._project(x_t)
        S = S + k[..., :, None] * v[..., None, :]
        z = z + k
        y = self._read((q[..., :, None] * S).sum(-2), (q * z).sum(-1), x_t)
        return y, (S, z)

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """The state S_t after every step of ``x (B, L, H)``: ``(B, L, N·H)`` (what a readout of the memory sees)."""
        self._check_input(x)
        _, k, v = self._project(x)
        return torch.cumsum(k[..., :, None] * v[..., None, :], dim=1).flatten(2)

    # ------------------------------------------------------------------------------------------ inspection

    def frozen_tensors(self) -> dict[str, torch.Tensor]:
        """Reservoir: ``q_weight``, ``k_weight``; readout: also ``v_weight``."""
        frozen = {} if self.train_mode == "all" else {"q_weight": self.q_weight, "k_weight": self.k_weight}
        if self.train_mode == "readout":
            frozen["v_weight"] = self.v_weight
        return frozen

    @torch.no_grad()
    def ssm_parameters(self) -> dict[str, torch.Tensor]:
        """Detached ``q_weight`` (N, H), ``k_weight`` (N, H), ``D`` (H,)."""
        return {"q_weight": self.q_weight.detach().clone(), "k_weight": self.k_weight.detach().clone(),
                "D": self.D.detach().clone()}


__all__ = ["LinearAttention", "feature_map"]
