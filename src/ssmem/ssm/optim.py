"""Optimizer groups for SSM models and parameter counts (PAPER.md §1, §6).

Two AdamW groups:

* ``"ssm"``: the parameters every SSM layer names in ``ssm_parameter_names`` (A, Δ and B when trainable),
  with their own learning rate (``ssm_lr``, 1e-3 in the S4 configurations) and weight decay 0;
* ``"main"``: every other trainable parameter (C, D, the GLU mixing layers, norms, encoder, decoder), with the
  main learning rate and weight decay. As in the S4 reference configurations every tensor of this group is
  decayed, biases and norm weights included.

Frozen tensors (buffers) belong to no group. An SSM layer is any sub-module with an ``ssm_parameter_names``
attribute; its ``frozen_tensors()`` give the frozen counts (batch-norm running statistics are not counted).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def gradient_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """The 2-norm of all ``grads`` taken together, as a 0-d tensor on their device (no host read)."""
    if not grads:
        return torch.zeros(())
    return torch.nn.utils.get_total_norm(grads)


def ssm_modules(model: nn.Module) -> list[nn.Module]:
    """The SSM layers of ``model`` (itself included): modules with an ``ssm_parameter_names`` attribute."""
    return [m for m in model.modules() if hasattr(m, "ssm_parameter_names")]


def ssm_parameters_of(model: nn.Module) -> list[nn.Parameter]:
    """The trainable parameters that go into the SSM group, each once."""
    found: dict[int, nn.Parameter] = {}
    for module in ssm_modules(model):
        for name in module.ssm_parameter_names:
            param = module.get_parameter(name)
            if param.requires_grad:
                found[id(param)] = param
    return list(found.values())


@dataclass(frozen=True)
class ParameterCounts:
    """Parameter counts of a model.

    ``trainable``: numbers in trainable parameters (less the entries a layer's ``unused_parameter_count()``
    names: the trainable copies of modes frozen by ``freeze_fraction``); ``frozen``: numbers in the frozen SSM
    tensors (``frozen_tensors()`` of the SSM layers); ``ssm_trainable``: trainable numbers in the SSM group;
    ``total = trainable + frozen``; ``frozen_fraction = frozen / total``.
    """

    trainable: int
    frozen: int
    ssm_trainable: int
    total: int
    frozen_fraction: float

    def __str__(self) -> str:
        return (
            f"parameters: {self.total:,} total, {self.trainable:,} trainable ({self.ssm_trainable:,} in the SSM "
            f"group), {self.frozen:,} frozen ({100 * self.frozen_fraction:.1f}%)"
        )


def count_parameters(model: nn.Module) -> ParameterCounts:
    """Count trainable, frozen and SSM-group parameters of ``model`` (shared tensors counted once)."""
    layers = ssm_modules(model)
    # entries of trainable tensors that no output depends on (a mode frozen by freeze_fraction uses its frozen copy)
    unused = sum(m.unused_parameter_count() for m in layers if hasattr(m, "unused_parameter_count"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad) - unused
    frozen = sum(m.frozen_parameter_count() if hasattr(m, "frozen_parameter_count")
                 else sum(t.numel() for t in m.frozen_tensors().values()) for m in layers)
    ssm_trainable = sum(p.numel() for p in ssm_parameters_of(model)) - unused
    total = trainable + frozen
    return ParameterCounts(trainable, frozen, ssm_trainable, total, frozen / total if total else 0.0)


def build_optimizer(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float = 0.05,
    ssm_lr: float = 1e-3,
    ssm_weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
) -> tuple[torch.optim.AdamW, ParameterCounts]:
    """AdamW with the groups ``"ssm"`` (``ssm_lr``, ``ssm_weight_decay``) and ``"main"`` (``lr``, ``weight_decay``).

    Each group dict carries its name under the key ``"name"``; a group may be empty (e.g. the SSM group of a
    readout model). Returns the optimizer and the model's :class:`ParameterCounts`.
    """
    for label, value in (("lr", lr), ("ssm_lr", ssm_lr), ("weight_decay", weight_decay),
                         ("ssm_weight_decay", ssm_weight_decay)):
        if not value >= 0:
            raise ValueError(f"{label} must be >= 0, got {value!r}")
    ssm = ssm_parameters_of(model)
    ssm_ids = {id(p) for p in ssm}
    main = [p for p in model.parameters() if p.requires_grad and id(p) not in ssm_ids]
    if not ssm and not main:
        raise ValueError("the model has no trainable parameters")
    groups = [
        {"name": "ssm", "params": ssm, "lr": ssm_lr, "weight_decay": ssm_weight_decay},
        {"name": "main", "params": main, "lr": lr, "weight_decay": weight_decay},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas), count_parameters(model)


__all__ = ["ParameterCounts", "build_optimizer", "count_parameters"]
