"""Why memory determines the learning direction: the readout gradient in whitened coordinates.

With whitened memory vectors α̃_τ (:func:`ssmem.dynamics.whitened_memory_basis`, rows of Ã ``(T, r)``), a
readout y_t = wᵀx̃_t of the whitened state x̃_t = Σ_{τ<T} α̃_τ u_{t-τ}, and a teacher with information h*
(:mod:`ssmem.dynamics.teacher`), the squared loss L = ½ E[(y_t - ŷ_t)²] under iid unit-variance input is

    L(w)   = ½ ‖Ã w - h*‖² + ½ σ²                   (Ã w is the readout's own kernel over delays)
    ∂L/∂w  = w - Σ_τ α̃_τ h*_τ                       (population convention: E[x̃ x̃ᵀ] = I)

The teacher reaches the update only through α̃_τ, whose squared norm is MF(τ). Conventions:

* **finite horizon**: delays τ ≥ T are invisible (α̃_τ = 0 there); teacher information beyond T only adds to
  the loss;
* **finite samples**: over a finite set of steps the input autocorrelation R̂_{ττ'} = mean_t u_{t-τ} u_{t-τ'}
  replaces I, and the exact sample gradient is Ãᵀ R̂ (Ã w - h*) for a teacher within the horizon (one reaching
  delay K ≥ T: Ãᵀ (R̂_{:,<T} Ã w - R̂ h*) with R̂ of shape (T, K), since unseen delays still correlate with seen
  ones in a sample); R̂ → I as samples grow;
* σ² is the variance of additive teacher noise, independent of the input.

At the optimum w* = Σ_τ α̃_τ h*_τ = Ãᵀh*, the remaining loss is ½(‖h*‖² - ‖P_S h*‖²) + ½σ² and the best
R² is ‖P_S h*‖² / (‖h*‖² + σ²); for a pure delay teacher (h* = e_τ*, σ = 0) the best R² is exactly MF(τ*).

A nonlinear readout y_t = f(z_t), z_t = wᵀx̃_t, with loss ℓ(y, ŷ) has

    ∂L/∂w = mean_t G_t x̃_t = Σ_τ α̃_τ g_τ,   G_t = ℓ'(y_t, ŷ_t) f'(z_t),   g_τ = mean_t G_t u_{t-τ}

the same α̃_τ structure, with the effective teacher information g_τ seen through the factor G(y).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._values import is_integer, is_real
from .basis import WhitenedBasis
from .teacher import check_horizon_within, lagged_cross_covariance

ACTIVATIONS = ("identity", "tanh", "sigmoid")
LOSSES = ("mse", "bce")


def _split(basis: WhitenedBasis, teacher_info: np.ndarray) -> tuple[np.ndarray, float]:
    """The teacher information within the horizon ``(T,)`` and the squared norm of the part beyond it."""
    h = np.asarray(teacher_info, dtype=np.float64)
    if h.ndim != 1 or h.size < basis.horizon:
        raise ValueError(
            f"teacher information must be 1-D with at least horizon = {basis.horizon} delays; got shape {h.shape} "
            "(see ssmem.dynamics.teacher_information)"
        )
    if not np.all(np.isfinite(h)):
        raise ValueError("teacher information must be finite; it holds NaN or infinite values")
    return h[: basis.horizon], float(np.sum(h[basis.horizon :] ** 2))


def _check_noise(noise_variance: float) -> float:
    if not is_real(noise_variance) or not (np.isfinite(noise_variance) and noise_variance >= 0):
        raise ValueError(f"noise_variance must be a finite number >= 0, got {noise_variance!r}")
    return float(noise_variance)


def readout_kernel(basis: WhitenedBasis, weights: np.ndarray) -> np.ndarray:
    """The kernel over delays of the readout y = wᵀx̃: Ã w, ``(r,) → (T,)``."""
    return basis.vectors @ np.asarray(weights, dtype=np.float64)


def readout_loss(
    basis: WhitenedBasis, weights: np.ndarray, teacher_info: np.ndarray, *, noise_variance: float = 0.0
) -> float:
    """Population squared loss ½ E[(wᵀx̃_t - ŷ_t)²] = ½(‖Ã w - h*‖² + ‖h*_{τ≥T}‖² + σ²)."""
    h, beyond = _split(basis, teacher_info)
    residual = readout_kernel(basis, weights) - h
    return 0.5 * (float(residual @ residual) + beyond + _check_noise(noise_variance))


def predicted_readout_gradient(
    basis: WhitenedBasis,
    weights: np.ndarray,
    teacher_info: np.ndarray,
    *,
    input_autocorrelation: np.ndarray | None = None,
) -> np.ndarray:
    """∂L/∂w for the whitened linear readout: ``(r,)`` float64.

    Population convention (``input_autocorrelation=None``): w - Σ_τ α̃_τ h*_τ. With the sample input
    autocorrelation R̂ ``(T, K)`` of the steps the loss averages over (:func:`input_autocorrelation` with
    ``delays=K``): Ãᵀ (R̂_{:, <T} Ã w - R̂ h*_{<K}), exact for that sample. The teacher's delays at or beyond T
    still correlate with the seen ones in a finite sample, so R̂ needs a column for every delay where h* ≠ 0.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (basis.rank,):
        raise ValueError(f"weights must have shape ({basis.rank},); got {w.shape}")
    if input_autocorrelation is None:
        h, _ = _split(basis, teacher_info)
        return w - basis.vectors.T @ h
    _split(basis, teacher_info)  # checks
    h = np.asarray(teacher_info, dtype=np.float64)
    R = np.asarray(input_autocorrelation, dtype=np.float64)
    if R.ndim != 2 or R.shape[0] != basis.horizon or R.shape[1] < basis.horizon:
        raise ValueError(f"input_autocorrelation must be ({basis.horizon}, K) with K >= {basis.horizon}; got {R.shape}")
    reached = int(np.flatnonzero(h)[-1]) + 1 if np.any(h) else 0
    if reached > R.shape[1]:
        raise ValueError(f"the teacher reaches delay {reached - 1} but input_autocorrelation has {R.shape[1]} "
                         f"delays; use input_autocorrelation(inputs, horizon={basis.horizon}, delays={reached})")
    h = np.pad(h, (0, max(0, R.shape[1] - h.size)))[: R.shape[1]]
    return basis.vectors.T @ (R[:, : basis.horizon] @ readout_kernel(basis, w) - R @ h)


def input_autocorrelation(inputs: np.ndarray, *, horizon: int, delays: int | None = None) -> np.ndarray:
    """R̂_{ττ'} = mean_t u_{t-τ} u_{t-τ'} over steps t ≥ horizon - 1 (and batch), τ < T, τ' < K: ``(..., L) →
    (T, K)`` with K = ``delays`` (default T, at least T); input before t = 0 counts as zero.

    Meant for small horizons (it forms the lagged input matrix).
    """
    u = np.asarray(inputs, dtype=np.float64)
    if u.ndim == 0 or u.shape[-1] == 0:
        raise ValueError(f"inputs must be sequences (..., L) with L >= 1; got shape {u.shape}")
    u = u.reshape(-1, u.shape[-1])
    horizon = check_horizon_within(horizon, u.shape[-1])
    if delays is None:
        delays = horizon
    if not is_integer(delays) or delays < horizon:
        raise ValueError(f"delays must be an integer >= horizon ({horizon}); got {delays!r}")
    delays = int(delays)
    padded = np.concatenate([np.zeros((u.shape[0], delays)), u], axis=1)  # u_{t} at column t + K
    steps = np.arange(horizon - 1, u.shape[-1]) + delays
    lagged = np.stack([padded[:, steps - tau] for tau in range(delays)], axis=-1).reshape(-1, delays)
    return lagged[:, :horizon].T @ lagged / lagged.shape[0]


@dataclass(frozen=True)
class ReadoutOptimum:
    """The best linear readout of fixed eigenvalues for a teacher.

    ``weights`` w* = Ãᵀh* ``(r,)``; ``loss`` ½(‖h*‖² - ‖P_S h*‖² + σ²); ``r2`` ‖P_S h*‖² / (‖h*‖² + σ²);
    ``captured`` = ‖P_S h*‖² / ‖h*‖² (the fraction of the teacher's information the memory can hold).
    """

    weights: np.ndarray
    loss: float
    r2: float
    captured: float


def optimal_readout(basis: WhitenedBasis, teacher_info: np.ndarray, *, noise_variance: float = 0.0) -> ReadoutOptimum:
    """The optimum of :func:`readout_loss` over w and what it achieves (see :class:`ReadoutOptimum`)."""
    h, beyond = _split(basis, teacher_info)
    noise_variance = _check_noise(noise_variance)
    weights = basis.vectors.T @ h
    seen = float(weights @ weights)  # ‖P_S h*‖² (orthonormal basis)
    total = float(h @ h) + beyond
    if total <= 0:
        raise ValueError("the teacher information is zero: nothing to learn")
    return ReadoutOptimum(
        weights=weights,
        loss=0.5 * (total - seen + float(noise_variance)),
        r2=seen / (total + float(noise_variance)),
        captured=seen / total,
    )


def _activation(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(z) and f'(z)."""
    if name == "identity":
        return z, np.ones_like(z)
    if name == "tanh":
        y = np.tanh(z)
        return y, 1.0 - y**2
    if name == "sigmoid":
        y = 1.0 / (1.0 + np.exp(-z))
        return y, y * (1.0 - y)
    raise ValueError(f"unknown activation {name!r}; valid choices: {', '.join(ACTIVATIONS)}")


def error_signal(pre_activation: np.ndarray, targets: np.ndarray, *, activation: str, loss: str) -> np.ndarray:
    """The factor G_t = ℓ'(y_t, ŷ_t) f'(z_t) of a nonlinear readout, same shape as ``pre_activation``.

    Losses: ``mse`` ℓ = ½(y - ŷ)²; ``bce`` ℓ = -ŷ log y - (1 - ŷ) log(1 - y), which needs y in (0, 1) and so
    the sigmoid, with which it gives G = y - ŷ.
    """
    z = np.asarray(pre_activation, dtype=np.float64)
    target = np.asarray(targets, dtype=np.float64)
    y, slope = _activation(activation, z)
    if loss == "mse":
        return (y - target) * slope
    if loss == "bce":
        if activation != "sigmoid":
            raise ValueError(f"loss 'bce' needs outputs in (0, 1), so activation 'sigmoid'; got activation "
                             f"{activation!r} (use loss 'mse' with it)")
        return y - target  # ℓ'·f' = (y - ŷ)/(y(1 - y)) · y(1 - y), without the cancellation
    raise ValueError(f"unknown loss {loss!r}; valid choices: {', '.join(LOSSES)}")


def nonlinear_readout_gradient(basis: WhitenedBasis, inputs: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """∂L/∂w = Σ_τ α̃_τ g_τ with g_τ = mean_t G_t u_{t-τ} (steps t ≥ T - 1): ``(..., L), (..., L) → (r,)``.

    ``errors`` is G_t (:func:`error_signal`) at every step; steps before T - 1 are ignored, matching a loss
    averaged over the steps that see the whole horizon.
    """
    g = lagged_cross_covariance(inputs, errors, horizon=basis.horizon)
    return basis.vectors.T @ g
