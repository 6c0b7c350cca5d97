"""Sweep grids: a YAML file that expands into run specs, each with a stable run id.

A grid is one *study* or a list of them. A study is the cartesian product

    recipes × eigenvalue sets (``model.init``) × train modes (``model.train``) × axes × seeds

with a fixed list of ``overrides`` applied to every run of the study. ``axes`` maps any override key (but
``model.init``, ``model.train`` and ``seed``, which have their own keys above) to a list of values
(``model.freeze_fraction: [0, 0.25, 0.5, 0.75, 1]``). Keys given at the top level next to ``studies`` are
defaults every study inherits::

    name: lra-cpu
    description: learnable vs reservoir on the CPU-scale LRA recipes
    seeds: [1001, 1002, 1003]
    overrides: ["train.max_steps=400"]
    studies:
      - name: main
        recipes: [lra/listops-cpu, lra/retrieval-cpu]
        eigs: [s4d-inv, s4d-lin]
        train: [all, reservoir]
      - name: freeze-fraction
        recipes: [lra/listops-cpu]
        eigs: [s4d-inv]
        axes: {model.freeze_fraction: [0.0, 0.5, 1.0]}

Without ``studies`` the file itself is the one study (named after the grid). ``eigs``, ``train`` and ``axes``
may be left out: the recipe's own value is used.

The run id is ``<recipe>-<eigs>-<train>-s<seed>-<hash>`` (an ``eigs`` or ``train`` the study leaves out is left
out of the id too) where the hash covers the recipe and the full sorted override list, so the same run in two
grids (or in two studies of one grid) has the same id and runs once, and a change of any override gives a new id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..train.config import parse_override

from .._shipped import shipped_names, yaml_path_or_shipped

# override keys the grid's named axes set
EIGS_KEY = "model.init"
TRAIN_KEY = "model.train"
SEED_KEY = "seed"

_STUDY_KEYS = {"name", "description", "recipes", "eigs", "train", "seeds", "overrides", "axes"}
_GRID_KEYS = _STUDY_KEYS | {"studies"}


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a recipe plus ``key=value`` overrides (seed, eigenvalue set and train mode included).

    ``params`` holds the same overrides as a mapping (values parsed as YAML scalars) for filtering and reports.
    """

    run_id: str
    grid: str
    study: str
    recipe: str
    overrides: tuple[str, ...]
    seed: int
    eigs: str | None = None  # None: the recipe's own set
    train_mode: str | None = None  # None: the recipe's own train mode
    params: dict[str, Any] = field(default_factory=dict)
    also_in: tuple[str, ...] = ()  # the other studies of the grid that hold this run (it runs once, as `study`)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "grid": self.grid,
            "study": self.study,
            "recipe": self.recipe,
            "overrides": list(self.overrides),
            "seed": self.seed,
            "eigs": self.eigs,
            "train_mode": self.train_mode,
            "params": dict(self.params),
            "also_in": list(self.also_in),
        }


@dataclass(frozen=True)
class Study:
    """One cartesian block of a grid (see the module docstring)."""

    name: str
    recipes: tuple[str, ...]
    seeds: tuple[int, ...]
    eigs: tuple[str | None, ...] = (None,)
    train: tuple[str | None, ...] = (None,)
    axes: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    overrides: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Grid:
    """A parsed grid file: its studies; :meth:`runs` expands them into run specs (duplicates removed)."""

    name: str
    studies: tuple[Study, ...]
    description: str = ""
    source: str | None = None  # the file it was read from

    def runs(self) -> list[RunSpec]:
        """All run specs, in a deterministic order (study by study); a run id appears once, under its first
        study, with the other studies that hold it in ``also_in``."""
        seen: dict[str, RunSpec] = {}
        for study in self.studies:
            for spec in expand_study(study, grid=self.name):
                first = seen.setdefault(spec.run_id, spec)
                if first is not spec and study.name != first.study and study.name not in first.also_in:
                    seen[spec.run_id] = dataclasses.replace(first, also_in=(*first.also_in, study.name))
        return list(seen.values())


def format_value(value: Any) -> str:
    """A Python value as the YAML scalar an override expects (``True`` → ``true``, ``None`` → ``null``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)  # (the run id hashes this text: it must not change between versions)


def run_id_for(recipe: str, overrides: list[str] | tuple[str, ...], *, eigs: str | None, train_mode: str | None,
               seed: int) -> str:
    """The stable id of a run: readable prefix + 10 hex digits of a hash of recipe and sorted overrides."""
    canonical = json.dumps({"recipe": recipe, "overrides": sorted(overrides)}, sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:10]
    parts = [_slug(recipe)] + [_slug(p) for p in (eigs, train_mode) if p] + [f"s{seed}", digest]
    return "-".join(parts)


def expand_study(study: Study, *, grid: str) -> list[RunSpec]:
    """The cartesian product of one study, as run specs."""
    axis_keys = [key for key, _ in study.axes]
    axis_values = [values for _, values in study.axes]
    specs = []
    for recipe, eigs, train_mode, combo, seed in itertools.product(
        study.recipes, study.eigs, study.train, list(itertools.product(*axis_values)), study.seeds
    ):
        overrides = list(study.overrides)
        if eigs is not None:
            overrides.append(f"{EIGS_KEY}={eigs}")
        if train_mode is not None:
            overrides.append(f"{TRAIN_KEY}={train_mode}")
        overrides += [f"{key}={format_value(value)}" for key, value in zip(axis_keys, combo)]
        overrides.append(f"{SEED_KEY}={seed}")
        overrides = _last_wins(overrides)
        params = dict(parse_override(o) for o in overrides)
        specs.append(
            RunSpec(
                run_id=run_id_for(recipe, overrides, eigs=eigs, train_mode=train_mode, seed=seed),
                grid=grid,
                study=study.name,
                recipe=recipe,
                overrides=tuple(overrides),
                seed=int(seed),
                eigs=eigs,
                train_mode=train_mode,
                params=params,
            )
        )
    return specs


def check_runs(specs: list[RunSpec]) -> None:
    """Every run's recipe and overrides make a valid configuration (names, types, values, task parameters);
    raises ``ConfigError`` naming the first bad run, so a typo in a grid stops a sweep before any run trains."""
    from ..train import ConfigError, load_recipe

    for spec in specs:
        try:
            load_recipe(spec.recipe, list(spec.overrides))
        except ConfigError as err:
            raise ConfigError(f"grid {spec.grid!r}, run {spec.run_id}: {err}") from None


def load_grid(source: str | Path) -> Grid:
    """Read a grid: a YAML path, or the name of a grid shipped with ssmem (``ssmem.grids``, e.g. ``lra-quick``)."""
    path = resolve_grid_path(source)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"grid {path}: not valid YAML: {err}") from None
    return parse_grid(data, default_name=path.stem, source=str(path))


def resolve_grid_path(source: str | Path) -> Path:
    """A grid file path, or a shipped grid's name → the path of its YAML file."""
    return yaml_path_or_shipped(source, GRIDS_DIR, "grid")


GRIDS_DIR = Path(__file__).resolve().parent.parent / "grids"


def list_grids() -> list[str]:
    """Names of the grids shipped with ssmem."""
    return shipped_names(GRIDS_DIR)


def parse_grid(data: Any, *, default_name: str = "grid", source: str | None = None) -> Grid:
    """A grid from its YAML mapping (see the module docstring); errors name the bad key or value."""
    where = source or "grid"
    if not isinstance(data, dict):
        raise ValueError(f"{where}: a grid is a mapping with keys {sorted(_GRID_KEYS)}")
    _check_keys(data, _GRID_KEYS, where)
    name = str(data.get("name", default_name))
    defaults = {k: v for k, v in data.items() if k in _STUDY_KEYS - {"name", "description"}}
    raw_studies = data.get("studies")
    if raw_studies is None:
        raw_studies = [{"name": name}]
    if not isinstance(raw_studies, list) or not raw_studies:
        raise ValueError(f"{where}: 'studies' must be a non-empty list of mappings")
    studies = []
    names = set()
    for i, raw in enumerate(raw_studies):
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: studies[{i}] is not a mapping")
        _check_keys(raw, _STUDY_KEYS, f"{where}: studies[{i}]")
        merged = {**defaults, **raw}
        study = _parse_study(merged, default_name=f"study{i}", where=f"{where}: studies[{i}]")
        if study.name in names:
            raise ValueError(f"{where}: two studies are named {study.name!r}")
        names.add(study.name)
        studies.append(study)
    return Grid(name=name, studies=tuple(studies), description=str(data.get("description", "")), source=source)


def _parse_study(raw: dict[str, Any], *, default_name: str, where: str) -> Study:
    name = str(raw.get("name", default_name))
    recipes = _str_list(raw.get("recipes"), "recipes", where, required=True)
    seeds_raw = raw.get("seeds", [0])
    if isinstance(seeds_raw, int) and not isinstance(seeds_raw, bool):
        seeds_raw = [seeds_raw]
    if not isinstance(seeds_raw, list) or not seeds_raw or not all(
        isinstance(s, int) and not isinstance(s, bool) for s in seeds_raw
    ):
        raise ValueError(f"{where}: 'seeds' must be a non-empty list of integers, got {seeds_raw!r}")
    eigs = _str_list(raw.get("eigs"), "eigs", where) or [None]
    train = _str_list(raw.get("train"), "train", where) or [None]
    overrides = _str_list(raw.get("overrides"), "overrides", where)
    for text in overrides:
        _check_not_named(parse_override(text)[0], "overrides", where)
    axes_raw = raw.get("axes") or {}
    if not isinstance(axes_raw, dict):
        raise ValueError(f"{where}: 'axes' must map override keys to lists of values")
    axes = []
    for key, values in axes_raw.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: axis {key!r} must be a non-empty list of values, got {values!r}")
        _check_not_named(str(key), "axes", where)
        axes.append((str(key), tuple(values)))
    return Study(
        name=name,
        recipes=tuple(recipes),
        seeds=tuple(int(s) for s in seeds_raw),
        eigs=tuple(eigs),
        train=tuple(train),
        axes=tuple(axes),
        overrides=tuple(overrides),
        description=str(raw.get("description", "")),
    )


# the grid's own keys for the overrides a run is labelled by
_NAMED_KEYS = {EIGS_KEY: "eigs", TRAIN_KEY: "train", SEED_KEY: "seeds"}


def _check_not_named(key: str, section: str, where: str) -> None:
    """Refuse an override or axis that sets what a run is labelled by (its id, the store and report columns)."""
    if key in _NAMED_KEYS:
        raise ValueError(f"{where}: {key!r} cannot be set in '{section}' (runs are labelled by it); list its values "
                         f"under the study's '{_NAMED_KEYS[key]}' key instead")


def _str_list(value: Any, key: str, where: str, *, required: bool = False) -> list[str]:
    if value is None:
        if required:
            raise ValueError(f"{where}: '{key}' is required (a list of names)")
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: '{key}' must be a list of strings, got {value!r}")
    if required and not value:
        raise ValueError(f"{where}: '{key}' must not be empty")
    return list(value)


def _check_keys(data: dict[str, Any], valid: set[str], where: str) -> None:
    unknown = sorted(set(data) - valid)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: {', '.join(sorted(valid))}")


def _last_wins(overrides: list[str]) -> list[str]:
    """Drop earlier overrides of a key that a later one sets again (keeps the order of the survivors)."""
    last = {parse_override(o)[0]: i for i, o in enumerate(overrides)}
    return [o for i, o in enumerate(overrides) if last[parse_override(o)[0]] == i]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")
