"""What a training run leaves: its model rebuilt from a run directory's config and checkpoint (or from a file
written by ``ssmem export``), its weights exported, and its layers' eigenvalues."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ..data.task import task_info
from ..eigs import EigenvalueSet, user_set
from .build import build_model
from .checkpoint import CHECKPOINT_DIR, CheckpointError, latest_checkpoint, load_checkpoint
from .config import ConfigError, RunConfig, config_from_dict, task_params
from .export import default_export_path, load_exported_model, write_export
from .loop import BEST_FILE, CONFIG_FILE, run_config_differences
from .recipes import read_yaml
from .._io import refuse_symlink

if TYPE_CHECKING:
    from ..data.task import TaskInfo

CHECKPOINTS = ("best", "last")


def load_trained_model(
    run_dir: str | Path,
    *,
    checkpoint: str = "best",
    device: torch.device | str | None = None,
) -> tuple[nn.Module, RunConfig]:
    """A trained model with its config, in eval mode: from a run directory or from an exported file.

    Args:
        run_dir: a directory written by :func:`ssmem.train.train` (the model is rebuilt from its
            ``config.yaml`` with the weights of ``checkpoint``), or a file written by ``ssmem export``
            (:func:`~ssmem.train.export.export_safetensors`), which carries its own config and weights.
        checkpoint: for a run directory, ``"best"`` (``checkpoints/best.pt``: the best validation evaluation) or
            ``"last"`` (the newest ``checkpoints/step-*.pt``). An exported file holds one set of weights; there
            ``checkpoint`` is not used.
        device: where the model goes (None = CPU).

    Weights are read with weights-only loading (:func:`~ssmem.train.checkpoint.load_checkpoint`) or from
    safetensors: nothing in the file is executed. Missing files raise ``FileNotFoundError``; unusable
    checkpoints ``CheckpointError``; a file that is not an ssmem export ``ValueError``.
    """
    if Path(run_dir).is_file():
        return load_exported_model(run_dir, device=device)
    model, cfg, _, _ = load_run(run_dir, checkpoint=checkpoint, device=device)
    return model, cfg


def load_run(
    run_dir: str | Path, *, checkpoint: str, device: torch.device | str | None
) -> tuple[nn.Module, RunConfig, TaskInfo, Path]:
    """``(model, config, task info, checkpoint path)`` of the run in ``run_dir`` (see :func:`load_trained_model`)."""
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"unknown checkpoint {checkpoint!r}; valid choices: {', '.join(CHECKPOINTS)}")
    run_dir = Path(run_dir)
    config_file = run_dir / CONFIG_FILE
    if not config_file.is_file():
        raise FileNotFoundError(f"{run_dir} is not a training run directory: it has no {CONFIG_FILE}")
    try:
        cfg = config_from_dict(read_yaml(config_file))
    except ConfigError as err:
        message = str(err)
        raise ConfigError(message if str(config_file) in message else f"{config_file}: {message}") from None
    if checkpoint == "best":
        path = run_dir / CHECKPOINT_DIR / BEST_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir} has no {CHECKPOINT_DIR}/{BEST_FILE} (written at the first validation "
                                    "evaluation); use checkpoint='last' (ssmem sample --checkpoint last) for the newest step "
                                    "checkpoint")
    else:
        found = latest_checkpoint(run_dir)
        if found is None:
            raise FileNotFoundError(f"{run_dir} has no step checkpoints in {CHECKPOINT_DIR}/")
        path = found
    info = task_info(cfg.task.name, task_params(cfg.task), seed=cfg.seed, data_dir=cfg.task.data_dir)
    model = build_model(cfg.model, info, seed=cfg.seed, device=device if device is not None else "cpu")
    state = load_checkpoint(path, map_location=next(model.parameters()).device)
    if "model" not in state:
        raise CheckpointError(f"{path} holds no model weights")
    diffs = run_config_differences(cfg, state["config"], path.name) if "config" in state else []
    if diffs:
        raise CheckpointError(f"{config_file} does not describe the weights in {path} (edited?): " + "; ".join(diffs))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise CheckpointError(f"the weights in {path} do not fit the model of {config_file}: {err}") from None
    model.eval()
    return model, cfg, info, path


def export_safetensors(run_dir: str | Path, out: str | Path | None = None, *, checkpoint: str = "best") -> Path:
    """Write the weights of ``run_dir``'s ``checkpoint`` (``"best"`` or ``"last"``) with its config to ``out``.

    Args:
        run_dir: a directory written by :func:`ssmem.train.train`.
        out: the file to write (default :func:`default_export_path`). A symbolic link is refused; the file is
            written atomically (complete or not at all).
        checkpoint: as for :func:`~ssmem.train.load_trained_model`.

    Returns:
        The path written.
    """
    out = default_export_path(run_dir, checkpoint) if out is None else Path(out)
    refuse_symlink(out)  # before the (slower) model load: a planted link fails at once
    model, _, info, source = load_run(run_dir, checkpoint=checkpoint, device="cpu")
    config = read_yaml(Path(run_dir) / CONFIG_FILE)
    return write_export(model, config, info, out, source=source.name)


def run_eigenvalue_sets(run_dir: str | Path, *, checkpoint: str = "best") -> list[EigenvalueSet]:
    """The discrete eigenvalues of a trained model: one set per channel of every SSM layer, in layer order.

    ``run_dir`` is a directory written by :func:`ssmem.train.train` (``config.yaml`` and ``checkpoints/``); the
    model is rebuilt by :func:`load_trained_model` with ``checkpoint`` ``"best"`` or
    ``"last"``. Each channel of a layer is its own SSM driven by its own input, so its modes are kept as one
    set (named ``RUN:L<layer>c<channel>``, counting from 0) rather than pooled with the other channels'.
    """
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"unknown checkpoint {checkpoint!r}; valid choices: {', '.join(CHECKPOINTS)}")
    run_dir = Path(run_dir)
    model, _ = load_trained_model(run_dir, checkpoint=checkpoint)
    layers: list = []
    for module in model.modules():  # outermost first: a module inside a chosen layer is that layer's own part
        if callable(getattr(module, "discrete_eigenvalues", None)) and not any(
            module is inner for layer in layers for inner in layer.modules()
        ):
            layers.append(module)
    if not layers:
        raise ValueError(f"the model of run {str(run_dir)!r} has no SSM layer with discrete eigenvalues")
    name = run_dir.resolve().name
    sets = []
    for index, layer in enumerate(layers):
        values = layer.discrete_eigenvalues()
        if hasattr(values, "detach"):  # a torch tensor
            values = values.detach().cpu().numpy()
        values = np.asarray(values)
        for channel, modes in enumerate(values.reshape(values.shape[0], -1)):
            sets.append(user_set(modes, name=f"{name}:L{index}c{channel}"))
    return sets
