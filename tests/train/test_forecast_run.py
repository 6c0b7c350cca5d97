"""Forecasting runs: the forecaster options build from a config, and the baselines reach result.json and the
last line of ``ssmem train``."""

import json

import numpy as np
import pytest

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
    assert sum(p.numel() for p in linear.parameters()) == 24 * 6 + 6  # one map shared by the columns, no trend split
    cfg = _config(tmp_path, "model.layer=linear", "model.linear_per_channel=true", "model.trend_kernel=5")
    assert sum(p.numel() for p in build_model(cfg.model, info, seed=0).parameters()) == 2 * 2 * (24 * 6 + 6)
    ssm = build_model(_config(tmp_path).model, info, seed=0)  # the recipe: RevIN, channel independence
    assert isinstance(ssm.core, ColumnwiseModel) and ssm.norm is not None and len(ssm.ssm_layers()) == 1
    plain = build_model(_config(tmp_path, "model.instance_norm=none", "model.channels=mixed").model, info, seed=0)
    assert not isinstance(plain, Forecaster)  # the classifier every other task uses
    with pytest.raises(ConfigError, match="model.layer=linear forecasts each column from its own past"):
        _config(tmp_path, "model.layer=linear", "model.channels=mixed")
    with pytest.raises(ConfigError, match="apply to model.layer=linear only"):
        _config(tmp_path, "model.trend_kernel=25")
    delay = load_recipe("memory/delay", ["model.layer=linear"])
    delay_info = build_task(delay.task.name, task_params(delay.task), seed=0).info
    with pytest.raises(ConfigError, match=r"apply to forecasting tasks \(forecast/series\)"):
        build_model(delay.model, delay_info, seed=0)
