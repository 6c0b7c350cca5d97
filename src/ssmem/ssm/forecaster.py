"""Forecasting heads around a sequence model: instance normalisation, channel independence, a linear model.

A forecaster maps a window ``x (B, L, C)`` of C columns to the next ``horizon`` steps of K target columns,
``(B, horizon * K)`` flattened step-major (the layout of ``forecast/series`` targets). Three options that
long-horizon forecasting relies on:

* **instance normalisation** (RevIN, Kim et al. 2022): each window is shifted and scaled by its own per-column
  mean and standard deviation, the model forecasts in those units and the forecast is mapped back, so a series
  whose level drifts between the training rows and the test rows still looks familiar to the model;
  ``affine`` adds a learned per-column scale and shift applied after normalising and undone before restoring.
* **channel independence** (PatchTST, Nie et al. 2023): every target column is its own univariate sequence
  ``(L, 1)`` through one shared model, instead of one model reading all C columns at once.
* **the linear model** (DLinear, Zeng et al. 2023): one linear map from the lookback to the horizon per column
  (shared by the columns, or one per column), optionally applied separately to a moving-average trend and
  the remainder.
"""

from __future__ import annotations

import torch
from torch import nn

from .models import check_size

INSTANCE_NORMS = ("none", "revin", "revin-affine")
CHANNEL_MODES = ("mixed", "independent")


class InstanceNorm(nn.Module):
    """Per-window normalisation (RevIN): ``normalise`` a window, ``restore`` the forecast made from it.

    ``z = (x - mean) / std`` per window and column (``std = sqrt(var + eps)``, over the L steps), then
    ``z * weight + bias`` with ``affine``; ``restore`` inverts both for the forecast columns it is given.
    """

    def __init__(self, n_columns: int, *, affine: bool = False, eps: float = 1e-5, device=None, dtype=None) -> None:
        super().__init__()
        check_size("n_columns", n_columns)
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(n_columns, device=device, dtype=dtype))
            self.bias = nn.Parameter(torch.zeros(n_columns, device=device, dtype=dtype))

    def normalise(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x (B, L, C)`` → ``(z (B, L, C), mean (B, 1, C), std (B, 1, C))``."""
        mean = x.mean(dim=1, keepdim=True)
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps)
        z = (x - mean) / std
        if self.affine:
            z = z * self.weight + self.bias
        return z, mean, std

    def restore(self, y: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """``y (B, H, K)`` forecasts of the columns ``columns (K,)`` → the same in the window's units;
        ``mean``/``std (B, 1, K)`` are those columns' statistics from :meth:`normalise`."""
        if self.affine:
            y = (y - self.bias[columns]) / (self.weight[columns] + self.eps**2)  # eps²: never a division by zero
        return y * std + mean


def moving_average(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """``x (B, L, C)`` → ``(B, L, C)``: the mean over ``kernel`` steps centred on each step, the series'
    first and last values repeated past its ends (DLinear's trend)."""
    front, back = x[:, :1].expand(-1, (kernel - 1) // 2, -1), x[:, -1:].expand(-1, kernel // 2, -1)
    padded = torch.cat([front, x, back], dim=1)  # (B, L + kernel - 1, C)
    return padded.unfold(1, kernel, 1).mean(dim=-1)  # (B, L, C)


class LinearForecaster(nn.Module):
    """One linear map from the lookback to the horizon per column: ``x (B, L, C)`` → ``(B, horizon, C)``.

    ``y[:, h, c] = Σ_l weight[c, h, l] x[:, l, c] + bias[c, h]``, with one weight for all columns
    (``per_channel=False``) or one per column. With ``trend_kernel > 0`` the window is split into its
    :func:`moving_average` trend and the remainder, each with its own map, and the two forecasts added.
    Weights start at ``1 / L`` (each forecast step the window's mean), biases at zero.
    """

    def __init__(self, lookback: int, horizon: int, n_columns: int, *, per_channel: bool = False, trend_kernel: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__()
        for name, value in (("lookback", lookback), ("horizon", horizon), ("n_columns", n_columns)):
            check_size(name, value)
        if not (isinstance(trend_kernel, int) and trend_kernel >= 0):
            raise ValueError(f"trend_kernel must be an integer >= 0 (0 = no trend/remainder split), got {trend_kernel!r}")
        self.trend_kernel = trend_kernel
        n_maps = n_columns if per_channel else 1
        self.weight = nn.Parameter(torch.full((n_maps, horizon, lookback), 1.0 / lookback, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(n_maps, horizon, device=device, dtype=dtype))
        if trend_kernel:
            self.trend_weight = nn.Parameter(self.weight.detach().clone())
            self.trend_bias = nn.Parameter(self.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.trend_kernel:
            return _per_column_map(x, self.weight, self.bias)
        trend = moving_average(x, self.trend_kernel)
        return _per_column_map(x - trend, self.weight, self.bias) + _per_column_map(trend, self.trend_weight, self.trend_bias)

    def ssm_layers(self) -> list[nn.Module]:
        return []


def _per_column_map(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x (B, L, C)``, ``weight (C or 1, H, L)``, ``bias (C or 1, H)`` → ``(B, H, C)``."""
    weight, bias = weight.expand(x.shape[-1], -1, -1), bias.expand(x.shape[-1], -1)
    return torch.einsum("blc,chl->bhc", x, weight) + bias.T


class ColumnwiseModel(nn.Module):
    """A univariate model applied to every column: ``x (B, L, K)`` → ``(B, horizon, K)``, where
    ``model: (B', L, 1) → (B', horizon)`` sees column k of window b as sequence ``b * K + k``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, n_columns = x.shape
        y = self.model(x.transpose(1, 2).reshape(batch * n_columns, length, 1))  # (B K, horizon)
        return y.reshape(batch, n_columns, -1).transpose(1, 2)

    def ssm_layers(self) -> list[nn.Module]:
        return list(self.model.ssm_layers()) if hasattr(self.model, "ssm_layers") else []


class Forecaster(nn.Module):
    """``x (B, L, C)`` → forecasts ``(B, horizon * K)`` of the target columns ``target_index (K,)``, step-major.

    Args:
        core: with ``channels="mixed"`` a model ``(B, L, C) → (B, horizon * K)`` reading all columns; with
            ``"independent"`` a model ``(B, L, K) → (B, horizon, K)`` that forecasts each target column from its
            own past (:class:`ColumnwiseModel`, :class:`LinearForecaster`): the other columns are not read.
        horizon: forecast steps.
        target_index: the columns forecast, as indices into the C columns.
        n_columns: C.
        channels: ``"mixed"`` or ``"independent"``.
        instance_norm: ``"none"``, ``"revin"`` or ``"revin-affine"`` (:class:`InstanceNorm` of the columns the
            core reads).
    """

    def __init__(self, core: nn.Module, *, horizon: int, target_index: list[int], n_columns: int, channels: str = "mixed",
                 instance_norm: str = "none", device=None, dtype=None) -> None:
        super().__init__()
        check_size("horizon", horizon)
        check_size("n_columns", n_columns)
        if channels not in CHANNEL_MODES:
            raise ValueError(f"unknown channels {channels!r}; valid choices: {', '.join(CHANNEL_MODES)}")
        if instance_norm not in INSTANCE_NORMS:
            raise ValueError(f"unknown instance_norm {instance_norm!r}; valid choices: {', '.join(INSTANCE_NORMS)}")
        if not target_index or any(not 0 <= k < n_columns for k in target_index):
            raise ValueError(f"target_index must list columns in 0..{n_columns - 1}, got {list(target_index)}")
        self.core = core
        self.horizon = horizon
        self.independent = channels == "independent"
        self.register_buffer("target_index", torch.tensor(list(target_index), dtype=torch.long, device=device), persistent=False)
        n_read = len(target_index) if self.independent else n_columns
        self.norm = None if instance_norm == "none" else InstanceNorm(n_read, affine=instance_norm == "revin-affine", device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n_targets = x.shape[0], len(self.target_index)
        if self.independent:
            x = x[..., self.target_index]  # (B, L, K)
        if self.norm is not None:
            x, mean, std = self.norm.normalise(x)
        y = self.core(x).reshape(batch, self.horizon, n_targets)  # (B, horizon, K)
        if self.norm is not None:
            # the statistics of the forecast columns: all of them (independent) or the targets among C (mixed)
            columns = torch.arange(n_targets, device=x.device) if self.independent else self.target_index
            y = self.norm.restore(y, mean[..., columns], std[..., columns], columns)
        return y.reshape(batch, self.horizon * n_targets)

    def ssm_layers(self) -> list[nn.Module]:
        """The SSM layers of the core, in order (none for the linear model)."""
        return list(self.core.ssm_layers()) if hasattr(self.core, "ssm_layers") else []


__all__ = ["CHANNEL_MODES", "INSTANCE_NORMS", "ColumnwiseModel", "Forecaster", "InstanceNorm", "LinearForecaster", "moving_average"]
