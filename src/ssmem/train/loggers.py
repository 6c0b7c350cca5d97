"""Where a run's metric rows go: ``metrics.jsonl`` (always), and TensorBoard event files when asked.

``train.loggers`` names them: ``jsonl`` (summaries in ``metrics.jsonl``, per-output values such as ``r2_3`` in
``metrics_per_output.jsonl``, rows keyed by the same ``step`` and ``split``) and ``tensorboard`` (event files in
``RUN_DIR/tb/``: every summary as ``<split>/<name>``, the learning rate as ``train/lr``, the run's
hyperparameters, and, when recorded, each SSM layer's eigenvalue movement and memory capacity). The default is
both when the ``tensorboard`` package is importable, else ``jsonl`` alone.

Each logger is a :class:`~ssmem.train.callbacks.Callback` with ``write(row)`` (called where the loop writes a
metrics row) and ``close()``. A resumed run drops what was logged after its checkpoint: the JSONL files are cut
back (the loop's resume step), and TensorBoard is told to discard later events (``purge_step``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import append_text
from .callbacks import Callback, CallbackContext, EigenvalueRecorder, MemoryRecorder
from .config import ConfigError, config_to_dict, logger_problem, tensorboard_available
from .metrics import split_per_output

METRICS_FILE = "metrics.jsonl"
PER_OUTPUT_FILE = "metrics_per_output.jsonl"
TENSORBOARD_DIR = "tb"
TENSORBOARD_EVENTS = "events.out.tfevents."  # how every event file's name begins
_ROW_KEYS = ("step", "split", "epoch", "weights", "best_step")  # what identifies a row, besides its numbers


def check_loggers_runnable(names: Sequence[str]) -> None:
    """Raise :class:`~ssmem.train.config.ConfigError` if a logger in ``names`` lacks its package."""
    if "tensorboard" in names and not tensorboard_available():
        raise ConfigError("train.loggers includes tensorboard, but the tensorboard package is not installed: "
                          "pip install 'ssmem[tensorboard]', or set train.loggers=[jsonl]")


def _json_safe(value: Any) -> Any:
    """Non-finite floats → null (strict JSON)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


class JsonlLogger(Callback):
    """Summary rows → ``metrics.jsonl``; the per-output values of a row, if any, → ``metrics_per_output.jsonl``
    (with the row's step, split, epoch and, for test rows, weights)."""

    def __init__(self, run_dir: Path) -> None:
        self.path, self.per_output_path = run_dir / METRICS_FILE, run_dir / PER_OUTPUT_FILE

    def write(self, row: dict[str, Any]) -> None:
        summary, per_output = split_per_output(row)
        append_text(self.path, json.dumps({k: _json_safe(v) for k, v in summary.items()}) + "\n")
        if per_output:
            keys = {k: row[k] for k in _ROW_KEYS if k in row}
            append_text(self.per_output_path, json.dumps({**keys, **{k: _json_safe(v) for k, v in per_output.items()}}) + "\n")

    def close(self) -> None:
        pass


def _flat_hparams(config: dict[str, Any], prefix: str = "") -> dict[str, bool | int | float | str]:
    """A plain configuration as TensorBoard hyperparameters: ``section.key`` → a bool, number or string."""
    out: dict[str, bool | int | float | str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat_hparams(value, name + "."))
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        else:  # None, lists: as they read in a recipe
            out[name] = json.dumps(value)
    return out


class TensorBoardLogger(Callback):
    """Metric rows, hyperparameters and the recorders' eigenvalue and memory summaries → ``run_dir/tb/``.

    Scalars: ``<split>/<summary>`` (test rows of the best weights as ``test_best/<summary>``), ``train/lr``,
    ``ssm/layer{i}/eigenvalue_movement`` (mean ``|λ(step) - λ(first record)|`` over the layer's modes) and
    ``ssm/layer{i}/memory_capacity`` (mean over channels), at the step of each record.
    """

    def __init__(self, run_dir: Path, *, recorders: Sequence[Callback] = ()) -> None:
        self.folder = run_dir / TENSORBOARD_DIR
        self.recorders = list(recorders)
        self.writer = None

    def on_start(self, ctx: CallbackContext) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        # a resumed run: TensorBoard discards the earlier attempt's events after the checkpoint's step
        self.writer = SummaryWriter(str(self.folder), purge_step=ctx.step + 1 if ctx.step else None)
        metric = ctx.info.metric
        for summary in hparams(_flat_hparams(config_to_dict(ctx.config)), {f"val/{metric}": math.nan, f"test/{metric}": math.nan}):
            self.writer.file_writer.add_summary(summary)
        self.writer.flush()

    def write(self, row: dict[str, Any]) -> None:
        summary, _ = split_per_output(row)
        split, step = row["split"], int(row["step"])
        prefix = "test_best" if row.get("weights") == "best" else split
        for key, value in summary.items():
            if key in _ROW_KEYS or key == "time" or (key == "lr" and split != "train"):
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"{prefix}/{key}", float(value), step)
        self.writer.flush()  # rows are few (every log_every steps): a killed run loses none

    def on_step(self, ctx: CallbackContext) -> None:
        for recorder in self.recorders:
            if not recorder.steps or recorder.steps[-1] != ctx.step:
                continue
            for name, value in _recorded_scalars(recorder).items():
                self.writer.add_scalar(name, value, ctx.step)
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _mean_of_finite(values: np.ndarray) -> float:
    """The mean over the finite entries (a diverged channel's capacity is NaN); NaN when none is finite."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def _recorded_scalars(recorder: Callback) -> dict[str, float]:
    """The TensorBoard scalars of a recorder's newest record."""
    latest = recorder.records[-1]
    if isinstance(recorder, EigenvalueRecorder):
        first = recorder.records[0]
        return {f"ssm/{layer}/eigenvalue_movement": float(np.mean(np.abs(latest[layer] - first[layer]))) for layer in latest}
    if isinstance(recorder, MemoryRecorder):
        return {f"ssm/{key[: -len('_capacity')]}/memory_capacity": _mean_of_finite(value)
                for key, value in latest.items() if key.endswith("_capacity")}
    return {}


def make_loggers(names: Sequence[str], run_dir: Path, *, recorders: Sequence[Callback] = ()) -> list[Callback]:
    """The loggers ``names`` for ``run_dir``, ``jsonl`` first; each has ``write(row)`` and ``close()``."""
    problem = logger_problem(names)
    if problem is not None:
        raise ConfigError(problem)
    check_loggers_runnable(names)
    out: list[Callback] = [JsonlLogger(run_dir)]
    if "tensorboard" in names:
        out.append(TensorBoardLogger(run_dir, recorders=recorders))
    return out
