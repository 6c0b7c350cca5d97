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

__all__ = [
    "EIGENVALUE_SETS",
    "EigenvalueSet",
    "__version__",
    "continuous_eigenvalues",
    "discrete_eigenvalues",
    "load_eigenvalues",
    "register_set",
]
