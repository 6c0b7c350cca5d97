"""The report's numbers: per-run measures (convergence, overfitting, memory) and their mean ± std per group.

A *group* is the runs of one task, eigenvalue set and train mode (and, for ablations, the values of the
study's varied overrides) over seeds. Standard deviations are sample standard deviations (ddof = 1; 0 for a
single seed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .collect import RunData
from .published import LRA_TASKS, on_lra_data, published

CONVERGENCE_FRACTION = 0.95
MEMORY_FRACTION = 0.9  # memory length: the delay by which this fraction of the capacity is reached


@dataclass(frozen=True)
class Stat:
    """Mean ± standard deviation of ``n`` values (``None`` values are left out)."""

    mean: float | None
    std: float | None
    n: int

    @staticmethod
    def of(values: Iterable[float | None]) -> Stat:
        xs = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
        if xs.size == 0:
            return Stat(None, None, 0)
        return Stat(float(xs.mean()), float(xs.std(ddof=1)) if xs.size > 1 else 0.0, int(xs.size))

    def fmt(self, scale: float = 1.0, digits: int = 2) -> str:
        if self.mean is None:
            return "–"
        text = f"{self.mean * scale:.{digits}f}"
        if self.n > 1:
            text += f" ± {self.std * scale:.{digits}f}"
        return text


# -- per-run measures --------------------------------------------------------------------------------------


def steps_to_fraction(run: RunData, fraction: float = CONVERGENCE_FRACTION) -> int | None:
    """First evaluated step whose validation metric is within ``1 - fraction`` (5 %) of the final one.

    Higher is better (accuracy, R²): the first step reaching ``fraction · final``; lower is better (bits per
    byte, MSE): the first step at or below ``(2 - fraction) · final``. Defined for a positive final value;
    ``None`` otherwise.
    """
    curve = run.curve("val", run.metric)
    if curve is None or curve.values.size == 0:
        return None
    final = curve.values[-1]
    if not final > 0:
        return None
    if run.higher_is_better:
        hit = np.nonzero(curve.values >= fraction * final)[0]
    else:
        hit = np.nonzero(curve.values <= (2 - fraction) * final)[0]
    return int(curve.steps[hit[0]])


def generalization_gap(run: RunData) -> float | None:
    """Train − validation metric at the end of training (last logged train value, last validation value)."""
    train, val = run.curve("train", run.metric), run.curve("val", run.metric)
    if train is None or val is None or train.values.size == 0 or val.values.size == 0:
        return None
    gap = float(train.values[-1] - val.values[-1])
    return gap if run.higher_is_better else -gap


def mass_delay(mf: np.ndarray, fraction: float = MEMORY_FRACTION) -> int:
    """The delay by which ``fraction`` of the summed MF (the written delays' capacity) is reached."""
    cumulative = np.cumsum(mf)
    if cumulative[-1] <= 0:
        return 0
    return int(np.searchsorted(cumulative, fraction * cumulative[-1]))


def decay_times(eigenvalues: np.ndarray) -> np.ndarray:
    """Steps for each mode's state to decay by 1/e: τ = -1 / ln|Ā|, same shape as ``eigenvalues``.

    |Ā| is clipped to [1e-300, 1 - 1e-15] so a mode at zero has τ ≈ 0 and one on the unit circle a finite, huge τ.
    """
    modulus = np.clip(np.abs(eigenvalues), 1e-300, 1 - 1e-15)
    return -1.0 / np.log(modulus)


def memory_extension(initial: np.ndarray, trained: np.ndarray) -> float:
    """How many times longer the trained modes remember: exp(mean over modes of ln(τ_trained / τ_initial)).

    The geometric mean of the per-mode decay-time ratios (τ = -1/ln|Ā|, :func:`decay_times`): 1 for unchanged
    decay rates, 10 when every mode decays ten times slower (ln|Ā| divided by 10), whatever the horizon. Unlike a
    delay read off the MF at a finite horizon, it moves as soon as the decay rates do. ``initial``, ``trained``:
    the same modes before and after training, any matching shape (e.g. ``(H, n_modes)``).

    >>> round(memory_extension(np.array([0.9, 0.5]), np.array([0.9 ** 0.1, 0.5 ** 0.1])), 6)
    10.0
    """
    initial, trained = np.asarray(initial), np.asarray(trained)
    if initial.shape != trained.shape:
        raise ValueError(f"initial and trained eigenvalues differ in shape: {initial.shape} vs {trained.shape}")
    return float(np.exp(np.mean(np.log(decay_times(trained) / decay_times(initial)))))


def run_memory_extension(run: RunData) -> float | None:
    """:func:`memory_extension` over every recorded mode of the run's layers; None without recorded eigenvalues."""
    if run.memory is None or not run.memory.eigenvalues:
        return None
    initial = np.concatenate([e[0].ravel() for e in run.memory.eigenvalues])
    trained = np.concatenate([e[-1].ravel() for e in run.memory.eigenvalues])
    return memory_extension(initial, trained)


def run_median_decay_time(run: RunData, which: int) -> float | None:
    """Median decay time τ (steps) over the run's recorded modes, initial (``which = 0``) or trained (``-1``)."""
    if run.memory is None or not run.memory.eigenvalues:
        return None
    return float(np.median(np.concatenate([decay_times(e[which]).ravel() for e in run.memory.eigenvalues])))


# -- groups ------------------------------------------------------------------------------------------------


@dataclass
class GroupRow:
    """The runs of one (task, eigs, train mode, extra key) over seeds, and their summary statistics."""

    task: str
    eigs: str
    train_mode: str
    extra: tuple[tuple[str, Any], ...]
    runs: list[RunData]
    metric: str
    test: Stat
    best_val: Stat
    convergence_steps: Stat
    gap: Stat
    trainable: int | None
    frozen: int | None
    capacity_initial: Stat
    capacity_trained: Stat
    memory_length_initial: Stat
    memory_length_trained: Stat
    memory_extension: Stat = Stat(None, None, 0)  # per run: geometric-mean decay-time ratio trained / initial
    decay_time_initial: Stat = Stat(None, None, 0)  # per run: median decay time τ of the modes (steps)
    decay_time_trained: Stat = Stat(None, None, 0)
    published: float | None = None  # S4D's published test accuracy (%), for learnable runs on the LRA data only
    lra_data: bool = False  # every run is on the LRA benchmark's data (not a -cpu stand-in)

    @property
    def higher_is_better(self) -> bool:
        """Whether the group's metric improves upwards (accuracy, R²) rather than downwards (MSE, bits per byte)."""
        return all(r.higher_is_better for r in self.runs)

    @property
    def family(self) -> str:
        """The task family of the group's runs (``LRA``, ``LM``, ``forecasting``, or the recipe's folder)."""
        return self.runs[0].family if self.runs else "other"

    @property
    def setting(self) -> str:
        """The extra keys as ``key=value`` (``recipe`` where a run keeps its recipe's value)."""
        return " ".join(f"{k}={'recipe' if v is None else v}" for k, v in self.extra)

    @property
    def resolved_extra(self) -> tuple[tuple[str, Any], ...]:
        """:attr:`extra` with each ``recipe`` value (``None``) replaced by the value the runs' saved configs hold,
        when they all hold the same one (a key swept only among some runs' modes pairs by what the others ran)."""
        return tuple((k, _config_value(self.runs, k) if v is None else v) for k, v in self.extra)

    @property
    def cell_label(self) -> str:
        """``task/eigs``, with the setting when there is one (how the findings name a row)."""
        return f"{self.task}/{self.eigs}" + (f" [{self.setting}]" if self.extra else "")

    @property
    def label(self) -> str:
        extra = ", ".join(f"{k.split('.')[-1]}={'recipe' if v is None else v}" for k, v in self.extra)
        return f"{self.eigs} / {self.train_mode}" + (f" ({extra})" if extra else "")


def group_runs(runs: Sequence[RunData], *, extra_keys: Sequence[str] | Mapping[str, Sequence[str]] = ()) -> list[GroupRow]:
    """Group runs by task, eigenvalue set, train mode and ``extra_keys`` (override keys; or per task, a mapping
    task → keys as :func:`cell_varied_keys` gives); ordered."""
    groups: dict[tuple, list[RunData]] = {}
    for run in runs:
        keys = extra_keys.get(run.task, ()) if isinstance(extra_keys, Mapping) else extra_keys
        extra = tuple((k, run.params.get(k)) for k in keys)
        groups.setdefault((run.task, run.eigs, run.train_mode, extra), []).append(run)
    rows = []
    for (task, eigs, mode, extra), members in sorted(groups.items(), key=lambda kv: _order(kv[0])):
        mems = [r.memory for r in members if r.memory is not None]
        lra_data = all(on_lra_data(task, r.config.get("task")) for r in members)
        rows.append(GroupRow(
            task=task, eigs=eigs, train_mode=mode, extra=extra, runs=members, metric=members[0].metric,
            test=Stat.of(r.test_metric for r in members),
            best_val=Stat.of(r.best_val_metric for r in members),
            convergence_steps=Stat.of(steps_to_fraction(r) for r in members),
            gap=Stat.of(generalization_gap(r) for r in members),
            trainable=members[0].trainable, frozen=members[0].frozen,
            capacity_initial=Stat.of(m.capacity[0] for m in mems),
            capacity_trained=Stat.of(m.capacity[1] for m in mems),
            memory_length_initial=Stat.of(mass_delay(m.mf[0]) for m in mems),
            memory_length_trained=Stat.of(mass_delay(m.mf[1]) for m in mems),
            memory_extension=Stat.of(run_memory_extension(r) for r in members),
            decay_time_initial=Stat.of(run_median_decay_time(r, 0) for r in members),
            decay_time_trained=Stat.of(run_median_decay_time(r, -1) for r in members),
            published=published(eigs, task) if mode == "all" and lra_data else None,
            lra_data=lra_data,
        ))
    return rows


def varied_keys(runs: Sequence[RunData]) -> list[str]:
    """Override keys (other than seed, eigenvalue set and train mode) that take more than one value."""
    skip = {"seed", "model.init", "model.train"}
    keys = sorted({k for r in runs for k in r.params} - skip)
    return [k for k in keys if len({_hashable(r.params.get(k)) for r in runs}) > 1]


def cell_varied_keys(runs: Sequence[RunData]) -> dict[str, list[str]]:
    """Per task, the override keys that vary *within* one of its (eigenvalue set, train mode) cells: runs that
    differ in them are different settings, not seeds of one setting, and must not be pooled. Other tasks keep
    their rows (a second setting of one task does not split the others)."""
    cells: dict[tuple, list[RunData]] = {}
    for run in runs:
        cells.setdefault((run.task, run.eigs, run.train_mode), []).append(run)
    keys: dict[str, set[str]] = {}
    for (task, _, _), members in cells.items():
        keys.setdefault(task, set()).update(varied_keys(members))
    return {task: sorted(found) for task, found in keys.items() if found}


@dataclass(frozen=True)
class Comparison:
    """Reservoir vs learnable (``train = all``) for one task, eigenvalue set and setting."""

    task: str
    eigs: str
    learnable: GroupRow
    reservoir: GroupRow

    @property
    def label(self) -> str:
        """``task/eigs``, with the setting when there is one."""
        return self.learnable.cell_label


def reservoir_vs_learnable(rows: Sequence[GroupRow], *, reservoir: str = "reservoir",
                           learnable: str = "all") -> list[Comparison]:
    """Pairs of groups of the same task, set and setting (extra keys) in the two train modes.

    Settings match by their override values, else by the values the runs ran with: reservoir runs that keep the
    recipe's ``optim.ssm_lr`` pair with the learnable runs that set it to the recipe's value."""
    by_key = {(r.task, r.eigs, r.train_mode, r.extra): r for r in rows}
    by_resolved: dict[tuple, GroupRow] = {}
    for r in rows:
        by_resolved.setdefault((r.task, r.eigs, r.train_mode, r.resolved_extra), r)
    out = []
    for (task, eigs, mode, extra), row in by_key.items():
        if mode != reservoir:
            continue
        other = by_key.get((task, eigs, learnable, extra)) or by_resolved.get((task, eigs, learnable, row.resolved_extra))
        if other is not None:
            out.append(Comparison(task, eigs, other, row))
    return sorted(out, key=lambda c: _order((c.task, c.eigs, "", c.learnable.extra)))


def _order(key: tuple) -> tuple:
    task, eigs, mode, extra = key
    t = LRA_TASKS.index(task) if task in LRA_TASKS else len(LRA_TASKS)
    m = {"all": 0, "reservoir": 1, "readout": 2}.get(mode, 3)
    return (t, task, eigs, m, mode, tuple(str(v) for _, v in extra))


def _config_value(runs: Sequence[RunData], key: str) -> Any:
    """The value of dotted ``key`` in the runs' saved configs when every run holds the same one, else ``None``."""
    found = set()
    for run in runs:
        node: Any = run.config
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        found.add(_hashable(node))
    return found.pop() if len(found) == 1 else None


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def fmt_metric(metric: str) -> tuple[float, str]:
    """Scale and unit a metric is shown in (accuracy in %)."""
    return (100.0, " (%)") if metric == "accuracy" else (1.0, "")


def table_rows(rows: Sequence[GroupRow], columns: Sequence[tuple[str, Callable[[GroupRow], str]]]) -> list[list[str]]:
    return [[fn(r) for _, fn in columns] for r in rows]


__all__ = [
    "CONVERGENCE_FRACTION",
    "Comparison",
    "GroupRow",
    "Stat",
    "generalization_gap",
    "cell_varied_keys",
    "decay_times",
    "group_runs",
    "memory_extension",
    "mass_delay",
    "reservoir_vs_learnable",
    "run_memory_extension",
    "steps_to_fraction",
    "varied_keys",
]
