"""High-precision reference memory function (mpmath): MF(τ) = v_τᴴ G⁻¹ v_τ with the Gram matrix in full.

G_ij = Σ_{t<T} (conj λ_i λ_j)^t = (1 - (conj λ_i λ_j)^T) / (1 - conj λ_i λ_j)   (T = ∞: 1 / (1 - conj λ_i λ_j))
v_τ  = (conj λ_i^τ)_i.  The float64 eigenvalues are converted exactly, so this is the exact MF of the same system.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np


def spectrum(modes: np.ndarray) -> list:
    """Distinct eigenvalues of the real system (real modes once, complex modes with their conjugates)."""
    values = set()
    for z in np.asarray(modes, dtype=np.complex128).ravel():
        z = complex(z.real, abs(z.imag))
        values.add(z)
        values.add(z.conjugate())
    return sorted(values, key=lambda z: (z.real, z.imag))


def _cholesky(gram: list) -> list:
    """Lower-triangular L with G = L Lᴴ (plain lists: much faster than mpmath's matrix routines)."""
    n = len(gram)
    low = [[mp.mpc(0)] * n for _ in range(n)]
    for j in range(n):
        diag = gram[j][j] - mp.fsum(abs(low[j][k]) ** 2 for k in range(j))
        low[j][j] = mp.sqrt(mp.re(diag))
        for i in range(j + 1, n):
            off = gram[i][j] - mp.fsum(low[i][k] * mp.conj(low[j][k]) for k in range(j))
            low[i][j] = off / low[j][j]
    return low


def mp_memory_function(modes: np.ndarray, horizon: int | None, delays, *, dps: int = 60) -> np.ndarray:
    """MF at ``delays`` computed with ``dps`` decimal digits, returned as float64: ||L⁻¹ v_τ||² with G = L Lᴴ."""
    with mp.workdps(dps):
        lams = [mp.mpc(z.real, z.imag) for z in spectrum(modes)]
        n = len(lams)
        gram = [[None] * n for _ in range(n)]
        for i in range(n):
            for j in range(n):
                p = mp.conj(lams[i]) * lams[j]
                gram[i][j] = 1 / (1 - p) if horizon is None else (1 - p**horizon) / (1 - p)
        low = _cholesky(gram)
        out = []
        for tau in delays:
            v = [mp.conj(lam) ** int(tau) for lam in lams]
            y = []
            for i in range(n):  # forward substitution L y = v
                y.append((v[i] - mp.fsum(low[i][k] * y[k] for k in range(i))) / low[i][i])
            out.append(float(mp.fsum(abs(c) ** 2 for c in y)))
    return np.array(out)


def mp_dense_memory_function(A_bar: np.ndarray, B_bar: np.ndarray, horizon: int, delays, *, dps: int = 60) -> np.ndarray:
    """MF of the dense system itself: α_τ = Ā^τ B̄, Σ = Σ_{τ<T} α_τ α_τᵀ in ``dps`` digits (no eigenvalues)."""
    with mp.workdps(dps):
        n = A_bar.shape[0]
        A = [[mp.mpf(float(A_bar[i, j])) for j in range(n)] for i in range(n)]
        alpha = [mp.mpf(float(b)) for b in B_bar]
        alphas = []
        for _ in range(horizon):
            alphas.append(alpha)
            alpha = [mp.fsum(A[i][j] * alpha[j] for j in range(n)) for i in range(n)]
        gram = [[mp.fsum(a[i] * a[j] for a in alphas) for j in range(n)] for i in range(n)]
        low = _cholesky(gram)
        out = []
        for tau in delays:
            v = alphas[int(tau)]
            y = []
            for i in range(n):
                y.append((v[i] - mp.fsum(low[i][k] * y[k] for k in range(i))) / low[i][i])
            out.append(float(mp.fsum(abs(c) ** 2 for c in y)))
    return np.array(out)
