"""Every layer can be built and run forward and backward on the meta device (shapes only, no memory): the
layers take device and dtype from the context and their inputs, never from a hard-coded CPU."""

import pytest
import torch

from ssmem.ssm import LRU, S4D, S5, LinearAttention, Mamba, S4Dense


@pytest.mark.parametrize("layer_cls", [S4D, S4Dense, LRU, S5, Mamba, LinearAttention])
def test_forward_and_backward_on_meta(layer_cls):
    with torch.device("meta"):
        layer = layer_cls(4, 4, seed=0)
        x = torch.randn(2, 9, 4, requires_grad=True)
        y = layer(x)
        y.sum().backward()
    assert y.device.type == "meta" and y.shape == (2, 9, 4)
    assert {t.device.type for t in layer.state_dict().values()} == {"meta"}
    assert x.grad.shape == x.shape
    assert all(p.grad is not None and p.grad.device.type == "meta" for p in layer.parameters())
