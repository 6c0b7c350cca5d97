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
* **a linear skip**: the linear model beside a sequence model, the two forecasts added, with the sequence model's
  output layer starting at zero. Training starts from the linear forecast and the sequence model learns what it
  misses: on a short series (a few dozen training windows) an SSM alone fits the training windows and falls
  behind the linear fit.
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
        skip: a :class:`LinearForecaster` of the K target columns, each window less its mean (the mean added
            back), whose forecast ``(B, horizon, K)`` is added to the core's (in the data's units), or None.
    """

    def __init__(self, core: nn.Module, *, horizon: int, target_index: list[int], n_columns: int, channels: str = "mixed",
                 instance_norm: str = "none", skip: LinearForecaster | None = None, device=None, dtype=None) -> None:
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
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n_targets = x.shape[0], len(self.target_index)
        if self.independent:
            x = x[..., self.target_index]  # (B, L, K)
        skip = None if self.skip is None else self._skip_forecast(x)
        if self.norm is not None:
            x, mean, std = self.norm.normalise(x)
        y = self.core(x).reshape(batch, self.horizon, n_targets)  # (B, horizon, K)
        if self.norm is not None:
            # the statistics of the forecast columns: all of them (independent) or the targets among C (mixed)
            columns = torch.arange(n_targets, device=x.device) if self.independent else self.target_index
            y = self.norm.restore(y, mean[..., columns], std[..., columns], columns)
        if skip is not None:
            y = y + skip
        return y.reshape(batch, self.horizon * n_targets)

    def _centred_targets(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (B, L, C or K)`` → its K target columns less each window's mean ``(B, L, K)``, and that mean
        ``(B, 1, K)``."""
        columns = x if self.independent else x[..., self.target_index]
        level = columns.mean(dim=1, keepdim=True)
        return columns - level, level

    def _skip_forecast(self, x: torch.Tensor) -> torch.Tensor:
        """What the skip adds ``(B, horizon, K)``: the linear map of the window less its mean, plus that mean
        unless instance normalisation restores it already (the closed-form baseline's form: a window's level
        carries over, its shape is mapped)."""
        centred, level = self._centred_targets(x)
        return self.skip(centred) if self.norm is not None else self.skip(centred) + level

    @torch.no_grad()
    def fit_skip(self, x: torch.Tensor, y: torch.Tensor, val_x: torch.Tensor, val_y: torch.Tensor,
                 ridges: tuple[float, ...] = (1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)) -> float:
        """Set the linear skip to its ridge least-squares fit on the windows ``x (N, L, C)`` → ``y (N, horizon*K)``,
        with the ridge of ``ridges`` (relative to the Gram matrix's mean eigenvalue) whose forecasts of ``val_x``
        score the lowest MSE on ``val_y``. The core is left as it is: with its output layer at zero the model then
        forecasts exactly the fitted linear map. Returns the ridge chosen."""
        if self.skip is None:
            raise ValueError("this forecaster has no linear skip to fit (build it with skip=LinearForecaster(...))")
        if self.independent:
            x = x[..., self.target_index]
        centred, level = self._centred_targets(x)  # (N, L, K), (N, 1, K)
        targets = y.reshape(len(y), self.horizon, -1) - level  # (N, horizon, K)
        if self.skip.trend_kernel:
            trend = moving_average(centred, self.skip.trend_kernel)
            centred = torch.cat([centred - trend, trend], dim=1)  # (N, 2L, K)
        inputs, targets = centred.permute(2, 0, 1), targets.permute(2, 0, 1)  # (K, N, F), (K, N, horizon)
        if self.skip.weight.shape[0] == 1:  # one map shared by the columns: stack them
            inputs, targets = inputs.reshape(1, -1, inputs.shape[-1]), targets.reshape(1, -1, targets.shape[-1])
        design = torch.cat([inputs, torch.ones_like(inputs[..., :1])], dim=-1).double()  # (M, N', F + 1)
        gram, cross = design.mT @ design, design.mT @ targets.double()
        scale = torch.diagonal(gram, dim1=-2, dim2=-1).mean(-1)[:, None, None]  # (M, 1, 1)
        eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
        best = None
        for ridge in ridges:
            solution = torch.linalg.solve(gram + ridge * scale * eye, cross)  # (M, F + 1, horizon)
            self._set_skip(solution)
            error = float(((self(val_x) - val_y) ** 2).mean())
            if best is None or error < best[0]:
                best = (error, ridge, solution)
        self._set_skip(best[2])
        return best[1]

    def _set_skip(self, solution: torch.Tensor) -> None:
        """``solution (M, F + 1, horizon)`` → the skip's weights ``(M, horizon, L)`` (twice with a trend) and bias."""
        skip, dtype = self.skip, self.skip.weight.dtype
        weight, bias = solution[:, :-1].mT.to(dtype), solution[:, -1].to(dtype)
        lookback = skip.weight.shape[-1]
        skip.weight.copy_(weight[..., :lookback])
        skip.bias.copy_(bias)
        if skip.trend_kernel:
            skip.trend_weight.copy_(weight[..., lookback:])
            skip.trend_bias.zero_()

    def ssm_layers(self) -> list[nn.Module]:
        """The SSM layers of the core, in order (none for the linear model)."""
        return list(self.core.ssm_layers()) if hasattr(self.core, "ssm_layers") else []


def zero_output_layer(model: nn.Module) -> None:
    """Set the weight and bias of ``model``'s output layer (its ``decoder``, or the ``decoder`` of the model a
    :class:`ColumnwiseModel` wraps) to zero, so that it forecasts 0 until it learns otherwise."""
    inner = model.model if isinstance(model, ColumnwiseModel) else model
    decoder = getattr(inner, "decoder", None)
    if not isinstance(decoder, nn.Linear):
        raise TypeError(f"{type(inner).__name__} has no linear output layer named 'decoder' to start at zero")
    with torch.no_grad():
        decoder.weight.zero_()
        if decoder.bias is not None:
            decoder.bias.zero_()


__all__ = ["CHANNEL_MODES", "INSTANCE_NORMS", "ColumnwiseModel", "Forecaster", "InstanceNorm", "LinearForecaster", "moving_average", "zero_output_layer"]
