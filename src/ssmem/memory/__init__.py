"""Memory functions of linear SSMs and of any model (PAPER.md §3–§4).

* :func:`memory_function` — exact MF of a diagonal SSM from its discrete eigenvalues (Takenaka–Malmquist /
  rational Arnoldi; agrees with 60-digit arithmetic), :func:`memory_basis` — the whitened memory vectors;
* :func:`dense_memory_function` — exact MF of a dense SSM (S4), stable, no eigenvectors;
* :class:`EmpiricalMemory` — MF of any system by simulation and ridge readouts;
* :func:`layer_memory`, :func:`model_memory` — per channel, per layer;
* :func:`memory_equivalence` (S4 ≡ S4D), :func:`memory_tradeoff`, :func:`compare_memory` — reports;
* :func:`plot_memory_profiles` — the paper's Fig. 1;
* :func:`information_capacity` — the information processing capacity (IPC) of any system, by degree of
  nonlinearity (:class:`IPCResult`, :func:`plot_ipc`).
"""

from .analytic import distinct_spectrum, memory_basis, memory_function, profile_from_poles, rank_of
from .compare import MemoryComparison, compare_memory, echo_state_system, linear_attention_system
from .dense import block_diagonal_system, dense_memory_function, reachable_eigenvalues
from .empirical import BIAS_CORRECTIONS, EmpiricalMemory, dense_system, diagonal_system
from .equivalence import MemoryEquivalence, discretize_dense, memory_equivalence
from .ipc import IPCResult, information_capacity, plot_ipc
from .layers import LayerMemory, ModelMemory, layer_memory, model_memory
from .plot import plot_memory_profiles
from .profile import MemoryProfile
from .tradeoff import MemoryTradeoff, memory_tradeoff

__all__ = [
    "BIAS_CORRECTIONS",
    "EmpiricalMemory",
    "IPCResult",
    "LayerMemory",
    "MemoryComparison",
    "MemoryEquivalence",
    "MemoryProfile",
    "MemoryTradeoff",
    "ModelMemory",
    "block_diagonal_system",
    "compare_memory",
    "dense_memory_function",
    "dense_system",
    "diagonal_system",
    "discretize_dense",
    "distinct_spectrum",
    "echo_state_system",
    "information_capacity",
    "layer_memory",
    "linear_attention_system",
    "memory_basis",
    "memory_equivalence",
    "memory_function",
    "memory_tradeoff",
    "model_memory",
    "plot_ipc",
    "plot_memory_profiles",
    "profile_from_poles",
    "rank_of",
    "reachable_eigenvalues",
]
