"""Forecasting runs: the forecaster options build from a config, and the baselines reach result.json and the
last line of ``ssmem train``."""

import json

import numpy as np
import pytest
import torch

from ssmem.data import build_task
from ssmem.train import ConfigError, build_model, load_recipe, load_result, task_params, train
from ssmem.train.loop import TrainResult


def _series_csv(folder):
    t = np.arange(600)
    values = np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 7) + np.random.default_rng(0).normal(size=600) * 0.2
    path = folder / "series.csv"
    path.write_text("t,a,b\n" + "".join(f"{i},{v},{v * 2 + 1}\n" for i, v in enumerate(values)))
    return path


def _config(folder, *extra):
    return load_recipe("forecast/ltsf-cpu", [
        "device=cpu", f"task.params.series={_series_csv(folder)}", "task.params.lookback=24", "task.params.horizon=6",
        "task.params.split_rows=[400, 100, 100]", "task.params.season=24", "task.params.cache=false", "model.d_model=8",
        "model.n_layers=1", "model.d_state=8", "train.batch_size=16", "train.max_steps=6", "train.eval_every=3",
        "optim.warmup_steps=1", *extra,
    ])  # fmt: skip


def test_baselines_reach_result_json_and_the_last_line(tmp_path, capsys):
    from ssmem.cli import main

    cfg = _config(tmp_path, "model.layer=linear")
    info = build_task(cfg.task.name, task_params(cfg.task), seed=cfg.seed).info
    result = train(cfg, tmp_path / "run", progress=False)
    assert set(result.baselines) == {"naive", "seasonal_naive", "linear"}
    assert result.baselines == info.extra["baselines"]
    assert load_result(tmp_path / "run").baselines == result.baselines
    assert json.loads((tmp_path / "run" / "result.json").read_text())["baselines"]["linear"] == info.extra["linear_mse"]
    capsys.readouterr()
    overrides = [f"{key}={value}" for key, value in (("task.params.series", cfg.task.params["series"]),)]
    assert main(["train", "forecast/ltsf-cpu", *overrides, "device=cpu", "task.params.lookback=24", "task.params.horizon=6",
                 "task.params.split_rows=[400, 100, 100]", "task.params.season=24", "model.layer=linear", "train.max_steps=2",
                 "--run-dir", str(tmp_path / "cli"), "--no-progress"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["baselines"] == pytest.approx(info.extra["baselines"]) and last["test"] is not None


def test_a_result_without_baselines_still_loads(tmp_path, tiny_config):
    result = train(tiny_config("train.max_steps=2"), tmp_path, progress=False)
    assert result.baselines == {}  # memory/delay names no baselines
    saved = json.loads((tmp_path / "result.json").read_text())
    del saved["baselines"]  # a result.json written before the field existed
    (tmp_path / "result.json").write_text(json.dumps(saved))
    assert load_result(tmp_path) == TrainResult(**{**result.to_dict(), "baselines": {}})


def test_forecaster_options_build_from_the_config(tmp_path):
    from ssmem.ssm.forecaster import ColumnwiseModel, Forecaster, LinearForecaster

    cfg = _config(tmp_path, "model.layer=linear")
    info = build_task(cfg.task.name, task_params(cfg.task), seed=cfg.seed).info
    linear = build_model(cfg.model, info, seed=0)
    assert isinstance(linear, Forecaster) and isinstance(linear.core, LinearForecaster) and linear.ssm_layers() == []
    assert linear.skip is None  # the recipe's linear_skip is for an SSM
    assert sum(p.numel() for p in linear.parameters()) == 24 * 6 + 6  # one map shared by the columns, no trend split
    cfg = _config(tmp_path, "model.layer=linear", "model.linear_per_channel=true", "model.trend_kernel=5")
    assert sum(p.numel() for p in build_model(cfg.model, info, seed=0).parameters()) == 2 * 2 * (24 * 6 + 6)
    ssm = build_model(_config(tmp_path).model, info, seed=0)  # the recipe: RevIN, channel independence, linear skip
    assert isinstance(ssm.core, ColumnwiseModel) and ssm.norm is not None and len(ssm.ssm_layers()) == 1
    assert isinstance(ssm.skip, LinearForecaster) and not any(p.requires_grad for p in ssm.skip.parameters())
    assert not ssm.core.model.decoder.weight.any() and not ssm.core.model.decoder.bias.any()
    plain = build_model(_config(tmp_path, "model.instance_norm=none", "model.channels=mixed", "model.linear_skip=false").model,
                        info, seed=0)
    assert not isinstance(plain, Forecaster)  # the classifier every other task uses
    with pytest.raises(ConfigError, match="model.layer=linear forecasts each column from its own past"):
        _config(tmp_path, "model.layer=linear", "model.channels=mixed")
    with pytest.raises(ConfigError, match="apply to a linear map: model.layer=linear or model.linear_skip=true"):
        _config(tmp_path, "model.trend_kernel=25", "model.linear_skip=false")
    delay = load_recipe("memory/delay", ["model.layer=linear"])
    delay_info = build_task(delay.task.name, task_params(delay.task), seed=0).info
    with pytest.raises(ConfigError, match=r"apply to forecasting tasks \(forecast/series\)"):
        build_model(delay.model, delay_info, seed=0)


@pytest.mark.parametrize("extra", [(), ("model.instance_norm=none", "model.channels=mixed")])
def test_fitted_skip_forecasts_as_the_closed_form_linear_baseline(tmp_path, extra):
    """Two computations of the baseline: before training, the model with its linear skip fitted (torch, in the
    model's units) scores the validation and test MSE of the closed-form ``linear`` baseline (numpy, the task)."""
    from ssmem.train.build import fit_forecast_skip

    cfg = _config(tmp_path, *extra)
    data = build_task(cfg.task.name, task_params(cfg.task), seed=cfg.seed)
    model = build_model(cfg.model, data.info, seed=0)
    assert fit_forecast_skip(model, data) == data.info.extra["linear_ridge"]
    model.eval()
    for split, key in (("val", "linear_mse_val"), ("test", "linear_mse")):
        windows = getattr(data, split)
        x, y = (torch.stack(items) for items in zip(*(windows[i] for i in range(len(windows)))))
        with torch.no_grad():
            assert float(((model(x) - y) ** 2).mean()) == pytest.approx(data.info.extra[key], rel=1e-5)
    assert fit_forecast_skip(build_model(_config(tmp_path, "model.linear_skip=false").model, data.info, seed=0), data) is None


def test_a_run_with_a_linear_skip_leaves_the_fitted_skip_as_it_was(tmp_path):
    from ssmem.train.build import fit_forecast_skip
    from ssmem.train.trained import load_trained_model

    cfg = _config(tmp_path)
    data = build_task(cfg.task.name, task_params(cfg.task), seed=cfg.seed)
    fitted = build_model(cfg.model, data.info, seed=0)
    fit_forecast_skip(fitted, data)
    train(cfg, tmp_path / "run", progress=False)
    trained, _ = load_trained_model(tmp_path / "run")
    assert torch.equal(trained.skip.weight, fitted.skip.weight) and torch.equal(trained.skip.bias, fitted.skip.bias)
    assert trained.core.model.decoder.weight.any()  # the SSM's output layer learned from zero
