"""Teacher information: how a target depends on the input at each delay.

A linear teacher ŷ_t = Σ_τ h*_τ u_{t-τ} (+ noise) is described by its kernel h* over delays τ = 0, 1, ...
For iid, zero-mean, unit-variance input, h*_τ = E[ŷ_t u_{t-τ}]: the teacher information at delay τ, which
also defines it for any (nonlinear) teacher through its input cross-covariance.
"""

from __future__ import annotations

import numpy as np

from .._values import is_integer


def teacher_information(teacher: int | np.ndarray, *, horizon: int) -> np.ndarray:
    """h* of a teacher over delays 0..max(horizon, len(kernel))-1: ``(max(horizon, K),)`` float64.

    ``teacher`` is a delay τ* (an int: the pure delay teacher ŷ_t = u_{t-τ*}, h* = e_τ*) or a kernel
    ``(K,)`` with h*_τ = kernel[τ]. Delays at or beyond ``horizon`` are kept (zero-padded up to ``horizon``):
    a state with that horizon cannot see them, and the best-loss formulas count them as lost.
    """
    if is_integer(teacher):
        if teacher < 0:
            raise ValueError(f"a delay teacher needs a delay >= 0; got {teacher}")
        info = np.zeros(max(int(horizon), int(teacher) + 1), dtype=np.float64)
        info[int(teacher)] = 1.0
        return info
    kernel = np.asarray(teacher, dtype=np.float64)
    if kernel.ndim != 1 or kernel.size == 0 or not np.all(np.isfinite(kernel)):
        raise ValueError(f"a kernel teacher must be a non-empty 1-D finite array; got shape {kernel.shape}")
    info = np.zeros(max(int(horizon), kernel.size), dtype=np.float64)
    info[: kernel.size] = kernel
    return info


def empirical_teacher_information(inputs: np.ndarray, targets: np.ndarray, *, horizon: int) -> np.ndarray:
    """ĥ_τ = mean_t ŷ_t u_{t-τ} / mean_t u_t², τ < horizon, from sequences: ``(..., L), (..., L) → (horizon,)``.

    Only steps t ≥ horizon - 1 (which see the whole horizon) are averaged. Exact in expectation for iid input;
    the estimation noise is about 1/sqrt(number of steps) per delay.
    """
    u = np.asarray(inputs, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    if u.shape != y.shape:
        raise ValueError(f"inputs {u.shape} and targets {y.shape} must have the same shape")
    length = u.shape[-1]
    if length < horizon:
        raise ValueError(f"sequences of length {length} are shorter than the horizon {horizon}")
    return lagged_cross_covariance(u, y, horizon=horizon) / np.mean(u**2)


def check_horizon_within(horizon: int, length: int) -> int:
    """``horizon`` as an int, if it is an integer in 1..``length`` (sequences must see the whole horizon)."""
    if not is_integer(horizon) or not 1 <= horizon <= length:
        raise ValueError(f"horizon must be an integer in 1..{length} (the sequence length); got {horizon!r}")
    return int(horizon)


def lagged_cross_covariance(inputs: np.ndarray, signal: np.ndarray, *, horizon: int) -> np.ndarray:
    """c_τ = mean_t s_t u_{t-τ} over steps t ≥ horizon - 1 (and over leading batch axes): ``(horizon,)`` float64.

    Computed by FFT cross-correlation: O(L log L) per sequence.
    """
    u = np.asarray(inputs, dtype=np.float64)
    s = np.array(signal, dtype=np.float64)
    if u.shape != s.shape or u.ndim == 0:
        raise ValueError(f"inputs {u.shape} and the signal {s.shape} must be sequences (..., L) of the same shape")
    length = u.shape[-1]
    horizon = check_horizon_within(horizon, length)
    s[..., : horizon - 1] = 0.0  # only steps that see the whole horizon count
    size = 1 << int(np.ceil(np.log2(2 * length)))
    corr = np.fft.irfft(np.fft.rfft(s, n=size) * np.conj(np.fft.rfft(u, n=size)), n=size)[..., :horizon]
    n_steps = (length - horizon + 1) * int(np.prod(u.shape[:-1], dtype=np.int64))
    return corr.reshape(-1, horizon).sum(axis=0) / n_steps
