"""A training step of a recipe's model on a synthetic batch of the task's shapes (no data set needed)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ssmem.data.task import TaskInfo, task_info
from ssmem.train import build_model, load_recipe, optimizer_from_config, task_params
from ssmem.ssm.optim import gradient_norm
from ssmem.train.metrics import loss_and_sums


def synthetic_batch(info: TaskInfo, batch: int, gen: torch.Generator, dev: torch.device):
    """Inputs and targets of the task's shapes: tokens or real features, pairs, per-step or per-sequence."""

    def sequence():
        if info.vocab_size is not None:
            return torch.randint(info.vocab_size, (batch, info.seq_len), generator=gen).to(dev)
        return torch.randn(batch, info.seq_len, info.d_input, generator=gen).to(dev)

    x = (sequence(), sequence()) if info.pairs else sequence()
    shape = (batch, info.seq_len) if info.per_step else (batch,)
    if info.objective == "regression":
        y = torch.randn(*shape, info.d_output, generator=gen).to(dev)
    else:
        y = torch.randint(info.d_output, shape, generator=gen).to(dev)
    return x, y


def recipe_step(recipe: str, overrides: list[str], dev: torch.device) -> tuple[Callable[[], float], int, TaskInfo]:
    """``(step, batch_size, info)``: ``step()`` runs forward, backward and the optimizer on one fixed batch."""
    cfg = load_recipe(recipe, overrides)
    info = task_info(cfg.task.name, task_params(cfg.task))
    model = build_model(cfg.model, info, seed=cfg.seed, device=dev)
    model.train()
    optimizer, _ = optimizer_from_config(model, cfg.optim)
    x, y = synthetic_batch(info, cfg.train.batch_size, torch.Generator().manual_seed(0), dev)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss_sum, count, _ = loss_and_sums(model(x), y, info)
        (loss_sum / count).backward()
        # the training loop's guard: the gradient norm (clipped when the recipe clips) must be finite
        if cfg.optim.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip).item()
        else:
            gradient_norm([p.grad for p in model.parameters() if p.grad is not None]).item()
        optimizer.step()
        return float(loss_sum.detach())

    return step, cfg.train.batch_size, info


CPU_RECIPES = (
    "forecast/vic_elec-cpu",
    "lm/shakespeare-cpu",
    "lra/image-cpu",
    "lra/listops-cpu",
    "lra/pathfinder-cpu",
    "lra/pathx-cpu",
    "lra/retrieval-cpu",
    "lra/text-cpu",
    "memory/adding",
    "memory/copy",
    "memory/delay",
)
LRA_CPU_RECIPES = tuple(r for r in CPU_RECIPES if r.startswith("lra/"))
