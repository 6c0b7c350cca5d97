"""The registry of eigenvalue sets and the two views every consumer needs.

An eigenvalue set is defined either on the continuous-time eigenvalues A (the HiPPO-derived sets) or directly
on the discrete eigenvalues Ā (the sets of the paper's Fig. 1). Every set returns the ``n_modes = d_state // 2``
upper-half representatives of a conjugate-closed spectrum, as complex128 (one of each conjugate pair: a discrete
view whose ω·Δ exceeds π lands below the real axis, which describes the same real system). Two functions give
the view a consumer wants, whatever the set's own domain:

* :func:`continuous_eigenvalues` — A, what a layer stores (discrete sets are converted by inverting the
  discretisation, so the layer's Ā is exactly the set);
* :func:`discrete_eigenvalues` — Ā, what the memory function needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .._registry import Registry
from .._values import is_integer

Domain = Literal["continuous", "discrete"]


@dataclass(frozen=True)
class EigenvalueSet:
    """A named eigenvalue set.

    ``make(n_modes, rng)`` returns ``(n_modes,)`` complex128 eigenvalues in ``domain``;
    ``seeded`` says whether ``rng`` is used (only then does the seed matter); ``n_modes`` is the one size a
    fixed set (user-given eigenvalues) has, None for sets defined at any size.
    """

    name: str
    description: str
    domain: Domain
    make: Callable[[int, np.random.Generator], np.ndarray]
    seeded: bool = False
    n_modes: int | None = None


EIGENVALUE_SETS: Registry[EigenvalueSet] = Registry("eigenvalue set")


def register_set(name: str, description: str, domain: Domain, *, seeded: bool = False):
    """Decorator: register ``make(n_modes, rng) -> (n_modes,) complex128`` as eigenvalue set ``name``."""

    def decorate(make: Callable[[int, np.random.Generator], np.ndarray]):
        EIGENVALUE_SETS.add(name, EigenvalueSet(name, description, domain, make, seeded))
        return make

    return decorate


def n_modes_of(d_state: int) -> int:
    """``d_state`` (N, the real state size) → ``n_modes`` (N/2 stored complex modes); N must be even and ≥ 2."""
    if not is_integer(d_state) or d_state < 2 or d_state % 2:
        raise ValueError(
            f"d_state must be an even integer >= 2 (the real state size N, stored as N/2 complex modes); "
            f"got {d_state!r}"
        )
    return int(d_state) // 2


def conjugate_closed(modes: np.ndarray) -> np.ndarray:
    """All N eigenvalues of the real system from its N/2 upper-half modes: ``(..., n) → (..., 2n)``."""
    modes = np.asarray(modes, dtype=np.complex128)
    return np.concatenate([modes, modes.conj()], axis=-1)
