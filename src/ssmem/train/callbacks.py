"""Hooks into the training loop, and the built-in recorders of eigenvalues and memory during training.

A :class:`Callback` gets a :class:`CallbackContext` at the start (after a resume: at the resumed step), after
every optimiser step, after every evaluation, and at the end. Only the main process (rank 0) calls them.
Recorders keep their whole history in one ``.npz`` file in the run directory, rewritten atomically on each
record; on resume they drop entries newer than the checkpoint, so a resumed run records exactly what an
uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.task import TaskInfo
from .._io import atomic_open, read_npz


@dataclass
class CallbackContext:
    """What a callback may look at. ``metrics`` holds the numbers just logged or evaluated (may be empty)."""

    step: int  # optimiser steps done
    epoch: int
    model: nn.Module  # the bare model (not the data-parallel wrapper)
    run_dir: Path
    info: TaskInfo
    config: Any  # the RunConfig
    split: str | None = None  # "val" / "test" in on_eval
    metrics: dict[str, float] = field(default_factory=dict)


class Callback:
    """Override any of the hooks; the defaults do nothing."""

    def on_start(self, ctx: CallbackContext) -> None:
        """Before the first step (``ctx.step`` = 0, or the resumed step)."""

    def on_step(self, ctx: CallbackContext) -> None:
        """After optimiser step ``ctx.step``."""

    def on_eval(self, ctx: CallbackContext) -> None:
        """After evaluating ``ctx.split`` (metrics in ``ctx.metrics``)."""

    def on_end(self, ctx: CallbackContext) -> None:
        """After training (before the final test evaluation's result is returned)."""


def ssm_layers(model: nn.Module) -> list[nn.Module]:
    """The model's SSM layers: ``model.ssm_layers()`` if it has it, else modules with ``discrete_eigenvalues``."""
    if hasattr(model, "ssm_layers"):
        return list(model.ssm_layers())
    return [m for m in model.modules() if hasattr(m, "discrete_eigenvalues")]


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)


def read_recording(path: Path) -> list[tuple[int, dict[str, np.ndarray]]]:
    """The (step, arrays) records of a recorder's ``.npz`` file; a damaged file raises ``ValueError`` naming it."""
    try:
        saved = read_npz(path)
        steps = saved.pop("step").tolist()
        return [(int(step), {k: v[i] for k, v in saved.items()}) for i, step in enumerate(steps)]
    except (ValueError, KeyError, IndexError) as err:
        raise ValueError(f"{path} is not a readable recording ({err}); remove it to resume without the earlier "
                         "records") from None


class _Recorder(Callback):
    """Shared machinery: a list of (step, arrays) records kept in ``run_dir / filename``."""

    filename = ""

    def __init__(self, every: int) -> None:
        if every <= 0:
            raise ValueError(f"every must be positive, got {every}")
        self.every = int(every)
        self.steps: list[int] = []
        self.records: list[dict[str, np.ndarray]] = []

    def measure(self, model: nn.Module) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def on_start(self, ctx: CallbackContext) -> None:
        path = ctx.run_dir / self.filename
        self.steps, self.records = [], []
        if path.exists():  # resumed: keep what was recorded up to the checkpoint
            for step, record in read_recording(path):
                if step <= ctx.step:
                    self.steps.append(step)
                    self.records.append(record)
        if ctx.step not in self.steps and ctx.step % self.every == 0:
            self._record(ctx)

    def on_step(self, ctx: CallbackContext) -> None:
        if ctx.step % self.every == 0:
            self._record(ctx)

    def _record(self, ctx: CallbackContext) -> None:
        with torch.no_grad():
            self.records.append(self.measure(ctx.model))
        self.steps.append(ctx.step)
        arrays = {"step": np.asarray(self.steps, dtype=np.int64)}
        for key in self.records[0]:
            arrays[key] = np.stack([r[key] for r in self.records])
        _atomic_savez(ctx.run_dir / self.filename, arrays)


class EigenvalueRecorder(_Recorder):
    """Every ``every`` steps, each SSM layer's discrete eigenvalues → ``eigenvalues.npz``.

    Arrays: ``step (T,)`` and ``layer{i} (T, H, n_modes)`` complex128 (S4D: its stored modes; S4: the
    ``d_state`` eigenvalues of each channel's dense Ā).
    """

    filename = "eigenvalues.npz"

    def measure(self, model: nn.Module) -> dict[str, np.ndarray]:
        return {
            f"layer{i}": layer.discrete_eigenvalues().detach().cpu().to(torch.complex128).numpy()
            for i, layer in enumerate(ssm_layers(model))
        }


class MemoryRecorder(_Recorder):
    """Every ``every`` steps, the memory function of each SSM layer → ``memory.npz``.

    Each channel of a layer is a linear SSM with its own eigenvalues (upper-half modes; a dense layer's full
    spectrum is reduced to them first); its MF is computed exactly by
    ``ssmem.memory.memory_function`` (horizon T = ``horizon``). Arrays: ``step (T,)``, ``layer{i}_mf (T, D)``
    (MF averaged over channels, delays 0..D-1, D = ``max_delay + 1``) and ``layer{i}_capacity (T, H)``
    (per channel).
    """

    filename = "memory.npz"

    def __init__(self, every: int, *, horizon: int = 1024, max_delay: int | None = None) -> None:
        super().__init__(every)
        self.horizon = int(horizon)
        self.max_delay = self.horizon - 1 if max_delay is None else int(max_delay)

    def measure(self, model: nn.Module) -> dict[str, np.ndarray]:
        from ..eigs import upper_half
        from ..memory import memory_function

        out = {}
        for i, layer in enumerate(ssm_layers(model)):
            modes = layer.discrete_eigenvalues().detach().cpu().to(torch.complex128).numpy()  # (H, n)
            if modes.shape[-1] == getattr(layer, "d_state", -1):  # a dense layer gives the whole real spectrum
                rows = [upper_half(row) for row in modes]
            else:
                rows = list(modes)
            mf, capacity = [], []
            for row in rows:
                if np.isfinite(row).all():
                    profile = memory_function(row, horizon=self.horizon, max_delay=self.max_delay)
                    mf.append(profile.mf)
                    capacity.append(profile.capacity)
                else:  # a diverged channel: its memory is undefined, and the run ends as "diverged", not here
                    mf.append(np.full(self.max_delay + 1, np.nan))
                    capacity.append(np.nan)
            out[f"layer{i}_mf"] = np.mean(mf, axis=0)
            out[f"layer{i}_capacity"] = np.asarray(capacity, dtype=np.float64)
        return out
