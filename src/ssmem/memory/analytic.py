"""Exact memory function of a diagonal linear SSM from its discrete eigenvalues (PAPER.md §3).

For a diagonal system driven by iid unit-variance input the state is x_t = Σ_k α_k u_{t-k} with α_k = Ā^k B̄,
and (any nonzero B̄ cancels)

    MF(τ) = ||P_S e_τ||²,   S = span{ (λ_i^τ)_τ : λ_i an eigenvalue of the real system }

the projection of the unit impulse at delay τ onto the memory subspace S. The Gram-matrix formula
MF(τ) = v_τᴴ G⁻¹ v_τ is the same number, but G is catastrophically ill-conditioned, so ssmem never forms it.

Instead S gets an orthonormal basis directly, the Takenaka–Malmquist functions: the impulse responses of a
cascade of all-pass sections, one per eigenvalue. In real arithmetic (the Kautz form) a real pole r gives

    φ(z) = sqrt(1 - r²) / (1 - r z⁻¹) · Π_prev,            all-pass  (z⁻¹ - r) / (1 - r z⁻¹)

and a complex pair (λ, λ̄), with d(z) = (1 - λ z⁻¹)(1 - λ̄ z⁻¹), gives two functions

    ψ₊(z) = sqrt((1 - |λ|²)/2) |1 - λ| (1 + z⁻¹) / d(z) · Π_prev
    ψ₋(z) = sqrt((1 - |λ|²)/2) |1 + λ| (1 - z⁻¹) / d(z) · Π_prev,   all-pass  (z⁻¹ - λ)(z⁻¹ - λ̄) / d(z)

where Π_prev is the product of the all-pass factors of the sections before. These are exactly orthonormal in
ℓ²(τ ≥ 0) for any distinct (even nearly confluent) eigenvalues inside the unit disk, cost O(N·T) and invert
nothing: MF(τ) = Σ_k φ_k(τ)².

For a finite horizon T (the state sees only u_{t-T+1..t}) the basis truncated to τ < T still spans S_T. When
every mode forgets well within T it is nearly orthonormal and a QR (Cholesky QR, twice) re-orthonormalises it
accurately ("takenaka-malmquist"). When modes are slow compared with T (small Δ, or |λ| ≥ 1 such as the running
sum of linear attention) the truncated basis is numerically rank-deficient; S_T is then built on the window
itself by rational Arnoldi ("rational-arnoldi"), which is accurate for any spectrum whose powers stay within
float64 over the window. With at least T distinct eigenvalues S_T is all of ℝ^T and MF ≡ 1 ("full-window").
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cholesky, solve_triangular
from scipy.signal import lfilter
from threadpoolctl import threadpool_limits

from .._values import is_integer
from .profile import MemoryProfile

METHOD = "takenaka-malmquist"
ARNOLDI_METHOD = "rational-arnoldi"
FULL_WINDOW_METHOD = "full-window"  # rank ≥ T: the memory subspace is all of ℝ^T, MF ≡ 1
# truncated Takenaka–Malmquist bases worse conditioned than this go through rational Arnoldi (error ~ eps·cond)
MAX_KAUTZ_COND = 1e4
# the infinite-horizon MF is written until the unseen tail holds less than this much capacity (or the cap)
TAIL_TOLERANCE = 1e-10
MIN_INFINITE_DELAYS = 1024
MAX_INFINITE_DELAYS = 2**21
# |Im λ| ≤ REAL_TOLERANCE·|λ|: a real eigenvalue (one real dimension)
REAL_TOLERANCE = 1e-12


def _unique_close(values: np.ndarray) -> np.ndarray:
    """``values`` with near-duplicates (|a - b| ≤ REAL_TOLERANCE·max(|a|, |b|)) kept once (the first in sorted
    order), sorted. Neighbours in sorted order for real values; a k-d tree for complex ones: O(n log n)."""
    values = np.sort_complex(values) if np.iscomplexobj(values) else np.sort(values)
    if values.size < 2:
        return values
    if not np.iscomplexobj(values):
        close = np.abs(np.diff(values)) <= REAL_TOLERANCE * np.maximum(np.abs(values[1:]), np.abs(values[:-1]))
        return values[np.r_[True, ~close]]
    from scipy.spatial import cKDTree

    radius = REAL_TOLERANCE * float(np.max(np.abs(values)))
    pairs = cKDTree(np.stack([values.real, values.imag], axis=1)).query_pairs(radius, output_type="ndarray")
    if pairs.size == 0:
        return values
    a, b = values[pairs[:, 0]], values[pairs[:, 1]]
    close = np.abs(a - b) <= REAL_TOLERANCE * np.maximum(np.abs(a), np.abs(b))
    keep = np.ones(values.size, dtype=bool)
    keep[np.maximum(pairs[close, 0], pairs[close, 1])] = False
    return values[keep]


def distinct_spectrum(modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split the spectrum of the real system into distinct real poles and distinct upper-half complex poles.

    ``modes`` holds eigenvalues whose conjugates are implied (either half plane; a conjugate-closed list works
    too, also when its pairs match only to rounding). Returns ``(real (R,) float64, complex (C,) complex128 with
    Im > 0)``; the rank is ``R + 2C``. Values within a relative 1e-12 count once (float64 cannot tell them
    apart), and a mode with |Im λ| ≤ 1e-12·|λ| is real (one real dimension): this absorbs rounding such as that
    of exp(iπ) for a mode whose phase is exactly π.
    """
    modes = np.asarray(modes, dtype=np.complex128).ravel()
    if not np.all(np.isfinite(modes)):
        raise ValueError("eigenvalues must be finite")
    is_real = np.abs(modes.imag) <= REAL_TOLERANCE * np.abs(modes)
    real = _unique_close(modes[is_real].real)
    upper = modes[~is_real]
    cplx = _unique_close(np.where(upper.imag < 0, upper.conj(), upper))
    return real, cplx


def as_modes(modes: np.ndarray) -> np.ndarray:
    """The eigenvalues of one system as a 1-D complex128 array; a 2-D array (a whole layer) is refused."""
    values = np.asarray(modes, dtype=np.complex128)
    if values.ndim > 1:
        raise ValueError(
            f"modes are one system's eigenvalues, shape (n_modes,); got shape {values.shape} (for a layer's "
            "(H, n_modes) take one channel, modes[h], or use ssmem.memory.layer_memory)"
        )
    return values.ravel()


def rank_of(modes: np.ndarray) -> int:
    """The number of distinct eigenvalues of the real system with these modes (its memory capacity)."""
    real, cplx = distinct_spectrum(modes)
    return int(real.size + 2 * cplx.size)


def _shift(x: np.ndarray) -> np.ndarray:
    """z⁻¹ x: delay a sequence by one step (zero first sample)."""
    out = np.empty_like(x)
    out[0] = 0
    out[1:] = x[:-1]
    return out


def _kautz_columns(real: np.ndarray, cplx: np.ndarray, length: int):
    """Yield the orthonormal Takenaka–Malmquist (Kautz) functions one section at a time, ``(length,)`` each.

    Every pole must be strictly inside the unit disk. The cascade runs in float64; complex pairs are filtered
    as two complex first-order sections so that pole positions are exact to rounding even when Im λ is tiny.
    """
    s = np.zeros(length)
    s[0] = 1.0  # the input to the current section: the impulse through all previous all-pass factors
    for r in real:
        w = lfilter([1.0], [1.0, -r], s)
        yield np.sqrt(1.0 - r * r) * w
        s = _shift(w) - r * w
    for lam in cplx:
        w = lfilter([1.0], [1.0, -lam.conjugate()], lfilter([1.0], [1.0, -lam], s.astype(np.complex128))).real
        w1 = _shift(w)
        scale = np.sqrt((1.0 - abs(lam) ** 2) / 2.0)
        yield scale * abs(1.0 - lam) * (w + w1)
        yield scale * abs(1.0 + lam) * (w - w1)
        g = w1 - lam * w  # (z⁻¹ - λ) w, then (z⁻¹ - λ̄) g: the all-pass numerator in factored form
        s = (_shift(g) - lam.conjugate() * g).real


def _orthogonalize(q: np.ndarray, k: int, w: np.ndarray) -> np.ndarray:
    """w minus its projection on the first k columns of q: classical Gram–Schmidt twice ("twice is enough"),
    a third pass when the second still removed more than half of w's norm, so the result is orthogonal to
    rounding. (One pass is not enough even when it removes little: its rounding error, multiplied through
    hundreds of Arnoldi steps, left bases of N ≥ 256 modes visibly non-orthonormal.)"""
    basis = q[:, :k]
    for done in range(3):
        before = np.linalg.norm(w)
        w = w - basis @ (basis.conj().T @ w)
        if done >= 1 and np.linalg.norm(w) > 0.5 * before:
            break
    return w


def _real_basis(q: np.ndarray) -> np.ndarray:
    """A real orthonormal basis ``(T, r)`` of the conjugate-closed span of the complex orthonormal ``q (T, r)``.

    The projector Q Qᴴ is real, equal to M Mᵀ with M = [Re Q, Im Q]; so M has r singular values 1, the rest 0.
    """
    u, sv, _ = np.linalg.svd(np.concatenate([q.real, q.imag], axis=1), full_matrices=False)
    return u[:, : int(np.sum(sv > 0.5))]


def rational_arnoldi(poles: np.ndarray, horizon: int) -> np.ndarray:
    """Orthonormal basis ``(T, n)`` (complex128) of span{(λ_k^τ)_{τ<T}} for ``n ≤ T`` distinct ``poles``, in order.

    Rational Arnoldi: with V_k the span of the first k exponentials on τ < T (rational functions N/D_k,
    deg N < k), filtering the shifted newest orthonormal vector Z q_k by the next pole's section
    1/(1 - λ z⁻¹) lands in V_{k+1} (numerator degree ≤ k) and adds the new direction even for λ = 0, whose
    sequence is the impulse; orthogonalising it against q_1..q_k (twice, a third time when needed) gives
    q_{k+1}. Causal filtering commutes with truncation to the window, so every vector is exact on τ < T and
    none is ever far from orthonormal: this stays accurate where the truncated Takenaka–Malmquist basis is
    numerically rank-deficient (slow, clustered modes whose infinite-horizon basis functions live mostly
    beyond T). Costs O(T·n²). Raises ``ValueError`` if a pole adds no direction (repeated poles, n > T).
    """
    poles = np.asarray(poles, dtype=np.complex128)
    q = np.zeros((horizon, poles.size), dtype=np.complex128, order="F")  # q[:, :k] contiguous for BLAS
    impulse = np.zeros(horizon, dtype=np.complex128)
    impulse[0] = 1.0
    # many small matrix-vector products: BLAS threads only add synchronisation cost here
    with threadpool_limits(limits=1, user_api="blas"):
        for k, lam in enumerate(poles):
            cont = impulse if k == 0 else _shift(q[:, k - 1])  # Z q_k
            w = _orthogonalize(q, k, lfilter([1.0], [1.0, -lam], cont))
            norm = np.linalg.norm(w)
            if not norm > 0.0:
                raise ValueError(f"the memory subspace broke down at pole {k} ({lam}); are the poles distinct "
                                 f"and at most the horizon ({horizon}) in number?")
            q[:, k] = w / norm
    return q


def _rational_arnoldi_basis(real: np.ndarray, cplx: np.ndarray, horizon: int) -> np.ndarray:
    """``(T, min(rank, T))`` complex orthonormal basis of S_T by :func:`rational_arnoldi` (any |λ|), over the
    poles one at a time (each conjugate separately); the span is conjugate-closed (see :func:`_real_basis`)."""
    poles = np.concatenate([real + 0j, cplx, cplx.conj()])
    return rational_arnoldi(poles[: min(poles.size, horizon)], horizon)


def _truncated_kautz_basis(real: np.ndarray, cplx: np.ndarray, horizon: int) -> np.ndarray | None:
    """Orthonormalised Takenaka–Malmquist basis truncated to τ < T, ``(T, rank)``; ``None`` if ill-conditioned.

    Cholesky QR, twice (CholQR2): orthonormal to rounding and the span accurate to ~eps·cond for
    cond ≤ ``MAX_KAUTZ_COND``; all BLAS-3, so fast for tall T × rank bases.
    """
    q = np.stack(list(_kautz_columns(real, cplx, horizon)), axis=1)  # (T, rank), nearly orthonormal
    for attempt in range(2):
        try:
            r = cholesky(q.T @ q, lower=False)
        except np.linalg.LinAlgError:
            return None
        if attempt == 0:
            sv = np.linalg.svd(r, compute_uv=False)
            if sv[-1] <= 0 or sv[0] / sv[-1] > MAX_KAUTZ_COND:
                return None
        q = solve_triangular(r, q.T, trans="T", lower=False).T
    return q


def _check_horizon(horizon: int | None) -> None:
    if horizon is not None and (not is_integer(horizon) or horizon < 1):
        raise ValueError(f"horizon must be a positive integer T or None (infinite); got {horizon!r}")


def _check_max_delay(max_delay: int | None, horizon: int | None) -> None:
    if max_delay is None:
        return
    if not is_integer(max_delay) or max_delay < 0:
        raise ValueError(f"max_delay must be a non-negative integer or None; got {max_delay!r}")
    if horizon is not None and max_delay >= horizon:
        raise ValueError(f"max_delay must be < horizon (MF is 0 beyond the horizon T = {horizon}); got {max_delay}")


def _finite_basis(real: np.ndarray, cplx: np.ndarray, horizon: int) -> tuple[np.ndarray, str]:
    """``(T, min(rank, T))`` orthonormal basis of S_T (real, or complex from rational Arnoldi) and the method.

    The truncated Takenaka–Malmquist basis is nearly orthonormal unless some modes are slow compared with T;
    its QR is then accurate to about eps·cond. Beyond ``MAX_KAUTZ_COND`` (or for |λ| ≥ 1, or T < rank) the
    rational Arnoldi basis, built on the window itself, is used instead.
    """
    rank = real.size + 2 * cplx.size
    if rank >= horizon:  # T distinct exponentials span all of ℝ^T (a Vandermonde matrix of distinct nodes)
        return np.eye(horizon), FULL_WINDOW_METHOD
    stationary = bool(np.all(np.abs(real) < 1) and np.all(np.abs(cplx) < 1))
    if stationary:
        q = _truncated_kautz_basis(real, cplx, horizon)
        if q is not None:
            return q, METHOD
    _check_powers_fit(real, cplx, horizon)
    return _rational_arnoldi_basis(real, cplx, horizon), ARNOLDI_METHOD


def _check_powers_fit(real: np.ndarray, cplx: np.ndarray, horizon: int) -> None:
    """Refuse eigenvalues whose powers λ^τ, τ < T, pass e^300 ≈ 1e130: the basis is built from vectors holding
    them, and their squared norms would leave float64's range (the basis would be NaN)."""
    poles = np.concatenate([real + 0j, cplx])
    growth = (horizon - 1) * np.log(np.maximum(np.abs(poles), 1e-300))
    bad = poles[growth > 300]
    if bad.size:
        largest = bad[np.argmax(np.abs(bad))]
        limit = int(300 / np.log(abs(largest))) + 1
        raise ValueError(f"eigenvalue {largest:.6g} (|λ| = {abs(largest):.6g}) grows past float64's range within "
                         f"the horizon T = {horizon} (|λ|^(T-1) ≈ 1e{growth.max() / np.log(10):.0f}); use a "
                         f"horizon of at most {limit} for it")


def _check_stationary(real: np.ndarray, cplx: np.ndarray) -> None:
    bad = [v for v in list(real) + list(cplx) if abs(v) >= 1]
    if bad:
        raise ValueError(
            f"the infinite-horizon memory function needs every |eigenvalue| < 1; got {bad[:4]} "
            f"(use a finite horizon T for marginal or unstable systems)"
        )


def _infinite_length(real: np.ndarray, cplx: np.ndarray, max_delay: int | None) -> int:
    """How many delays to write for the infinite horizon: ``max_delay + 1``, or until the tail is negligible."""
    if max_delay is not None:
        return max_delay + 1
    rank = real.size + 2 * cplx.size
    length = MIN_INFINITE_DELAYS
    while length < MAX_INFINITE_DELAYS:
        captured = sum(float(np.dot(c, c)) for c in _kautz_columns(real, cplx, length))
        if rank - captured <= TAIL_TOLERANCE:
            break
        length *= 2
    return min(length, MAX_INFINITE_DELAYS)


def memory_basis(modes: np.ndarray, *, horizon: int | None, max_delay: int | None = None) -> np.ndarray:
    """A real orthonormal basis of the memory subspace, by rows: ``(D, rank)`` float64, D = max_delay + 1.

    ``MF(τ) = Σ_k basis[τ, k]²``. The rows are the whitened memory vectors α̃_τ up to a rotation: a linear
    readout of the whitened state x̃_t = Σ_τ α̃_τ u_{t-τ} (PAPER.md §5). Columns are orthonormal over the whole
    horizon (over τ < T, or over all τ ≥ 0 for ``horizon=None``); only the first D rows are returned.
    For ``horizon < rank`` the subspace is all of ℝ^T and the basis has T columns.

    Args:
        modes: ``(n_modes,)`` discrete eigenvalues, conjugates implied (see :func:`distinct_spectrum`).
        horizon: T, or ``None`` for the infinite horizon (then every |λ| < 1).
        max_delay: the last delay returned; default T - 1, or (infinite horizon) where the tail is negligible.
    """
    _check_horizon(horizon)
    _check_max_delay(max_delay, horizon)
    real, cplx = distinct_spectrum(modes)
    if real.size + cplx.size == 0:
        raise ValueError("need at least one eigenvalue")
    if horizon is None:
        _check_stationary(real, cplx)
        length = _infinite_length(real, cplx, max_delay)
        return np.stack(list(_kautz_columns(real, cplx, length)), axis=1)
    q, _ = _finite_basis(real, cplx, horizon)
    if np.iscomplexobj(q):
        q = _real_basis(q)
    return q if max_delay is None else q[: max_delay + 1]


def profile_from_poles(
    real: np.ndarray,
    cplx: np.ndarray,
    *,
    horizon: int | None,
    max_delay: int | None,
    eigenvalues: np.ndarray,
    method_prefix: str = "",
) -> MemoryProfile:
    """MF of the sequence space spanned by the poles ``real (R,)`` and ``cplx (C,)`` (Im > 0; conjugates implied).

    Repeated poles are kept: a pole of multiplicity m spans (τ^j λ^τ)_{j<m}, the memory of a Jordan chain (what a
    dense, controllable system with a repeated eigenvalue has). The rank is ``R + 2C``; the capacity is
    ``min(rank, T)``, the dimension of the memory subspace within the window.
    """
    _check_horizon(horizon)
    _check_max_delay(max_delay, horizon)
    rank = int(real.size + 2 * cplx.size)
    if rank == 0:
        raise ValueError("need at least one eigenvalue")
    if horizon is None:
        _check_stationary(real, cplx)
        method = METHOD
        length = _infinite_length(real, cplx, max_delay)
        mf = np.zeros(length)
        for col in _kautz_columns(real, cplx, length):
            mf += col * col
        capacity = float(rank)
    else:
        q, method = _finite_basis(real, cplx, horizon)
        full = np.einsum("tk,tk->t", q.real, q.real)
        if np.iscomplexobj(q):
            full += np.einsum("tk,tk->t", q.imag, q.imag)
        capacity = float(full.sum())
        mf = full if max_delay is None else full[: max_delay + 1]
    return MemoryProfile(
        delays=np.arange(mf.size, dtype=np.int64),
        mf=np.clip(mf, 0.0, 1.0),
        capacity=capacity,
        rank=rank,
        horizon=None if horizon is None else int(horizon),
        method=method_prefix + method,
        eigenvalues=np.asarray(eigenvalues, dtype=np.complex128),
    )


def memory_function(modes: np.ndarray, *, horizon: int | None = 1024, max_delay: int | None = None) -> MemoryProfile:
    """Exact MF of the diagonal real SSM with discrete eigenvalues ``modes`` (conjugates implied).

    Args:
        modes: ``(n_modes,)`` complex discrete eigenvalues of a real system, one of each conjugate pair (upper
            half, unless ω·Δ > π has aliased a frequency below the real axis), as returned by
            :func:`ssmem.eigs.discrete_eigenvalues` or ``S4D.discrete_eigenvalues()[h]``; a real value is one
            real dimension; repeated values count once. A conjugate-closed list gives the same result.
        horizon: T (the state sees the last T inputs; default 1024), or ``None`` for the stationary system.
        max_delay: last delay written; default T - 1, or (infinite horizon) 1024 delays doubled until less than
            1e-10 of the capacity lies beyond the last one (so a power of two, at least 1024, at most 2²¹ delays).

    Returns:
        a :class:`MemoryProfile` with ``capacity = Σ_{τ<T} MF(τ)`` (= min(rank, T), where rank is the number of
        distinct eigenvalues of the real system; exact for the infinite horizon, where the basis is orthonormal by
        construction), method ``"takenaka-malmquist"``.

    >>> import numpy as np
    >>> p = memory_function(np.array([0.5 + 0j]), horizon=None, max_delay=3)
    >>> np.round(p.mf, 6).tolist()  # (1 - λ²) λ^{2τ}
    [0.75, 0.1875, 0.046875, 0.011719]
    """
    given = as_modes(modes)
    real, cplx = distinct_spectrum(given)
    eigenvalues = np.concatenate([given, given.conj()])  # all N of the real system, as given
    return profile_from_poles(real, cplx, horizon=horizon, max_delay=max_delay, eigenvalues=eigenvalues)
