"""From a configuration to objects: the model for a task, and the optimiser with its SSM group."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..data.task import TaskInfo
from ..ssm import freeze_readout_kernels
from .config import ConfigError, ModelConfig, OptimConfig


def architecture_for(cfg: ModelConfig, info: TaskInfo) -> str:
    """The model family: ``cfg.architecture``, or for ``auto``: pairs → dual, per-step → causal, else classifier."""
    arch = cfg.architecture
    if arch == "auto":
        arch = "dual" if info.pairs else "causal" if info.per_step else "classifier"
    if info.per_step and arch != "causal":
        raise ConfigError(f"the task has per-step targets, which need model.architecture=causal (got {arch!r})")
    if not info.per_step and arch == "causal":
        raise ConfigError("model.architecture=causal needs a task with per-step targets")
    if info.pairs != (arch == "dual"):
        fits = "dual" if info.pairs else "classifier"
        raise ConfigError(f"model.architecture={arch!r} does not fit a task with pairs={info.pairs}; use "
                          f"model.architecture={fits} or auto")
    if arch == "causal" and cfg.bidirectional:
        raise ConfigError("a per-step (causal) task needs unidirectional layers: set model.bidirectional=false")
    if arch == "causal" and cfg.norm == "batch":
        raise ConfigError("a per-step (causal) model cannot use batch norm (it mixes time steps): set model.norm=layer or none")
    return arch


def norm_for(cfg: ModelConfig, arch: str) -> str:
    """The blocks' norm: ``cfg.norm``, or for ``auto``: layer norm in a causal model, batch norm otherwise."""
    if cfg.norm == "auto":
        return "layer" if arch == "causal" else "batch"
    return cfg.norm


def layer_seed(seed: int, index: int) -> int:
    """The seed of SSM layer ``index`` in a model built with ``seed`` (distinct per layer)."""
    return int(seed) * 1000 + int(index)


def build_model(cfg: ModelConfig, info: TaskInfo, *, seed: int, device: torch.device | str | None = None) -> nn.Module:
    """The network of ``cfg`` for a task described by ``info``, initialised from ``seed`` alone.

    SSM layer i is seeded with :func:`layer_seed`; every other weight (encoder, GLU mixers, decoder) is drawn
    from a forked global RNG seeded with ``seed``, so building a model never disturbs the caller's RNG.
    Input ``(B, L)`` tokens or ``(B, L, d_input)``; output ``(B, d_output)`` (classifier, dual) or
    ``(B, L, d_output)`` (causal).
    """
    from ..ssm import LRU, S4Dense, S4D, S5, CausalSequenceModel, LinearAttention, Mamba, DualSequenceClassifier, SequenceClassifier

    arch = architecture_for(cfg, info)

    def make_layer(i: int) -> nn.Module:
        common: dict[str, Any] = dict(
            discretization=cfg.discretization,
            dt_min=cfg.dt_min,
            dt_max=cfg.dt_max,
            bidirectional=cfg.bidirectional,
            train=cfg.train,
            seed=layer_seed(seed, i),
        )
        if cfg.layer == "s4d":
            return S4D(cfg.d_model, cfg.d_state, init=cfg.init, freeze_fraction=cfg.freeze_fraction, **common)
        if cfg.freeze_fraction > 0:
            raise ConfigError("model.freeze_fraction is supported by the s4d layer only")
        if cfg.layer == "s4":
            return S4Dense(cfg.d_model, cfg.d_state, **common)
        if cfg.layer == "s5":
            return S5(cfg.d_model, cfg.d_state, **common)
        del common["discretization"]
        if cfg.layer == "mamba":
            return Mamba(cfg.d_model, cfg.d_state, **common)
        if cfg.layer == "linear-attention":
            return LinearAttention(cfg.d_model, cfg.d_state, train=cfg.train, seed=common["seed"])
        if cfg.layer == "lru":
            return LRU(cfg.d_model, cfg.d_state, bidirectional=cfg.bidirectional, train=cfg.train, seed=common["seed"])
        raise ConfigError(f"model.layer={cfg.layer!r} has no SSM layer to build")

    io = dict(d_output=info.d_output, d_input=info.d_input, vocab_size=info.vocab_size)
    body = dict(d_model=cfg.d_model, n_layers=cfg.n_layers, make_layer=make_layer, norm=norm_for(cfg, arch), prenorm=cfg.prenorm, dropout=cfg.dropout)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if _is_forecaster(cfg):
            model = _forecaster(cfg, info, arch, body)
        elif arch == "causal":
            model = CausalSequenceModel(**io, **body)
        elif arch == "dual":
            model = DualSequenceClassifier(**io, **body, pooling=cfg.pooling)
        else:
            model = SequenceClassifier(**io, **body, pooling=cfg.pooling)
    model = model.to(device) if device is not None else model
    if cfg.train == "readout":  # A, Δ, B, C never change: each layer's kernel is computed once, here
        freeze_readout_kernels(model, info.seq_len)
    return model


def _is_forecaster(cfg: ModelConfig) -> bool:
    """The model needs :class:`ssmem.ssm.forecaster.Forecaster` (a plain classifier serves the other settings)."""
    return cfg.layer == "linear" or cfg.linear_skip or cfg.instance_norm != "none" or cfg.channels == "independent"


def _forecaster(cfg: ModelConfig, info: TaskInfo, arch: str, body: dict[str, Any]) -> nn.Module:
    """The forecasting model of ``cfg`` (linear layer, instance normalisation, channel independence)."""
    from ..ssm import SequenceClassifier
    from ..ssm.forecaster import ColumnwiseModel, Forecaster, LinearForecaster, zero_output_layer

    horizon, target_index = info.extra.get("horizon"), info.extra.get("target_index")
    if horizon is None or not target_index or arch != "classifier" or info.vocab_size is not None:
        raise ConfigError("model.layer=linear, model.linear_skip, model.instance_norm and model.channels=independent apply to forecasting "
                          "tasks (forecast/series), whose windows hold real-valued columns and targets")
    channels = cfg.channels if cfg.channels != "auto" else "independent" if cfg.layer == "linear" else "mixed"
    n_targets = len(target_index)
    def linear() -> LinearForecaster:
        return LinearForecaster(info.seq_len, horizon, n_targets, per_channel=cfg.linear_per_channel, trend_kernel=cfg.trend_kernel)

    skip = None
    if cfg.layer == "linear":
        core: nn.Module = linear()
    elif channels == "independent":
        core = ColumnwiseModel(SequenceClassifier(d_output=horizon, d_input=1, **body, pooling=cfg.pooling))
    else:
        core = SequenceClassifier(d_output=horizon * n_targets, d_input=info.d_input, **body, pooling=cfg.pooling)
    if cfg.linear_skip and cfg.layer != "linear":
        skip = linear().requires_grad_(False)  # fitted in closed form before training (fit_forecast_skip)
        zero_output_layer(core)  # training starts from the linear forecast
    return Forecaster(core, horizon=horizon, target_index=target_index, n_columns=info.d_input, channels=channels,
                      instance_norm=cfg.instance_norm, skip=skip)


def fit_forecast_skip(model: nn.Module, data) -> float | None:
    """Fit a forecaster's linear skip (``model.linear_skip``) in closed form on every training window, its
    ridge chosen on the validation windows among the closed-form baseline's candidates
    (:meth:`ssmem.ssm.forecaster.Forecaster.fit_skip`): training starts from the forecast of the ``linear`` baseline
    and the skip stays there (it is frozen). Returns the ridge, or None for a model without a skip."""
    from ..data.forecast import LINEAR_RIDGES
    from ..ssm.forecaster import Forecaster

    if not isinstance(model, Forecaster) or model.skip is None:
        return None

    device = model.skip.weight.device
    windows = [tensor.to(device) for split in (data.train, data.val) for tensor in split.every_window()]
    was_training = model.training
    model.eval()
    try:
        return model.fit_skip(*windows, ridges=LINEAR_RIDGES)
    finally:
        model.train(was_training)


def optimizer_from_config(model: nn.Module, cfg: OptimConfig) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW with the SSM group (A, Δ, B at ``ssm_lr``, no weight decay) and the rest at ``lr``, from a run's
    optimiser settings (:func:`ssmem.ssm.build_optimizer` takes the numbers themselves)."""
    from ..ssm import build_optimizer as ssm_build_optimizer

    return ssm_build_optimizer(model, lr=cfg.lr, weight_decay=cfg.weight_decay, ssm_lr=cfg.ssm_lr)


def lr_factor(step: int, *, total_steps: int, warmup_steps: int, schedule: str, min_ratio: float) -> float:
    """Learning-rate multiplier for optimiser step ``step`` (0-based): linear warmup, then cosine or constant.

    ``lr_factor(s) = (s + 1) / warmup`` for s < warmup; afterwards cosine from 1 (at s = warmup) towards
    ``min_ratio``, which it reaches at s = ``total_steps``, one past the last step (``constant``: 1).
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        raise ValueError(f"unknown schedule {schedule!r}; valid choices: cosine, constant")
    import math

    span = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / span, 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
