"""Data parallelism: two CPU processes under torchrun train like one process on the same global batch."""

import os
import subprocess
import sys

import numpy as np
import pytest

from ssmem.train import config_to_yaml, list_checkpoints, load_checkpoint, read_metrics, train


def torchrun(recipe, run_dir, *extra):
    """``ssmem train`` on two CPU processes; returns the completed process (asserted to have succeeded)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc-per-node=2",
        "-m", "ssmem", "train", str(recipe), "--run-dir", str(run_dir), "--no-progress", *extra,
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr[-8000:]
    return proc


def test_two_processes_resume_exactly_with_dropout_and_partial_log_sums(tmp_path, tiny_config, without_time):
    """Each rank's random stream and every rank's unlogged training sums are checkpointed (the tiny config
    checkpoints every 4 steps and logs every 3, with dropout)."""
    import shutil

    cfg = tiny_config("train.max_steps=10", "train.keep_checkpoints=10")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(config_to_yaml(cfg))
    torchrun(recipe, tmp_path / "whole")
    shutil.copytree(tmp_path / "whole", tmp_path / "cut")
    for step, path in list_checkpoints(tmp_path / "cut"):
        if step > 4:
            path.unlink()
    (tmp_path / "cut" / "result.json").unlink()
    torchrun(recipe, tmp_path / "cut", "--resume")
    assert without_time(read_metrics(tmp_path / "cut")) == without_time(read_metrics(tmp_path / "whole"))


def test_two_processes_with_batch_norm_report_the_model_they_save(tmp_path, tiny_config):
    """Each rank updates batch-norm statistics from its half of the batch; the logged validation metric is that
    of rank 0's model, the one saved."""
    import torch

    from ssmem.data import build_task
    from ssmem.train import build_model, task_params
    from ssmem.train.distributed import DistInfo
    from ssmem.train.batches import SplitLoader
    from ssmem.train.loop import evaluate

    cfg = tiny_config("model.norm=batch", "model.architecture=auto", "task.name=memory/adding",
                      "task.params.seq_len=32", "train.max_steps=10", "model.dropout=0.0")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(config_to_yaml(cfg))
    torchrun(recipe, tmp_path / "bn")
    data = build_task(cfg.task.name, task_params(cfg.task), seed=cfg.seed)
    model = build_model(cfg.model, data.info, seed=cfg.seed)
    model.load_state_dict(load_checkpoint(list_checkpoints(tmp_path / "bn")[-1][1])["model"])
    cpu = torch.device("cpu")
    single = DistInfo(0, 1, 0, cpu)
    measured = evaluate(model, SplitLoader(data.val, num_workers=0, device=cpu), data.info, batch_size=16, device=cpu,
                        dist=single)
    logged = [r for r in read_metrics(tmp_path / "bn") if r["split"] == "val"][-1]
    assert logged["step"] == 10 and logged["loss"] == pytest.approx(measured["loss"], rel=1e-6)


def test_two_processes_match_one_on_the_same_global_batch(tmp_path, tiny_config):
    # no dropout: each rank draws its own dropout masks, which one process cannot reproduce
    cfg = tiny_config("model.dropout=0.0", "train.max_steps=12")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(config_to_yaml(cfg))
    single = train(cfg, tmp_path / "one", progress=False)

    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc-per-node=2",
        "-m", "ssmem", "train", str(recipe), "--run-dir", str(tmp_path / "two"), "--no-progress",
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr[-8000:]

    one, two = read_metrics(tmp_path / "one"), read_metrics(tmp_path / "two")
    assert [(r["step"], r["split"]) for r in one] == [(r["step"], r["split"]) for r in two]
    for a, b in zip(one, two):
        for key in ("loss", "r2", "mse", "lr"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a["step"], a["split"], key)
    w_one = load_checkpoint(list_checkpoints(tmp_path / "one")[-1][1])["model"]
    w_two = load_checkpoint(list_checkpoints(tmp_path / "two")[-1][1])["model"]
    assert set(w_one) == set(w_two)
    for name in w_one:
        np.testing.assert_allclose(w_two[name].numpy(), w_one[name].numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    # the run is not trivial: the weights moved
    assert single.steps == 12 and any(r["split"] == "test" for r in two)


@pytest.mark.parametrize("clean", [True, False])
def test_teardown_meets_the_other_ranks_only_after_a_clean_run(clean, monkeypatch):
    import torch
    import torch.distributed as dist

    from ssmem.train import distributed

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    barriers = []
    monkeypatch.setattr(dist, "barrier", lambda *a, **k: barriers.append(1))
    info = distributed.DistInfo(0, 2, 0, torch.device("cpu"), initialized_here=True)
    distributed.teardown(info, clean=clean)
    assert barriers == ([1] if clean else [])  # after an error the ranks are not waited for
    assert dist.is_initialized() == clean  # kept for another run in this process (torch cannot make a second)
    if clean:
        dist.destroy_process_group()


def test_the_group_is_destroyed_only_after_its_worker_threads_could_take_the_interpreter_lock(monkeypatch):
    """torch 2.6's gloo deadlocked when the group was destroyed right after a collective (its worker thread waits
    for the interpreter lock that the destroying thread holds): the destroy first sleeps, which lets them run."""
    import time

    import torch
    import torch.distributed as dist

    from ssmem.train import distributed

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    events = []
    monkeypatch.setattr(time, "sleep", lambda s: events.append(("sleep", s)))
    destroy = dist.destroy_process_group
    monkeypatch.setattr(dist, "destroy_process_group", lambda: (events.append(("destroy",)), destroy()))
    distributed.teardown(distributed.DistInfo(0, 2, 0, torch.device("cpu"), initialized_here=True), clean=False)
    assert events == [("sleep", distributed.DESTROY_GRACE), ("destroy",)] and distributed.DESTROY_GRACE > 0
    assert not dist.is_initialized()


def test_two_runs_in_one_torchrun_process_and_a_divergence_on_one_rank(tmp_path, tiny_config):
    """A second train() call re-joined a destroyed group and hung for gloo's timeout; a non-finite loss on rank 1
    only was reported with rank 0's finite loss."""
    cfg = tiny_config("train.max_steps=6", "model.dropout=0.0")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(config_to_yaml(cfg))
    script = tmp_path / "two_runs.py"
    script.write_text(f"""
import json, torch.distributed as dist
from ssmem.train import load_recipe, loop, train

calls = []
honest = loop.loss_and_sums

def loss_on_rank_one_breaks(*args):  # rank 1's batch of step 4 only: rank 0 sees a finite loss
    loss_sum, count, sums = honest(*args)
    calls.append(1)
    if dist.get_rank() == 1 and len(calls) == 4:
        sums[0] = float("nan")
    return loss_sum, count, sums

loop.loss_and_sums = loss_on_rank_one_breaks
cfg = load_recipe({str(recipe)!r})
first = train(cfg, {str(tmp_path / 'first')!r}, progress=False)
loop.loss_and_sums = honest
second = train(cfg, {str(tmp_path / 'second')!r}, progress=False)
if dist.get_rank() == 0:
    print(json.dumps([first.status, first.message, second.status]), flush=True)
""")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
                           "--nproc-per-node=2", str(script)], capture_output=True, text=True, timeout=150, env=env)
    assert proc.returncode == 0, proc.stderr[-8000:]
    import json

    first_status, message, second_status = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (first_status, second_status) == ("diverged", "completed")
    assert "the training loss became nan (summed over the processes' batches) at step 4" in message


def test_a_resume_that_would_change_the_steps_of_an_epoch_is_refused(tmp_path, tiny_config):
    """With train.drop_last=false, two processes make fewer steps an epoch than one: resuming across would move
    the batches and the schedule silently."""
    import torch

    from ssmem.train import CheckpointError

    cfg = tiny_config("train.drop_last=false", "train.max_steps=8")  # 96 examples, batch 16: 6 steps an epoch
    train(cfg, tmp_path, progress=False)
    step, path = list_checkpoints(tmp_path)[-1]
    state = torch.load(path, weights_only=False)
    assert (state["steps_per_epoch"], state["world_size"]) == (6, 1)
    state["steps_per_epoch"], state["world_size"] = 5, 2  # as two processes would have written it
    torch.save(state, path)
    (tmp_path / "result.json").unlink()
    with pytest.raises(CheckpointError, match=r"written by 2 process\(es\) with 5 steps an epoch; 1 process\(es\) "
                                              r"make 6 .* start a new run with train.drop_last=true"):
        train(cfg, tmp_path, resume=True, progress=False)


def test_batch_norm_is_synchronised_on_cuda_only(tiny_config):
    """torch's synchronised batch norm runs on GPUs; on CPU the model is left as built."""
    import torch

    from ssmem.data.task import task_info
    from ssmem.train import build_model, task_params
    from ssmem.train.distributed import DistInfo, sync_batch_norm

    cfg = tiny_config("model.norm=batch", "task.name=memory/adding")
    model = build_model(cfg.model, task_info(cfg.task.name, task_params(cfg.task)), seed=0)
    kinds = lambda m: {type(x).__name__ for x in m.modules() if "BatchNorm" in type(x).__name__}  # noqa: E731
    assert kinds(sync_batch_norm(model, DistInfo(0, 2, 0, torch.device("cpu")))) == {"BatchNorm1d"}
    assert kinds(sync_batch_norm(model, DistInfo(0, 1, 0, torch.device("cuda", 0)))) == {"BatchNorm1d"}
    params = {id(p) for p in model.parameters()}
    synced = sync_batch_norm(model, DistInfo(0, 2, 0, torch.device("cuda", 0)))
    assert kinds(synced) == {"SyncBatchNorm"} and {id(p) for p in synced.parameters()} == params


def test_processes_that_do_not_share_the_run_directory_are_refused(tmp_path, tiny_config):
    """Each rank with its own folder (another machine's disk) hung at the end of the run; now both refuse it at
    the start."""
    cfg = tiny_config("train.max_steps=4", "model.dropout=0.0")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(config_to_yaml(cfg))
    script = tmp_path / "own_folders.py"
    script.write_text(f"""
import os, pathlib
from ssmem.train import load_recipe, train
rank = os.environ["RANK"]
try:
    train(load_recipe({str(recipe)!r}), {str(tmp_path)!r} + "/run_node" + rank, progress=False)
except ValueError as err:
    pathlib.Path({str(tmp_path)!r}, "refused" + rank).write_text(str(err))
""")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
                           "--nproc-per-node=2", str(script)], capture_output=True, text=True, timeout=150, env=env)
    assert proc.returncode == 0, proc.stderr[-8000:]
    for rank in (0, 1):  # (each process writes its own file: their standard outputs interleave)
        assert (tmp_path / f"refused{rank}").read_text().startswith("the processes do not see one run directory")

