"""Watching a run for non-finite losses and gradients without waiting for the device every step.

Every step's loss (summed over the data-parallel ranks) and gradient norm go into a small tensor on the device
that remembers the first step where either was not finite. The loop reads it on the steps that report (log,
evaluate, checkpoint), together with the training sums, so a diverged run stops before it logs, evaluates or
saves anything computed after the fault, and names the step where it happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .metrics import read_to_host


@dataclass(frozen=True)
class Fault:
    """The first non-finite step: its number (1-based), its loss and its gradient norm."""

    step: int
    loss: float
    norm: float

    def message(self, summed_over_ranks: bool = False) -> str:
        if not math.isfinite(self.loss):
            where = " (summed over the processes' batches)" if summed_over_ranks else ""
            return f"the training loss became {self.loss}{where} at step {self.step}"
        return f"the gradient norm became {self.norm} at step {self.step}"


class DivergenceGuard:
    """The first step whose loss or gradient norm was not finite, kept on ``device`` until read."""

    def __init__(self, device: torch.device) -> None:
        self._first = torch.zeros(3, dtype=torch.float64, device=device)  # (step, loss, norm); step 0: none yet

    def watch(self, step: int, loss: torch.Tensor, norm: torch.Tensor, *, check_norm: bool = True) -> None:
        """Record step ``step`` (0-d ``loss`` and ``norm``) if it is the first non-finite one; no host read.

        ``check_norm=False`` under fp16 loss scaling, where an overflowing gradient skips the step instead."""
        loss = loss.detach().to(device=self._first.device).double()
        norm = norm.detach().to(device=self._first.device).double()
        bad = ~torch.isfinite(loss)
        if check_norm:
            bad = bad | ~torch.isfinite(norm)
        first = bad & (self._first[0] == 0)
        self._first = torch.where(first, torch.stack([torch.full_like(loss, float(step)), loss, norm]), self._first)

    def read_with(self, values: torch.Tensor) -> tuple[Fault | None, list[float]]:
        """The fault (None if every step was finite) and ``values`` (1-d), read to the host together."""
        read = read_to_host(torch.cat([self._first, values.detach().reshape(-1).double()]))
        fault = Fault(int(read[0]), read[1], read[2]) if read[0] > 0 else None
        return fault, read[3:]
