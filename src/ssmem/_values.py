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


MAX_SEED = 2**63 - 1  # torch's generators take signed 64-bit seeds
MAX_RUN_SEED = MAX_SEED // 1000 - 1  # a run's or experiment's seed: room for the seeds derived from it (seed·1000 + i)


def check_seed(seed: object) -> None:
    """``seed`` is None or an integer in 0..2⁶³ - 1 (what both NumPy's and torch's generators accept)."""
    if seed is not None and not (is_integer(seed) and 0 <= seed <= MAX_SEED):
        raise ValueError(f"seed must be None or an integer in 0..{MAX_SEED}, got {seed!r}")


def parses_as_number(text: str) -> bool:
    """Whether a text cell reads as a float (``"1e-3"``, ``" 2 "``, ``"nan"``; not ``"re"`` or ``""``)."""
    try:
        float(text)
    except ValueError:
        return False
    return True
