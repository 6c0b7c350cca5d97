"""On a GPU: the layers agree with the CPU on values and gradients, and a training step that does not log never
waits for the device (``torch.cuda.set_sync_debug_mode("error")`` turns any synchronising call into an error).

Skipped without CUDA; ``python benchmarks/gpu_check.py`` runs them with the GPU benchmarks.
"""

import pytest
import torch

from ssmem.ssm import Mamba, S4Dense, S4D
from ssmem.train import Callback, load_recipe, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("make", [
    lambda: S4D(16, 32, seed=0),
    lambda: S4D(16, 32, bidirectional=True, seed=0),
    lambda: S4D(16, 32, train="readout", seed=0),
    lambda: S4Dense(16, 16, seed=0),
    lambda: Mamba(16, 8, seed=0),  # the scan by recursive doubling on the GPU, sequential chunks on the CPU
], ids=["s4d", "s4d-bidirectional", "s4d-readout", "s4", "mamba"])
def test_a_layer_on_the_gpu_matches_the_cpu_on_values_and_gradients(make):
    cpu, gpu = make().double(), make().double().cuda()
    x = torch.randn(3, 200, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y_cpu = cpu(x.requires_grad_())
    y_cpu.square().sum().backward()
    x_gpu = x.detach().cuda().requires_grad_()
    y_gpu = gpu(x_gpu)
    y_gpu.square().sum().backward()
    torch.testing.assert_close(y_gpu.cpu(), y_cpu, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(x_gpu.grad.cpu(), x.grad, rtol=1e-9, atol=1e-10)
    for (name, p_cpu), p_gpu in zip(cpu.named_parameters(), gpu.parameters()):
        torch.testing.assert_close(p_gpu.grad.cpu(), p_cpu.grad, rtol=1e-8, atol=1e-10, msg=name)


class _NoSyncOnStep(Callback):
    """Makes every synchronising CUDA call an error during step ``step + 1`` (a step that does not log)."""

    def __init__(self, step):
        self.step = step

    def on_step(self, ctx):
        if ctx.step == self.step:
            torch.cuda.set_sync_debug_mode("error")
        elif ctx.step == self.step + 1:
            torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_training_step_that_does_not_log_never_synchronises(tmp_path, precision):
    cfg = load_recipe("lra/listops-cpu", [
        "device=cuda", "task.params.n_train=256", "task.params.n_val=32", "task.params.n_test=32", "train.max_steps=8",
        "train.log_every=4", "train.eval_every=8", "train.checkpoint_every=8", f"train.precision={precision}",
    ])
    try:
        result = train(cfg, tmp_path / "run", callbacks=[_NoSyncOnStep(5)], progress=False)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert result.status == "completed" and result.steps == 8


def test_a_short_gpu_run_learns_like_the_cpu(tmp_path):
    overrides = ["task.params.n_train=512", "task.params.n_val=64", "task.params.n_test=64", "train.max_steps=60"]
    gpu = train(load_recipe("lra/listops-cpu", ["device=cuda", *overrides]), tmp_path / "gpu", progress=False)
    cpu = train(load_recipe("lra/listops-cpu", ["device=cpu", *overrides]), tmp_path / "cpu", progress=False)
    assert gpu.status == cpu.status == "completed"
    assert gpu.metrics["train/loss"] == pytest.approx(cpu.metrics["train/loss"], rel=0.02)
