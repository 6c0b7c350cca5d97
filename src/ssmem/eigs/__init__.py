"""Eigenvalue sets: registered by name where they are defined (``hippo``, ``discrete``) or given by the user."""

from . import designed, discrete, hippo  # noqa: F401  (fill the registry)
from .discretize import DISCRETIZATIONS, to_continuous, to_discrete
from .hippo import hippo_legs, hippo_legs_normal_part
from .registry import EIGENVALUE_SETS, EigenvalueSet, conjugate_closed, n_modes_of, register_set
from .resolve import continuous_eigenvalues, discrete_eigenvalues, resolve_set, set_eigenvalues
from .user import load_eigenvalues, upper_half, user_set

__all__ = [
    "DISCRETIZATIONS",
    "EIGENVALUE_SETS",
    "EigenvalueSet",
    "conjugate_closed",
    "continuous_eigenvalues",
    "discrete_eigenvalues",
    "hippo_legs",
    "hippo_legs_normal_part",
    "load_eigenvalues",
    "n_modes_of",
    "register_set",
    "resolve_set",
    "set_eigenvalues",
    "to_continuous",
    "to_discrete",
    "upper_half",
    "user_set",
]
