"""Read what a sweep left behind into plain data: the store's rows, each run's curves and memory endpoints.

Everything the report shows is computed from these dataclasses; nothing here trains or re-evaluates.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .._io import read_npz
from ..sweep.store import RunRecord, Store

CONFIG_FILE = "config.yaml"
ENDPOINTS_FILE = "memory_endpoints.npz"
METRICS_FILE = "metrics.jsonl"


@dataclass(frozen=True)
class Curve:
    """One logged quantity of one split over training: ``steps (n,)`` int64, ``values (n,)`` float64."""

    steps: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class MemoryEndpoints:
    """A run's SSM memory before and after training (from ``memory_endpoints.npz``).

    ``mf (2, D)``: MF by delay averaged over channels and layers (row 0 initial, row 1 trained);
    ``capacity (2,)``: mean per-channel capacity; ``eigenvalues``: per layer ``(2, H, n_modes)`` complex128.
    """

    steps: np.ndarray
    mf: np.ndarray
    capacity: np.ndarray
    eigenvalues: tuple[np.ndarray, ...] = ()


@dataclass
class RunData:
    """One finished run as the report sees it."""

    run_id: str
    study: str
    recipe: str
    task: str  # short task name: listops, text, retrieval, image, pathfinder, pathx, delay, ...
    eigs: str
    train_mode: str
    seed: int
    params: dict[str, Any]
    status: str
    metric: str  # the task's headline metric (accuracy, r2, ...)
    higher_is_better: bool
    test_metric: float | None
    best_val_metric: float | None
    final_val_metric: float | None
    steps: int | None
    wall_time_s: float | None
    trainable: int | None
    frozen: int | None
    curves: dict[str, dict[str, Curve]] = field(default_factory=dict)  # split -> key -> curve
    memory: MemoryEndpoints | None = None
    config: dict[str, Any] = field(default_factory=dict)  # the run's config.yaml ({} if unreadable)
    also_in: tuple[str, ...] = ()  # the grid's other studies that hold this run
    task_id: str = ""  # the task as the run named it (lm/bytes); "" when unknown

    @property
    def family(self) -> str:
        """The task family: ``LRA``, ``LM``, ``forecasting``, or the recipe's folder (:func:`task_family`)."""
        return task_family(self.recipe, self.task_id or None)

    @property
    def studies(self) -> tuple[str, ...]:
        """Every study the run counts in, its own first."""
        return (self.study, *self.also_in)

    def curve(self, split: str, key: str) -> Curve | None:
        return self.curves.get(split, {}).get(key)


# task families: the folder of a task (``lra/listops``) or recipe (``lm/shakespeare-cpu``) → the name shown
FAMILIES = {"lra": "LRA", "lm": "LM", "forecast": "forecasting"}
# families whose task names are shared by every data set (``lm/bytes``, ``forecast/series``): the recipe names them
_NAMED_BY_RECIPE = ("lm", "forecast")


def task_name(recipe: str, task: str | None = None) -> str:
    """``lra/listops`` or recipe ``lra/listops-cpu`` → ``listops``.

    Language-model and forecasting runs are named by their recipe (``lm/shakespeare-cpu`` → ``shakespeare``,
    ``forecast/ltsf-cpu`` → ``ltsf``): their tasks ``lm/bytes`` and ``forecast/series`` serve every corpus and
    series, and runs on different data must not be pooled or paired.
    """
    if task is not None and task.split("/")[0] in _NAMED_BY_RECIPE:
        task = None
    name = (task or recipe).rstrip("/").split("/")[-1]
    for suffix in (".yaml", ".yml", "-cpu", "-quick", "-paper"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def task_family(recipe: str, task: str | None = None) -> str:
    """``LRA``, ``LM`` or ``forecasting`` from the task's (else the recipe's) folder; another folder is named as
    it is (``memory/delay`` → ``memory``), and a name without one is ``other``."""
    for name in (task, recipe):
        if name and "/" in name and not name.startswith(("/", ".")):
            folder = name.split("/")[0]
            return FAMILIES.get(folder, folder)
    return "other"


def load_runs(store: str | Path | Store, *, status: str | None = "done") -> list[RunData]:
    """The runs of a store (by default only the finished ones), with their curves and memory endpoints."""
    own = not isinstance(store, Store)
    db = Store(store, create=False) if own else store
    try:
        records = db.runs(status=status)
    finally:
        if own:
            db.close()
    return [run_data(r) for r in records]


def run_data(record: RunRecord) -> RunData:
    res = record.result
    counts = res.get("param_counts") or {}
    run_dir = Path(record.run_dir) if record.run_dir else None
    if run_dir is not None and record.status == "done" and not run_dir.is_dir():
        print(f"ssmem report: run {record.run_id}: its folder {run_dir} is missing, so its curves, memory and "
              "settings are left out (was the store moved without its run folders?)", file=sys.stderr)
        run_dir = None
    return RunData(
        run_id=record.run_id,
        study=record.study,
        recipe=record.recipe,
        task=task_name(record.recipe, res.get("task")),
        eigs=str(record.eigs or res.get("init") or record.params.get("model.init") or "recipe"),
        train_mode=str(record.train_mode or res.get("train") or record.params.get("model.train") or "recipe"),
        seed=record.seed,
        params=dict(record.params),
        status=record.status,
        metric=str(res.get("metric", "accuracy")),
        higher_is_better=bool(res.get("higher_is_better", True)),
        test_metric=_num(res.get("test_metric")),
        best_val_metric=_num(res.get("best_val_metric")),
        final_val_metric=_num(res.get("final_val_metric")),
        steps=res.get("steps"),
        wall_time_s=_num(res.get("wall_time_s")),
        trainable=counts.get("trainable"),
        frozen=counts.get("frozen"),
        curves=read_curves(run_dir / METRICS_FILE) if run_dir else {},
        memory=read_memory_endpoints(run_dir / ENDPOINTS_FILE) if run_dir else None,
        config=read_config(run_dir / CONFIG_FILE) if run_dir else {},
        also_in=record.also_in,
        task_id=str(res.get("task") or ""),
    )


def read_config(path: Path) -> dict[str, Any]:
    """A run's ``config.yaml`` as a plain dict; ``{}`` when it is missing or unreadable."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def read_curves(path: Path) -> dict[str, dict[str, Curve]]:
    """``metrics.jsonl`` → split → key → :class:`Curve` (numeric keys only; test rows of the best weights)."""
    if not path.is_file():
        return {}
    rows: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a torn last line
            continue
        split = row.get("split")
        if split is None or "step" not in row or row.get("weights") == "final":
            continue
        for key, value in row.items():
            if key in ("step", "split", "epoch", "time", "lr", "best_step") or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                rows.setdefault(split, {}).setdefault(key, []).append((int(row["step"]), float(value)))
    return {
        split: {key: Curve(np.asarray([s for s, _ in pts], dtype=np.int64), np.asarray([v for _, v in pts]))
                for key, pts in keys.items()}
        for split, keys in rows.items()
    }


def read_memory_endpoints(path: Path) -> MemoryEndpoints | None:
    """``memory_endpoints.npz`` → :class:`MemoryEndpoints` (``None`` if absent or without both endpoints)."""
    if not path.is_file():
        return None
    try:
        data = read_npz(path)
        steps = data["step"]
        layers = sorted({k.split("_")[0] for k in data if k.startswith("layer")}, key=lambda s: int(s[5:]))
        if len(steps) < 2 or not layers:
            return None
        pick = [0, len(steps) - 1]
        mf = np.mean([data[f"{layer}_mf"][pick] for layer in layers], axis=0)
        capacity = np.mean([data[f"{layer}_capacity"][pick].mean(axis=-1) for layer in layers], axis=0)
        eigs = tuple(data[f"{layer}_eigenvalues"][pick] for layer in layers if f"{layer}_eigenvalues" in data)
    except (ValueError, KeyError, IndexError) as err:
        # one damaged file costs that run its memory columns, not the whole report
        print(f"ssmem report: skipping {path}: not a readable memory record ({err})", file=sys.stderr)
        return None
    return MemoryEndpoints(steps=steps[pick], mf=mf, capacity=capacity, eigenvalues=eigs)


def load_experiments(directory: str | Path | None) -> list[dict[str, Any]]:
    """The experiments' results under ``directory``, each with its folder as ``_dir``: ``directory/<name>/
    results.json`` (as ``ssmem paper`` writes them; in the main job's order), or ``directory/results.json``
    itself (one ``ssmem experiment --out``). A file that is not valid JSON is named on stderr and left out, and
    so is a directory that holds none."""
    if directory is None or not Path(directory).is_dir():
        return []
    from ..experiments.registry import EXPERIMENT_ORDER

    def order(path: Path) -> tuple[int, str]:
        name = path.parent.name
        return (EXPERIMENT_ORDER.index(name) if name in EXPERIMENT_ORDER else len(EXPERIMENT_ORDER), name)

    own = Path(directory) / "results.json"
    paths = [own] if own.is_file() else sorted(Path(directory).glob("*/results.json"), key=order)
    if not paths:
        print(f"ssmem report: no experiment results under {directory} (expected {directory}/<experiment>/"
              "results.json, or the results.json of one experiment)", file=sys.stderr)
    out = []
    for path in paths:
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            print(f"ssmem report: skipping {path}: not valid JSON ({err})", file=sys.stderr)
            continue
        data["_dir"] = str(path.parent)
        out.append(data)
    return out


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
