"""The training harness: typed configs and recipes, one training loop, exact resume, NaN guard, DDP.

    from ssmem.train import load_recipe, train
    cfg = load_recipe("memory/delay", ["model.init=s4d-lin", "model.train=reservoir"])
    result = train(cfg, "runs/delay-lin")      # -> TrainResult
"""

from .build import architecture_for, build_model, layer_seed, lr_factor, optimizer_from_config
from .callbacks import Callback, CallbackContext, EigenvalueRecorder, MemoryRecorder
from .checkpoint import CheckpointError, latest_checkpoint, list_checkpoints, load_checkpoint
from .config import (
    ConfigError,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TaskConfig,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    config_to_yaml,
    task_params,
)
from .loop import TrainResult, evaluate, load_result, read_metrics, train
from .recipes import RECIPES_DIR, RecipeInfo, list_recipes, load_recipe, recipe_names, resolve_recipe
from .sample import sample_bytes
from .trained import export_safetensors, load_trained_model, run_eigenvalue_sets

__all__ = [
    "RECIPES_DIR",
    "Callback",
    "CallbackContext",
    "CheckpointError",
    "ConfigError",
    "EigenvalueRecorder",
    "MemoryRecorder",
    "ModelConfig",
    "OptimConfig",
    "RecipeInfo",
    "RunConfig",
    "TaskConfig",
    "TrainConfig",
    "TrainResult",
    "apply_overrides",
    "architecture_for",
    "build_model",
    "config_from_dict",
    "config_to_dict",
    "config_to_yaml",
    "evaluate",
    "export_safetensors",
    "latest_checkpoint",
    "layer_seed",
    "list_checkpoints",
    "list_recipes",
    "load_checkpoint",
    "load_recipe",
    "load_result",
    "load_trained_model",
    "lr_factor",
    "optimizer_from_config",
    "read_metrics",
    "recipe_names",
    "resolve_recipe",
    "run_eigenvalue_sets",
    "sample_bytes",
    "task_params",
    "train",
]
