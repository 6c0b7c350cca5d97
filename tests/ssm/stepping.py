"""Run a layer, block or model one step at a time: the recurrent view that the tests compare with the convolution."""

import torch


def recurrent_outputs(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module.step`` over the time axis of a batch-first ``x`` (``(B, L, ...)``) from the initial state; the
    outputs stacked batch-first."""
    state = module.initial_state(x.shape[0])
    outputs = []
    for t in range(x.shape[1]):
        y_t, state = module.step(x[:, t], state)
        outputs.append(y_t)
    return torch.stack(outputs, dim=1)
