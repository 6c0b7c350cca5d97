"""Checkpoints that never lose work and never run code.

* Writing is atomic: the state goes to a temporary file in the same directory, is flushed to disk, and is
  renamed over the final name (``os.replace``). A process killed mid-save leaves at most a stray temporary
  file; the previous checkpoint is untouched.
* Only the newest ``keep`` checkpoints are kept, and the newest is deleted only after a newer one exists.
* Reading uses ``torch.load(..., weights_only=True)``: the file may hold tensors, numbers, strings, lists and
  dicts only (configs and RNG states are stored in that form), so a booby-trapped pickle is refused
  instead of executed. Anything that does not load is a :class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from .._io import atomic_open

FORMAT = "ssmem-checkpoint-v1"
CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^step-(\d{8,})\.pt$")


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, unsafe, or from an incompatible run."""


def is_checkpoint_name(name: str) -> bool:
    """Whether ``name`` is the file name of a step checkpoint (``step-00000042.pt``)."""
    return _NAME.match(name) is not None


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"step-{step:08d}.pt"


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every finished checkpoint in ``run_dir``, oldest first (temporary files skipped)."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest step checkpoint of ``run_dir`` (``best.pt`` is not one), or None if there is none."""
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, then rename over ``path``."""
    with atomic_open(path, "wb") as handle:
        torch.save(obj, handle)


def save_checkpoint(run_dir: str | Path, step: int, state: dict[str, Any], *, keep: int = 2) -> Path:
    """Write ``state`` as the checkpoint of ``step`` and prune all but the newest ``keep`` checkpoints."""
    path = checkpoint_path(run_dir, step)
    atomic_torch_save({"format": FORMAT, "step": int(step), **state}, path)
    for _, old in list_checkpoints(run_dir)[: -max(keep, 1)]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (weights only). Corrupt, unsafe or foreign files raise :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001  (pickle, zip and torch errors all mean: not a usable checkpoint)
        # torch's own message for a refused pickle suggests weights_only=False: unsafe, and no cure for a corrupt
        # file, so only the error's kind is quoted then
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        cause = type(err).__name__ + ("" if not first or "weights_only" in str(err) else f": {first}")
        in_run = path.parent.name == CHECKPOINT_DIR and _NAME.match(path.name) is not None  # a step checkpoint
        older = [p.name for _, p in list_checkpoints(path.parent.parent) if p != path] if in_run else []
        hint = f" Older checkpoints here: {', '.join(older)} (remove {path.name} to resume from them)." if older else ""
        raise CheckpointError(
            f"cannot load checkpoint {path}: it is corrupt or contains objects other than tensors and plain "
            f"data, and was not loaded (nothing in it was executed). Cause: {cause}.{hint}"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an ssmem checkpoint (expected format {FORMAT!r})")
    return state


def load_model_weights(model: torch.nn.Module, weights: Any, path: str | Path) -> None:
    """Load ``weights`` (the ``"model"`` entry of checkpoint ``path``) into ``model``. A tensor that is missing,
    unexpected or shaped differently from the model's is a :class:`CheckpointError` naming the file, the tensor
    and both shapes (the model is left unchanged)."""
    if not isinstance(weights, dict):
        raise CheckpointError(f"{path}: its weights are not a mapping of tensors (got {type(weights).__name__})")
    expected = model.state_dict()
    for name, tensor in expected.items():
        if name not in weights:
            raise CheckpointError(f"{path}: tensor {name!r} of the model (shape {tuple(tensor.shape)}) is missing from "
                                  "the checkpoint: it belongs to another model, or is damaged")
        saved = weights[name]
        if not isinstance(saved, torch.Tensor) or tuple(saved.shape) != tuple(tensor.shape):
            shape = tuple(saved.shape) if isinstance(saved, torch.Tensor) else type(saved).__name__
            raise CheckpointError(f"{path}: tensor {name!r} has shape {shape} in the checkpoint but "
                                  f"{tuple(tensor.shape)} in the model the configuration builds: the checkpoint "
                                  "belongs to another model, or is damaged")
    extra = [name for name in weights if name not in expected]
    if extra:
        raise CheckpointError(f"{path}: tensor {extra[0]!r} of the checkpoint is not in the model the configuration "
                              f"builds ({len(extra)} such): the checkpoint belongs to another model")
    model.load_state_dict(weights)


def rng_state() -> dict[str, Any]:
    """The global torch RNG states (CPU and every CUDA device) as tensors."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`'s states. A run resumed where fewer GPUs are visible (a sweep shard moved to a
    smaller slot) restores the devices it sees, by index; devices beyond those saved keep their own states."""
    torch.set_rng_state(state["torch"])
    saved = state.get("cuda")
    if saved and torch.cuda.is_available():
        for index, device_state in enumerate(saved[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(device_state, index)
