"""A trained model's weights as one safetensors file that carries its own configuration.

The file holds the model's tensors (``state_dict`` names) and, in the safetensors metadata (str → str):

- ``ssmem.format``: ``"ssmem-model"``, which marks the file as an ssmem export;
- ``ssmem.format_version``: :data:`EXPORT_VERSION` (a reader refuses versions it does not know);
- ``ssmem.config``: the run's resolved ``config.yaml`` as JSON (the model is rebuilt from it);
- ``ssmem.task_info``: the task facts the network's shape depends on (input/output sizes, ...) as JSON, so that
  loading needs neither the run directory nor the task's data;
- ``ssmem.checkpoint``: the checkpoint the weights came from (e.g. ``best.pt``), for the record.

Safetensors stores no pickles: reading a file executes nothing.

    path = export_safetensors("runs/delay")           # (ssmem.train.trained) runs/delay/model-best.safetensors
    model, cfg = load_exported_model(path)             # also: load_trained_model(path)
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._io import atomic_open, refuse_symlink
from .config import ConfigError, RunConfig, config_from_dict

EXPORT_FORMAT = "ssmem-model"
EXPORT_VERSION = "1"
FORMAT_KEY = "ssmem.format"
VERSION_KEY = "ssmem.format_version"
CONFIG_KEY = "ssmem.config"
TASK_INFO_KEY = "ssmem.task_info"
CHECKPOINT_KEY = "ssmem.checkpoint"
REQUIRED_KEYS = (FORMAT_KEY, VERSION_KEY, CONFIG_KEY, TASK_INFO_KEY)


def default_export_path(run_dir: str | Path, checkpoint: str = "best") -> Path:
    """Where ``ssmem export`` writes when no ``--out`` is given: ``run_dir/model-{checkpoint}.safetensors``."""
    return Path(run_dir) / f"model-{checkpoint}.safetensors"


def _safetensors() -> Any:
    try:
        import safetensors.torch
    except ImportError:
        raise ImportError("safetensors export needs the safetensors package: pip install 'ssmem[safetensors]'") from None
    return safetensors.torch


def _task_info_json(info: Any) -> str:
    """The TaskInfo as JSON; ``extra`` keeps the entries JSON can hold (``horizon`` and ``target_index`` shape a
    forecaster and always can)."""
    fields = asdict(info)
    extra = {}
    for key, value in fields.pop("extra").items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        extra[key] = value
    fields["extra"] = extra
    return json.dumps(fields, sort_keys=True)


def export_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state dict as CPU tensors that are contiguous and each own their memory.

    Safetensors refuses tensors that share storage (tied weights, a buffer that views a parameter); a clone of
    each breaks the sharing, and loading into a freshly built model restores any tie the model makes itself.
    """
    return {name: tensor.detach().to("cpu").clone().contiguous() for name, tensor in model.state_dict().items()}


def write_export(model: nn.Module, config: dict[str, Any], info: Any, out: str | Path, *, source: str) -> Path:
    """Write ``model``'s tensors with the run's ``config`` (its ``config.yaml`` as a mapping), its task ``info`` and
    the name of the checkpoint they came from (``source``) to ``out``, atomically; a symbolic link is refused."""
    st = _safetensors()
    out = Path(out)
    refuse_symlink(out)
    metadata = {
        FORMAT_KEY: EXPORT_FORMAT,
        VERSION_KEY: EXPORT_VERSION,
        CONFIG_KEY: json.dumps(config, sort_keys=True),
        TASK_INFO_KEY: _task_info_json(info),
        CHECKPOINT_KEY: source,
    }
    payload = st.save(export_tensors(model), metadata=metadata)
    with atomic_open(out, "wb") as handle:
        handle.write(payload)
    return out


def read_export(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of the ssmem export at ``path``.

    A file that is not safetensors, or whose metadata lacks one of :data:`REQUIRED_KEYS`, or has another
    format version, raises ``ValueError`` naming the file and what is wrong; a missing file ``FileNotFoundError``.
    """
    st = _safetensors()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such exported model file: {path}")
    data = path.read_bytes()
    try:
        tensors = st.load(data)
        from safetensors import safe_open  # the metadata: load() returns tensors only

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as err:  # safetensors raises its own error types (and OverflowError on garbage headers)
        raise ValueError(f"{path} is not a safetensors file ({type(err).__name__}: {err})") from None
    missing = [key for key in REQUIRED_KEYS if key not in metadata]
    if missing:
        raise ValueError(f"{path} is not an ssmem model export: its safetensors metadata lacks {', '.join(missing)} "
                         f"(write one with `ssmem export RUN_DIR --format safetensors`)")
    if metadata[FORMAT_KEY] != EXPORT_FORMAT:
        raise ValueError(f"{path} is not an ssmem model export: {FORMAT_KEY} is {metadata[FORMAT_KEY]!r}, "
                         f"expected {EXPORT_FORMAT!r}")
    if metadata[VERSION_KEY] != EXPORT_VERSION:
        raise ValueError(f"{path} has export format version {metadata[VERSION_KEY]!r}; this ssmem reads version "
                         f"{EXPORT_VERSION!r}")
    return tensors, metadata


def load_exported_model(path: str | Path, *, device: torch.device | str | None = None) -> tuple[nn.Module, RunConfig]:
    """The model saved by :func:`export_safetensors` at ``path`` and its config, in eval mode on ``device``
    (None = CPU). Neither the run directory nor the task's data is needed."""
    from ..data.task import TaskInfo
    from .build import build_model

    path = Path(path)
    tensors, metadata = read_export(path)
    try:
        cfg = config_from_dict(json.loads(metadata[CONFIG_KEY]))
        info = TaskInfo(**json.loads(metadata[TASK_INFO_KEY]))
    except ConfigError as err:
        raise ConfigError(f"{path}: the config in {CONFIG_KEY}: {err}") from None
    except (ValueError, TypeError) as err:  # bad JSON, unknown TaskInfo fields
        raise ValueError(f"{path}: unreadable {CONFIG_KEY} or {TASK_INFO_KEY} metadata ({err})") from None
    model = build_model(cfg.model, info, seed=cfg.seed, device=device if device is not None else "cpu")
    try:
        model.load_state_dict(tensors)
    except RuntimeError as err:
        raise ValueError(f"the tensors in {path} do not fit the model of its {CONFIG_KEY}: {err}") from None
    model.eval()
    return model, cfg


__all__ = ["EXPORT_VERSION", "default_export_path", "export_tensors", "load_exported_model", "read_export",
           "write_export"]
