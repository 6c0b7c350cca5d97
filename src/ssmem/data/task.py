"""What a task is: the contract between data sets and the training harness.

A task is registered by name with the dataclass of its parameters, where it is defined::

    @dataclass
    class DelayParams:
        seq_len: int = 256
        delays: tuple[int, ...] = (16,)

    def delay_info(params: DelayParams) -> TaskInfo: ...   # cheap: no data is built

    @register_task("memory/delay", DelayParams, "regress u[t - tau] from iid input", info=delay_info)
    def build_delay(params: DelayParams, *, seed: int, data_dir: Path | None) -> TaskData: ...

The builder returns a :class:`TaskData`: a :class:`TaskInfo` (what the model needs to know) and the three
splits as ``torch.utils.data.Dataset`` objects whose items are ``(x, y)`` (or ``((x1, x2), y)`` for pair
tasks). Shapes per item:

* token input: ``x`` int64 ``(L,)``; real input: ``x`` float ``(L, d_input)``;
* per-sequence target (``per_step=False``): ``y`` int64 scalar (classification) or float ``(d_output,)``;
* per-step target (``per_step=True``): ``y`` int64 ``(L,)`` (classification / next token; ``ignore_index``
  marks steps that do not count) or float ``(L, d_output)`` (regression; NaN targets do not count, e.g. the
  first τ steps of a delay task).

A task may also register ``info(params) -> TaskInfo``: a cheap function that answers without building or
reading any data, so that ``ssmem validate`` can size a model for a recipe whose data is not on this machine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from torch.utils.data import Dataset

from .._registry import Registry

Objective = Literal["classification", "regression", "next_token"]


@dataclass(frozen=True)
class TaskInfo:
    """What a model needs to know about a task's inputs and outputs."""

    objective: Objective
    seq_len: int
    d_output: int  # classes, regression targets, or vocabulary size
    d_input: int | None = None  # real-valued features per step (None for token input)
    vocab_size: int | None = None  # token input (None for real input)
    per_step: bool = False  # a target at every step (delay, copy, LM, forecasting) or one per sequence
    pairs: bool = False  # inputs are pairs (x1, x2) (retrieval)
    ignore_index: int = -100  # per-step classification targets equal to this do not count
    chance: float | None = None  # the metric a trivial predictor reaches (accuracy of the majority class, ...)
    metric: str = "accuracy"  # the task's headline metric: accuracy, r2, bits_per_byte, mse, ...
    extra: dict[str, Any] = field(default_factory=dict)  # task-specific facts (class names, baselines, ...)

    def __post_init__(self) -> None:
        if (self.d_input is None) == (self.vocab_size is None):
            raise ValueError("a task has either real input (d_input) or token input (vocab_size), not both/neither")


SPLITS = ("train", "val", "test")  # the splits every task has, in this order


@dataclass
class TaskData:
    """A built task: its info and its train/val/test splits."""

    info: TaskInfo
    train: Dataset
    val: Dataset
    test: Dataset


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: its parameter dataclass and its builder."""

    name: str
    description: str
    params_cls: type
    build: Callable[..., TaskData]
    info: Callable[[Any], TaskInfo] | None = None  # params -> TaskInfo without building data


TASKS: Registry[TaskSpec] = Registry("task")


def register_task(name: str, params_cls: type, description: str, *, info: Callable[[Any], TaskInfo] | None = None):
    """Decorator: register ``build(params, *, seed, data_dir) -> TaskData`` as task ``name``.

    ``info(params) -> TaskInfo`` (optional) answers what the model needs without building the data.
    """

    def decorate(build: Callable[..., TaskData]) -> Callable[..., TaskData]:
        TASKS.add(name, TaskSpec(name, description, params_cls, build, info))
        return build

    return decorate


def _checked_params(spec: TaskSpec, params: Any) -> Any:
    """``params`` (``None`` = the defaults) made anew, so that the params dataclass's checks also see fields set
    after construction."""
    if params is None:
        return spec.params_cls()
    if not isinstance(params, spec.params_cls):
        raise TypeError(f"task {spec.name!r} takes {spec.params_cls.__name__} parameters, got {type(params).__name__}")
    return dataclasses.replace(params)


def build_task(name: str, params: Any = None, *, seed: int = 0, data_dir: str | Path | None = None) -> TaskData:
    """Build task ``name`` with ``params`` (an instance of its params dataclass; ``None`` = defaults)."""
    spec = TASKS.get(name)
    params = _checked_params(spec, params)
    return spec.build(params, seed=seed, data_dir=Path(data_dir) if data_dir is not None else None)


def task_info(name: str, params: Any = None, *, seed: int = 0, data_dir: str | Path | None = None) -> TaskInfo:
    """The :class:`TaskInfo` of task ``name``: from its ``info`` function if it has one, else by building it."""
    spec = TASKS.get(name)
    params = _checked_params(spec, params)
    if spec.info is not None:
        return spec.info(params)
    return build_task(name, params, seed=seed, data_dir=data_dir).info
