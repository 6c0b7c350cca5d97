"""The sweep's default run function: one run = ``ssmem.train.train`` on the recipe with the run's overrides.

Besides what ``train`` writes, every run records the eigenvalues and memory functions of its SSM layers at
the start and at the end of training (``memory_endpoints.npz``): the report's "MF of the trained
eigenvalues" reads them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from .grid import RunSpec

ENDPOINTS_FILE = "memory_endpoints.npz"


def train_run(spec: RunSpec, run_dir: Path, *, resume: bool, progress: bool = False,
              memory_check: bool = True) -> dict[str, Any]:
    """Train ``spec.recipe`` with ``spec.overrides`` in ``run_dir``; the :class:`TrainResult` as a dict.

    ``resume`` continues from the run directory's newest checkpoint (``train`` starts afresh if there is
    none yet). The result also names the task (``task``) and the train mode and eigenvalue set in effect.
    ``memory_check`` refuses (``InsufficientMemoryError``) a run whose estimated peak memory exceeds what this
    machine has available, before anything is allocated.
    """
    from ..resources import check_training_memory
    from ..train import load_recipe, train

    cfg = load_recipe(spec.recipe, list(spec.overrides))
    if memory_check:
        check_training_memory(cfg, flag="--ignore-memory-check to ssmem sweep")
    recorder = endpoint_memory_recorder(horizon=cfg.train.memory_horizon)
    result = train(cfg, run_dir, resume=resume, callbacks=(recorder,), progress=progress)
    out = result_to_dict(result)
    out.update(task=cfg.task.name, init=str(cfg.model.init), train=cfg.model.train, resumed=resume)
    return out


def endpoint_memory_recorder(*, horizon: int = 1024):
    """A callback that records each SSM layer's eigenvalues and MF before the first and after the last step.

    File ``memory_endpoints.npz``: ``step (2,)``; ``layer{i}_eigenvalues (2, H, n_modes)`` complex128;
    ``layer{i}_mf (2, horizon)`` MF averaged over channels; ``layer{i}_capacity (2, H)``.
    """
    import torch

    from ..train.callbacks import MemoryRecorder, ssm_layers

    class EndpointMemoryRecorder(MemoryRecorder):
        filename = ENDPOINTS_FILE

        def on_step(self, ctx) -> None:  # only the endpoints
            return None

        def on_end(self, ctx) -> None:
            if ctx.step not in self.steps:
                self._record(ctx)

        def measure(self, model):
            out = super().measure(model)
            for i, layer in enumerate(ssm_layers(model)):
                out[f"layer{i}_eigenvalues"] = (
                    layer.discrete_eigenvalues().detach().cpu().to(torch.complex128).numpy()
                )
            return out

    # every = a step no run reaches: on_start records step 0 (0 % every == 0), on_end the last step
    return EndpointMemoryRecorder(2**62, horizon=horizon)


def result_to_dict(result: Any) -> dict[str, Any]:
    """A TrainResult (dataclass) as a plain dict; nested dataclasses become dicts, paths strings."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        out = dataclasses.asdict(result)
    elif isinstance(result, dict):
        out = dict(result)
    else:
        raise TypeError(f"a run function returns a dict or a dataclass, got {type(result).__name__}")
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in out.items()}
