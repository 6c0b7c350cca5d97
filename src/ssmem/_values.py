"""What counts as an integer, a real number and a seed in ssmem's argument checks (NumPy scalars included,
bools excluded), so that every check accepts and refuses the same values."""

from __future__ import annotations

import numbers

import numpy as np


def is_integer(value: object) -> bool:
    """A Python or NumPy integer (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value: object) -> bool:
    """A Python or NumPy real number, integers included (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_seed(seed: object) -> None:
    """``seed`` is None or a non-negative integer (what NumPy's and torch's generators accept)."""
    if seed is not None and not (is_integer(seed) and seed >= 0):
        raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
