"""Experiments: registered by name where they are defined, run into a folder of figures and one results JSON.

An experiment is a function ``run(ctx: ExperimentContext) -> ExperimentOutput``. :func:`run_experiment` times
it and writes ``out_dir/results.json``::

    {"name", "description", "quick", "seed", "wall_time_s",
     "figures": [paths relative to out_dir], "results": {...JSON numbers...},
     "findings": [{"claim", "status": "confirmed" | "not confirmed" | "inconclusive", "evidence"}]}

:class:`ExperimentResult` is the dataclass mirror of that file (``ExperimentResult.load(out_dir)``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._io import atomic_save_figure, atomic_write_text
from .._registry import Registry
from ._progress import fit_progress

# the order the experiments run in (``ssmem paper``) and appear in the report; others registered come after
EXPERIMENT_ORDER = ("fig1", "equivalence", "gradient", "long-memory", "designed-init", "short-memory",
                    "nonlinear-memory")

Status = Literal["confirmed", "not confirmed", "inconclusive"]
STATUSES: tuple[str, ...] = ("confirmed", "not confirmed", "inconclusive")
RESULTS_FILE = "results.json"


@dataclass(frozen=True)
class Finding:
    """A claim tested by an experiment, its status and the numbers behind it."""

    claim: str
    status: Status
    evidence: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown finding status {self.status!r}; valid choices: {', '.join(STATUSES)}")


def judged(claim: str, holds: bool | None, evidence: str) -> Finding:
    """A :class:`Finding` whose status follows ``holds`` (None = inconclusive)."""
    status: Status = "inconclusive" if holds is None else ("confirmed" if holds else "not confirmed")
    return Finding(claim=claim, status=status, evidence=evidence)


@dataclass
class ExperimentOutput:
    """What an experiment's run function returns: JSON-able ``results``, ``findings``, figure paths."""

    results: dict[str, Any]
    findings: list[Finding]
    figures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ExperimentContext:
    """Where and how an experiment runs: ``quick`` (CPU minutes) or full size, one ``seed`` for everything."""

    out_dir: Path
    quick: bool
    seed: int

    def save_figure(self, figure: Any, name: str) -> str:
        """Save a matplotlib figure as ``out_dir/name`` (PNG, atomically), close it; return ``name``."""
        atomic_save_figure(figure, self.out_dir / name, dpi=110)
        return name


@dataclass(frozen=True)
class Experiment:
    """A registered experiment."""

    name: str
    description: str
    run: Callable[[ExperimentContext], ExperimentOutput]


EXPERIMENTS: Registry[Experiment] = Registry("experiment")


def register_experiment(name: str, description: str):
    """Decorator: register ``run(ctx) -> ExperimentOutput`` as experiment ``name``."""

    def decorate(run: Callable[[ExperimentContext], ExperimentOutput]):
        EXPERIMENTS.add(name, Experiment(name, description, run))
        return run

    return decorate


def to_json_value(value: Any) -> Any:
    """numpy scalars/arrays → Python numbers/lists; NaN and ±inf → None (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json_value(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, (str, type(None))):
        return value
    raise TypeError(f"cannot write a {type(value).__name__} into results.json")


@dataclass
class ExperimentResult:
    """The dataclass mirror of ``results.json``."""

    name: str
    description: str
    quick: bool
    seed: int
    wall_time_s: float
    figures: list[str]
    results: dict[str, Any]
    findings: list[Finding]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["results"] = to_json_value(self.results)
        return data

    def save(self, out_dir: str | Path) -> Path:
        """Write ``out_dir/results.json`` atomically."""
        path = Path(out_dir) / RESULTS_FILE
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
        return path

    @classmethod
    def load(cls, out_dir: str | Path) -> "ExperimentResult":
        """Read ``out_dir/results.json`` (or the file itself)."""
        path = Path(out_dir)
        if path.is_dir():
            path = path / RESULTS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no experiment results at {str(path)!r}")
        data = json.loads(path.read_text())
        data["findings"] = [Finding(**f) for f in data["findings"]]
        return cls(**data)


def _results_owner(path: Path) -> str | None:
    """The experiment name in a results file, or None (no file, or one that names none)."""
    try:
        name = json.loads(path.read_text()).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def run_experiment(
    name: str, out_dir: str | Path, *, quick: bool = True, seed: int = 0, progress: bool = False
) -> ExperimentResult:
    """Run experiment ``name`` into ``out_dir`` (figures and ``results.json``) and return its result.

    ``quick=True`` (the default here) runs the CPU-minutes sizes; ``quick=False`` the full sizes, which are what
    ``ssmem experiment`` runs unless given ``--quick``. ``progress`` draws a bar on stderr for each of its
    training loops.

    Quick runs use one torch CPU thread (restored afterwards): their tensors are small, and on a shared
    machine extra threads only add contention (measured: 5× slower with 2 threads under load).
    """
    import torch

    from .._allocator import tune_for_device

    experiment = EXPERIMENTS.get(name)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"the output folder {str(out)!r} is a file; name a folder (it is created when missing)")
    other = _results_owner(out / RESULTS_FILE)
    if other not in (None, experiment.name):
        raise ValueError(f"{out} holds the results of experiment {other!r}; give each experiment its own folder "
                         f"(ssmem paper writes OUT/experiments/<name>/)")
    out.mkdir(parents=True, exist_ok=True)
    # only a finished run leaves results.json: an interrupted rerun must not pass for the earlier, finished one
    (out / RESULTS_FILE).unlink(missing_ok=True)
    tune_for_device("cpu")  # the experiments train on the CPU
    threads = torch.get_num_threads()
    start = time.perf_counter()
    try:
        if quick:
            torch.set_num_threads(1)
        with fit_progress(experiment.name, progress):
            output = experiment.run(ExperimentContext(out_dir=out, quick=bool(quick), seed=int(seed)))
    finally:
        torch.set_num_threads(threads)
    result = ExperimentResult(
        name=experiment.name,
        description=experiment.description,
        quick=bool(quick),
        seed=int(seed),
        wall_time_s=time.perf_counter() - start,
        figures=list(output.figures),
        results=to_json_value(output.results),
        findings=list(output.findings),
    )
    result.save(out)
    return result
