"""Theory experiments (PAPER.md §3–§7): each writes PNG figures and a ``results.json`` with its findings.

    from ssmem.experiments import EXPERIMENTS, run_experiment
    result = run_experiment("gradient", "out/gradient", quick=True, seed=0)
"""

from .registry import (
    EXPERIMENTS,
    Experiment,
    ExperimentContext,
    ExperimentOutput,
    ExperimentResult,
    Finding,
    register_experiment,
    run_experiment,
)

from . import (  # noqa: E402,F401  (fill the registry)
    designed_init,
    equivalence,
    fig1,
    gradient,
    long_memory,
    nonlinear_memory,
    selective_memory,
    short_memory,
)

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "ExperimentContext",
    "ExperimentOutput",
    "ExperimentResult",
    "Finding",
    "register_experiment",
    "run_experiment",
]
