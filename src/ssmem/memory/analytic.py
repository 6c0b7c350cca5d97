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
accurately ("takenaka-malmquist"). Modes slow compared with T (small Δ, or |λ| ≥ 1 such as the running sum
of linear attention) make the truncated basis numerically rank-deficient, so the cascade is taken fast modes
first, its longest well-conditioned prefix is kept, and the remaining slow poles extend that basis by rational
Arnoldi on the window itself ("rational-arnoldi"), which is accurate for any spectrum whose powers stay within
float64 over the window. With at least T distinct eigenvalues S_T is all of ℝ^T and MF ≡ 1 ("full-window").
Eigenvalues count once where float64 cannot separate their memory over the horizon (:func:`distinct_spectrum`).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas, cholesky, lapack
from scipy.signal import lfilter
from threadpoolctl import threadpool_limits

from .._values import is_integer
from .profile import MemoryProfile

METHOD = "takenaka-malmquist"
ARNOLDI_METHOD = "rational-arnoldi"
FULL_WINDOW_METHOD = "full-window"  # rank ≥ T: the memory subspace is all of ℝ^T, MF ≡ 1
# the Takenaka–Malmquist prefix is cut where its condition number passes this; the poles after it go through
# rational Arnoldi. The condition number multiplies the cascade's own rounding, which grows with its depth for
# slow poles (a section at |λ| amplifies rounding ~1/(1 - |λ|)): against pure rational Arnoldi, S4D-Inv at
# N = 512, T = 1024, Δ = 1e-3 is off by 2.7e-8 with a cut at 1e4, 1.4e-9 at 100 (two Arnoldi variants differ by
# 1.7e-9 there); at N = 1024, T = 4096 the cut at 100 leaves 652 of 674 columns in the prefix
MAX_KAUTZ_COND = 100.0
# the infinite-horizon MF is written until the unseen tail holds less than this much capacity (or the cap)
TAIL_TOLERANCE = 1e-10
MIN_INFINITE_DELAYS = 1024
MAX_INFINITE_DELAYS = 2**21
# |Im λ| ≤ REAL_TOLERANCE·|λ|: a negligible imaginary part (dense.py keeps such a pair as two real poles)
REAL_TOLERANCE = 1e-12
# two eigenvalues are one when their memory traces over the horizon differ by less than this, relative to their
# norm: a few units of float64 rounding of a trace (see distinct_spectrum)
TRACE_RESOLUTION = 16 * np.finfo(np.float64).eps


def trace_sensitivity(modulus: np.ndarray, horizon: int | None) -> np.ndarray:
    """How fast an eigenvalue's memory trace turns as the eigenvalue moves: an upper bound of

        g_T(ρ) = ||(τ λ^(τ-1))_{τ<T}|| / ||(λ^τ)_{τ<T}||,   ρ = |λ|,

    elementwise over ``modulus``, same shape. The ratio is √(E[τ²])/ρ under the weights ρ^(2τ), τ < T, so it is
    at most (T - 1)/ρ, and for ρ < 1 it grows with T towards its infinite-horizon value √(1 + ρ²)/(1 - ρ²).
    Returns the smaller of the two (∞ for ρ ≥ 1 with the infinite horizon, where no trace has a norm).
    """
    rho = np.asarray(modulus, dtype=np.float64)
    bound = np.full(rho.shape, np.inf)
    if horizon is not None:
        np.divide(horizon - 1, rho, out=bound, where=rho > 0)
    stable = rho < 1
    infinite = np.sqrt(1 + rho[stable] ** 2) / (1 - rho[stable] ** 2)
    bound[stable] = np.minimum(bound[stable], infinite)
    return bound


def _merge_radius(values: np.ndarray) -> np.ndarray:
    """The largest |a - b| that can merge near ``values``: 2·resolution·max(1, |λ|). For T ≥ 2 it bounds every
    gap that passes :func:`_inseparable`'s test, since g_T ≥ 1/√(1 + ρ²) (the weight of τ ≥ 1 is at least
    ρ²/(1 + ρ²)); it also keeps the first-order test to gaps where it holds (T = 1, where g_T = 0)."""
    return 2 * TRACE_RESOLUTION * np.maximum(1.0, np.abs(values))


def _inseparable(a: np.ndarray, b: np.ndarray, horizon: int | None) -> np.ndarray:
    """Whether eigenvalues ``a`` and ``b`` (same shape) have memory traces float64 cannot tell apart over the
    horizon: |a - b| · g_T < ``TRACE_RESOLUTION`` (first order in a - b; g_T of the larger of the two)."""
    g = np.maximum(trace_sensitivity(np.abs(a), horizon), trace_sensitivity(np.abs(b), horizon))
    gap = np.abs(a - b)
    with np.errstate(invalid="ignore"):  # 0·∞ (equal values of modulus ≥ 1, infinite horizon): equal
        turned = gap * g
    return (a == b) | ((turned < TRACE_RESOLUTION) & (gap <= _merge_radius(np.maximum(np.abs(a), np.abs(b)))))


def _unique_inseparable(values: np.ndarray, horizon: int | None) -> np.ndarray:
    """``values`` with those float64 cannot separate over the horizon (:func:`_inseparable`) kept once (the first
    in sorted order), sorted. Candidates are neighbours in sorted order for real values, pairs within
    :func:`_merge_radius` found by a k-d tree for complex ones (O(n log n))."""
    values = np.sort_complex(values) if np.iscomplexobj(values) else np.sort(values)
    if values.size < 2:
        return values
    if not np.iscomplexobj(values):
        close = _inseparable(values[1:], values[:-1], horizon)
        return values[np.r_[True, ~close]]
    from scipy.spatial import cKDTree

    radius = float(np.max(_merge_radius(values)))
    pairs = cKDTree(np.stack([values.real, values.imag], axis=1)).query_pairs(radius, output_type="ndarray")
    if pairs.size == 0:
        return values
    close = _inseparable(values[pairs[:, 0]], values[pairs[:, 1]], horizon)
    keep = np.ones(values.size, dtype=bool)
    keep[np.maximum(pairs[close, 0], pairs[close, 1])] = False
    return values[keep]


def distinct_spectrum(modes: np.ndarray, *, horizon: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split the spectrum of the real system into distinct real poles and distinct upper-half complex poles.

    ``modes`` holds eigenvalues whose conjugates are implied (either half plane; a conjugate-closed list works
    too). Returns ``(real (R,) float64, complex (C,) complex128 with Im > 0)``; the rank is ``R + 2C``.

    Two eigenvalues a ≠ b always have two-dimensional memory in exact arithmetic (as b → a the second direction
    tends to the Jordan trace (τ a^(τ-1))_τ), so they are merged only where float64 cannot separate their memory:
    their traces over the horizon T, e_λ = (λ^τ)_{τ<T}, differ by ||e_a - e_b|| ≈ |a - b|·||∂_λ e_λ||, and
    relative to ||e_a|| that is |a - b|·g_T(|a|) with g_T the :func:`trace_sensitivity` (≤ √(1+ρ²)/(1-ρ²) and
    ≤ (T-1)/ρ). They count once when

        |a - b| · g_T(max(|a|, |b|))  <  ``TRACE_RESOLUTION`` = 16·eps ≈ 3.6e-15,

    a few units of the rounding any float64 trace carries. Likewise a mode is real (one real dimension) when it
    and its conjugate are inseparable, 2|Im λ|·g_T < 16·eps: this absorbs rounding such as that of exp(iπ) for a
    mode whose phase is exactly π. Slow modes and long horizons separate closer eigenvalues: at T = 1024,
    0.9 and 0.9(1 + 5e-13) are 3.2e-12 apart in trace (two dimensions); 0.9 and its float64 neighbour 7.9e-16.

    Args:
        modes: ``(n_modes,)`` eigenvalues.
        horizon: T, or ``None`` for the infinite horizon (for |λ| ≥ 1 then only equal values merge).
    """
    modes = np.asarray(modes, dtype=np.complex128).ravel()
    if not np.all(np.isfinite(modes)):
        raise ValueError("eigenvalues must be finite")
    is_real = _inseparable(modes, modes.conj(), horizon)
    real = _unique_inseparable(modes[is_real].real, horizon)
    upper = modes[~is_real]
    cplx = _unique_inseparable(np.where(upper.imag < 0, upper.conj(), upper), horizon)
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


def rank_of(modes: np.ndarray, *, horizon: int | None = None) -> int:
    """The number of distinct eigenvalues of the real system with these modes (its memory capacity), distinct as
    judged over the horizon T (``None``: infinite) by :func:`distinct_spectrum`."""
    _check_horizon(horizon)
    real, cplx = distinct_spectrum(modes, horizon=horizon)
    return int(real.size + 2 * cplx.size)


def _shift(x: np.ndarray) -> np.ndarray:
    """z⁻¹ x: delay a sequence by one step (zero first sample)."""
    out = np.empty_like(x)
    out[0] = 0
    out[1:] = x[:-1]
    return out


def _cascade_columns(sections: np.ndarray, length: int):
    """Yield the orthonormal Takenaka–Malmquist (Kautz) functions of a cascade of sections, in the given order,
    ``(length,)`` each: one for a real pole (``Im == 0``), two for a complex pole (``Im > 0``, its conjugate implied).

    Every pole must be strictly inside the unit disk. The cascade runs in float64; complex pairs are filtered
    as two complex first-order sections so that pole positions are exact to rounding even when Im λ is tiny.
    """
    s = np.zeros(length)
    s[0] = 1.0  # the input to the current section: the impulse through all previous all-pass factors
    for lam in sections:
        if lam.imag == 0:
            r = lam.real
            w = lfilter([1.0], [1.0, -r], s)
            yield np.sqrt(1.0 - r * r) * w
            s = _shift(w) - r * w
            continue
        w = lfilter([1.0], [1.0, -lam.conjugate()], lfilter([1.0], [1.0, -lam], s.astype(np.complex128))).real
        w1 = _shift(w)
        scale = np.sqrt((1.0 - abs(lam) ** 2) / 2.0)
        yield scale * abs(1.0 - lam) * (w + w1)
        yield scale * abs(1.0 + lam) * (w - w1)
        g = w1 - lam * w  # (z⁻¹ - λ) w, then (z⁻¹ - λ̄) g: the all-pass numerator in factored form
        s = (_shift(g) - lam.conjugate() * g).real


def _kautz_columns(real: np.ndarray, cplx: np.ndarray, length: int):
    """:func:`_cascade_columns` of the real poles, then the complex ones (upper half)."""
    return _cascade_columns(np.concatenate([np.asarray(real, dtype=np.float64) + 0j, cplx]), length)


def _orthogonalize(q: np.ndarray, k: int, w: np.ndarray) -> np.ndarray:
    """w minus its projection on the first k columns of q: classical Gram–Schmidt twice ("twice is enough"),
    a third pass when the second still removed more than half of w's norm, so the result is orthogonal to
    rounding. (One pass is not enough even when it removes little: its rounding error, multiplied through
    hundreds of Arnoldi steps, left bases of N ≥ 256 modes visibly non-orthonormal.)"""
    basis = q[:, :k]
    for done in range(3):
        before = np.linalg.norm(w)
        w = w - basis @ (w.conj() @ basis).conj()  # basisᴴ w without copying basis (conj of a (k,) vector)
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
    poles one at a time (each conjugate separately); the span is conjugate-closed (see :func:`_real_basis`).
    The reference twin of the real route :func:`_finite_basis` takes for slow modes."""
    poles = np.concatenate([real + 0j, cplx, cplx.conj()])
    return rational_arnoldi(poles[: min(poles.size, horizon)], horizon)


def _sections_slow_last(real: np.ndarray, cplx: np.ndarray) -> np.ndarray:
    """The poles as cascade sections (real ones with ``Im == 0``, complex ones upper half), ordered by modulus.

    Slow modes are what makes the truncated Takenaka–Malmquist basis ill-conditioned (their energy lies beyond
    the window), so fast modes first gives the longest well-conditioned prefix; a stable sort keeps the order
    of equal moduli (real poles first, then complex ones by real part).
    """
    sections = np.concatenate([np.asarray(real, dtype=np.float64) + 0j, cplx])
    return sections[np.argsort(np.abs(sections), kind="stable")]


def _section_widths(sections: np.ndarray) -> np.ndarray:
    """Real dimensions each section adds: 1 for a real pole, 2 for a complex one."""
    return np.where(sections.imag == 0, 1, 2)


def _conditioned_prefix(gram: np.ndarray, ends: np.ndarray) -> tuple[int, np.ndarray]:
    """The longest leading block ``gram[:k, :k]`` (upper triangle given) with k in ``ends`` (increasing) whose
    Cholesky factor R has cond(R) ≤ ``MAX_KAUTZ_COND``, and R ``(m, m)`` (valid on that block). k = 0 if none.

    cond(R[:k, :k]) grows with k (interlacing), so a bisection over ``ends`` finds the cut; it is steered by
    LAPACK's O(k²) 1-norm estimate and the chosen block is checked with its exact 2-norm condition number
    (eigenvalues of the Gram block: cond(R)² = cond(G), and λ_min ≥ 1e-4 is far above its rounding).
    """
    r, info = lapack.dpotrf(gram, lower=0, clean=1)
    usable = gram.shape[0] if info == 0 else info - 1  # the factor is valid on the leading block that succeeded
    ends = ends[ends <= usable]

    def cond2(k: int) -> float:
        eigs = np.linalg.eigvalsh(gram[:k, :k], UPLO="U")
        return float(np.sqrt(eigs[-1] / eigs[0])) if eigs[0] > 0 else np.inf

    def estimate(k: int) -> float:
        rcond, _ = lapack.dtrcon(r[:k, :k], norm="1", uplo="U")
        return 1.0 / rcond if rcond > 0 else np.inf

    if ends.size == 0:
        return 0, r
    if cond2(int(ends[-1])) <= MAX_KAUTZ_COND:  # the common case: the whole stable part is well-conditioned
        return int(ends[-1]), r
    for condition in (estimate, cond2):  # the estimate finds the cut, the exact value confirms or redoes it
        lo, hi = -1, ends.size - 1  # ends[hi] fails; ends[lo] passes (lo = -1: none)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if condition(int(ends[mid])) <= MAX_KAUTZ_COND:
                lo = mid
            else:
                hi = mid
        if lo < 0:
            return 0, r
        if cond2(int(ends[lo])) <= MAX_KAUTZ_COND:
            return int(ends[lo]), r
    return 0, r


def _gram(q: np.ndarray) -> np.ndarray:
    """qᵀq ``(k, k)`` of ``q (T, k)``, upper triangle only (symmetric rank-k update: half a matrix product)."""
    return blas.dsyrk(1.0, q, trans=1, lower=0)


def _cholesky_qr_inplace(q: np.ndarray, r: np.ndarray) -> None:
    """Overwrite ``q (T, k)`` (Fortran order) with q R⁻¹, then re-orthonormalise once more (Cholesky QR twice):
    orthonormal to rounding and the span accurate to ~eps·cond(q) relative to the columns' own error; BLAS-3."""
    for attempt in range(2):
        if attempt:
            r = cholesky(_gram(q), lower=False)
        q[...] = blas.dtrsm(1.0, r, q, side=1, lower=0, overwrite_b=1)  # q ← q R⁻¹


def _rational_arnoldi_extend(q: np.ndarray, k: int, sections: np.ndarray, horizon: int) -> None:
    """Fill columns k.. of ``q (T, rank)`` (real, Fortran order, columns < k orthonormal and spanning the window
    exponentials of the poles before) with the rational Arnoldi basis of the next ``sections``, in real arithmetic.

    The step of :func:`rational_arnoldi`, one section at a time: the newest orthonormal vector, shifted and filtered
    by the pole's section, lies in the space grown by that pole; for a complex pole the real and imaginary parts
    of the filtered vector add the pole and its conjugate (the span so far is real). Each new vector is
    orthogonalised against all columns before (:func:`_orthogonalize`; matrix-vector products: OpenBLAS packs
    the whole basis for a two-column product, which made that 3-5× slower per read). Any orthonormal basis of a
    span of window exponentials can seed it (here: the Takenaka–Malmquist prefix), since shifting and filtering
    never leave the spans.
    """
    impulse = np.zeros(horizon)
    impulse[0] = 1.0
    for lam in sections:
        cont = impulse if k == 0 else _shift(q[:, k - 1])
        if lam.imag == 0:
            new = [lfilter([1.0], [1.0, -lam.real], cont)]
        else:
            filtered = lfilter([1.0], [1.0, -lam], cont.astype(np.complex128))
            new = [filtered.real, filtered.imag]
        for w in new:
            w = _orthogonalize(q, k, w)
            norm = np.linalg.norm(w)
            if not norm > 0.0:
                raise ValueError(f"the memory subspace broke down at pole {lam}; are the poles distinct and at most "
                                 f"the horizon ({horizon}) in number?")
            q[:, k] = w / norm
            k += 1


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
    """``(T, min(rank, T))`` real orthonormal basis of S_T and the method that built it.

    The poles are taken fast first (:func:`_sections_slow_last`). The truncated Takenaka–Malmquist functions of
    the longest prefix whose basis has cond ≤ ``MAX_KAUTZ_COND`` are orthonormalised by Cholesky QR (BLAS-3;
    the condition number multiplies the columns' own rounding); the remaining, slow poles (and any |λ| ≥ 1)
    extend that basis by rational Arnoldi on the window itself (:func:`_rational_arnoldi_extend`, O(T·rank) per
    pole). Usually only the slowest few hundred directions are ill-conditioned, so the O(T·rank²)
    matrix-vector work of rational Arnoldi is paid for those only. Method ``"takenaka-malmquist"`` when no pole
    needed rational Arnoldi, else ``"rational-arnoldi"``.
    BLAS runs on one thread here: the products are either small or matrix-vector, and on a loaded machine
    BLAS threads wait on each other (measured at two threads: 5× slower for ``random``, N = 1024, T = 4096).
    """
    rank = real.size + 2 * cplx.size
    if rank >= horizon:  # T distinct exponentials span all of ℝ^T (a Vandermonde matrix of distinct nodes)
        return np.eye(horizon), FULL_WINDOW_METHOD
    if not (np.all(np.abs(real) < 1) and np.all(np.abs(cplx) < 1)):
        _check_powers_fit(real, cplx, horizon)
    sections = _sections_slow_last(real, cplx)
    widths = _section_widths(sections)
    n_stable = int(np.sum(np.abs(sections) < 1))  # sorted by modulus: the stable sections come first
    q = np.zeros((horizon, rank), order="F")
    with threadpool_limits(limits=1, user_api="blas"):
        k = 0
        if n_stable:
            m = int(widths[:n_stable].sum())
            for j, column in enumerate(_cascade_columns(sections[:n_stable], horizon)):
                q[:, j] = column
            ends = np.cumsum(widths[:n_stable])
            k, r = _conditioned_prefix(_gram(q[:, :m]), ends)
            if k:
                _cholesky_qr_inplace(q[:, :k], r[:k, :k])
            q[:, k:] = 0.0
        done = int(np.searchsorted(np.cumsum(widths), k, side="right"))  # sections in the prefix
        if done == sections.size:
            return q, METHOD
        _rational_arnoldi_extend(q, k, sections[done:], horizon)
    return q, ARNOLDI_METHOD


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
    real, cplx = distinct_spectrum(modes, horizon=horizon)
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
            real dimension; repeated values count once, and so do values whose memory float64 cannot separate
            over the horizon (:func:`distinct_spectrum`). A conjugate-closed list gives the same result.
        horizon: T (the state sees the last T inputs; default 1024), or ``None`` for the stationary system.
        max_delay: last delay written; default T - 1, or (infinite horizon) 1024 delays doubled until less than
            1e-10 of the capacity lies beyond the last one (so a power of two, at least 1024, at most 2²¹ delays).

    Returns:
        a :class:`MemoryProfile` with ``capacity = Σ_{τ<T} MF(τ)`` (= min(rank, T), where rank is the number of
        distinct eigenvalues of the real system; exact for the infinite horizon, where the basis is orthonormal by
        construction), method ``"takenaka-malmquist"``, ``"rational-arnoldi"`` (a finite horizon with modes too
        slow for the truncated basis alone, :func:`_finite_basis`) or ``"full-window"`` (rank ≥ T).

    >>> import numpy as np
    >>> p = memory_function(np.array([0.5 + 0j]), horizon=None, max_delay=3)
    >>> np.round(p.mf, 6).tolist()  # (1 - λ²) λ^{2τ}
    [0.75, 0.1875, 0.046875, 0.011719]
    """
    given = as_modes(modes)
    _check_horizon(horizon)
    real, cplx = distinct_spectrum(given, horizon=horizon)
    eigenvalues = np.concatenate([given, given.conj()])  # all N of the real system, as given
    return profile_from_poles(real, cplx, horizon=horizon, max_delay=max_delay, eigenvalues=eigenvalues)
