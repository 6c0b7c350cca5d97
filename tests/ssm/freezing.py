"""Check that a layer's train mode freezes exactly the tensors it names, and that training leaves them alone."""

import torch


def assert_freezes_exactly(layer: torch.nn.Module, frozen: set[str], x: torch.Tensor) -> None:
    """``layer.frozen_tensors()`` names exactly ``frozen``; those are not trainable parameters while every other
    parameter is; one AdamW step on a loss of ``layer(x)`` moves every trainable parameter and no frozen one."""
    assert set(layer.frozen_tensors()) == frozen
    trainable = {name for name, p in layer.named_parameters() if p.requires_grad}
    assert not trainable & frozen
    assert {name for name, _ in layer.named_parameters()} == trainable  # the frozen ones are buffers
    assert frozen <= {name for name, _ in layer.named_buffers()}
    before = {name: t.detach().clone() for name, t in layer.state_dict().items()}
    optimizer = torch.optim.AdamW([p for p in layer.parameters() if p.requires_grad], lr=1e-2)
    layer(x).pow(2).sum().backward()
    optimizer.step()
    after = layer.state_dict()
    for name in frozen:
        assert torch.equal(after[name], before[name]), name
    for name in trainable:
        assert not torch.equal(after[name], before[name]), name
