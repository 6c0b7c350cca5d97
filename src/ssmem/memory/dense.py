"""Exact memory function of a dense real SSM (S4): x_t = Ā x_{t-1} + B̄ u_t (PAPER.md §4).

MF is invariant under any invertible change of state coordinates, so it depends only on the sequence space
S = span{(cᵀ Ā^τ B̄)_τ : c}, the space of impulse responses a readout can produce. The route here never forms
the ill-conditioned Gram matrix and never touches eigenvectors (HiPPO-LegS's are badly conditioned):

1. **Controller-Hessenberg form** (orthogonal, backward stable): Q with Qᵀ B̄ = β e₁ and H = Qᵀ Ā Q upper
   Hessenberg. The reachable (controllable) subspace is the leading r×r block, r the first index where a
   subdiagonal entry of H vanishes (relative to ||Ā||); unexcited modes drop out here.
2. **Eigenvalues of that block** (QR algorithm, backward stable): they are the exact eigenvalues of a
   matrix within rounding of Ā. A single-input controllable system is cyclic, so its sequence space is spanned
   by (τ^j λ^τ) for every eigenvalue λ of multiplicity m, j < m: exactly the Takenaka–Malmquist span of the
   eigenvalue list (with multiplicity).
3. **The diagonal machinery** (:func:`ssmem.memory.analytic.profile_from_poles`) on those poles.

The eigenvalues themselves may be inaccurate (for the rotated S4-LegS matrix, N = 64, float64 eigenvalues are
off by O(0.1)); MF is not, because it is a well-conditioned function of the matrix and the computed
eigenvalues belong to a matrix within rounding of Ā. The tests check this against a 60-digit Gram computation
of the dense system itself.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import hessenberg

from .analytic import REAL_TOLERANCE, profile_from_poles
from .profile import MemoryProfile

METHOD_PREFIX = "dense-hessenberg+"
# a subdiagonal |h_{k+1,k}| below this times ||Ā||_F ends the reachable subspace
UNREACHABLE_TOLERANCE = 1e-12


def _as_real(name: str, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(value)
    if np.iscomplexobj(array):
        if np.any(array.imag != 0):
            raise ValueError(f"{name} must be real (a real state space system); got complex entries")
        array = array.real
    array = array.astype(np.float64)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def controller_hessenberg(A_bar: np.ndarray, B_bar: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Orthogonal reduction to controller-Hessenberg form.

    Args:
        A_bar: ``(N, N)`` float64.  B_bar: ``(N,)`` float64, nonzero.
    Returns:
        ``(H (N, N) upper Hessenberg, beta, Q (N, N) orthogonal)`` with ``Q.T @ A_bar @ Q = H`` and
        ``Q.T @ B_bar = beta * e_1``.
    """
    norm_b = float(np.linalg.norm(B_bar))
    if norm_b == 0:
        raise ValueError("B_bar is zero: no input reaches the state, the memory function is undefined")
    v = B_bar.astype(np.float64).copy()
    beta = -np.copysign(norm_b, v[0])
    v[0] -= beta
    reflector = np.eye(v.size) - 2.0 * np.outer(v, v) / np.dot(v, v)  # reflector @ B_bar = beta e_1
    H, q_hess = hessenberg(reflector @ A_bar @ reflector, calc_q=True)  # q_hess keeps e_1 fixed
    return H, beta, reflector @ q_hess


def reachable_dimension(H: np.ndarray, *, tolerance: float = UNREACHABLE_TOLERANCE) -> int:
    """The size r of the leading block of a controller-Hessenberg H that the input reaches."""
    scale = max(float(np.linalg.norm(H)), np.finfo(np.float64).tiny)
    sub = np.abs(np.diagonal(H, offset=-1))
    small = np.flatnonzero(sub <= tolerance * scale)
    return int(small[0]) + 1 if small.size else H.shape[0]


def reachable_eigenvalues(A_bar: np.ndarray, B_bar: np.ndarray) -> np.ndarray:
    """Eigenvalues (with multiplicity) of Ā restricted to the subspace B̄ reaches: ``(r,)`` complex128."""
    d_state = np.shape(A_bar)[0] if np.ndim(A_bar) == 2 else -1
    A_bar = _as_real("A_bar", A_bar, (d_state, d_state))
    B_bar = _as_real("B_bar", B_bar, (d_state,))
    H, _, _ = controller_hessenberg(A_bar, B_bar)
    r = reachable_dimension(H)
    return np.linalg.eigvals(H[:r, :r]).astype(np.complex128)


def block_diagonal_system(modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The real block-diagonal SSM with these discrete modes (conjugates implied): ``(A_bar (N, N), B_bar (N,))``.

    A complex mode a + ib gives the 2×2 block [[a, -b], [b, a]] (eigenvalues a ± ib) fed by B̄ = (1, 0); a
    real mode a gives the 1×1 block [a] fed by 1. N = 2·(complex modes) + (real modes). Every mode is excited.
    """
    modes = np.asarray(modes, dtype=np.complex128).ravel()
    sizes = [1 if z.imag == 0 else 2 for z in modes]
    d_state = int(sum(sizes))
    A_bar = np.zeros((d_state, d_state))
    B_bar = np.zeros(d_state)
    i = 0
    for z, size in zip(modes, sizes):
        if size == 1:
            A_bar[i, i] = z.real
        else:
            A_bar[i : i + 2, i : i + 2] = [[z.real, -z.imag], [z.imag, z.real]]
        B_bar[i] = 1.0
        i += size
    return A_bar, B_bar


def dense_memory_function(
    A_bar: np.ndarray, B_bar: np.ndarray, *, horizon: int | None, max_delay: int | None = None
) -> MemoryProfile:
    """Exact MF of the dense real SSM x_t = Ā x_{t-1} + B̄ u_t.

    Args:
        A_bar: ``(N, N)`` real state matrix (any, e.g. S4's bilinear HiPPO-LegS).
        B_bar: ``(N,)`` real input vector.
        horizon: T, or ``None`` for the infinite horizon (then Ā's reachable part must be stable).
        max_delay: last delay written (default as in :func:`ssmem.memory.memory_function`).

    Returns:
        a :class:`MemoryProfile`; ``rank`` is the dimension of the reachable subspace (N when every mode is
        excited), ``eigenvalues`` the reachable eigenvalues as computed (conjugate-closed, with multiplicity),
        method ``"dense-hessenberg+<diagonal method>"``.
    """
    eigenvalues = reachable_eigenvalues(A_bar, B_bar)
    # a pair with negligible imaginary part becomes two (nearly confluent) real poles: the rank is kept
    is_real = np.abs(eigenvalues.imag) <= REAL_TOLERANCE * np.abs(eigenvalues)
    real = np.sort(eigenvalues[is_real].real)
    cplx = np.sort_complex(eigenvalues[~is_real & (eigenvalues.imag > 0)])
    if 2 * cplx.size + real.size != eigenvalues.size:  # a real matrix's complex eigenvalues come in exact pairs
        raise ValueError("the reachable eigenvalues of a real A_bar are not conjugate-closed")
    return profile_from_poles(
        real,
        cplx,
        horizon=horizon,
        max_delay=max_delay,
        eigenvalues=eigenvalues,
        method_prefix=METHOD_PREFIX,
    )
