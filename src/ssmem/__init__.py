"""ssmem: state space models that know what they remember.

The public API is exactly what this module re-exports.
"""

__version__ = "0.1.0"

from .eigs import (  # noqa: E402
    EIGENVALUE_SETS,
    EigenvalueSet,
    continuous_eigenvalues,
    discrete_eigenvalues,
    load_eigenvalues,
    register_set,
)
from .memory import (  # noqa: E402
    EmpiricalMemory,
    MemoryProfile,
    dense_memory_function,
    layer_memory,
    memory_basis,
    memory_equivalence,
    memory_function,
    model_memory,
)
from .ssm import (  # noqa: E402
    S4,
    S4D,
    TRAIN_MODES,
    CausalSequenceModel,
    DualSequenceClassifier,
    ParameterCounts,
    SequenceClassifier,
    SSMBlock,
    build_optimizer,
    count_parameters,
)

__all__ = [
    "EIGENVALUE_SETS",
    "EigenvalueSet",
    "__version__",
    "continuous_eigenvalues",
    "discrete_eigenvalues",
    "load_eigenvalues",
    "register_set",
    "EmpiricalMemory",
    "MemoryProfile",
    "dense_memory_function",
    "layer_memory",
    "memory_basis",
    "memory_equivalence",
    "memory_function",
    "model_memory",
    "S4",
    "S4D",
    "TRAIN_MODES",
    "CausalSequenceModel",
    "DualSequenceClassifier",
    "ParameterCounts",
    "SequenceClassifier",
    "SSMBlock",
    "build_optimizer",
    "count_parameters",
]
