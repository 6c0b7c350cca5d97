"""Estimated GPU time of a paper-scale run, from the work of its training steps.

A step of an S4D model is dominated by its FFT convolutions, whose cost grows as ``L log L`` per channel, layer,
direction and sequence of the batch::

    work of a step = batch × sequences per example × L × log2(2L) × d_model × n_layers × directions
    steps          = max_steps, or epochs × ceil(n_train / batch)
    hours          = steps × (work of a step / rate + STEP_OVERHEAD_S) / 3600

``STEP_OVERHEAD_S`` is a floor on a step's time whatever its size (kernel launches, the optimiser, the data).

``rate`` (:data:`ASSUMED_H100_RATE`, work units per second) is an assumption, not a measurement: it puts the work of
the whole ``lra-paper`` grid at about 1,000 H100-hours (1,160 with the step overhead, Path-X 62 % of it). ``python benchmarks/gpu_check.py`` times ``lra/listops`` on a real GPU
and prints the rate that GPU gives (:func:`rate_from_speed`); ``ssmem sweep GRID --list --rate R`` uses it.

The training-set size of a task that reads a whole corpus, image set or series is not known before the data are
built; :data:`WHOLE_DATA_EXAMPLES` holds the sizes of the shipped paper-scale recipes' data (CIFAR-10: the usual
45,000 training images).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ASSUMED_H100_RATE = 9e10
STEP_OVERHEAD_S = 0.01

WHOLE_DATA_EXAMPLES = {  # recipe -> training examples, for tasks whose size the data decide
    "lra/text": 1247,
    "lra/image": 45000,
    "lm/shakespeare": 4724,
    "lm/bible": 3647,
    "forecast/vic_elec": 36444,
    "forecast/pedestrian": 12088,
}
IMAGE_LENGTH = 32 * 32  # lra/image: one pixel per step


@dataclass(frozen=True)
class RunCost:
    """What :func:`run_cost` counted for one run."""

    steps: int
    step_work: float
    hours: float


def sequence_length(params: object) -> int:
    """L of a task from its parameters: ``seq_len``, ``resolution²`` (Pathfinder, Path-X), ``lookback`` (forecasts),
    or a CIFAR image's 1024 pixels."""
    for name in ("seq_len", "lookback"):
        value = getattr(params, name, None)
        if value:
            return int(value)
    resolution = getattr(params, "resolution", None)
    return int(resolution) ** 2 if resolution else IMAGE_LENGTH


def step_work(*, batch: int, length: int, d_model: int, n_layers: int, bidirectional: bool, sequences: int = 1) -> float:
    """The work units of one training step (module docstring)."""
    return batch * sequences * length * math.log2(2 * length) * d_model * n_layers * (2 if bidirectional else 1)


def run_cost(recipe: str, overrides: list[str] | tuple[str, ...] = (), *, rate: float = ASSUMED_H100_RATE) -> RunCost | None:
    """The estimated steps, work per step and GPU-hours of a run of ``recipe``; None where its training-set size is
    unknown (a whole-data task not in :data:`WHOLE_DATA_EXAMPLES`)."""
    from ..train import load_recipe, task_params

    if rate <= 0:
        raise ValueError(f"the rate must be positive (work units per second), got {rate!r}")
    cfg = load_recipe(recipe, list(overrides))
    params = task_params(cfg.task)
    n_train = getattr(params, "n_train", 0) or WHOLE_DATA_EXAMPLES.get(recipe)
    if not n_train:
        return None
    tc = cfg.train
    steps = tc.max_steps if tc.max_steps is not None else tc.epochs * math.ceil(n_train / tc.batch_size)
    work = step_work(batch=tc.batch_size, length=sequence_length(params), d_model=cfg.model.d_model,
                     n_layers=cfg.model.n_layers, bidirectional=cfg.model.bidirectional,
                     sequences=2 if cfg.task.name == "lra/retrieval" else 1)
    return RunCost(steps, work, steps * (work / rate + STEP_OVERHEAD_S) / 3600)


def rate_from_speed(recipe: str, steps_per_second: float, overrides: list[str] | tuple[str, ...] = ()) -> float:
    """The rate (work units per second) that a measured speed of ``recipe`` implies (after the step overhead)."""
    cost = run_cost(recipe, overrides)
    if cost is None:
        raise ValueError(f"{recipe}: its training-set size is not known to the cost model")
    seconds = 1.0 / steps_per_second - STEP_OVERHEAD_S
    if seconds <= 0:
        raise ValueError(f"{steps_per_second} steps/s is faster than the step overhead of {STEP_OVERHEAD_S} s allows")
    return cost.step_work / seconds
