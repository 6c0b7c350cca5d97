"""Typed run configuration: model, task, optimiser and training sections, and ``key=value`` overrides.

A run is fully described by a :class:`RunConfig`. Recipes (YAML) and command-line overrides are turned into
one by :func:`config_from_dict` and :func:`apply_overrides`; both check every key and every value against the
dataclasses below, so a typo is an error that lists the valid keys instead of a silently ignored setting.
:func:`config_to_dict` gives the plain (YAML/JSON-safe) form saved as ``config.yaml`` and in checkpoints.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import re
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from collections.abc import Callable, Sequence
from typing import Any, Literal, Union

import yaml

from .._values import MAX_RUN_SEED

LayerName = Literal["s4d", "s4", "lru", "s5", "mamba", "linear-attention", "linear"]
# layers that take no eigenvalue set (model.init) and no freeze_fraction
OTHER_SSM_LAYERS = ("lru", "s5", "mamba", "linear-attention")
TrainMode = Literal["all", "reservoir", "readout"]
Architecture = Literal["auto", "classifier", "dual", "causal"]



LOGGER_NAMES = ("jsonl", "tensorboard")  # what train.loggers may hold (ssmem.train.loggers writes them)


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package (which ``torch.utils.tensorboard`` writes through) is importable."""
    return importlib.util.find_spec("tensorboard") is not None


def default_loggers() -> list[str]:
    """``["jsonl", "tensorboard"]`` when the tensorboard package is importable, else ``["jsonl"]``."""
    return ["jsonl", "tensorboard"] if tensorboard_available() else ["jsonl"]


def logger_problem(names: Sequence[str]) -> str | None:
    """What is wrong with ``train.loggers = names`` as written (None if nothing); the package check is
    :func:`check_loggers_runnable`'s, at the start of training."""
    unknown = [n for n in names if n not in LOGGER_NAMES]
    if unknown:
        return f"train.loggers: {unknown[0]!r} is not a logger; valid choices: {', '.join(LOGGER_NAMES)}"
    if "jsonl" not in names:
        return ("train.loggers must include jsonl: metrics.jsonl is what resuming, reports and sweeps read "
                f"(e.g. train.loggers=[jsonl,tensorboard]); got {list(names)}")
    return None

@dataclass
class ModelConfig:
    """The network: a stack of SSM blocks (PAPER.md §1) around an encoder and a decoder.

    ``architecture="auto"`` picks from the task: pairs → ``dual``, per-step targets → ``causal``, otherwise
    ``classifier`` (a pooled sequence model; also used for per-sequence regression). ``norm="auto"`` is layer
    norm for ``causal`` models (batch norm would mix time steps) and batch norm otherwise. ``init`` is an
    eigenvalue set name or file (``ssmem eigs``); the S4 layer always starts from HiPPO-LegS and ignores it.

    ``layer`` picks the SSM layer: ``s4d`` (the default), ``s4``, ``lru``, ``s5`` (one state shared by all
    channels), ``mamba`` (selective, input-dependent) or ``linear-attention`` (a running sum of k vᵀ, d_state key
    features). ``lru``, ``s5``, ``mamba`` and ``linear-attention`` are causal
    (``bidirectional=false``), have their own initialisations (``init`` and ``freeze_fraction`` are s4d-only),
    and ``d_state`` is the real state size (LRU, S5: d_state/2 complex modes; Mamba: states per inner channel;
    linear attention: key features, N·H states). LRU and linear attention ignore ``dt_min``, ``dt_max`` and
    ``discretization``; Mamba ignores ``discretization``.

    Forecasting tasks (``forecast/series``) also take ``layer="linear"`` (no SSM: one linear map from the
    lookback to the horizon per column, DLinear; ``linear_per_channel``, ``trend_kernel``), ``linear_skip``
    (that linear map beside the SSM, the two forecasts added, the SSM's output layer starting at zero), ``instance_norm``
    (``revin``: each window in its own per-column mean and std; ``revin-affine`` adds a learned scale and
    shift) and ``channels`` (``independent``: each target column its own univariate sequence through shared
    weights; ``mixed``: one model reads all columns; ``auto``: independent for the linear layer, else mixed).
    See :mod:`ssmem.ssm.forecaster`.
    """

    layer: LayerName = "s4d"
    d_model: int = 128
    n_layers: int = 4
    d_state: int = 64  # N, the real state size (N/2 complex modes)
    init: str = "s4d-inv"
    discretization: Literal["zoh", "bilinear"] = "zoh"
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    bidirectional: bool = False
    train: TrainMode = "all"
    freeze_fraction: float = 0.0
    norm: Literal["auto", "batch", "layer", "none"] = "auto"
    prenorm: bool = False
    dropout: float = 0.0
    pooling: Literal["mean", "last"] = "mean"
    architecture: Architecture = "auto"
    instance_norm: Literal["none", "revin", "revin-affine"] = "none"
    channels: Literal["auto", "mixed", "independent"] = "auto"
    linear_per_channel: bool = False
    trend_kernel: int = 0  # moving-average window of the linear layer's trend/remainder split (0 = no split)
    linear_skip: bool = False  # forecasting: the SSM forecast added to a linear one (ignored by layer=linear)


@dataclass
class TaskConfig:
    """A registered task (``ssmem.data.TASKS``) and its parameters (checked against its params dataclass)."""

    name: str = "memory/delay"
    params: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None  # where released data sets live (tasks that read files)


@dataclass
class OptimConfig:
    """AdamW with a separate SSM group (A, Δ, B: ``ssm_lr``, no weight decay), cosine schedule with warmup."""

    lr: float = 0.01
    weight_decay: float = 0.05
    ssm_lr: float = 1e-3
    warmup_steps: int = 0
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: float = 0.0  # the cosine decays to lr * min_lr_ratio
    grad_clip: float | None = None  # max global gradient norm; None = no clipping


@dataclass
class TrainConfig:
    """How long to train, how often to evaluate, log and checkpoint.

    The run lasts ``max_steps`` optimiser steps, or ``epochs`` passes over the training split when
    ``max_steps`` is None. ``eval_every`` / ``checkpoint_every`` None mean "at the end of every epoch" /
    "at every evaluation". ``batch_size`` is the global batch (split evenly across data-parallel ranks).
    """

    batch_size: int = 32
    eval_batch_size: int | None = None  # None = batch_size
    max_steps: int | None = None
    epochs: int = 1
    eval_every: int | None = None
    max_eval_batches: int | None = None  # cap the validation batches per evaluation (None = whole split)
    log_every: int = 50
    checkpoint_every: int | None = None
    keep_checkpoints: int = 2  # how many recent checkpoints to keep (the newest good one always survives)
    num_workers: int = 0
    drop_last: bool = True
    record_eigenvalues_every: int = 0  # > 0: save every SSM layer's discrete eigenvalues every this many steps
    record_memory_every: int = 0  # > 0: save the layers' memory functions every this many steps
    memory_horizon: int = 1024  # horizon T of the recorded memory functions
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # autocast of the blocks; the SSM kernels stay float32
    tf32: bool = False  # allow TF32 matmuls in the blocks (never in the SSM kernel)
    # where metric rows go: jsonl (always), tensorboard (event files in RUN_DIR/tb/; default when installed)
    loggers: list[str] = field(default_factory=default_loggers)


@dataclass
class RunConfig:
    """Everything that defines one training run. One ``seed`` controls data, initialisation and order."""

    description: str = ""
    seed: int = 0
    device: Literal["cpu", "cuda", "auto"] = "auto"
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


SECTIONS: dict[str, type] = {"model": ModelConfig, "task": TaskConfig, "optim": OptimConfig, "train": TrainConfig}


class ConfigError(ValueError):
    """A configuration key or value is invalid; the message names the key and the valid choices."""


# ----------------------------------------------------------------------------------------------- values


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if origin is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", str(tp))


# the plain types a config value must already have (bool is an int to Python, so int excludes it)
_EXACT: dict[Any, Callable[[Any], bool]] = {
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    str: lambda v: isinstance(v, str),
    type(None): lambda v: v is None,
}


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Return ``value`` checked (and minimally converted) against the type annotation ``tp``.

    Accepted conversions: int → float, list → tuple, str → Path, and a YAML-1.1 string such as "1e-3" → float.
    Anything else of the wrong type raises :class:`ConfigError` naming ``where`` and the expected type.
    """
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        return _coerce_literal(value, typing.get_args(tp), where)
    if origin in (Union, types.UnionType):
        return _coerce_union(value, tp, where)
    if origin in (tuple, list):
        return _coerce_sequence(value, tp, where)
    if tp is float:
        return _coerce_float(value, tp, where)
    if tp in _EXACT and _EXACT[tp](value):
        return value
    if origin is dict and isinstance(value, dict):
        return dict(value)
    if isinstance(tp, type) and tp not in _EXACT:
        if issubclass(tp, PurePath) and isinstance(value, (str, PurePath)):
            return tp(value)
        if isinstance(value, tp):
            return value
    raise _mismatch(value, tp, where)


def _mismatch(value: Any, tp: Any, where: str) -> ConfigError:
    return ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__})")


def _coerce_literal(value: Any, choices: tuple, where: str) -> Any:
    if any(value == a and type(value) is type(a) for a in choices):
        return value
    raise ConfigError(f"{where}: {value!r} is not one of {', '.join(repr(a) for a in choices)}")


def _coerce_float(value: Any, tp: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    raise _mismatch(value, tp, where)


def _coerce_union(value: Any, tp: Any, where: str) -> Any:
    """The first member of the union that takes ``value`` (None only where the union holds it)."""
    args = typing.get_args(tp)
    if value is None:
        if type(None) in args:
            return None
        raise _mismatch(value, tp, where)
    list_error = None
    for arg in args:
        if arg is type(None):
            continue
        try:
            return coerce(value, arg, where)
        except ConfigError as err:
            if typing.get_origin(arg) in (tuple, list) and not isinstance(value, (list, tuple)):
                list_error = err  # its text shows the list syntax, which the bare type name does not
    if list_error is not None:
        raise ConfigError(f"{list_error}; expected {_type_name(tp)}") from None
    raise _mismatch(value, tp, where)


def _coerce_sequence(value: Any, tp: Any, where: str) -> tuple | list:
    """A list or tuple annotation: ``tuple[X, ...]``, a fixed ``tuple[X, Y]``, or ``list[X]``, item by item."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if not isinstance(value, (list, tuple)):
        # a bare value is not taken as a one-item list: `a,b` would silently become one item named "a,b"
        example = value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else "x"
        raise ConfigError(
            f"{where} expects a list: write {where}=[{example}] or {where}=[a,b] (in YAML: [a, b]); "
            f"got {value!r} ({type(value).__name__})"
        )
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        if len(args) != len(value):
            raise _mismatch(value, tp, where)
        return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    item = args[0] if args else Any
    out = [coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    return tuple(out) if origin is tuple else out


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def dataclass_from_dict(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking every key and value (missing keys take defaults)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of {cls.__name__} fields, got {data!r}")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(names)}")
    values = {k: coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where or cls.__name__}: {err}") from None


def to_plain(obj: Any) -> Any:
    """Dataclasses → dicts, tuples → lists, paths → str: a YAML/JSON-safe copy."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if hasattr(obj, "__fspath__"):
        return str(obj)
    return obj


# ----------------------------------------------------------------------------------------------- configs


def task_params(task: TaskConfig) -> Any:
    """The task's parameters as an instance of its registered params dataclass (checked)."""
    from .._registry import UnknownNameError
    from ..data import TASKS

    try:
        spec = TASKS.get(task.name)
    except UnknownNameError as err:
        raise ConfigError(f"task.name: {err}") from None
    return dataclass_from_dict(spec.params_cls, task.params, "task.params")


def validate_config(cfg: RunConfig) -> RunConfig:
    """Check values that the types alone do not: positive sizes, known task and eigenvalue set, params."""

    def positive(value: Any, where: str, allow_none: bool = False) -> None:
        if value is None and allow_none:
            return
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{where} must be positive and finite, got {value!r}")

    m, o, t = cfg.model, cfg.optim, cfg.train
    if not 0 <= cfg.seed <= MAX_RUN_SEED:
        raise ConfigError(f"seed must lie in 0..{MAX_RUN_SEED} (layer i is seeded with seed·1000 + i, a 64-bit "
                          f"torch seed), got {cfg.seed}")
    positive(m.d_model, "model.d_model")
    positive(m.n_layers, "model.n_layers")
    positive(m.d_state, "model.d_state")
    if m.d_state % 2:
        raise ConfigError(f"model.d_state is the real state size N and must be even, got {m.d_state}")
    positive(m.dt_min, "model.dt_min")
    positive(m.dt_max, "model.dt_max")
    if m.dt_max < m.dt_min:
        raise ConfigError(f"model.dt_max ({m.dt_max}) must be >= model.dt_min ({m.dt_min})")
    if not 0.0 <= m.freeze_fraction <= 1.0:
        raise ConfigError(f"model.freeze_fraction must lie in [0, 1], got {m.freeze_fraction}")
    if m.freeze_fraction > 0 and m.train != "all":
        raise ConfigError("model.freeze_fraction applies to model.train=all only")
    if not 0.0 <= m.dropout < 1.0:
        raise ConfigError(f"model.dropout must lie in [0, 1), got {m.dropout}")
    if m.layer == "s4d":
        from ..eigs import resolve_set

        try:
            resolve_set(m.init)
        except (KeyError, ValueError, FileNotFoundError, OSError) as err:
            raise ConfigError(f"model.init: {err}") from None
    elif m.layer == "s4" and m.init not in (ModelConfig.init, "s4d-legs"):
        warnings.warn(f"model.init={m.init!r} is ignored with model.layer=s4 (the S4 layer always starts from "
                      "HiPPO-LegS; use model.layer=s4d for other eigenvalue sets)", UserWarning, stacklevel=2)
    elif m.layer in OTHER_SSM_LAYERS and m.init != ModelConfig.init:
        warnings.warn(f"model.init={m.init!r} is ignored with model.layer={m.layer} (the layer has its own "
                      "initialisation; use model.layer=s4d for eigenvalue sets)", UserWarning, stacklevel=2)
    if m.layer in OTHER_SSM_LAYERS:
        if m.freeze_fraction > 0:
            raise ConfigError(f"model.freeze_fraction is supported by the s4d layer only (model.layer={m.layer})")
        if m.bidirectional:
            raise ConfigError(f"model.layer={m.layer} is causal: set model.bidirectional=false (or use s4d or s4)")
        if m.layer != "s5" and m.discretization != ModelConfig.discretization:
            warnings.warn(f"model.discretization={m.discretization!r} is ignored with model.layer={m.layer} (its "
                          "discretisation is fixed)", UserWarning, stacklevel=2)
    if m.layer in ("mamba", "linear-attention") and (t.record_eigenvalues_every or t.record_memory_every):
        what = "input-dependent eigenvalues" if m.layer == "mamba" else "no eigenvalues (its transition is the identity)"
        raise ConfigError(f"model.layer={m.layer} has {what}: train.record_eigenvalues_every and "
                          "train.record_memory_every must be 0")
    if m.trend_kernel < 0:
        raise ConfigError(f"model.trend_kernel must be >= 0 (0 = no trend/remainder split), got {m.trend_kernel}")
    if m.layer != "linear" and not m.linear_skip and (m.linear_per_channel or m.trend_kernel):
        raise ConfigError("model.linear_per_channel and model.trend_kernel apply to a linear map: model.layer=linear "
                          "or model.linear_skip=true")
    if m.layer == "linear" and m.channels == "mixed":
        raise ConfigError("model.layer=linear forecasts each column from its own past: set model.channels=independent "
                          "or auto")
    positive(o.lr, "optim.lr")
    positive(o.ssm_lr, "optim.ssm_lr")
    if not (math.isfinite(o.weight_decay) and o.weight_decay >= 0):
        raise ConfigError(f"optim.weight_decay must be >= 0 and finite, got {o.weight_decay}")
    if not 0.0 <= o.min_lr_ratio <= 1.0:  # outside, the cosine would climb or turn the learning rate negative
        raise ConfigError(f"optim.min_lr_ratio must lie in [0, 1] (the final learning rate as a fraction of optim.lr), "
                          f"got {o.min_lr_ratio}")
    if o.warmup_steps < 0:
        raise ConfigError(f"optim.warmup_steps must be >= 0, got {o.warmup_steps}")
    positive(o.grad_clip, "optim.grad_clip", allow_none=True)
    positive(t.batch_size, "train.batch_size")
    positive(t.eval_batch_size, "train.eval_batch_size", allow_none=True)
    positive(t.max_steps, "train.max_steps", allow_none=True)
    positive(t.epochs, "train.epochs")
    positive(t.eval_every, "train.eval_every", allow_none=True)
    positive(t.max_eval_batches, "train.max_eval_batches", allow_none=True)
    positive(t.log_every, "train.log_every")
    positive(t.checkpoint_every, "train.checkpoint_every", allow_none=True)
    positive(t.keep_checkpoints, "train.keep_checkpoints")
    positive(t.memory_horizon, "train.memory_horizon")
    if logger_problem(t.loggers) is not None:
        raise ConfigError(logger_problem(t.loggers))
    for key in ("num_workers", "record_eigenvalues_every", "record_memory_every"):
        if getattr(t, key) < 0:
            raise ConfigError(f"train.{key} must be >= 0, got {getattr(t, key)}")
    params = task_params(cfg.task)  # unknown task / bad params raise here
    cfg.task.params = to_plain(params)
    return cfg




def config_from_dict(data: dict[str, Any], *, validate: bool = True) -> RunConfig:
    """Build a :class:`RunConfig` from its plain form (a recipe or a saved ``config.yaml``)."""
    if not isinstance(data, dict):
        raise ConfigError(f"a run configuration is a mapping with keys {', '.join(_run_keys())}, got {data!r}")
    data = with_absolute_paths(data)
    unknown = [k for k in data if k not in _run_keys()]
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}; valid keys: {', '.join(_run_keys())}")
    sections = {name: dataclass_from_dict(cls, data.get(name), name) for name, cls in SECTIONS.items()}
    top = {k: data[k] for k in ("seed", "device", "description") if k in data}
    if top.get("description") is None:  # an empty `description:` keeps the default
        top.pop("description", None)
    hints = _hints(RunConfig)
    top = {k: coerce(v, hints[k], k) for k, v in top.items()}
    cfg = RunConfig(**sections, **top)
    return validate_config(cfg) if validate else cfg


def with_absolute_paths(plain: dict[str, Any]) -> dict[str, Any]:
    """A plain configuration with its relative file paths made absolute, so that a saved ``config.yaml`` works
    from any directory (resume, sample, report); also how a resume reads configurations saved before paths were
    stored absolute. Paths: an eigenvalue file named by ``model.init``, ``task.data_dir``, the task parameters
    ``release_dir`` and ``cache_dir``, and a ``corpus`` (each ``+``-joined part) or ``series`` that names an
    existing file or folder rather than a shipped data set."""
    from ..data._paths import absolute, with_absolute_data_paths

    out = dict(plain)
    for section, name, must_be_file in (("model", "init", True), ("task", "data_dir", False)):
        part = out.get(section)
        value = part.get(name) if isinstance(part, dict) else None
        if not isinstance(value, str) or not value:
            continue
        if must_be_file and not (os.path.splitext(value)[1] and os.path.isfile(os.path.expanduser(value))):
            continue  # a set's name, not a file
        out[section] = {**part, name: absolute(value)}
    task = out.get("task")
    params = task.get("params") if isinstance(task, dict) else None
    if isinstance(params, dict):
        out["task"] = {**task, "params": with_absolute_data_paths(params)}
    return out


def _run_keys() -> list[str]:
    return [f.name for f in dataclasses.fields(RunConfig)]


def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    """The plain (YAML/JSON-safe) form of ``cfg``; ``config_from_dict`` inverts it."""
    return to_plain(cfg)


def config_to_yaml(cfg: RunConfig) -> str:
    """The plain form of ``cfg`` as YAML, sections in their declared order (what ``config.yaml`` holds)."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may override on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise ConfigError(f"line {line}: key {key!r} is given twice in one mapping (first on line "
                                      f"{seen[key]}); keep one")
            except TypeError:  # an unhashable key: the base loader names it
                break
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml_text(text: str) -> Any:
    """``text`` read with the safe YAML loader, a key given twice in one mapping refused (:class:`ConfigError`
    naming its line); YAML errors propagate as ``yaml.YAMLError``."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def parse_override(text: str) -> tuple[str, Any]:
    """``"model.d_model=64"`` → ``("model.d_model", 64)``: the value is read as YAML (a scalar or a list), and a
    number in exponent form without a dot (``1e-05``, which YAML 1.1 reads as text) as the float it means."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value (e.g. model.init=s4d-lin)")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"override {text!r}: the value is not valid YAML ({err})") from None
    if isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(value.strip()):
        value = float(value)
    return key, value


_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``key=value`` overrides to the plain form of a config (checked later by ``config_from_dict``).

    Keys are ``seed``, ``device``, ``SECTION.KEY`` (sections: model, task, optim, train) and
    ``task.params.KEY``. Unknown sections / keys raise :class:`ConfigError` listing the valid ones
    (``task.params`` keys are checked against the task's params dataclass).
    """
    import copy

    data = copy.deepcopy(data)
    parsed = [(text, key.split("."), value) for text in overrides for key, value in [parse_override(text)]]
    # a change of task comes first: it drops the recipe's task parameters, not the ones given beside it
    parsed.sort(key=lambda item: item[1][:2] != ["task", "name"])
    for text, path, value in parsed:
        head = path[0]
        if head not in _run_keys():
            raise ConfigError(f"override {text!r}: unknown key {head!r}; valid keys: {', '.join(_run_keys())}")
        if head not in SECTIONS:
            if len(path) != 1:
                raise ConfigError(f"override {text!r}: {head!r} has no sub-keys")
            data[head] = value
            continue
        if len(path) == 1:
            raise ConfigError(f"override {text!r}: name a key of section {head!r}, e.g. {head}.KEY=VALUE")
        names = [f.name for f in dataclasses.fields(SECTIONS[head])]
        if path[1] not in names:
            raise ConfigError(f"override {text!r}: unknown key {path[1]!r} in {head}; valid keys: {', '.join(names)}")
        section = data.setdefault(head, {}) or {}
        if not isinstance(section, dict):
            raise ConfigError(f"override {text!r}: section {head!r} must be a mapping of keys, got {section!r}")
        data[head] = section
        if head == "task" and path[1] == "params" and len(path) > 1:
            params = section.setdefault("params", {}) or {}
            if not isinstance(params, dict):
                raise ConfigError(f"override {text!r}: task.params must be a mapping of keys, got {params!r}")
            section["params"] = params
            if len(path) != 3:
                raise ConfigError(f"override {text!r}: use task.params.KEY=VALUE")
            params[path[2]] = value
            continue
        if len(path) != 2:
            raise ConfigError(f"override {text!r}: {head}.{path[1]} has no sub-keys")
        if head == "task" and path[1] == "name" and section.get("name") != value:
            section["params"] = {}  # another task's parameters do not carry over
        section[path[1]] = value
    return data
