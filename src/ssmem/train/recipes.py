"""Recipes: YAML run configurations shipped with ssmem, named ``<group>/<name>`` (e.g. ``memory/delay``).

A recipe file holds the plain form of a :class:`~ssmem.train.config.RunConfig`::

    description: regress u[t - tau] from iid input (delay inside the initial memory)
    seed: 0
    device: auto
    model: {d_model: 32, n_layers: 1, d_state: 16, init: s4d-lin}
    task: {name: memory/delay, params: {seq_len: 256, delays: [16]}}
    optim: {lr: 0.01}
    train: {batch_size: 32, max_steps: 400}

Keys left out take the dataclass defaults. Files are read with the safe YAML loader only: tags that would
build Python objects are refused, and so are a key given twice in one mapping and an empty file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .._shipped import shipped_names, yaml_path_or_shipped
from .config import ConfigError, RunConfig, apply_overrides, config_from_dict, load_yaml_text

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"


@dataclass(frozen=True)
class RecipeInfo:
    """A shipped recipe: its name (``group/name``), file and one-line description."""

    name: str
    path: Path
    description: str


def recipe_names() -> list[str]:
    """Every shipped recipe name, sorted (the recipes directory walked recursively)."""
    return shipped_names(RECIPES_DIR)


def list_recipes() -> list[RecipeInfo]:
    """Every shipped recipe with its description."""
    out = []
    for name in recipe_names():
        path = RECIPES_DIR / f"{name}.yaml"
        data = read_yaml(path)
        description = data.get("description", "") if isinstance(data, dict) else ""
        out.append(RecipeInfo(name, path, str(description or "")))
    return out


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file with the safe loader; unsafe tags, a key given twice and syntax errors raise
    :class:`ConfigError` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"no such recipe file: {path}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err})") from None
    try:
        return load_yaml_text(text)
    except ConfigError as err:  # a key given twice
        raise ConfigError(f"{path}, {err}") from None
    except yaml.constructor.ConstructorError as err:
        raise ConfigError(
            f"{path}: refused to load: the file uses a YAML tag that would construct Python objects "
            f"(only plain YAML is allowed): {err.problem}"
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None


def resolve_recipe(name_or_path: str | Path) -> Path:
    """A recipe name (``memory/delay``) or a path to a YAML file → the file's path."""
    return yaml_path_or_shipped(name_or_path, RECIPES_DIR, "recipe", error=ConfigError)


def load_recipe(name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Load a recipe by name or path, apply ``key=value`` overrides and check the result.

    >>> cfg = load_recipe("memory/delay", ["model.init=s4d-lin", "train.max_steps=200"])
    >>> cfg.model.init, cfg.train.max_steps
    ('s4d-lin', 200)
    """
    path = resolve_recipe(name_or_path)
    data = read_yaml(path)
    if data is None:  # an empty file (or only comments) would silently be the default model on the default task
        raise ConfigError(f"{path}: the recipe is empty; a recipe is a mapping (model:, task:, optim:, train:, ...); "
                          "see `ssmem recipes` for the shipped ones")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe is a mapping (model:, task:, optim:, train:, ...), got {type(data).__name__}")
    try:
        return config_from_dict(apply_overrides(data, list(overrides)))
    except ConfigError as err:
        raise ConfigError(f"recipe {str(name_or_path)!r}: {err}") from None
