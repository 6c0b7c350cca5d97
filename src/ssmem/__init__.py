"""ssmem: state space models that know what they remember.

The public API is exactly what this module re-exports (see ``__all__``). Names are imported on first use,
so ``import ssmem`` and the command line stay fast; ``from ssmem import S4D`` works as usual.

Sub-packages: :mod:`ssmem.eigs` (eigenvalue sets), :mod:`ssmem.ssm` (layers, blocks, models),
:mod:`ssmem.memory` (memory functions), :mod:`ssmem.dynamics` (gradient analysis), :mod:`ssmem.data` (tasks),
:mod:`ssmem.train` (configs, recipes, the training loop), :mod:`ssmem.experiments` (theory experiments),
:mod:`ssmem.sweep` (grids and the results store), :mod:`ssmem.report` (the report), :mod:`ssmem.paper`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name → the sub-module that defines it
_EXPORTS: dict[str, str] = {
    # eigenvalue sets
    "EIGENVALUE_SETS": "eigs",
    "EigenvalueSet": "eigs",
    "continuous_eigenvalues": "eigs",
    "discrete_eigenvalues": "eigs",
    "load_eigenvalues": "eigs",
    "register_set": "eigs",
    # layers and models
    "S4": "ssm",
    "S4D": "ssm",
    "LRU": "ssm",
    "S5": "ssm",
    "Mamba": "ssm",
    "TRAIN_MODES": "ssm",
    "SSMBlock": "ssm",
    "SequenceClassifier": "ssm",
    "DualSequenceClassifier": "ssm",
    "CausalSequenceModel": "ssm",
    "ParameterCounts": "ssm",
    "build_optimizer": "ssm",
    "count_parameters": "ssm",
    # memory functions
    "MemoryProfile": "memory",
    "memory_function": "memory",
    "memory_basis": "memory",
    "dense_memory_function": "memory",
    "EmpiricalMemory": "memory",
    "layer_memory": "memory",
    "model_memory": "memory",
    "memory_equivalence": "memory",
    "information_capacity": "memory",
    "IPCResult": "memory",
    # gradient analysis
    "whitened_memory_basis": "dynamics",
    "predicted_readout_gradient": "dynamics",
    "optimal_readout": "dynamics",
    # tasks, training, experiments
    "TASKS": "data",
    "build_task": "data",
    "RunConfig": "train",
    "load_recipe": "train",
    "TrainResult": "train",
    "EXPERIMENTS": "experiments",
    "run_experiment": "experiments",
    # sweeps, report, the main job
    "Grid": "sweep",
    "RunSpec": "sweep",
    "Store": "sweep",
    "load_grid": "sweep",
    "run_sweep": "sweep",
    "write_report": "report",
    "run_paper": "paper",
    # CPU training speed: what the ssmem command applies, for scripts that train through the Python API
    "tune_allocator": "_allocator",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ssmem' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
