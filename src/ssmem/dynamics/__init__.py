"""Gradient analysis of linear SSM readouts: the whitened memory basis, teacher information, predicted
gradients, best achievable loss (PAPER.md §5). Pure float64 numpy functions."""

from .basis import (
    WhitenedBasis,
    distinct_poles,
    finite_horizon_states,
    memory_vectors,
    rational_krylov_basis,
    step_weights,
    whitened_memory_basis,
    whitened_states,
    whitening_matrix,
    window_basis,
    with_skip,
)
from .gradient import (
    ACTIVATIONS,
    LOSSES,
    ReadoutOptimum,
    error_signal,
    input_autocorrelation,
    nonlinear_readout_gradient,
    optimal_readout,
    predicted_readout_gradient,
    readout_kernel,
    readout_loss,
)
from .teacher import empirical_teacher_information, lagged_cross_covariance, teacher_information

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "ReadoutOptimum",
    "WhitenedBasis",
    "distinct_poles",
    "empirical_teacher_information",
    "error_signal",
    "finite_horizon_states",
    "input_autocorrelation",
    "lagged_cross_covariance",
    "memory_vectors",
    "nonlinear_readout_gradient",
    "optimal_readout",
    "predicted_readout_gradient",
    "readout_kernel",
    "readout_loss",
    "rational_krylov_basis",
    "step_weights",
    "teacher_information",
    "whitened_memory_basis",
    "whitened_states",
    "whitening_matrix",
    "window_basis",
    "with_skip",
]
