"""Small configurations shared by the training tests (seconds per run on one CPU core)."""

import pytest
import torch

from ssmem.train import load_recipe

TINY = [
    "device=cpu",
    "seed=7",
    "model.d_model=8",
    "model.n_layers=2",
    "model.d_state=8",
    "model.dropout=0.1",  # dropout makes the RNG state part of what resume must restore
    "model.norm=layer",
    "task.params.seq_len=32",
    "task.params.delays=[2, 5]",
    "task.params.n_train=96",
    "task.params.n_val=40",
    "task.params.n_test=40",
    "optim.warmup_steps=3",
    "train.batch_size=16",
    "train.max_steps=20",  # 6 steps per epoch: crosses epoch boundaries
    "train.eval_every=5",
    "train.log_every=3",  # not a divisor of checkpoint_every: partial log sums are checkpointed too
    "train.checkpoint_every=4",
    "train.eval_batch_size=16",
]


def _tiny_config(*extra: str):
    base = TINY
    if any(o.startswith("task.name=") for o in extra):  # another memory task: it has no delays
        base = [o for o in TINY if not o.startswith("task.params.delays=")]
    return load_recipe("memory/delay", base + list(extra))


def _without_time(rows):
    return [{k: v for k, v in row.items() if k != "time"} for row in rows]


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(*overrides) -> RunConfig``: a 20-step memory/delay run with dropout."""
    return _tiny_config


@pytest.fixture(scope="session")
def without_time():
    """Metrics lines without their wall-clock field (the only one that may differ between runs)."""
    return _without_time


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Training tests use small models: one intra-op thread is fastest and keeps shared cores free."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
