"""The study report: tables, figures and the paper's claims from a sweep store and experiment results."""

from .claims import Finding, experiment_findings, lra_findings, sweep_findings
from .collect import Curve, MemoryEndpoints, RunData, load_experiments, load_runs, read_curves, task_family, task_name
from ..stats import Verdict, majority_verdict, paired_verdict
from .published import LRA_TASKS, PUBLISHED_S4D, published
from .tables import (
    GroupRow,
    Stat,
    generalization_gap,
    group_runs,
    memory_extension,
    mass_delay,
    steps_to_fraction,
)
from .writer import Report, write_report

__all__ = [
    "LRA_TASKS",
    "PUBLISHED_S4D",
    "Curve",
    "Finding",
    "GroupRow",
    "MemoryEndpoints",
    "Report",
    "RunData",
    "Stat",
    "Verdict",
    "experiment_findings",
    "generalization_gap",
    "group_runs",
    "load_experiments",
    "load_runs",
    "lra_findings",
    "majority_verdict",
    "memory_extension",
    "mass_delay",
    "paired_verdict",
    "published",
    "read_curves",
    "steps_to_fraction",
    "sweep_findings",
    "task_family",
    "task_name",
    "write_report",
]
