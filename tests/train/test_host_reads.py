"""The training loop waits for the device only on the steps that log: at most one host read there, none elsewhere.

A host read is an ``aten::_local_scalar_dense`` (``.item()``, ``float(t)``, ``bool(t)``) or a copy to the host
(``.to("cpu")``, what ``.tolist()`` needs on a GPU). They are counted below the Python API with a dispatch mode, so
the count is the same on the CPU as on a GPU. Two reads of host tensors do not count, as they wait for nothing on any
device: Adam's step counters (inside ``optimizer.step``) and the base seed a DataLoader iterator draws.
"""

import contextlib

import pytest
import torch
from torch.utils.data.dataloader import _BaseDataLoaderIter
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from torch.utils._python_dispatch import TorchDispatchMode

from ssmem.train import Callback, load_recipe, train
from ssmem.train.recipes import recipe_names

CPU_RECIPES = [n for n in recipe_names() if n.split("/")[0] in ("lra", "lm", "forecast") and n.endswith("-cpu")]
SMALL_SPLITS = {  # recipes whose splits have sizes: a few dozen examples suffice here
    "lra/listops-cpu": ["task.params.n_train=32", "task.params.n_val=8", "task.params.n_test=8"],
    "lra/retrieval-cpu": ["task.params.n_train=32", "task.params.n_val=8", "task.params.n_test=8"],
    "lra/pathfinder-cpu": ["task.params.n_train=32", "task.params.n_val=8", "task.params.n_test=8"],
    "lra/pathx-cpu": ["task.params.n_train=16", "task.params.n_val=4", "task.params.n_test=4"],
    "lm/shakespeare-cpu": ["task.params.n_train=32", "task.params.n_val=8", "task.params.n_test=8"],
}
STEPS = ["device=cpu", "train.max_steps=4", "train.log_every=2", "train.eval_every=4", "train.checkpoint_every=4",
         "train.batch_size=4", "train.eval_batch_size=4", "train.max_eval_batches=1", "optim.warmup_steps=1"]


class HostReads(TorchDispatchMode):
    """Counts host reads, except where :meth:`pause` holds."""

    def __init__(self):
        super().__init__()
        self.count = 0
        self.paused = 0

    @contextlib.contextmanager
    def pause(self):
        self.paused += 1
        try:
            yield
        finally:
            self.paused -= 1

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not self.paused:
            if func is torch.ops.aten._local_scalar_dense.default:
                self.count += 1
            elif func is torch.ops.aten._to_copy.default and kwargs.get("device") is not None \
                    and torch.device(kwargs["device"]).type == "cpu" and kwargs.get("dtype") in (None, args[0].dtype):
                self.count += 1  # a copy to the host (a conversion of dtype on the device names no device)
        return func(*args, **kwargs)


class ReadsPerStep(Callback):
    """The reads counted between one step's ``on_step`` and the next (step 1: since ``on_start``)."""

    def __init__(self, mode):
        self.mode, self.seen, self.per_step = mode, 0, []

    def on_start(self, ctx):
        self.seen = self.mode.count

    def on_step(self, ctx):
        self.per_step.append(self.mode.count - self.seen)
        self.seen = self.mode.count


def counted_training(cfg, run_dir, monkeypatch, callbacks=()):
    """Train ``cfg`` under a :class:`HostReads` mode; the reads of each step (``on_step`` to ``on_step``)."""
    mode = HostReads()
    counter = ReadsPerStep(mode)
    seeded = _BaseDataLoaderIter.__init__

    def iterator_init(self, loader):
        with mode.pause():
            seeded(self, loader)

    monkeypatch.setattr(_BaseDataLoaderIter, "__init__", iterator_init)
    stepping = contextlib.ExitStack()
    hooks = [register_optimizer_step_pre_hook(lambda *_: stepping.enter_context(mode.pause())),
             register_optimizer_step_post_hook(lambda *_: stepping.close())]
    try:
        with mode:
            result = train(cfg, run_dir, callbacks=[*callbacks, counter], progress=False)
    finally:
        for hook in hooks:
            hook.remove()
    assert result.status == "completed", result.message
    return counter.per_step


@pytest.mark.parametrize("name", CPU_RECIPES)
def test_a_training_step_reads_the_host_only_when_it_logs(name, tmp_path, monkeypatch):
    cfg = load_recipe(name, SMALL_SPLITS.get(name, []) + STEPS)
    assert counted_training(cfg, tmp_path / "run", monkeypatch) == [0, 1, 0, 1]


def test_the_counter_sees_a_read_that_a_step_adds(tmp_path, tiny_config, monkeypatch):
    """The count is not zero by construction: an ``.item()`` in every step shows in every step."""

    class ReadsAWeight(Callback):
        def on_step(self, ctx):
            next(ctx.model.parameters()).sum().item()

    per_step = counted_training(tiny_config(*STEPS[1:]), tmp_path / "run", monkeypatch, callbacks=[ReadsAWeight()])
    assert per_step == [1, 2, 1, 2]
