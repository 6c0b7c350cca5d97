"""Forecasting heads: each batched path equals an explicit loop over windows and columns."""

import numpy as np
import pytest
import torch
from torch import nn

from ssmem.ssm import S4D, SequenceClassifier
from ssmem.ssm.forecaster import ColumnwiseModel, Forecaster, LinearForecaster

LOOKBACK, HORIZON, N_COLUMNS = 12, 4, 3
TARGETS = [2, 0]


@pytest.fixture(autouse=True)
def one_thread():
    """Small float64 problems: a second intra-op thread only waits for a busy shared core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _window_model(d_input: int, d_output: int) -> nn.Module:
    """A deterministic (eval-mode) SSM model ``(B, L, d_input) → (B, d_output)`` in float64."""
    torch.manual_seed(0)
    model = SequenceClassifier(d_output=d_output, d_input=d_input, d_model=8, n_layers=1, norm="layer", prenorm=True, pooling="last",
                               make_layer=lambda i: S4D(8, 8, bidirectional=True, seed=i))
    return model.double().eval()


def _windows(rng) -> torch.Tensor:
    level = rng.normal(size=(5, 1, N_COLUMNS)) * 10  # windows at very different levels and scales
    return torch.from_numpy(level + rng.normal(size=(5, LOOKBACK, N_COLUMNS)).cumsum(1) * rng.uniform(0.1, 5, size=(5, 1, N_COLUMNS)))


@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_of_mixed_columns_equals_a_loop_over_windows(rng, affine):
    core = _window_model(N_COLUMNS, HORIZON * len(TARGETS))
    model = Forecaster(core, horizon=HORIZON, target_index=TARGETS, n_columns=N_COLUMNS, channels="mixed",
                       instance_norm="revin-affine" if affine else "revin").double()
    if affine:
        with torch.no_grad():
            model.norm.weight.copy_(torch.tensor([0.5, 2.0, -1.5]))
            model.norm.bias.copy_(torch.tensor([0.1, -0.3, 0.7]))
    x = _windows(rng)
    weight, bias = (model.norm.weight.detach(), model.norm.bias.detach()) if affine else (torch.ones(3), torch.zeros(3))
    expected = []
    for window in x:  # (L, C)
        mean, std = window.mean(0), torch.sqrt(((window - window.mean(0)) ** 2).mean(0) + 1e-5)
        z = (window - mean) / std * weight + bias
        y = core(z[None]).reshape(HORIZON, len(TARGETS))
        for j, k in enumerate(TARGETS):
            y[:, j] = (y[:, j] - bias[k]) / (weight[k] + 1e-10) * std[k] + mean[k]
        expected.append(y.reshape(-1))
    assert torch.allclose(model(x), torch.stack(expected), atol=1e-10)
    # the forecast follows the window: shifting and scaling a window shifts and scales its forecast
    assert torch.allclose(model(3 * x + 7), 3 * model(x) + 7, atol=1e-8)


def test_channel_independence_equals_a_loop_over_target_columns(rng):
    univariate = _window_model(1, HORIZON)
    model = Forecaster(ColumnwiseModel(univariate), horizon=HORIZON, target_index=TARGETS, n_columns=N_COLUMNS,
                       channels="independent", instance_norm="revin").double()
    x = _windows(rng)
    expected = torch.empty(len(x), HORIZON, len(TARGETS), dtype=torch.float64)
    for b in range(len(x)):
        for j, k in enumerate(TARGETS):
            column = x[b, :, k]
            mean, std = column.mean(), torch.sqrt(column.var(unbiased=False) + 1e-5)
            expected[b, :, j] = univariate(((column - mean) / std)[None, :, None])[0] * std + mean
    assert torch.allclose(model(x), expected.reshape(len(x), -1), atol=1e-10)
    other = x.clone()
    other[..., 1] = 1e3  # a column that is not a target is not read
    assert torch.equal(model(other), model(x))


@pytest.mark.parametrize("per_channel", [False, True])
def test_linear_forecaster_with_trend_split_equals_its_definition(rng, per_channel):
    kernel = 5
    linear = LinearForecaster(LOOKBACK, HORIZON, N_COLUMNS, per_channel=per_channel, trend_kernel=kernel).double()
    with torch.no_grad():
        for p in linear.parameters():
            p.normal_()
    x = _windows(rng)
    expected = torch.empty(len(x), HORIZON, N_COLUMNS, dtype=torch.float64)
    for b in range(len(x)):
        for c in range(N_COLUMNS):
            padded = [x[b, 0, c]] * 2 + list(x[b, :, c]) + [x[b, -1, c]] * 2  # ends repeated, (kernel - 1) / 2 each side
            trend = torch.stack([sum(padded[t : t + kernel]) / kernel for t in range(LOOKBACK)])
            m = c if per_channel else 0
            expected[b, :, c] = (linear.weight[m] @ (x[b, :, c] - trend) + linear.bias[m]
                                 + linear.trend_weight[m] @ trend + linear.trend_bias[m])
    assert torch.allclose(linear(x), expected, atol=1e-10)
    n_maps = N_COLUMNS if per_channel else 1
    assert sum(p.numel() for p in linear.parameters()) == 2 * n_maps * (LOOKBACK * HORIZON + HORIZON)


def test_trained_linear_forecaster_converges_to_least_squares(rng):
    series = np.sin(np.arange(300) * 0.3) + rng.normal(size=300) * 0.3
    ends = np.arange(LOOKBACK, 300 - HORIZON + 1)
    x = np.stack([series[t - LOOKBACK : t] for t in ends])  # (n, L)
    y = np.stack([series[t : t + HORIZON] for t in ends])  # (n, H)
    solution, *_ = np.linalg.lstsq(np.hstack([x, np.ones((len(x), 1))]), y, rcond=None)
    linear = LinearForecaster(LOOKBACK, HORIZON, 1).double()
    inputs, targets = torch.from_numpy(x)[..., None], torch.from_numpy(y)[..., None]
    optimizer = torch.optim.LBFGS(linear.parameters(), lr=1.0, max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-15,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = ((linear(inputs) - targets) ** 2).mean()
        loss.backward()
        return loss

    optimizer.step(closure)  # a quadratic: L-BFGS reaches its minimum in a few dozen iterations
    assert np.allclose(linear.weight[0].detach().numpy().T, solution[:-1], atol=1e-6)
    assert np.allclose(linear.bias[0].detach().numpy(), solution[-1], atol=1e-6)


def test_forecaster_refuses_bad_settings():
    core = nn.Identity()
    with pytest.raises(ValueError, match="unknown channels 'both'; valid choices: mixed, independent"):
        Forecaster(core, horizon=2, target_index=[0], n_columns=1, channels="both")
    with pytest.raises(ValueError, match="unknown instance_norm 'batch'; valid choices: none, revin, revin-affine"):
        Forecaster(core, horizon=2, target_index=[0], n_columns=1, instance_norm="batch")
    with pytest.raises(ValueError, match=r"target_index must list columns in 0..1, got \[2\]"):
        Forecaster(core, horizon=2, target_index=[2], n_columns=2)
    with pytest.raises(ValueError, match="trend_kernel must be an integer >= 0"):
        LinearForecaster(4, 2, 1, trend_kernel=-1)


@pytest.mark.parametrize("channels,instance_norm", [("mixed", "revin-affine"), ("independent", "none")])
def test_linear_skip_adds_the_centred_linear_map_to_the_core(rng, channels, instance_norm):
    kernel = 3
    core = (_window_model(N_COLUMNS, HORIZON * len(TARGETS)) if channels == "mixed"
            else ColumnwiseModel(_window_model(1, HORIZON)))
    skip = LinearForecaster(LOOKBACK, HORIZON, len(TARGETS), per_channel=True, trend_kernel=kernel).double()
    with torch.no_grad():
        for p in skip.parameters():
            p.normal_()
    model = Forecaster(core, horizon=HORIZON, target_index=TARGETS, n_columns=N_COLUMNS, channels=channels,
                       instance_norm=instance_norm, skip=skip).double()
    plain = Forecaster(core, horizon=HORIZON, target_index=TARGETS, n_columns=N_COLUMNS, channels=channels,
                       instance_norm=instance_norm).double()
    x = _windows(rng)
    # with instance normalisation the core's forecast is restored to the window's level already
    expected = plain(x).reshape(len(x), HORIZON, len(TARGETS))
    for b in range(len(x)):
        for j, k in enumerate(TARGETS):
            column = x[b, :, k]
            level = column.mean()
            centred = column - level
            padded = torch.cat([centred[:1], centred, centred[-1:]])
            trend = torch.stack([padded[t : t + kernel].mean() for t in range(LOOKBACK)])
            expected[b, :, j] += (skip.weight[j] @ (centred - trend) + skip.bias[j] + skip.trend_weight[j] @ trend
                                  + skip.trend_bias[j] + (level if instance_norm == "none" else 0))
    assert torch.allclose(model(x), expected.reshape(len(x), -1), atol=1e-10)


@pytest.mark.parametrize("per_channel,trend_kernel", [(False, 0), (True, 5)])
def test_fit_skip_is_the_ridge_least_squares_fit_of_the_centred_windows(rng, per_channel, trend_kernel):
    from ssmem.ssm.forecaster import zero_output_layer

    core = ColumnwiseModel(_window_model(1, HORIZON))
    zero_output_layer(core)
    skip = LinearForecaster(LOOKBACK, HORIZON, len(TARGETS), per_channel=per_channel, trend_kernel=trend_kernel).double()
    model = Forecaster(core, horizon=HORIZON, target_index=TARGETS, n_columns=N_COLUMNS, channels="independent",
                       instance_norm="revin", skip=skip).double()
    series = torch.from_numpy(rng.normal(size=(400, N_COLUMNS)).cumsum(0) * 0.1 + np.sin(np.arange(400) * 0.5)[:, None])
    ends = range(LOOKBACK, 400 - HORIZON + 1)
    x = torch.stack([series[t - LOOKBACK : t] for t in ends])
    y = torch.stack([series[t : t + HORIZON][:, TARGETS].reshape(-1) for t in ends])
    assert model.fit_skip(x[:300], y[:300], x[300:], y[300:], ridges=(1e-8,)) == 1e-8
    # the same fit written out: one least-squares problem per column (stacked when the map is shared), no ridge to
    # speak of; with the core's output at zero the model forecasts exactly the fitted map
    residual_sq = 0.0
    for maps in ([[0], [1]] if per_channel else [[0, 1]]):
        rows, targets = [], []
        for j in maps:
            column = x[:300, :, TARGETS[j]]
            level = column.mean(1, keepdim=True)
            features = column - level
            if trend_kernel:
                trend = torch.stack([torch.cat([f[:2], f, f[-2:]]).unfold(0, 5, 1).mean(1) for f in features])
                features = torch.cat([features - trend, trend], dim=1)
            rows.append(torch.cat([features, torch.ones_like(level)], dim=1))
            targets.append(y[:300].reshape(300, HORIZON, 2)[..., j] - level)
        design, target = torch.cat(rows), torch.cat(targets)
        solution = torch.linalg.lstsq(design, target, driver="gelsd").solution  # SVD: the trend split is rank-deficient
        residual_sq += float(((design @ solution - target) ** 2).sum())
    with torch.no_grad():
        fitted_sq = float(((model(x[:300]) - y[:300]) ** 2).sum())
    assert fitted_sq == pytest.approx(residual_sq, rel=1e-7)
    assert model(x).shape == (len(x), HORIZON * 2) and not torch.equal(skip.weight, torch.zeros_like(skip.weight))
    with pytest.raises(ValueError, match="no linear skip to fit"):
        Forecaster(core, horizon=HORIZON, target_index=TARGETS, n_columns=N_COLUMNS).fit_skip(x, y, x, y)
