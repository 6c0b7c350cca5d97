"""Metric rows: summaries in metrics.jsonl, per-output values in their own file, TensorBoard event files that
hold the same numbers; all three exact across a resume."""

import dataclasses
import json

import numpy as np
import pytest

from ssmem.train import ConfigError, read_metrics, train
from ssmem.train import loggers as loggers_module
from ssmem.train.loop import run_dir_contents

from .stopping import Stop, StopAt


def read_rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def scalars(run_dir):
    """Every scalar series of ``run_dir/tb`` as {tag: [(step, value), ...]}, read with tensorboard's reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_config):
    """The 20-step, 2-output (delays 2 and 5) regression run, with eigenvalues and memory recorded."""
    pytest.importorskip("tensorboard", reason="the TensorBoard logger needs the tensorboard package")
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    cfg = tiny_config("train.record_eigenvalues_every=3", "train.record_memory_every=6", "train.memory_horizon=64",
                      "train.loggers=[jsonl,tensorboard]")
    return cfg, run_dir, train(cfg, run_dir, progress=False)


def test_per_output_values_leave_metrics_jsonl_for_their_own_file(uninterrupted):
    _, run_dir, _ = uninterrupted
    rows, per_output = read_metrics(run_dir), read_rows(run_dir / "metrics_per_output.jsonl")
    assert not any(key.startswith("r2_") for row in rows for key in row)
    assert [(r["step"], r["split"], r.get("weights")) for r in rows] == \
        [(r["step"], r["split"], r.get("weights")) for r in per_output]
    for row, outputs in zip(rows, per_output):  # the summary R² is the mean of the two outputs'
        assert set(outputs) - {"step", "split", "epoch", "weights", "best_step"} == {"r2_0", "r2_1"}
        assert row["r2"] == pytest.approx((outputs["r2_0"] + outputs["r2_1"]) / 2, rel=1e-12, abs=1e-12)


def test_tensorboard_holds_the_logged_scalars_and_hparams(uninterrupted):
    cfg, run_dir, _ = uninterrupted
    series = scalars(run_dir)
    rows = read_metrics(run_dir)
    for split in ("train", "val"):
        for key in ("loss", "r2", "mse", "mae"):
            want = [(r["step"], r[key]) for r in rows if r["split"] == split]
            got = series[f"{split}/{key}"]
            assert [s for s, _ in got] == [s for s, _ in want]
            np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in series["train/lr"]], [r["lr"] for r in rows if r["split"] == "train"], rtol=1e-6)
    final = next(r for r in rows if r["split"] == "test" and r["weights"] == "final")
    assert series["test/loss"] == [(20, pytest.approx(final["loss"], rel=1e-6))]
    assert not any("r2_" in tag for tag in series)

    with np.load(run_dir / "eigenvalues.npz") as eigs:
        steps = eigs["step"].tolist()
        movement = [float(np.mean(np.abs(eigs["layer1"][i] - eigs["layer1"][0]))) for i in range(1, len(steps))]
    got = series["ssm/layer1/eigenvalue_movement"]
    assert [s for s, _ in got] == steps[1:] and movement[-1] > 0
    np.testing.assert_allclose([v for _, v in got], movement, rtol=1e-6)
    with np.load(run_dir / "memory.npz") as memory:
        capacity = memory["layer0_capacity"].mean(axis=1)
        assert [s for s, _ in series["ssm/layer0/memory_capacity"]] == memory["step"].tolist()[1:]
    np.testing.assert_allclose([v for _, v in series["ssm/layer0/memory_capacity"]], capacity[1:], rtol=1e-6)

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(str(run_dir / "tb"))
    events.Reload()
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["optim.lr"].number_value == pytest.approx(cfg.optim.lr)
    assert hparams["model.layer"].string_value == cfg.model.layer
    assert hparams["task.params.delays"].string_value == "[2, 5]"


def test_resume_reproduces_every_logged_file(uninterrupted, tmp_path, without_time):
    cfg, ref_dir, _ = uninterrupted
    with pytest.raises(Stop):
        train(cfg, tmp_path, callbacks=[StopAt(11)], progress=False)  # last checkpoint: step 8
    assert max(r["step"] for r in read_rows(tmp_path / "metrics_per_output.jsonl")) == 10  # to be cut back
    train(cfg, tmp_path, resume=True, progress=False)
    assert without_time(read_metrics(tmp_path)) == without_time(read_metrics(ref_dir))
    assert read_rows(tmp_path / "metrics_per_output.jsonl") == read_rows(ref_dir / "metrics_per_output.jsonl")
    assert scalars(tmp_path) == scalars(ref_dir)  # the events after step 8 of the first attempt are purged


def test_event_files_belong_to_the_run(uninterrupted, tmp_path):
    cfg, ref_dir, _ = uninterrupted
    own, other = run_dir_contents(ref_dir)
    assert any(p.parent.name == "tb" for p in own) and not other
    quiet = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, loggers=["jsonl"], max_steps=3))
    train(quiet, tmp_path, progress=False)
    assert (tmp_path / "metrics.jsonl").exists() and not (tmp_path / "tb").exists()


@pytest.mark.parametrize("loggers, message", [
    ("[tensorboard]", "must include jsonl"),
    ("[jsonl,wandb]", "'wandb' is not a logger; valid choices: jsonl, tensorboard"),
])
def test_logger_lists_are_checked(tiny_config, loggers, message):
    with pytest.raises(ConfigError, match=message):
        tiny_config(f"train.loggers={loggers}")


def test_tensorboard_without_its_package_names_the_extra(tiny_config, tmp_path, monkeypatch):
    cfg = tiny_config("train.loggers=[jsonl,tensorboard]")
    import ssmem.train.config as config_module

    for module in (config_module, loggers_module):  # the default list, and the check before training
        monkeypatch.setattr(module, "tensorboard_available", lambda: False)
    assert config_module.default_loggers() == ["jsonl"]
    with pytest.raises(ConfigError, match=r"pip install 'ssmem\[tensorboard\]'"):
        train(cfg, tmp_path / "run", progress=False)
    assert run_dir_contents(tmp_path / "run") == ([], [])  # nothing that would refuse the next attempt
