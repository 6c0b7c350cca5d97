"""The training loop: one readable function, :func:`train`, from a :class:`RunConfig` to a :class:`TrainResult`.

Run directory layout::

    config.yaml                 the resolved configuration
    metrics.jsonl               one JSON object per line: step, split (train/val/test), epoch, lr, time, loss, metrics
    metrics_per_output.jsonl    per-output values (r2_0, r2_1, ...) of the same rows, for multi-output regression
    tb/events.out.tfevents.*    TensorBoard event files (train.loggers includes tensorboard)
    checkpoints/step-*.pt       the newest checkpoints (model, optimiser, RNG states, data position, config)
    checkpoints/best.pt         the weights with the best validation metric
    result.json                 the :class:`TrainResult` (written at the end, also for a diverged run)
    eigenvalues.npz, memory.npz optional recordings (train.record_eigenvalues_every / record_memory_every)

What ssmem wrote for a run (:func:`run_dir_contents`): the files above (and ``.lock``, the temporaries of
atomic writes cut short by a kill, and the files named by the ``filename`` of the callbacks passed to
:func:`train`), none of them a symbolic link. A fresh run starts only in a directory that holds nothing else and
no earlier run; ``overwrite=True`` (``--overwrite``) removes an earlier run's files first and leaves anything ssmem
did not write in place. A resumed run is identified by its checkpoint or ``config.yaml`` (the configuration must
match); without either, ``resume`` is a fresh start under the same rules.

Exact resume: the data order is a function of (seed, epoch) (:mod:`ssmem.train.batches`), and a checkpoint
holds the step, the optimiser state, the global RNG states and the partial training-metric sums; the
learning rate is a function of the step. Resuming from the checkpoint of step k therefore replays steps
k+1, ... bit for bit (on the same hardware and thread count), and ``metrics.jsonl`` is cut back to what
was written up to step k (and so is ``metrics_per_output.jsonl``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data._progress import data_progress
from ..data.task import TaskInfo, build_task
from . import distributed
from .batches import SplitLoader, eval_batches, steps_per_epoch, to_device, train_batches
from .build import build_model, fit_forecast_skip, lr_factor, optimizer_from_config
from .callbacks import Callback, CallbackContext, EigenvalueRecorder, MemoryRecorder, read_recording
from .checkpoint import (
    CHECKPOINT_DIR,
    FORMAT,
    CheckpointError,
    atomic_torch_save,
    is_checkpoint_name,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_model_weights,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .config import (
    ConfigError,
    ModelConfig,
    RunConfig,
    config_from_dict,
    config_to_dict,
    config_to_yaml,
    dataclass_from_dict,
    task_params,
    to_plain,
    with_absolute_paths,
)
from ..ssm.optim import gradient_norm
from .._allocator import tune_for_device
from .._io import atomic_write_text, exclusive_folder, refuse_symlink, remove_leftover_temporaries
from .._signals import stop_between_steps
from .divergence import DivergenceGuard
from .loggers import (
    METRICS_FILE,
    PER_OUTPUT_FILE,
    TENSORBOARD_DIR,
    TENSORBOARD_EVENTS,
    check_loggers_runnable,
    make_loggers,
)
from .metrics import MetricSums, check_task_metric, higher_is_better, loss_and_sums, summarize
from .precision import autocast, grad_scaler, tf32_policy
from .recipes import read_yaml

CONFIG_FILE = "config.yaml"
RESULT_FILE = "result.json"
BEST_FILE = "best.pt"
LOCK_FILE = ".lock"  # exclusive_folder's
# keys a resumed run may change (where it runs, how it is described, how many loader processes feed it)
RESUME_MAY_CHANGE = ("device", "description", "train.num_workers", "train.loggers")


@dataclass
class TrainResult:
    """The outcome of one run: what a sweep stores as one row.

    ``test_metric`` is measured with the weights of the best validation evaluation (the usual LRA protocol);
    ``final_test_metric`` with the final weights. ``metrics`` flattens the last numbers per split
    (``"val/accuracy"``, ``"test/loss"``, ``"train/loss"``, ...). ``baselines`` are what simple predictors
    reach on the same test split in the run's metric (the task's ``info.extra["baselines"]``, e.g. the last
    value and a linear fit for forecasting; empty when the task names none).
    """

    run_dir: str
    status: str  # "completed" | "diverged"
    steps: int
    epochs: float
    metric: str
    higher_is_better: bool
    final_val_metric: float | None
    best_val_metric: float | None
    best_step: int | None
    test_metric: float | None
    final_test_metric: float | None
    param_counts: dict[str, Any]
    wall_time_s: float
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""
    baselines: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


# ----------------------------------------------------------------------------------------------- files


def _json_safe(value: Any) -> Any:
    """Non-finite floats → null (strict JSON), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _parse_metrics(path: Path) -> tuple[list[dict[str, Any]], list[int], int]:
    """The JSON lines of ``path``, the numbers of the lines that are not JSON, and the number of lines."""
    if not path.exists():
        return [], [], 0
    rows, bad = [], []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            bad.append(number)
    return rows, bad, len(lines)


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The lines of ``run_dir/metrics.jsonl`` as dicts (an incomplete last line, from a kill, is skipped)."""
    return _parse_metrics(Path(run_dir) / METRICS_FILE)[0]


def _truncate_rows(path: Path, step: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Keep the rows of ``path`` an uninterrupted run had written when it saved the checkpoint of ``step``;
    returns them and what was found damaged."""
    rows, bad, n_lines = _parse_metrics(path)
    kept = [row for row in rows if row.get("step", 0) < step or (row.get("step") == step and row.get("split") != "test")]
    if path.exists():
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    damaged = [n for n in bad if n != n_lines]  # a cut last line is what a kill leaves: not a loss
    return kept, [f"{path}: line(s) {', '.join(map(str, damaged))} were not JSON and are dropped"] if damaged else []


def _truncate_metrics(run_dir: Path, step: int, log_every: int) -> list[str]:
    """Keep the lines (of ``metrics.jsonl`` and ``metrics_per_output.jsonl``) an uninterrupted run had written
    when it saved the checkpoint of ``step``; returns what was found missing or damaged (a resumed run cannot
    write those rows again)."""
    path = run_dir / METRICS_FILE
    kept, problems = _truncate_rows(path, step)
    problems += _truncate_rows(run_dir / PER_OUTPUT_FILE, step)[1]
    expected = step // log_every * log_every
    logged = max((int(r.get("step", 0)) for r in kept if r.get("split") == "train"), default=0)
    if logged < expected:
        problems.append(f"{path} stops at step {logged}, before the checkpoint's step {step}: the training rows of "
                        f"steps {logged + 1}-{expected} are lost (the file was cut)")
    return problems


def _config_differences(
    a: dict[str, Any], b: dict[str, Any], prefix: str = "", source: str = "the checkpoint"
) -> list[str]:
    keys = sorted(set(a) | set(b))
    out = []
    for k in keys:
        where = f"{prefix}{k}"
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _config_differences(va, vb, where + ".", source)
        elif va != vb:
            out.append(f"{where}: {vb!r} in {source}, {va!r} now")
    return out


def _resolved_norm(model: dict[str, Any], cfg: RunConfig) -> str | None:
    """The norm a model section (plain form) builds for ``cfg``'s task; None when it cannot be told."""
    from ..data.task import task_info
    from .build import architecture_for, norm_for

    try:
        section = dataclass_from_dict(ModelConfig, model, "model")
        return norm_for(section, architecture_for(section, task_info(cfg.task.name, task_params(cfg.task))))
    except (ConfigError, ValueError, TypeError, KeyError):
        return None


def run_config_differences(cfg: RunConfig, saved: dict[str, Any], source: str) -> list[str]:
    """How ``cfg`` differs from the plain configuration ``saved`` (read from ``source``), one entry per key, leaving
    out the keys a resumed run may change (:data:`RESUME_MAY_CHANGE`)."""
    # (runs saved before paths were stored absolute hold them as given: the same file is the same run)
    saved, current = with_absolute_paths(copy.deepcopy(dict(saved))), config_to_dict(cfg)
    _fill_new_defaults(saved, cfg)
    # model.norm=auto names the norm it resolves to: a run saved with that norm spelled out is the same run
    saved_model, current_model = saved.get("model"), current["model"]
    if isinstance(saved_model, dict) and "auto" in (saved_model.get("norm"), current_model["norm"]):
        if _resolved_norm(saved_model, cfg) == _resolved_norm(current_model, cfg):
            saved_model["norm"] = current_model["norm"]
    for key in RESUME_MAY_CHANGE:
        *sections, name = key.split(".")
        for config in (saved, current):
            for section in sections:
                config = config.get(section) if isinstance(config, dict) else None
            if isinstance(config, dict):
                config.pop(name, None)
    return _config_differences(current, saved, source=source)


def _fill_new_defaults(saved: dict[str, Any], cfg: RunConfig) -> None:
    """Give ``saved`` the default of every section field it lacks: a checkpoint written before a setting existed
    ran with that setting's default, so it is the same run (an older run still resumes after an upgrade)."""
    for section in dataclasses.fields(cfg):
        saved_section, value = saved.get(section.name), getattr(cfg, section.name)
        if not (isinstance(saved_section, dict) and dataclasses.is_dataclass(value)):
            continue
        for spec in dataclasses.fields(value):
            if spec.name in saved_section:
                continue
            if spec.default is not dataclasses.MISSING:
                saved_section[spec.name] = to_plain(spec.default)
            elif spec.default_factory is not dataclasses.MISSING:
                saved_section[spec.name] = to_plain(spec.default_factory())


def _schedule_warnings(tc: Any, oc: Any, n_train: int, per_epoch: int, total: int,
                       dist: distributed.DistInfo) -> list[str]:
    """Settings that are valid but rarely meant: a warmup longer than the run, a partial batch that data
    parallel has to drop."""
    out = []
    if oc.warmup_steps > total:
        out.append(f"optim.warmup_steps={oc.warmup_steps} is longer than the run ({total} steps): the learning "
                   f"rate peaks at {total / oc.warmup_steps:.0%} of optim.lr")
    if dist.enabled and not tc.drop_last and n_train % tc.batch_size:
        full = steps_per_epoch(n_train, tc.batch_size, drop_last=False)
        out.append(f"train.drop_last=false is not possible under data parallel (every rank needs a batch): "
                   f"{per_epoch} steps per epoch instead of {full}")
    return out


def _check_same_run(run_dir: Path, cfg: RunConfig, saved: dict[str, Any], source: str) -> None:
    """A resumed run keeps its configuration (but for :data:`RESUME_MAY_CHANGE`); ``saved`` comes from ``source``."""
    diffs = run_config_differences(cfg, saved, source)
    if diffs:
        raise CheckpointError(f"cannot resume {run_dir}: the configuration differs from {source}'s: " + "; ".join(diffs))


def _stopped(step: int, main: bool) -> None:
    """End a run that was asked to stop (Ctrl-C, SIGTERM) after its step ``step`` was checkpointed."""
    if main:
        print(f"\nssmem train: stopped after step {step}, checkpoint written; continue with --resume", file=sys.stderr)
    raise KeyboardInterrupt


def _check_best_weights(run_dir: Path, best_file: Path, best_step: int, main: bool) -> None:
    """Before a resumed run trains on: its best weights load (a damaged file is named now, not after training),
    or, when they are gone, the test will use the final weights unless a later evaluation beats step
    ``best_step`` (a warning)."""
    if not best_file.exists():
        if main:
            print(f"ssmem train: warning: {best_file} (the best weights, step {best_step}) is missing: unless a "
                  "later evaluation beats it, the test uses the final weights", file=sys.stderr)
        return
    try:
        load_checkpoint(best_file)
    except CheckpointError as err:
        raise CheckpointError(f"cannot resume {run_dir}: {str(err).rstrip('.')}. Remove it to resume anyway (the test then uses the "
                              f"final weights unless a later evaluation beats step {best_step}).") from None


def _check_resume_without_checkpoint(run_dir: Path, cfg: RunConfig) -> None:
    """``--resume`` found no checkpoint: the run starts over, unless that would replace a finished run or one
    with another configuration."""
    if (run_dir / RESULT_FILE).exists():
        raise CheckpointError(
            f"cannot resume {run_dir}: it holds a finished run ({RESULT_FILE}) but no checkpoint to resume from; "
            "choose another run directory (nothing was changed)"
        )
    config_path = run_dir / CONFIG_FILE
    if config_path.exists():
        try:
            saved = read_yaml(config_path)
        except ConfigError as err:
            raise CheckpointError(f"cannot resume {run_dir}: {err}") from None
        if not isinstance(saved, dict):
            raise CheckpointError(f"cannot resume {run_dir}: {config_path} does not hold a run configuration")
        _check_same_run(run_dir, cfg, saved, CONFIG_FILE)


class RunDirectoryError(ValueError):
    """A run directory holds something a new run must not replace: an earlier run, or files ssmem did not write."""


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")  # atomic_open's, left by a kill


def run_file_names(callbacks: Sequence[Any] = ()) -> tuple[str, ...]:
    """The names of the files ssmem writes at the top of a run directory, with those of ``callbacks`` (their
    ``filename`` attribute, as the recorders have)."""
    names = [CONFIG_FILE, METRICS_FILE, PER_OUTPUT_FILE, RESULT_FILE, EigenvalueRecorder.filename, MemoryRecorder.filename]
    names += [cb.filename for cb in callbacks if isinstance(getattr(cb, "filename", None), str) and cb.filename]
    return tuple(dict.fromkeys(names))


def run_dir_contents(run_dir: str | Path, callbacks: Sequence[Any] = ()) -> tuple[list[Path], list[Path]]:
    """``(run files, others)`` in ``run_dir``: the files ssmem writes for a run (:func:`run_file_names`, step
    checkpoints and ``best.pt`` in ``checkpoints/``, TensorBoard event files in ``tb/``), and everything else but
    ``.lock`` and temporaries (a symbolic link always counts as something else)."""
    run_dir = Path(run_dir)
    own: list[Path] = []
    other: list[Path] = []
    if not run_dir.is_dir():
        return own, other
    names = set(run_file_names(callbacks))
    for entry in sorted(run_dir.iterdir()):
        if entry.name == LOCK_FILE or _is_temporary(entry.name):
            continue
        if entry.name == CHECKPOINT_DIR and entry.is_dir() and not entry.is_symlink():
            for inner in sorted(entry.iterdir()):
                if _is_temporary(inner.name):
                    continue
                mine = (is_checkpoint_name(inner.name) or inner.name == BEST_FILE) and inner.is_file()
                (own if mine and not inner.is_symlink() else other).append(inner)
        elif entry.name == TENSORBOARD_DIR and entry.is_dir() and not entry.is_symlink():
            for inner in sorted(entry.iterdir()):
                mine = inner.name.startswith(TENSORBOARD_EVENTS) and inner.is_file() and not inner.is_symlink()
                (own if mine else other).append(inner)
        elif entry.name in names and entry.is_file() and not entry.is_symlink():
            own.append(entry)
        else:
            other.append(entry)
    return own, other


def _listed(paths: list[Path], run_dir: Path, limit: int = 3) -> str:
    names = [str(p.relative_to(run_dir)) for p in paths]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _refuse_links(run_dir: Path, callbacks: Sequence[Any]) -> None:
    """Every path ssmem writes in ``run_dir`` is a file of its own, not a symbolic link to one elsewhere."""
    for name in (LOCK_FILE, CHECKPOINT_DIR, *run_file_names(callbacks)):
        refuse_symlink(run_dir / name)
    if (run_dir / CHECKPOINT_DIR).is_dir():
        refuse_symlink(run_dir / CHECKPOINT_DIR / BEST_FILE)
        for _, path in list_checkpoints(run_dir):
            refuse_symlink(path)


def _check_fresh_run_dir(run_dir: Path, callbacks: Sequence[Any], *, resume: bool, overwrite: bool,
                         main: bool) -> None:
    """A fresh run starts in a directory without an earlier run or files ssmem did not write; ``overwrite``
    removes an earlier run's files (only those) instead of refusing."""
    own, other = run_dir_contents(run_dir, callbacks)
    if overwrite:
        if main:
            for path in own:
                path.unlink(missing_ok=True)
        return
    if own and resume:
        raise RunDirectoryError(
            f"cannot resume {run_dir}: it holds files of a run ({_listed(own, run_dir)}) but neither a checkpoint nor "
            f"{CONFIG_FILE}; replace it (--overwrite instead of --resume) or choose another run directory (nothing "
            "was changed)")
    if own:
        raise RunDirectoryError(
            f"{run_dir} already holds a run; resume it (--resume), replace it (--overwrite), or choose another run "
            f"directory (it holds {_listed(own, run_dir)}; nothing was changed)")
    if other:
        raise RunDirectoryError(
            f"{run_dir} holds files ssmem did not write for a run ({_listed(other, run_dir)}); choose an empty or new "
            "run directory, or pass --overwrite to train there anyway (they are left in place; nothing was changed)")


# ----------------------------------------------------------------------------------------------- evaluation


def call_model(model: nn.Module, x: Any) -> torch.Tensor:
    """The model's output for a batch's inputs: a tensor, or a tuple the model takes as its arguments (two
    sequences of a pair task; a padded batch and its lengths)."""
    return model(*x) if isinstance(x, (tuple, list)) else model(x)


def evaluate(
    model: nn.Module,
    split: SplitLoader,
    info: TaskInfo,
    *,
    batch_size: int,
    device: torch.device,
    dist: distributed.DistInfo,
    max_batches: int | None = None,
) -> dict[str, float]:
    """Loss and metrics of ``model`` on a split (in order; shared across data-parallel ranks and summed)."""
    model.eval()
    sums = MetricSums.zeros(info).as_tensor().to(device)
    n = len(split.dataset)
    batches = eval_batches(n, batch_size, rank=dist.rank, world_size=dist.world_size, max_batches=max_batches)
    with torch.no_grad():
        for x, y in split(batches):
            x, y = to_device(x, device), to_device(y, device)
            sums += loss_and_sums(call_model(model, x), y, info)[2]
    return summarize(MetricSums.from_tensor(distributed.all_reduce_sum(sums, dist)), info)


# ----------------------------------------------------------------------------------------------- training


def train(
    cfg: RunConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
) -> TrainResult:
    """Train the model of ``cfg`` on its task, writing everything into ``run_dir``.

    ``resume=True`` continues from the newest checkpoint in ``run_dir`` (or starts afresh if there is none),
    with metrics identical to an uninterrupted run. Without it, a ``run_dir`` that already holds a run, or files
    ssmem did not write, is a :class:`RunDirectoryError`; ``overwrite=True`` replaces the earlier run instead (see
    the module's docstring). A non-finite loss stops the run with status ``"diverged"`` and keeps the last good
    checkpoint. Under ``torchrun`` every process calls this; rank 0 writes the files.
    """
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other: resume continues the run, overwrite replaces it")
    run_dir = Path(run_dir)
    cfg = config_from_dict(config_to_dict(cfg))  # a checked, private copy
    dist = distributed.setup(cfg.device)
    try:
        # one process writes a run directory at a time (two would interleave their metrics and checkpoints)
        busy = "wait for it to end, or choose another run directory (nothing was changed)"
        with exclusive_folder(run_dir, busy) if dist.is_main else contextlib.nullcontext():
            with tf32_policy(cfg.train.tf32):
                result = _train(cfg, run_dir, dist, resume=resume, overwrite=overwrite, callbacks=list(callbacks),
                                progress=progress)
    except BaseException:
        distributed.teardown(dist, clean=False)
        raise
    distributed.teardown(dist)
    return result


def _train(
    cfg: RunConfig,
    run_dir: Path,
    dist: distributed.DistInfo,
    *,
    resume: bool,
    overwrite: bool,
    callbacks: list[Callback],
    progress: bool,
) -> TrainResult:
    tune_for_device(dist.device)
    check_loggers_runnable(cfg.train.loggers)  # before the run directory is touched
    state, ckpt_path = _open_run_dir(cfg, run_dir, dist, callbacks, resume=resume, overwrite=overwrite)
    run = _Run(cfg, run_dir, dist, progress=progress)
    if state is not None:
        run.restore(state, ckpt_path)
    run.attach(callbacks)
    status, message = run.loop(progress=progress)
    return run.finish(status, message)


def _open_run_dir(cfg: RunConfig, run_dir: Path, dist: distributed.DistInfo, callbacks: list[Callback], *,
                  resume: bool, overwrite: bool) -> tuple[dict[str, Any] | None, Path | None]:
    """The run directory, fresh or resumed: ``(checkpoint state, its path)``, both None for a fresh start. Checks
    before writing anything; rank 0 then writes the config and cuts the metrics back to the checkpoint."""
    main, tc = dist.is_main, cfg.train
    recorders = [EigenvalueRecorder, MemoryRecorder]
    _refuse_links(run_dir, [*callbacks, *recorders])
    ckpt_path = latest_checkpoint(run_dir)
    if not (resume and (ckpt_path is not None or (run_dir / CONFIG_FILE).is_file())):  # a fresh start
        _check_fresh_run_dir(run_dir, [*callbacks, *recorders], resume=resume, overwrite=overwrite, main=main)
        ckpt_path = None
    state = load_checkpoint(ckpt_path) if (resume and ckpt_path is not None) else None
    if state is not None:
        _check_same_run(run_dir, cfg, state["config"], "the checkpoint")
        for recorder in recorders:  # read before anything is changed
            if (run_dir / recorder.filename).exists():
                read_recording(run_dir / recorder.filename)
        if state["best_step"] is not None:
            _check_best_weights(run_dir, run_dir / CHECKPOINT_DIR / BEST_FILE, int(state["best_step"]), main)
    elif resume:
        _check_resume_without_checkpoint(run_dir, cfg)
    distributed.barrier(dist)  # every process has looked at the directory before rank 0 writes into it
    if main:
        for folder in (run_dir, run_dir / CHECKPOINT_DIR):  # writes cut short by a kill (this process holds the lock)
            remove_leftover_temporaries(folder)
        (run_dir / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / CONFIG_FILE, config_to_yaml(cfg))
        if state is not None:
            for problem in _truncate_metrics(run_dir, int(state["step"]), tc.log_every):
                print(f"ssmem train: warning: {problem}", file=sys.stderr)
        else:  # a fresh start, or resumed before any checkpoint existed: no record of an earlier attempt stays
            for name in (METRICS_FILE, PER_OUTPUT_FILE, EigenvalueRecorder.filename, MemoryRecorder.filename):
                (run_dir / name).unlink(missing_ok=True)
            for events in (run_dir / TENSORBOARD_DIR).glob(TENSORBOARD_EVENTS + "*"):
                events.unlink(missing_ok=True)
    distributed.barrier(dist)
    if dist.enabled:  # every process must read rank 0's files (its checkpoints, its best weights)
        views = distributed.gather_objects(
            ((run_dir / CONFIG_FILE).is_file(), None if ckpt_path is None else ckpt_path.name), dist)
        if len(set(views)) > 1 or not views[0][0]:
            raise ValueError(f"the processes do not see one run directory {run_dir} (rank: config.yaml found, "
                             f"newest checkpoint: {dict(enumerate(views))}); under data parallel it must be a "
                             "folder every process shares (one machine, or a shared file system)")
    return state, ckpt_path


class _Run:
    """One training run once its directory is settled: the task, the model and optimiser, the schedule, and where
    training stands (step, best validation metric, the training sums since the last log line)."""

    def __init__(self, cfg: RunConfig, run_dir: Path, dist: distributed.DistInfo, *, progress: bool) -> None:
        self.cfg, self.run_dir, self.dist = cfg, run_dir, dist
        self.device, self.main, tc = dist.device, dist.is_main, cfg.train
        with data_progress(progress and self.main):
            data = build_task(cfg.task.name, task_params(cfg.task), seed=cfg.seed, data_dir=cfg.task.data_dir)
        self.info = info = data.info
        check_task_metric(info)
        from ..ssm import count_parameters

        self.model = distributed.sync_batch_norm(build_model(cfg.model, info, seed=cfg.seed, device=self.device), dist)
        fit_forecast_skip(self.model, data)  # a resumed run's checkpoint then replaces the fit
        self.counts = count_parameters(self.model)
        self.optimizer, _ = optimizer_from_config(self.model, cfg.optim)
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        # the learning rate logged is the main group's (load_state_dict replaces the group dicts: keep the index)
        self.main_group = next((i for i, g in enumerate(self.optimizer.param_groups) if g.get("name") == "main"), 0)
        self.net: nn.Module = self.model
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model, device_ids=[self.device] if self.device.type == "cuda" else None)
        # dropout draws from the global RNG: seeded per rank (rank 0 = the single-process stream)
        torch.manual_seed(cfg.seed + 1_000_003 * dist.rank)

        self.n_train = len(data.train)
        self.per_epoch = steps_per_epoch(self.n_train, tc.batch_size, drop_last=tc.drop_last or dist.enabled)
        self.total = tc.max_steps if tc.max_steps is not None else tc.epochs * self.per_epoch
        if self.main:
            for warning in _schedule_warnings(tc, cfg.optim, self.n_train, self.per_epoch, self.total, dist):
                print(f"ssmem train: warning: {warning}", file=sys.stderr)
        self.eval_every = tc.eval_every or self.per_epoch
        self.checkpoint_every = tc.checkpoint_every or self.eval_every
        self.eval_bs = tc.eval_batch_size or tc.batch_size
        self.metric = info.metric
        self.better = higher_is_better(self.metric)
        self.splits = {name: SplitLoader(getattr(data, name), num_workers=tc.num_workers, device=self.device)
                       for name in ("train", "val", "test")}

        self.step, self.elapsed_before = 0, 0.0
        self.last_train: dict[str, float] = {}
        self.last_val: dict[str, float] = {}
        self.best_metric: float | None = None
        self.best_step: int | None = None
        self.train_sums = self._zero_sums()  # training metrics since the last log line
        self.scaler = grad_scaler(tc.precision, self.device)
        self.callbacks: list[Callback] = []
        self.loggers: list[Callback] = []
        self.session_start = time.perf_counter()

    def _zero_sums(self) -> torch.Tensor:
        return MetricSums.zeros(self.info).as_tensor().to(self.device)

    def restore(self, state: dict[str, Any], ckpt_path: Path) -> None:
        """Continue from a checkpoint: weights, optimiser and loss scale, random states, and where training stood."""
        dist = self.dist
        saved_per_epoch = state.get("steps_per_epoch")
        if saved_per_epoch is not None and int(saved_per_epoch) != self.per_epoch:
            raise CheckpointError(
                f"{ckpt_path} was written by {state.get('world_size', '?')} process(es) with {saved_per_epoch} steps "
                f"an epoch; {dist.world_size} process(es) make {self.per_epoch} (data parallel drops each epoch's "
                f"partial batch), which would change the batches and the schedule: resume with "
                f"{state.get('world_size', 'the same number of')} process(es) (or start a new run with "
                "train.drop_last=true, whose epochs do not depend on the process count)"
            )
        load_model_weights(self.model, state["model"], ckpt_path)
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        rngs = state.get("rng_ranks")
        if rngs is not None and len(rngs) == dist.world_size:
            set_rng_state(rngs[dist.rank])
        elif dist.is_main:
            set_rng_state(state["rng"])
        else:  # another number of ranks than the checkpoint's: fresh streams for the other ranks
            torch.manual_seed(self.cfg.seed + 1_000_003 * dist.rank + self.step)
        self.elapsed_before = float(state["elapsed"])
        self.best_metric, self.best_step = state["best_metric"], state["best_step"]
        # the checkpoint holds the sums over every rank: rank 0 carries them on, the others start from zero
        if dist.is_main:
            self.train_sums = state["train_sums"].to(device=self.device, dtype=torch.float64)
        if "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.last_train, self.last_val = dict(state["last_train"]), dict(state["last_val"])
        if self.main:
            print(f"resuming {self.run_dir} from step {self.step} ({ckpt_path.name})", file=sys.stderr)

    def attach(self, callbacks: list[Callback]) -> None:
        """The caller's callbacks, the recorders the config asks for, then the loggers (which see their records)."""
        tc = self.cfg.train
        self.callbacks = list(callbacks)
        if tc.record_eigenvalues_every:
            self.callbacks.append(EigenvalueRecorder(tc.record_eigenvalues_every))
        if tc.record_memory_every:
            self.callbacks.append(MemoryRecorder(tc.record_memory_every, horizon=tc.memory_horizon))
        recorded = [cb for cb in self.callbacks if isinstance(cb, (EigenvalueRecorder, MemoryRecorder))]
        self.loggers = make_loggers(tc.loggers, self.run_dir, recorders=recorded) if self.main else []
        self.callbacks += self.loggers

    # ---- what the loop uses

    def now(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.session_start

    def context(self, split: str | None = None, metrics: dict[str, float] | None = None) -> CallbackContext:
        return CallbackContext(self.step, self.step // self.per_epoch, self.model, self.run_dir, self.info, self.cfg,
                               split, dict(metrics or {}))

    def fire(self, hook: str, ctx: CallbackContext) -> None:
        if self.main:
            for cb in self.callbacks:
                getattr(cb, hook)(ctx)

    def log(self, split: str, values: dict[str, float], **extra: Any) -> None:
        lr = self.optimizer.param_groups[self.main_group]["lr"]
        row = {"step": self.step, "split": split, "epoch": self.step / self.per_epoch, "lr": lr, "time": self.now(),
               **values, **extra}
        for logger in self.loggers:
            logger.write(row)

    def checkpoint(self) -> None:
        # collectives first, on every rank: the training sums of all ranks, and each rank's random state
        sums_all = distributed.all_reduce_sum(self.train_sums, self.dist).cpu()
        rngs = distributed.gather_objects(rng_state(), self.dist)
        if self.main:
            save_checkpoint(self.run_dir, self.step, {
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "rng": rngs[0],
                "rng_ranks": rngs, "config": config_to_dict(self.cfg), "elapsed": self.now(),
                "best_metric": self.best_metric, "best_step": self.best_step, "train_sums": sums_all,
                "last_train": self.last_train, "last_val": self.last_val, "steps_per_epoch": self.per_epoch,
                "world_size": self.dist.world_size,
                **({"scaler": self.scaler.state_dict()} if self.scaler.is_enabled() else {}),
            }, keep=self.cfg.train.keep_checkpoints)

    def train_step(self, x: Any, y: Any, guard: DivergenceGuard) -> None:
        """One optimiser step on the batch ``(x, y)``; its sums join ``train_sums`` (no host read)."""
        oc, tc, dist = self.cfg.optim, self.cfg.train, self.dist
        self.net.train()
        factor = lr_factor(self.step, total_steps=self.total, warmup_steps=oc.warmup_steps, schedule=oc.schedule,
                           min_ratio=oc.min_lr_ratio)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor
        x, y = to_device(x, self.device), to_device(y, self.device)
        with autocast(tc.precision, self.device):
            loss_sum, count, sums = loss_and_sums(call_model(self.net, x), y, self.info)
        # mean over the global batch: DDP averages gradients over ranks, hence the factor world_size
        global_count = distributed.all_reduce_sum(count.detach(), dist).clamp_min(1.0)
        loss = loss_sum * (dist.world_size / global_count)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        parameters = list(self.model.parameters())
        if oc.grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(parameters, oc.grad_clip)
        else:
            norm = gradient_norm([p.grad for p in parameters if p.grad is not None])
        # (the loss summed over the ranks: inf and nan survive a sum, and every rank names the same value)
        total_loss = distributed.all_reduce_sum(sums[:1], dist)[0]
        guard.watch(self.step + 1, total_loss, norm, check_norm=not self.scaler.is_enabled())
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step += 1
        self.train_sums += sums

    def validate(self) -> None:
        """Evaluate on the validation split; keep the weights if they are the best so far."""
        distributed.broadcast_buffers(self.model, self.dist)  # evaluate the model rank 0 saves
        self.last_val = evaluate(self.model, self.splits["val"], self.info, batch_size=self.eval_bs, device=self.device,
                                 dist=self.dist, max_batches=self.cfg.train.max_eval_batches)
        self.log("val", self.last_val)
        value = self.last_val[self.metric]
        if math.isfinite(value) and (self.best_metric is None or
                                     (value > self.best_metric if self.better else value < self.best_metric)):
            self.best_metric, self.best_step = value, self.step
            if self.main:
                atomic_torch_save({"format": FORMAT, "step": self.step, "metric": value, "model": self.model.state_dict(),
                                   "config": config_to_dict(self.cfg)}, self.run_dir / CHECKPOINT_DIR / BEST_FILE)
        self.fire("on_eval", self.context("val", self.last_val))

    # ---- the loop

    def loop(self, *, progress: bool) -> tuple[str, str]:
        """Train to the last step: ``(status, message)``, status ``"completed"`` or ``"diverged"``."""
        tc, dist, total = self.cfg.train, self.dist, self.total
        self.fire("on_start", self.context())
        status, message = "completed", ""
        guard = DivergenceGuard(self.device)
        bar = None
        if progress and self.main:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=self.step, desc=self.cfg.task.name, unit="step", dynamic_ncols=True,
                       disable=None)
        # Ctrl-C (and SIGTERM under the ssmem command) ends the step in progress and checkpoints it first; a second
        # one stops at once. Not under data parallel: the ranks would see the signal at different steps.
        with stop_between_steps(not dist.enabled) as stop:
            while self.step < total and status == "completed":
                epoch, start = divmod(self.step, self.per_epoch)
                batches = train_batches(self.n_train, tc.batch_size, seed=self.cfg.seed, epoch=epoch, start=start,
                                        rank=dist.rank, world_size=dist.world_size, drop_last=tc.drop_last)
                for x, y in self.splits["train"](batches):
                    self.train_step(x, y, guard)
                    step = self.step
                    logs = step % tc.log_every == 0 or step == total
                    if logs or step % self.eval_every == 0 or step % self.checkpoint_every == 0 or stop.requested:
                        # the one host read of the step: the guard, and the training sums when logging
                        reduced = distributed.all_reduce_sum(self.train_sums, dist) if logs else self.train_sums[:0]
                        fault, sums_read = guard.read_with(reduced)
                        if fault is not None:
                            status, message = "diverged", fault.message(dist.enabled)
                            self.step = fault.step - 1
                            break
                        if logs:
                            self.last_train = summarize(MetricSums.from_values(sums_read), self.info)
                            self.log("train", self.last_train)
                            self.train_sums = self._zero_sums()
                            if bar is not None:
                                bar.set_postfix({"loss": f"{self.last_train['loss']:.4g}",
                                                 self.metric: f"{self.last_train.get(self.metric, math.nan):.4g}"})
                    self.fire("on_step", self.context())
                    if step % self.eval_every == 0 or step == total:
                        self.validate()
                    if step % self.checkpoint_every == 0 or step == total or stop.requested:
                        self.checkpoint()  # (Ctrl-C / SIGTERM during this step: keep it, then stop)
                    if bar is not None:
                        bar.update(1)
                    if step >= total:
                        break
                    if stop.requested:
                        _stopped(step, self.main)
            if stop.requested and status == "completed":  # asked during the last step: it is checkpointed, stop
                _stopped(self.step, self.main)
        if bar is not None:
            bar.close()
        self.fire("on_end", self.context())
        return status, message

    def finish(self, status: str, message: str) -> TrainResult:
        """Test the final and the best weights, write ``result.json``, close the loggers."""
        flat = {f"train/{k}": v for k, v in self.last_train.items()}
        flat.update({f"val/{k}": v for k, v in self.last_val.items()})
        test_metric = final_test = None
        if status == "diverged":
            last = latest_checkpoint(self.run_dir)
            where = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
            message = f"{message}; training stopped ({where})"
            if self.main:
                print(f"ssmem train: {message}", file=sys.stderr)
        else:
            test_metrics, message = self._test(message)
            final_test, test_metric = test_metrics["final"][self.metric], test_metrics["reported"][self.metric]
            flat.update({f"test/{k}": v for k, v in test_metrics["reported"].items()})
            self.fire("on_eval", self.context("test", test_metrics["reported"]))
        counts = self.counts
        result = TrainResult(
            run_dir=str(self.run_dir), status=status, steps=self.step, epochs=self.step / self.per_epoch,
            metric=self.metric, higher_is_better=self.better, final_val_metric=self.last_val.get(self.metric),
            best_val_metric=self.best_metric, best_step=self.best_step, test_metric=test_metric,
            final_test_metric=final_test,
            param_counts=to_plain(counts) if dataclasses.is_dataclass(counts) else dict(counts),
            wall_time_s=self.now(), metrics=flat, message=message,
            baselines={str(k): float(v) for k, v in self.info.extra.get("baselines", {}).items()},
        )
        if self.main:
            atomic_write_text(self.run_dir / RESULT_FILE, json.dumps(_json_safe(result.to_dict()), indent=2) + "\n")
        for logger in self.loggers:
            logger.close()
        return result

    def _test(self, message: str) -> tuple[dict[str, dict[str, float]], str]:
        """The test metrics of the final weights and of those reported (the best, when they were kept)."""
        evaluate_test = dict(batch_size=self.eval_bs, device=self.device, dist=self.dist)
        final = evaluate(self.model, self.splits["test"], self.info, **evaluate_test)
        self.log("test", final, weights="final")
        reported = final
        best_file = self.run_dir / CHECKPOINT_DIR / BEST_FILE
        if self.best_step is not None and self.best_step != self.step and best_file.exists():
            load_model_weights(self.model, load_checkpoint(best_file)["model"], best_file)
            reported = evaluate(self.model, self.splits["test"], self.info, **evaluate_test)
            self.log("test", reported, weights="best", best_step=self.best_step)
        elif self.best_step is not None and self.best_step != self.step:  # removed while the run went on
            missing = (f"{best_file} (the best weights, step {self.best_step}) is missing: the test metric is the "
                       "final weights'")
            message = f"{message}; {missing}" if message else missing
            if self.main:
                print(f"ssmem train: {missing}", file=sys.stderr)
        return {"final": final, "reported": reported}, message


def load_result(run_dir: str | Path) -> TrainResult:
    """The :class:`TrainResult` saved in ``run_dir/result.json``."""
    data = json.loads((Path(run_dir) / RESULT_FILE).read_text(encoding="utf-8"))
    return TrainResult(**data)
