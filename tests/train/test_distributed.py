"""Data parallelism: two CPU processes under torchrun train like one process on the same global batch."""

import os
import subprocess
import sys

import numpy as np
import pytest

from ssmem.train import config_to_yaml, list_checkpoints, load_checkpoint, read_metrics, train


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
    info = distributed.DistInfo(0, 1, 0, torch.device("cpu"), initialized_here=True)
    distributed.teardown(info, clean=clean)
    assert not dist.is_initialized()  # the group is gone either way
    assert barriers == ([1] if clean else [])  # after an error the ranks are not waited for
