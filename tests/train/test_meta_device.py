"""Every tensor a model makes takes its device from its inputs and parameters: under a ``meta`` default device,
building, forward and backward of every layer configuration and model family create no tensor elsewhere (a
tensor made on the CPU inside the model would meet the meta tensors and raise). The optimiser's step is torch's
own code (older releases read Adam's step counter there, which a meta tensor cannot give), so it is left out."""

import dataclasses
import itertools

import pytest
import torch

from ssmem.data import TaskInfo
from ssmem.train.build import build_model, optimizer_from_config
from ssmem.train.config import ModelConfig, OptimConfig

SMALL = dict(d_model=8, n_layers=2, d_state=8, dropout=0.1)
TASKS = {  # model family -> a task that needs it, and an input batch (B = 2, L = 16)
    "classifier-tokens": (TaskInfo(objective="classification", seq_len=16, d_output=3, vocab_size=12), (2, 16)),
    "classifier-real": (TaskInfo(objective="classification", seq_len=16, d_output=3, d_input=2), (2, 16, 2)),
    "dual": (TaskInfo(objective="classification", seq_len=16, d_output=2, vocab_size=12, pairs=True), (2, 2, 16)),
    "causal-tokens": (TaskInfo(objective="next_token", seq_len=16, d_output=12, vocab_size=12, per_step=True,
                               metric="bits_per_byte"), (2, 16)),
    "causal-real": (TaskInfo(objective="regression", seq_len=16, d_output=2, d_input=1, per_step=True, metric="r2"),
                    (2, 16, 1)),
    "forecaster": (TaskInfo(objective="regression", seq_len=16, d_output=8, d_input=3, metric="mse",
                            extra={"horizon": 4, "target_index": [0, 2]}), (2, 16, 3)),
}
S4D_LAYERS = [dict(layer="s4d", train=t, bidirectional=b, discretization=d)
              for t, b, d in itertools.product(("all", "reservoir", "readout"), (False, True), ("zoh", "bilinear"))]
LAYERS = S4D_LAYERS + [dict(layer="s4d", freeze_fraction=0.5), dict(layer="s4d", init="random"),
                       *(dict(layer="s4", train=t) for t in ("all", "reservoir", "readout")),
                       *(dict(layer=name, train=t) for name in ("lru", "s5", "mamba", "linear-attention")
                         for t in ("all", "reservoir", "readout"))]
FORECASTERS = [dict(instance_norm="revin-affine", channels="independent"), dict(instance_norm="revin", channels="mixed"),
               dict(layer="linear", trend_kernel=5)]


def cases():
    for family, layer in itertools.product(TASKS, LAYERS):
        if family.startswith("causal") and layer.get("bidirectional"):
            continue  # a causal model refuses bidirectional layers
        yield family, dict(layer, norm="layer" if family.startswith("causal") else "batch")
    for options in FORECASTERS:
        yield "forecaster", dict(options)


def meta_input(info, shape):
    x = torch.zeros(shape, dtype=torch.long) if info.vocab_size is not None else torch.randn(shape)
    return (x[:, 0], x[:, 1]) if info.pairs else (x,)


@pytest.mark.parametrize("family, options", list(cases()), ids=lambda v: v if isinstance(v, str) else
                         ",".join(f"{k}={w}" for k, w in v.items()))
def test_forward_and_backward_under_a_meta_default_device_stay_there(family, options):
    info, shape = TASKS[family]
    cfg = dataclasses.replace(ModelConfig(), **SMALL, **options)
    with torch.device("meta"):
        model = build_model(cfg, info, seed=0)
        optimizer_from_config(model, OptimConfig())  # the parameter groups (and counts) are built on meta too
        out = model(*meta_input(info, shape))
        out.float().square().mean().backward()
    tensors = [*model.parameters(), *model.buffers(), out]
    tensors += [p.grad for p in model.parameters() if p.grad is not None]
    assert {t.device.type for t in tensors} == {"meta"}
    assert any(p.grad is not None for p in model.parameters())
