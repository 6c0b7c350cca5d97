"""train.precision and train.tf32: low-precision blocks around SSM kernels that stay exact float32."""

import math

import pytest
import torch

from ssmem.ssm import S4D, SSMBlock
from ssmem.train import Callback, list_checkpoints, load_checkpoint, read_metrics, train
from ssmem.train.config import ConfigError
from ssmem.train.precision import autocast, grad_scaler, tf32_policy

from .stopping import Stop, StopAt


def test_under_bf16_autocast_the_s4d_kernel_and_output_stay_float32_and_exact():
    layer = S4D(8, 16, seed=0)
    x = torch.randn(3, 64, 8, generator=torch.Generator().manual_seed(1))
    exact = layer(x)
    with autocast("bf16", torch.device("cpu")):
        kernel = layer.kernel(64)
        low = layer(x.bfloat16())  # a bf16 input, as a preceding autocast linear layer gives
    assert kernel.dtype == low.dtype == torch.float32
    # the only rounding is the input's to bf16 (8 bits): the convolution itself adds none
    assert torch.allclose(low, layer(x.bfloat16().float()), rtol=0, atol=1e-6)
    assert (low - exact).abs().max() < 0.05 * exact.abs().max()


def test_under_bf16_autocast_a_block_mixes_in_bf16_around_a_float32_layer():
    block = SSMBlock(8, S4D(8, 16, seed=0), norm="layer")
    seen = {}
    block.layer.register_forward_hook(lambda m, i, o: seen.update(layer=o.dtype))
    block.output_linear.register_forward_hook(lambda m, i, o: seen.update(linear=o.dtype))
    with autocast("bf16", torch.device("cpu")):
        block(torch.randn(2, 16, 8))
    assert seen == {"layer": torch.float32, "linear": torch.bfloat16}


def test_the_kernel_runs_without_tf32_even_where_the_user_allowed_it(monkeypatch):
    """TF32 would round the complex einsum's inputs to 10 mantissa bits on a GPU; the flag is what it reads."""
    import ssmem.ssm.s4d as s4d

    seen = []
    original = s4d.vandermonde_kernel

    def spy(*args, **kwargs):
        seen.append(torch.get_float32_matmul_precision())
        return original(*args, **kwargs)

    monkeypatch.setattr(s4d, "vandermonde_kernel", spy)
    layer = S4D(4, 8, seed=0)
    with tf32_policy(True):
        assert torch.get_float32_matmul_precision() == "high"
        layer(torch.randn(1, 16, 4))
        assert torch.get_float32_matmul_precision() == "high"  # restored after the layer
    assert seen == ["highest"]
    assert torch.get_float32_matmul_precision() == "highest"


def test_a_run_restores_the_tf32_flags_it_set(tmp_path, tiny_config):
    before = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32

    class Flags(Callback):
        def on_start(self, ctx):
            self.during = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32

    for allow, expected in ((True, ("high", True)), (False, ("highest", False))):
        flags = Flags()
        train(tiny_config(f"train.tf32={str(allow).lower()}", "train.max_steps=2"), tmp_path / str(allow),
              callbacks=[flags], progress=False)
        assert flags.during == expected
        assert (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32) == before


def test_bf16_training_follows_the_fp32_run(tmp_path, tiny_config):
    fp32 = train(tiny_config(), tmp_path / "fp32", progress=False)
    bf16 = train(tiny_config("train.precision=bf16"), tmp_path / "bf16", progress=False)
    assert bf16.status == "completed"
    losses = [[r["loss"] for r in read_metrics(d) if r["split"] == "train"] for d in (tmp_path / "fp32", tmp_path / "bf16")]
    assert losses[1] != losses[0]  # autocast did act
    assert losses[1][-1] < 0.8 * losses[1][0]  # and the run learns
    assert bf16.test_metric == pytest.approx(fp32.test_metric, abs=0.05)


def test_fp16_scales_the_loss_and_a_resume_carries_the_scale_on(tmp_path, tiny_config, without_time, monkeypatch):
    import ssmem.train.loop as loop

    scalers = []
    monkeypatch.setattr(loop, "grad_scaler", lambda *a: scalers.append(grad_scaler(*a)) or scalers[-1])
    cfg = tiny_config("train.precision=fp16")
    ref = train(cfg, tmp_path / "ref", progress=False)
    assert scalers[-1].is_enabled() and math.log2(scalers[-1].get_scale()) in range(17)  # 2^16, halved on overflow

    with pytest.raises(Stop):
        train(cfg, tmp_path / "cut", callbacks=[StopAt(9)], progress=False)
    resumed = train(cfg, tmp_path / "cut", resume=True, progress=False)
    assert without_time(read_metrics(tmp_path / "cut")) == without_time(read_metrics(tmp_path / "ref"))
    assert resumed.test_metric == ref.test_metric
    # a scale the run had lowered (after overflows) is the one it resumes with
    with pytest.raises(Stop):
        train(cfg, tmp_path / "low", callbacks=[StopAt(9)], progress=False)
    path = list_checkpoints(tmp_path / "low")[-1][1]
    saved = load_checkpoint(path)
    saved["scaler"]["scale"] = 2.0**7
    torch.save(saved, path)
    train(cfg, tmp_path / "low", resume=True, progress=False)
    assert scalers[-1].get_scale() <= 2.0**7


def test_unknown_precision_names_the_choices(tiny_config):
    with pytest.raises(ConfigError, match="fp32.*bf16.*fp16"):
        tiny_config("train.precision=fp8")
    with pytest.raises(ValueError, match="valid choices: fp32, bf16, fp16"):
        autocast("int8", torch.device("cpu"))
