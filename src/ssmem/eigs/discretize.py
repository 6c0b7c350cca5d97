"""Discretisation of diagonal continuous-time eigenvalues, and its inverse (numpy, float64).

    ZOH:       Ā = exp(Δ A)                      A = log(Ā) / Δ
    bilinear:  Ā = (1 + Δ A/2) / (1 - Δ A/2)     A = (2/Δ) (Ā - 1) / (Ā + 1)

The torch versions used inside layers live in :mod:`ssmem.ssm.kernels`; both follow these formulas.
"""

from __future__ import annotations

import numpy as np

DISCRETIZATIONS = ("zoh", "bilinear")


def check_discretization(discretization: str) -> None:
    """Raise ``ValueError`` naming the valid choices unless ``discretization`` is one of :data:`DISCRETIZATIONS`."""
    if discretization not in DISCRETIZATIONS:
        raise ValueError(f"unknown discretization {discretization!r}; valid choices: {', '.join(DISCRETIZATIONS)}")


def to_discrete(A: np.ndarray, dt: float | np.ndarray, discretization: str = "zoh") -> np.ndarray:
    """Ā from A (any shape, broadcast against ``dt``)."""
    check_discretization(discretization)
    dtA = np.asarray(dt) * np.asarray(A, dtype=np.complex128)
    if discretization == "zoh":
        return np.exp(dtA)
    return (1 + dtA / 2) / (1 - dtA / 2)


def to_continuous(A_bar: np.ndarray, dt: float | np.ndarray, discretization: str = "zoh") -> np.ndarray:
    """A from Ā (the inverse of :func:`to_discrete`); Ā must be nonzero and inside the unit disk."""
    check_discretization(discretization)
    A_bar = np.asarray(A_bar, dtype=np.complex128)
    if np.any(A_bar == 0) or np.any(np.abs(A_bar) >= 1):
        raise ValueError("discrete eigenvalues must satisfy 0 < |Ā| < 1 to map to a stable continuous system")
    if discretization == "zoh":
        return np.log(A_bar) / np.asarray(dt)
    return (2 / np.asarray(dt)) * (A_bar - 1) / (A_bar + 1)
