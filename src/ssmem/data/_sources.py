"""Where real data come from: data seeds, directory look-up, and per-task availability checks.

Every real-data task registers an availability check here, next to its builder, so that ``ssmem data ls``
can say whether a task's files are present without building it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._registry import Registry
from .task import SPLITS, TASKS


@dataclass(frozen=True)
class Availability:
    """Whether a task can be built with given parameters, and from what."""

    ready: bool
    detail: str  # what will be used, or what is missing


AvailabilityCheck = Callable[[Any, "Path | None"], Availability]
AVAILABILITY: Registry[AvailabilityCheck] = Registry("availability check")


def register_availability(name: str) -> Callable[[AvailabilityCheck], AvailabilityCheck]:
    """Decorator: ``check(params, data_dir) -> Availability`` for task ``name``."""
    return AVAILABILITY.register(name)


def availability(name: str, params: Any = None, data_dir: str | Path | None = None) -> Availability:
    """Whether task ``name`` (with ``params``, default parameters if ``None``) has its data."""
    spec = TASKS.get(name)
    if params is None:
        params = spec.params_cls()
    if name not in AVAILABILITY:
        return Availability(True, "generated on demand")
    return AVAILABILITY.get(name)(params, Path(data_dir) if data_dir is not None else None)


def data_seed_of(params: Any, seed: int) -> int:
    """The seed that generates and splits a task's data: ``params.data_seed``, or the run ``seed`` if that is None.

    A fixed ``data_seed`` (the default) keeps one data set across the seeds of a sweep.
    """
    return int(seed if params.data_seed is None else params.data_seed)


def split_rng(data_seed: int, split: str) -> np.random.Generator:
    """The random stream of one split (``train``, ``val``, ``test``) of a task's data: each split draws its
    subset or pairs from its own stream, so one split's size does not move another split's items (a test set
    stays the same when ``n_train`` changes)."""
    return np.random.default_rng([int(data_seed), SPLITS.index(split)])


def candidate_dirs(explicit: str | Path | None, data_dir: Path | None, subdir: str, defaults: tuple[str, ...] = ()) -> list[Path]:
    """The directories searched for a release, in order.

    ``explicit`` (a params field) wins outright; otherwise ``data_dir/subdir``, ``data_dir`` itself,
    ``$SSMEM_DATA/subdir``, then the system ``defaults``.
    """
    if explicit:
        return [Path(explicit).expanduser()]
    out: list[Path] = []
    if data_dir is not None:
        out += [data_dir / subdir, data_dir]
    env = os.environ.get("SSMEM_DATA")
    if env:
        out.append(Path(env).expanduser() / subdir)
    out += [Path(d) for d in defaults]
    return out


def first_dir_with(candidates: list[Path], required: Callable[[Path], bool]) -> Path | None:
    """The first candidate directory for which ``required(dir)`` holds."""
    for folder in candidates:
        if folder.is_dir() and required(folder):
            return folder
    return None
