"""Eigenvalue sets defined directly on the discrete eigenvalues Ā (the paper's Fig. 1; exact forms are ssmem's).

With M = n_modes pairs, k = 1..M:

    random:  uniform by area in the upper half of the disk |Ā| ≤ r_max (r_max = 1), seeded
    lin:     |Ā_k| = ρ k/M,  phase θ_k = π (k - 1/2)/M,  ρ = 0.99
    step:    S = 4 moduli levels ρ j/S (j = 1..S), each shared by M/S pairs with phases spread evenly in (0, π)
"""

from __future__ import annotations

import numpy as np

from .registry import register_set

LIN_RHO = 0.99
STEP_RHO = 0.99
STEP_LEVELS = 4
RANDOM_R_MAX = 1.0


def random_disk(n_modes: int, rng: np.random.Generator, r_max: float = RANDOM_R_MAX) -> np.ndarray:
    """``n_modes`` points uniform by area in {|z| ≤ r_max, Im z > 0}."""
    radius = r_max * np.sqrt(rng.uniform(0.0, 1.0, n_modes))
    phase = np.pi * rng.uniform(0.0, 1.0, n_modes)
    # uniform() is on [0, 1): keep the phase strictly inside (0, π) and the radius nonzero
    phase = np.where(phase == 0.0, np.pi / 2, phase)
    radius = np.where(radius == 0.0, r_max / 2, radius)
    return radius * np.exp(1j * phase)


def lin_disk(n_modes: int, rho: float = LIN_RHO) -> np.ndarray:
    k = np.arange(1, n_modes + 1, dtype=np.float64)
    return rho * k / n_modes * np.exp(1j * np.pi * (k - 0.5) / n_modes)


def step_disk(n_modes: int, rho: float = STEP_RHO, levels: int = STEP_LEVELS) -> np.ndarray:
    """``levels`` moduli; modes are split as evenly as possible when ``levels`` does not divide ``n_modes``."""
    levels = min(levels, n_modes)
    groups = np.array_split(np.arange(n_modes), levels)
    values = np.empty(n_modes, dtype=np.complex128)
    for j, group in enumerate(groups, start=1):
        m = len(group)
        phases = np.pi * (np.arange(m) + 0.5) / m
        values[group] = rho * j / levels * np.exp(1j * phases)
    return values


@register_set("random", "uniform by area in the upper half of the unit disk (discrete, seeded)", "discrete", seeded=True)
def _random(n_modes: int, rng: np.random.Generator) -> np.ndarray:
    return random_disk(n_modes, rng)


@register_set("lin", "|A_bar| = 0.99 k/M, phases pi (k - 1/2)/M (discrete)", "discrete")
def _lin(n_modes: int, rng: np.random.Generator) -> np.ndarray:
    return lin_disk(n_modes)


@register_set("step", "4 moduli levels 0.99 j/4, phases spread evenly in (0, pi) (discrete)", "discrete")
def _step(n_modes: int, rng: np.random.Generator) -> np.ndarray:
    return step_disk(n_modes)
