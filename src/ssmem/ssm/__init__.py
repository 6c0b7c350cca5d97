"""SSM layers (S4D, S4; LRU, S5 and the selective Mamba), the block around them, sequence models and optimizer groups.

Layers share one contract: ``forward(x (B, L, H)) -> (B, L, H)``, ``kernel(L)``, ``initial_state(batch)`` and
``step(x_t, state)`` (unidirectional), ``ssm_parameters()``, ``discrete_eigenvalues()``,
``ssm_parameter_names`` and ``frozen_tensors()``. Pure kernel functions live in :mod:`ssmem.ssm.kernels`.
LRU and S5 share one state across channels (MIMO): ``kernel(L)`` is ``(H, H, L)`` and ``state_matrices()`` gives
each input channel's real system. Mamba's recurrence depends on its input: it has neither ``kernel`` nor
``discrete_eigenvalues``.
"""

from ._common import TRAIN_MODES, FrozenKernel, freeze_readout_kernels
from .block import NORMS, SSMBlock
from .linear_attention import LinearAttention
from .lru import LRU
from .mamba import Mamba
from .models import POOLINGS, CausalSequenceModel, DualSequenceClassifier, SequenceClassifier
from .optim import ParameterCounts, build_optimizer, count_parameters
from .s4 import S4, S4Dense
from .s4d import S4D
from .s5 import S5

__all__ = [
    "LRU",
    "LinearAttention",
    "NORMS",
    "POOLINGS",
    "S4",
    "S4Dense",
    "S4D",
    "S5",
    "TRAIN_MODES",
    "CausalSequenceModel",
    "DualSequenceClassifier",
    "FrozenKernel",
    "Mamba",
    "ParameterCounts",
    "SSMBlock",
    "SequenceClassifier",
    "build_optimizer",
    "count_parameters",
    "freeze_readout_kernels",
]
