"""The whitened memory basis of a linear diagonal SSM (float64, numpy).

A real SSM with discrete eigenvalues Ā (``n_modes`` upper-half modes, conjugates implicit) driven by a scalar
input u has the state x_t = Σ_{τ<T} α_τ u_{t-τ}, α_τ = Ā^τ B̄ (real coordinates: the real and imaginary parts of
each complex mode). Whitening the state with the input-driven covariance Σ = Σ_τ α_τ α_τᵀ gives

    x̃_t = W x_t = Σ_τ α̃_τ u_{t-τ},   Σ_τ α̃_τ α̃_τᵀ = I,   ‖α̃_τ‖² = MF(τ)

The rows α̃_τ (τ = 0..T-1) form a (T, r) matrix with orthonormal columns spanning the memory subspace
S = span{(Re Ā_k^τ)_τ, (Im Ā_k^τ)_τ}; r is the number of distinct eigenvalues of the real system. Any two
whitenings differ by a rotation of the columns, which no quantity of :mod:`ssmem.dynamics` depends on.

Numerics: the Gram matrix of S is Cauchy-like and catastrophically ill-conditioned, so S is never whitened
through Σ⁻¹, nor through truncated infinite-horizon bases (Takenaka–Malmquist functions lose the directions
whose energy lies beyond T when eigenvalues cluster near 1). The basis is built by rational Arnoldi on the
horizon [0, T): with the delay operator Z ((Z v)_τ = v_{τ-1}),

    v_1 ∝ (I - a_1 Z)⁻¹ e_0,   v_k ∝ (I - a_k Z)⁻¹ Z v_{k-1}  orthogonalised (twice) against v_1..v_{k-1}

which spans the same space as the Newton sequences f_k = [a_1..a_k] z^τ (divided differences in the pole,
f_k = (I - a_k Z)⁻¹ Z f_{k-1}); each filter is a first-order recursion without cancellation, O(N·T + N²·T).
For a conjugate-closed pole set the complex orthonormal basis V (T, n) has the real projector Re(V Vᴴ), so the
real matrix [Re V, Im V] (T, 2n) has r singular values 1 and r singular values 0; its left singular vectors
for the unit singular values are the real orthonormal basis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._values import is_integer
from ..memory.analytic import as_modes, distinct_spectrum, rational_arnoldi

def distinct_poles(modes: np.ndarray, *, horizon: int | None = None) -> np.ndarray:
    """All distinct eigenvalues of the real system from its upper-half modes: ``(n_modes,) → (r,)`` complex128.

    A non-real mode contributes itself and its conjugate, a real mode itself once; repeated modes count once (a
    repeated eigenvalue of a diagonal system adds no memory). "Distinct" and "real" are judged over ``horizon``
    as in :func:`ssmem.memory.analytic.distinct_spectrum` (values whose memory float64 cannot separate count
    once), so the basis has the rank of the exact MF.
    """
    modes = np.asarray(modes, dtype=np.complex128).ravel()
    if modes.size == 0:
        raise ValueError("need at least one eigenvalue")
    if not np.all(np.isfinite(modes)) or np.any(np.abs(modes) >= 1):
        raise ValueError(f"discrete eigenvalues must be finite with |Ā| < 1; max |Ā| = {np.max(np.abs(modes)):.6g}")
    real, upper = distinct_spectrum(modes, horizon=horizon)
    return np.concatenate([upper, upper.conj(), real.astype(np.complex128)])


def rational_krylov_basis(poles: np.ndarray, horizon: int) -> np.ndarray:
    """An orthonormal basis of span{(a_k^τ)_{τ<T}} on the horizon, by rational Arnoldi: ``(T, n)`` complex128.

    ``poles`` must be distinct (at most ``horizon`` of them); column k spans the k-th Newton sequence
    [a_1..a_k] z^τ modulo the earlier ones (:func:`ssmem.memory.analytic.rational_arnoldi`).
    """
    return rational_arnoldi(np.asarray(poles, dtype=np.complex128), horizon)


@dataclass(frozen=True)
class WhitenedBasis:
    """The whitened memory vectors of a linear SSM over a finite horizon.

    ``vectors[τ]`` is α̃_τ (shape ``(horizon, rank)``, orthonormal columns, float64); ``poles`` are the
    distinct eigenvalues of the real system (``(rank,)`` complex128).
    """

    vectors: np.ndarray
    poles: np.ndarray
    horizon: int

    @property
    def rank(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def memory_function(self) -> np.ndarray:
        """MF(τ) = ‖α̃_τ‖², τ = 0..horizon-1: ``(horizon,)`` float64; sums to ``rank``."""
        return np.sum(self.vectors**2, axis=1)

    def project(self, sequence: np.ndarray) -> np.ndarray:
        """P_S h for a delay-indexed sequence h ``(horizon,)`` (or ``(horizon, m)``): the part S can represent."""
        return self.vectors @ (self.vectors.T @ np.asarray(sequence, dtype=np.float64))


def whitened_memory_basis(modes: np.ndarray, *, horizon: int = 1024) -> WhitenedBasis:
    """The whitened memory basis of the SSM with discrete eigenvalues ``modes`` ``(n_modes,)`` over ``horizon``.

    The state sees the last ``horizon`` inputs (a convolution kernel of length T = ``horizon``).
    Returns a :class:`WhitenedBasis` with ``vectors`` ``(horizon, r)``, r = number of distinct eigenvalues of
    the real system (at most ``horizon``).
    """
    if not is_integer(horizon) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer; got {horizon!r}")
    poles = distinct_poles(as_modes(modes), horizon=int(horizon))
    if poles.size > horizon:
        raise ValueError(f"horizon {horizon} is shorter than the number of distinct eigenvalues {poles.size}")
    complex_basis = rational_krylov_basis(poles, int(horizon))
    split = np.concatenate([complex_basis.real, complex_basis.imag], axis=1)  # (T, 2r)
    left, singular, _ = np.linalg.svd(split, full_matrices=False)
    rank = int(np.sum(singular > 0.5))  # singular values are 1 (the real span) or 0 (the split's null part)
    return WhitenedBasis(vectors=np.ascontiguousarray(left[:, :rank]), poles=poles, horizon=int(horizon))


def memory_vectors(modes: np.ndarray, *, horizon: int, input_weights: np.ndarray | None = None) -> np.ndarray:
    """The raw (unwhitened) memory vectors α_τ = Ā^τ B̄ in real coordinates: ``(horizon, 2·n_modes)`` float64.

    Real coordinates stack the real and imaginary parts of the complex modes: x = [Re z, Im z].
    ``input_weights`` is B̄ ``(n_modes,)`` complex (default all ones). A real mode's imaginary coordinate is
    identically zero.
    """
    modes = np.asarray(modes, dtype=np.complex128).ravel()
    b = np.ones_like(modes) if input_weights is None else np.asarray(input_weights, dtype=np.complex128).ravel()
    if b.shape != modes.shape:
        raise ValueError(f"input_weights has shape {b.shape}, expected {modes.shape}")
    tau = np.arange(horizon, dtype=np.float64)[:, None]
    # powers through exp(τ log Ā) keep the accuracy of large τ (no repeated multiplication)
    # (a zero eigenvalue keeps only τ = 0: its log is -inf, and 0·(-inf) would be NaN)
    zero = modes == 0
    powers = np.exp(tau * np.log(np.where(zero, 1, modes))[None, :])
    alpha = np.where(zero[None, :], (tau == 0), powers) * b[None, :]  # (T, n_modes) complex
    return np.concatenate([alpha.real, alpha.imag], axis=1)


def whitening_matrix(
    modes: np.ndarray, basis: WhitenedBasis, *, input_weights: np.ndarray | None = None
) -> np.ndarray:
    """W with W α_τ = α̃_τ (= ``basis.vectors[τ]``): ``(rank, 2·n_modes)`` float64.

    With M = [α_τ]_τ (T, 2n) and Q = ``basis.vectors``: M = Q R, R = Qᵀ M, so W = pinv(Rᵀ). The whitened state
    is x̃_t = W x_t. Its accuracy degrades with cond(Σ)^{1/2}; prefer the basis itself where possible. Every
    mode must be excited (B̄_n ≠ 0).
    """
    if input_weights is not None:
        weights = np.asarray(input_weights, dtype=np.complex128).ravel()
        silent = np.flatnonzero(weights == 0)
        if silent.size:
            raise ValueError(
                f"input_weights are zero for modes {silent.tolist()} ({np.asarray(modes).ravel()[silent].tolist()}): "
                "those states never move, so no W reaches the basis; build the basis from the excited modes only"
            )
    raw = memory_vectors(modes, horizon=basis.horizon, input_weights=input_weights)
    coefficients = basis.vectors.T @ raw  # R: (r, 2n)
    return np.linalg.pinv(coefficients.T)


def finite_horizon_states(
    modes: np.ndarray, inputs: np.ndarray, *, horizon: int, input_weights: np.ndarray | None = None
) -> np.ndarray:
    """Real states x_t = Σ_{τ<T} α_τ u_{t-τ} (the input before t = 0 is zero): ``(..., L) → (..., L, 2·n_modes)``.

    Computed by FFT convolution with the raw memory vectors (float64). Steps t ≥ T - 1 have the full horizon.
    """
    u = np.asarray(inputs, dtype=np.float64)
    alpha = memory_vectors(modes, horizon=horizon, input_weights=input_weights)  # (T, 2n)
    length = u.shape[-1]
    size = 1 << int(np.ceil(np.log2(length + horizon)))
    spectrum = np.fft.rfft(u, n=size)[..., :, None] * np.fft.rfft(alpha, n=size, axis=0)
    return np.fft.irfft(spectrum, n=size, axis=-2)[..., :length, :]


def whitened_states(basis: WhitenedBasis, inputs: np.ndarray) -> np.ndarray:
    """Whitened states x̃_t = Σ_{τ<T} α̃_τ u_{t-τ} (zero input before t = 0): ``(..., L) → (..., L, rank)``.

    FFT convolution with the basis rows, float64. Steps t ≥ T - 1 see the full horizon.
    """
    u = np.asarray(inputs, dtype=np.float64)
    length, horizon = u.shape[-1], basis.horizon
    size = 1 << int(np.ceil(np.log2(length + horizon)))
    spectrum = np.fft.rfft(u, n=size)[..., :, None] * np.fft.rfft(basis.vectors, n=size, axis=0)
    return np.fft.irfft(spectrum, n=size, axis=-2)[..., :length, :]


def with_skip(basis: WhitenedBasis) -> WhitenedBasis:
    """The basis of the state plus the direct term D·u_t (a layer's skip): S + span{e_0}, orthonormal.

    The new column is (e_0 - P_S e_0)/‖·‖, so MF gains (1 - MF(0))·(that column)² and reaches 1 at τ = 0.
    Returns ``basis`` unchanged if e_0 already lies in S.
    """
    e0 = np.zeros(basis.horizon)
    e0[0] = 1.0
    extra = e0 - basis.project(e0)
    norm = np.linalg.norm(extra)
    if norm < 1e-12:
        return basis
    vectors = np.concatenate([basis.vectors, (extra / norm)[:, None]], axis=1)
    return WhitenedBasis(vectors=vectors, poles=np.concatenate([basis.poles, [0.0 + 0j]]), horizon=basis.horizon)


def step_weights(length: int, start: int) -> np.ndarray:
    """c_τ = share of the steps t ∈ [start, length) with t ≥ τ: ``(length,)`` float64 (1 for τ ≤ start)."""
    if not 0 <= start < length:
        raise ValueError(f"need 0 <= start < length; got start={start}, length={length}")
    tau = np.arange(length)
    return np.clip((length - np.maximum(tau, start)) / (length - start), 0.0, 1.0)


def window_basis(modes: np.ndarray, *, length: int, start: int, skip: bool = False) -> WhitenedBasis:
    """The memory basis for one readout shared by the steps t ∈ [start, length) of sequences that start at 0.

    At step t the state sees t + 1 inputs, so the readout's kernel k ∈ S_L is cut at τ = t. Averaged over
    the steps (iid unit-variance input), the loss is Σ_τ c_τ (k_τ - h*_τ)² with c = :func:`step_weights`, a
    least-squares problem in the weighted space: the returned ``vectors`` are an orthonormal basis of √c·S_L
    (plus √c·e_0 with ``skip``), so that :func:`ssmem.dynamics.optimal_readout` of the weighted teacher
    information √c·h* gives the best shared readout, and its R² is the R² pooled over those steps. For delays
    τ ≤ start, ``memory_function`` is this readout's best R² for the delay teacher e_τ. Directions squashed
    below 1e-10 by the weights are dropped.
    """
    basis = whitened_memory_basis(modes, horizon=length)
    if skip:
        basis = with_skip(basis)
    weights = np.sqrt(step_weights(length, start))
    left, singular, _ = np.linalg.svd(weights[:, None] * basis.vectors, full_matrices=False)
    keep = singular > 1e-10 * singular[0]
    return WhitenedBasis(vectors=np.ascontiguousarray(left[:, keep]), poles=basis.poles, horizon=length)
