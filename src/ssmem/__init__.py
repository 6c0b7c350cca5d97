"""ssmem: state space models that know what they remember.

Two levels. ``ssmem`` itself: the layers, eigenvalue sets, memory functions and the gradient analysis, plus the
pure kernels they are built from. :mod:`ssmem.harness`: what runs experiments (tasks, recipes and training,
experiments, sweeps and their store, the report, ``ssmem paper``). Names are imported on first use, so
``import ssmem`` and the command line stay fast; ``from ssmem import S4D`` works as usual.

Sub-packages: :mod:`ssmem.eigs` (eigenvalue sets), :mod:`ssmem.ssm` (layers, kernels, blocks, models),
:mod:`ssmem.memory` (memory functions, IPC), :mod:`ssmem.dynamics` (gradient analysis), :mod:`ssmem.stats`
(paired statistics); the harness's :mod:`ssmem.data`, :mod:`ssmem.train`, :mod:`ssmem.experiments`,
:mod:`ssmem.sweep`, :mod:`ssmem.report`, :mod:`ssmem.paper`.
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
    "S4Dense": "ssm",
    "S4D": "ssm",
    "LRU": "ssm",
    "S5": "ssm",
    "Mamba": "ssm",
    "LinearAttention": "ssm",
    "TRAIN_MODES": "ssm",
    "SSMBlock": "ssm",
    "SequenceClassifier": "ssm",
    "DualSequenceClassifier": "ssm",
    "CausalSequenceModel": "ssm",
    "ParameterCounts": "ssm",
    "build_optimizer": "ssm",
    "count_parameters": "ssm",
    # the pure kernels
    "discretize_diagonal": "ssm.kernels",
    "vandermonde_kernel": "ssm.kernels",
    "ssm_convolution": "ssm.kernels",
    "dense_kernel": "ssm.kernels",
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
}
# names of the harness, importable from here as before (they live in ssmem.harness)
_HARNESS = ("TASKS", "build_task", "RunConfig", "load_recipe", "TrainResult", "EXPERIMENTS", "run_experiment",
            "Grid", "RunSpec", "Store", "load_grid", "run_sweep", "write_report", "run_paper", "tune_allocator")

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _HARNESS:
        value = getattr(importlib.import_module(".harness", __name__), name)
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'ssmem' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return list(__all__)
