"""The training loop: learning, the NaN guard, callbacks and recorders, the run directory."""

import json
import math

import numpy as np
import pytest
import torch

from ssmem.data import build_task
from ssmem.train import (
    Callback,
    build_model,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_recipe,
    load_result,
    read_metrics,
    task_params,
    train,
)


def test_delay_inside_the_initial_memory_is_learned(tmp_path):
    cfg = load_recipe("memory/delay", ["device=cpu"])
    result = train(cfg, tmp_path, progress=False)
    assert result.status == "completed" and result.metric == "r2" and result.steps == cfg.train.max_steps
    assert result.test_metric > 0.9, result
    assert load_result(tmp_path) == result


class _Poison(Callback):
    """Puts a NaN into the model after optimiser step ``at``: the next loss is not finite."""

    def __init__(self, at):
        self.at = at

    def on_step(self, ctx):
        if ctx.step == self.at:
            with torch.no_grad():
                next(ctx.model.parameters()).fill_(float("nan"))


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, tiny_config, capsys):
    cfg = tiny_config()
    result = train(cfg, tmp_path, callbacks=[_Poison(6)], progress=False)
    assert result.status == "diverged" and result.steps == 6
    assert "the training loss became nan at step 7" in result.message
    assert "last good checkpoint is" in result.message and "step-00000004.pt" in result.message
    assert "the training loss became nan at step 7" in capsys.readouterr().err
    assert [s for s, _ in list_checkpoints(tmp_path)] == [4]  # nothing saved after the poisoned step
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["status"] == "diverged" and saved["test_metric"] is None
    assert all(math.isfinite(r["loss"]) for r in read_metrics(tmp_path))


def test_non_finite_gradients_stop_the_run_before_they_reach_the_weights(tmp_path, tiny_config):
    """Without clipping, an infinite gradient beside a finite loss went into the optimiser step, and the
    checkpoint called "last good" held NaN weights."""

    class InfiniteGradient(Callback):
        def on_step(self, ctx):
            if ctx.step == 2:
                next(ctx.model.parameters()).register_hook(lambda grad: grad * float("inf"))

    result = train(tiny_config("train.checkpoint_every=1"), tmp_path, callbacks=[InfiniteGradient()], progress=False)
    assert result.status == "diverged" and "the gradient norm became inf at step 3" in result.message
    assert [s for s, _ in list_checkpoints(tmp_path)] == [1, 2] and "step-00000002.pt" in result.message
    weights = load_checkpoint(latest_checkpoint(tmp_path))["model"]
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())


def test_a_run_whose_eigenvalues_diverge_ends_as_diverged_with_its_memory_undefined(tmp_path, tiny_config):
    """The memory recorders must not turn a divergence into a crash (the reason would be lost)."""
    from ssmem.sweep.train_run import endpoint_memory_recorder

    class PoisonAll(Callback):
        def on_step(self, ctx):
            if ctx.step == 6:
                with torch.no_grad():
                    for parameter in ctx.model.parameters():
                        parameter.fill_(float("nan"))

    cfg = tiny_config("train.record_memory_every=2", "train.memory_horizon=32")
    result = train(cfg, tmp_path, callbacks=[PoisonAll(), endpoint_memory_recorder(horizon=32)], progress=False)
    assert result.status == "diverged" and "the training loss became nan at step 7" in result.message
    endpoints = np.load(tmp_path / "memory_endpoints.npz")
    assert np.isfinite(endpoints["layer0_mf"][0]).all() and np.isnan(endpoints["layer0_mf"][1]).all()
    assert np.isnan(endpoints["layer0_capacity"][1]).all() and endpoints["step"].tolist() == [0, 6]


def test_gradient_clipping_bounds_the_update(tmp_path, tiny_config):
    cfg = tiny_config("optim.grad_clip=1e-8", "optim.warmup_steps=0", "optim.schedule=constant", "model.dropout=0.0", "train.max_steps=1")
    result = train(cfg, tmp_path, progress=False)
    assert result.status == "completed"
    # after one AdamW step the first moment is (1 - beta1) * gradient: its norm gives the clipped gradient norm
    state = load_checkpoint(latest_checkpoint(tmp_path))["optimizer"]["state"]
    grad_norm = math.sqrt(sum(float(s["exp_avg"].pow(2).sum()) for s in state.values())) / (1 - 0.9)
    assert grad_norm == pytest.approx(1e-8, rel=1e-3)


class _Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_start(self, ctx):
        self.events.append(("start", ctx.step))

    def on_step(self, ctx):
        self.events.append(("step", ctx.step))

    def on_eval(self, ctx):
        self.events.append((ctx.split, ctx.step, round(ctx.metrics["loss"], 12)))

    def on_end(self, ctx):
        self.events.append(("end", ctx.step))


def test_callbacks_see_every_step_and_evaluation(tmp_path, tiny_config):
    rec = _Recorder()
    train(tiny_config("train.max_steps=10"), tmp_path, callbacks=[rec], progress=False)
    steps = [e[1] for e in rec.events if e[0] == "step"]
    assert rec.events[0] == ("start", 0) and steps == list(range(1, 11))
    val = [(e[1], e[2]) for e in rec.events if e[0] == "val"]
    logged = [(r["step"], round(r["loss"], 12)) for r in read_metrics(tmp_path) if r["split"] == "val"]
    assert val == logged and [s for s, _ in val] == [5, 10]
    assert ("end", 10) in rec.events and rec.events[-1][0] == "test"


@pytest.mark.parametrize("mode, moves", [("reservoir", False), ("all", True)])
def test_eigenvalue_recorder_follows_the_train_mode(tmp_path, tiny_config, mode, moves):
    cfg = tiny_config(f"model.train={mode}", "train.record_eigenvalues_every=5", "train.max_steps=10", "optim.ssm_lr=0.05")
    train(cfg, tmp_path, progress=False)
    data = build_task(cfg.task.name, task_params(cfg.task), seed=cfg.seed)
    fresh = build_model(cfg.model, data.info, seed=cfg.seed)
    with np.load(tmp_path / "eigenvalues.npz") as rec:
        assert rec["step"].tolist() == [0, 5, 10]
        for i, layer in enumerate(fresh.ssm_layers()):
            initial = layer.discrete_eigenvalues().detach().to(torch.complex128).numpy()
            assert rec[f"layer{i}"].shape == (3, 8, 4)
            np.testing.assert_array_equal(rec[f"layer{i}"][0], initial)
            assert (np.abs(rec[f"layer{i}"][-1] - initial).max() > 1e-6) == moves


def test_memory_recorder_capacity_is_the_rank(tmp_path, tiny_config):
    from ssmem.memory import memory_function

    cfg = tiny_config("model.init=s4d-lin", "train.record_memory_every=4", "train.memory_horizon=256", "train.max_steps=4")
    train(cfg, tmp_path, progress=False)
    data = build_task(cfg.task.name, task_params(cfg.task), seed=cfg.seed)
    layer = build_model(cfg.model, data.info, seed=cfg.seed).ssm_layers()[0]
    modes = layer.discrete_eigenvalues().detach().to(torch.complex128).numpy()
    with np.load(tmp_path / "memory.npz") as rec:
        assert rec["step"].tolist() == [0, 4]
        # s4d-lin with 4 modes: one real mode + 3 complex pairs = 7 distinct real-system eigenvalues
        np.testing.assert_allclose(rec["layer0_capacity"][0], np.full(8, 7.0), atol=1e-6)
        expected = np.mean([memory_function(row, horizon=256).mf for row in modes], axis=0)
        np.testing.assert_allclose(rec["layer0_mf"][0], expected, rtol=1e-12, atol=1e-12)


def test_copy_and_adding_tasks_train_through_the_other_model_families(tmp_path):
    copy = load_recipe("memory/copy", ["device=cpu", "model.d_model=8", "model.d_state=8", "model.n_layers=1",
                                       "task.params.gap=5", "task.params.n_train=64", "task.params.n_val=32",
                                       "task.params.n_test=32", "train.batch_size=16", "train.max_steps=4"])  # fmt: skip
    result = train(copy, tmp_path / "copy", progress=False)
    assert result.metric == "accuracy" and result.steps == 4
    # the test accuracy, counted here over every target step of the test split with the best weights
    from ssmem.data import build_task
    from ssmem.train.trained import load_trained_model

    data = build_task(copy.task.name, task_params(copy.task), seed=copy.seed)
    model, _ = load_trained_model(tmp_path / "copy")
    x, y = (torch.stack(items) for items in zip(*(data.test[i] for i in range(len(data.test)))))
    with torch.no_grad():
        predicted = model(x).argmax(-1)
    scored = y != data.info.ignore_index
    assert result.test_metric == pytest.approx(float((predicted[scored] == y[scored]).double().mean()), abs=1e-9)
    adding = load_recipe("memory/adding", ["device=cpu", "model.d_model=8", "model.d_state=8", "model.n_layers=1",
                                           "task.params.seq_len=20", "task.params.n_train=64", "task.params.n_val=32",
                                           "task.params.n_test=32", "train.batch_size=16", "train.epochs=2",
                                           "train.max_steps=null"])  # fmt: skip
    result = train(adding, tmp_path / "adding", progress=False)
    assert result.metric == "r2" and result.steps == 8 and result.epochs == 2.0
    assert result.param_counts["trainable"] > 0


def test_loader_workers_do_not_change_the_run(tmp_path, tiny_config, without_time):
    a = train(tiny_config("train.max_steps=6"), tmp_path / "a", progress=False)
    b = train(tiny_config("train.max_steps=6", "train.num_workers=1"), tmp_path / "b", progress=False)
    assert a.test_metric == b.test_metric
    assert without_time(read_metrics(tmp_path / "a")) == without_time(read_metrics(tmp_path / "b"))


def test_a_warmup_longer_than_the_run_is_named(tmp_path, tiny_config, capsys):
    train(tiny_config("train.max_steps=4", "optim.warmup_steps=10"), tmp_path / "run", progress=False)
    assert "optim.warmup_steps=10 is longer than the run (4 steps): the learning rate peaks at 40% of optim.lr" in capsys.readouterr().err


def test_learning_rates_follow_the_schedule_in_both_groups(tmp_path, tiny_config):
    from ssmem.ssm.optim import ssm_parameters_of
    from ssmem.train import lr_factor

    cfg = tiny_config("train.log_every=1", "train.max_steps=8", "train.checkpoint_every=8", "optim.lr=0.01",
                      "optim.ssm_lr=0.002", "optim.weight_decay=0.05", "optim.min_lr_ratio=0.1")
    train(cfg, tmp_path, progress=False)
    o = cfg.optim

    def factor(step):
        return lr_factor(step, total_steps=8, warmup_steps=o.warmup_steps, schedule=o.schedule, min_ratio=o.min_lr_ratio)

    rows = [r for r in read_metrics(tmp_path) if r["split"] == "train"]
    assert [r["step"] for r in rows] == list(range(1, 9))
    for r in rows:  # the row of step s is logged after optimiser step s - 1 (0-based) ran at that rate
        assert r["lr"] == pytest.approx(0.01 * factor(r["step"] - 1), rel=1e-12)
    groups = {g["name"]: g for g in load_checkpoint(latest_checkpoint(tmp_path))["optimizer"]["param_groups"]}
    assert groups["ssm"]["lr"] == pytest.approx(0.002 * factor(7), rel=1e-12) and groups["ssm"]["weight_decay"] == 0.0
    assert groups["main"]["lr"] == pytest.approx(0.01 * factor(7), rel=1e-12) and groups["main"]["weight_decay"] == 0.05
    model = build_model(cfg.model, build_task(cfg.task.name, task_params(cfg.task)).info, seed=cfg.seed)
    assert len(groups["ssm"]["params"]) == len(ssm_parameters_of(model)) == 2 * 4  # A (2 tensors), Δ, B per layer


def test_the_best_checkpoint_of_a_lower_is_better_metric_is_the_lowest(tmp_path, tiny_lm_config):
    cfg = tiny_lm_config(tmp_path, "train.max_steps=8", "train.eval_every=1", "train.log_every=4")
    result = train(cfg, tmp_path / "run", progress=False)
    val = [r for r in read_metrics(tmp_path / "run") if r["split"] == "val"]
    best = min(val, key=lambda r: r["bits_per_byte"])
    assert result.metric == "bits_per_byte" and result.best_val_metric == best["bits_per_byte"]
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")["step"] == best["step"]
    assert max(r["bits_per_byte"] for r in val) > best["bits_per_byte"]  # the direction matters here


def test_a_padded_batch_reaches_the_model_with_its_lengths():
    """Items ((x, length), y) are called as model(x, lengths): the padding stays out of the SSM state."""
    from ssmem.train.loop import call_model

    seen = {}

    class Recorder(torch.nn.Module):
        def forward(self, x, lengths=None):
            seen["lengths"] = lengths
            return x.sum(1)

    x, lengths = torch.zeros(2, 5, 1), torch.tensor([5, 3])
    call_model(Recorder(), (x, lengths))
    assert torch.equal(seen["lengths"], lengths)
    call_model(Recorder(), x)
    assert seen["lengths"] is None
