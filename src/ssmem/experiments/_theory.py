"""Analytic predictions for the probes of :mod:`ssmem.experiments._training`.

A probe's readout is shared by the evaluation steps t ∈ [start, L) of sequences that start at t = 0; its best
R² for a teacher h* is ‖P_{√c S} √c h*‖² / ‖√c h*‖² (:func:`ssmem.dynamics.window_basis`).
"""

from __future__ import annotations

import numpy as np

from ..dynamics import optimal_readout, step_weights, teacher_information, window_basis


def predicted_r2(modes: np.ndarray, teacher: int | np.ndarray, *, length: int, start: int, skip: bool) -> float:
    """Best R² over steps [start, length) of a shared linear readout of the SSM ``modes`` (plus its direct
    term with ``skip``) for ``teacher`` (a delay ≤ start or a kernel)."""
    basis = window_basis(modes, length=length, start=start, skip=skip)
    weighted = np.sqrt(step_weights(length, start)) * teacher_information(teacher, horizon=length)[:length]
    return optimal_readout(basis, weighted).r2


def window_memory_function(modes: np.ndarray, *, length: int, start: int, skip: bool) -> np.ndarray:
    """Best R² of the delay teacher for every delay τ ≤ start: ``(start + 1,)``."""
    return window_basis(modes, length=length, start=start, skip=skip).memory_function[: start + 1]
