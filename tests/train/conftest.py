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


def _tiny_lm_config(folder, *extra: str):
    """A one-layer byte LM on a small text file written into ``folder`` (one second per dozen steps)."""
    text = folder / "verses.txt"
    text.write_text("".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(120)),
                    encoding="utf-8")
    return load_recipe("lm/shakespeare-cpu", [
        "device=cpu", f"task.params.corpus={text}", "task.params.seq_len=32", "task.params.n_train=0",
        "task.params.n_val=0", "task.params.n_test=0", "task.params.cache=false", "model.d_model=16",
        "model.n_layers=1", "model.d_state=8", "optim.warmup_steps=2", "train.batch_size=8", *extra,
    ])  # fmt: skip


@pytest.fixture(scope="session")
def tiny_lm_config():
    """``tiny_lm_config(folder, *overrides) -> RunConfig``: a small lm/bytes run on a file written into folder."""
    return _tiny_lm_config


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
