"""HiPPO-LegS and the continuous-time eigenvalue sets derived from it (S4D paper, arXiv 2206.11893).

    HiPPO-LegS (N×N):  A_nk = -sqrt((2n+1)(2k+1)) for n > k,  -(n+1) for n = k,  0 for n < k
                       B_n  = sqrt(2n+1)
    normal part:       A + P Pᵀ = -I/2 + S,   P_n = sqrt(n + 1/2),  S skew-symmetric

Each set below gives the ``n_modes = N/2`` upper-half eigenvalues (N = d_state = 2·n_modes).
"""

from __future__ import annotations

import numpy as np

from .registry import register_set


def hippo_legs(d_state: int) -> tuple[np.ndarray, np.ndarray]:
    """The HiPPO-LegS state matrix and input vector, float64: ``A (N, N)`` lower triangular, ``B (N,)``."""
    n = np.arange(d_state, dtype=np.float64)
    root = np.sqrt(2 * n + 1)
    A = -np.tril(np.outer(root, root), k=-1) - np.diag(n + 1)
    return A, root.copy()


def hippo_legs_normal_part(d_state: int) -> np.ndarray:
    """The skew-symmetric part S of A_LegS + P Pᵀ = -I/2 + S, float64 ``(N, N)``."""
    A, _ = hippo_legs(d_state)
    P = np.sqrt(np.arange(d_state, dtype=np.float64) + 0.5)
    return A + np.outer(P, P) + 0.5 * np.eye(d_state)


@register_set("s4d-inv", "S4D-Inv: -1/2 + i (N/pi)(N/(2n+1) - 1), inverse-law frequencies", "continuous")
def s4d_inv(n_modes: int, rng: np.random.Generator) -> np.ndarray:
    d_state = 2 * n_modes
    n = np.arange(n_modes, dtype=np.float64)
    return -0.5 + 1j * (d_state / np.pi) * (d_state / (2 * n + 1) - 1)


@register_set("s4d-lin", "S4D-Lin: -1/2 + i pi n, linearly spaced frequencies", "continuous")
def s4d_lin(n_modes: int, rng: np.random.Generator) -> np.ndarray:
    n = np.arange(n_modes, dtype=np.float64)
    return -0.5 + 1j * np.pi * n


@register_set("s4d-legs", "S4D-LegS: -1/2 + i w_n, w_n from the normal part of HiPPO-LegS", "continuous")
def s4d_legs(n_modes: int, rng: np.random.Generator) -> np.ndarray:
    S = hippo_legs_normal_part(2 * n_modes)
    # iS is Hermitian for real skew-symmetric S: its real eigenvalues mu give S's eigenvalues -i·mu, in ± pairs.
    mu = np.linalg.eigvalsh(1j * S)
    omega = np.sort(np.abs(mu))[1::2]  # |mu| pairs up: w1, w1, w2, w2, ...; one of each, ascending
    return -0.5 + 1j * omega


@register_set("s4d-real", "S4D-Real: -(n+1), the (real) eigenvalues of HiPPO-LegS", "continuous")
def s4d_real(n_modes: int, rng: np.random.Generator) -> np.ndarray:
    return -(np.arange(n_modes, dtype=np.float64) + 1) + 0j
