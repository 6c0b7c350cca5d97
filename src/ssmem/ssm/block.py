"""The residual block around an SSM layer (PAPER.md §1).

    postnorm:  x ← norm(x + GLU(Linear_{H→2H}(dropout(GELU(layer(x))))))
    prenorm:   x ← x + GLU(Linear_{H→2H}(dropout(GELU(layer(norm(x))))))

The block receives the layer instance (S4D, S4, or any module with the same contract: ``forward(B, L, H)``
and, for recurrent use, ``initial_state(batch)`` and ``step(x_t, state)``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NORMS = ("batch", "layer", "none")


def check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; valid choices: {', '.join(NORMS)}")


class ChannelNorm(nn.Module):
    """Normalisation over the channels of batch-first sequences ``(B, L, H)`` or steps ``(B, H)``.

    ``"batch"``: BatchNorm over batch and time; ``"layer"``: LayerNorm over channels; ``"none"``: identity.
    :meth:`step` normalises one time step; batch norm then always uses its running statistics (what
    :meth:`forward` does in eval mode), so step mode reproduces forward in eval mode.
    """

    def __init__(self, d_model: int, kind: str, *, device=None, dtype=None) -> None:
        super().__init__()
        check_norm(kind)
        self.kind = kind
        if kind == "batch":
            self.norm = nn.BatchNorm1d(d_model, device=device, dtype=dtype)
        elif kind == "layer":
            self.norm = nn.LayerNorm(d_model, device=device, dtype=dtype)
        else:
            self.norm = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "batch":
            # statistics over batch and time: BatchNorm1d on (B·L, H) rows, ~3× faster on CPU than on (B, H, L)
            return self.norm(x.reshape(-1, x.shape[-1])).reshape(x.shape)
        return self.norm(x)

    def step(self, x_t: torch.Tensor) -> torch.Tensor:
        if self.kind == "batch":
            bn = self.norm
            return F.batch_norm(
                x_t, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False, eps=bn.eps
            )
        return self.norm(x_t)


class SSMBlock(nn.Module):
    """Norm, SSM layer, GELU, dropout, pointwise Linear(H, 2H) + GLU, residual: ``(B, L, H) → (B, L, H)``.

    Args:
        d_model: H.
        layer: the SSM layer (maps ``(B, L, H)`` to ``(B, L, H)``).
        norm: ``"batch"``, ``"layer"`` or ``"none"``.
        prenorm: normalise the block input (True) or the residual sum (False).
        dropout: dropout probability after the GELU.
        device, dtype: of the norm and the linear layer.
    """

    def __init__(
        self,
        d_model: int,
        layer: nn.Module,
        *,
        norm: str = "batch",
        prenorm: bool = False,
        dropout: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        layer_width = getattr(layer, "d_model", d_model)
        if layer_width != d_model:
            raise ValueError(f"the layer has d_model={layer_width} but the block has d_model={d_model}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.layer = layer
        self.norm = ChannelNorm(d_model, norm, device=device, dtype=dtype)
        self.prenorm = bool(prenorm)
        self.dropout = nn.Dropout(dropout)
        self.output_linear = nn.Linear(d_model, 2 * d_model, device=device, dtype=dtype)

    def _mix(self, y: torch.Tensor) -> torch.Tensor:
        """GELU → dropout → Linear(H, 2H) → GLU, on the last axis."""
        return F.glu(self.output_linear(self.dropout(F.gelu(y))), dim=-1)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """``x (B, L, H)``; ``valid (B, L)`` bool (optional): steps that are padding are zeroed before the SSM
        layer, the only part that mixes time steps, so they cannot reach the valid steps (a bidirectional layer
        reads ahead)."""
        z = self.norm(x) if self.prenorm else x
        if valid is not None:
            z = z * valid[..., None].to(z.dtype)
        out = x + self._mix(self.layer(z))
        return out if self.prenorm else self.norm(out)

    def initial_state(self, batch: int):
        """The zero state of the block's SSM layer for step mode (see the layer's ``step``)."""
        return self.layer.initial_state(batch)

    def step(self, x_t: torch.Tensor, state):
        """One step: ``x_t (B, H)`` → ``(out_t (B, H), new state)``; equals :meth:`forward` in eval mode."""
        z = self.norm.step(x_t) if self.prenorm else x_t
        y_t, state = self.layer.step(z, state)
        out = x_t + self._mix(y_t)
        return (out if self.prenorm else self.norm.step(out)), state


__all__ = ["NORMS", "SSMBlock"]
