"""SSM layers (S4D, S4), the block around them, sequence models and optimizer groups.

Layers share one contract: ``forward(x (B, L, H)) -> (B, L, H)``, ``kernel(L)``, ``initial_state(batch)`` and
``step(x_t, state)`` (unidirectional), ``ssm_parameters()``, ``discrete_eigenvalues()``,
``ssm_parameter_names`` and ``frozen_tensors()``. Pure kernel functions live in :mod:`ssmem.ssm.kernels`.
"""

from ._common import TRAIN_MODES
from .block import NORMS, SSMBlock
from .models import POOLINGS, CausalSequenceModel, DualSequenceClassifier, SequenceClassifier
from .optim import ParameterCounts, build_optimizer, count_parameters
from .s4 import S4
from .s4d import S4D

__all__ = [
    "NORMS",
    "POOLINGS",
    "S4",
    "S4D",
    "TRAIN_MODES",
    "CausalSequenceModel",
    "DualSequenceClassifier",
    "ParameterCounts",
    "SSMBlock",
    "SequenceClassifier",
    "build_optimizer",
    "count_parameters",
]
