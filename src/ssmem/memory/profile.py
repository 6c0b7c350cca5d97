"""The result of every memory-function computation: :class:`MemoryProfile`, and the measures derived from it.

    MF(τ)   = 1 - min_w E[(wᵀx_t - u_{t-τ})²] / E[u²]        (0 ≤ MF ≤ 1)
    MC      = Σ_τ MF(τ)                                      (= rank for a linear SSM; min(rank, T) over T delays)
    length  = largest τ with MF(τ) > threshold
    I(τ)    = -½ log(1 - MF(τ))  nats: the mutual information between u_{t-τ} and the state for Gaussian input
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._values import is_real

DEFAULT_LENGTH_THRESHOLD = 0.01
DEFAULT_ACCURACY_DELAYS = 10


def check_threshold(threshold: float) -> None:
    """An MF threshold lies in [0, 1) (MF itself lies in [0, 1])."""
    if not is_real(threshold) or not 0 <= threshold < 1:
        raise ValueError(f"an MF threshold must lie in [0, 1), got {threshold!r}")


def memory_length(mf: np.ndarray, threshold: float = DEFAULT_LENGTH_THRESHOLD) -> int:
    """The largest index τ with ``mf[τ] > threshold`` (for MF over delays 0, 1, ...: the memory length); -1 if none."""
    above = np.flatnonzero(np.asarray(mf) > threshold)
    return int(above[-1]) if above.size else -1


@dataclass(frozen=True)
class MemoryProfile:
    """A memory function over delays ``0..max_delay`` with its summary numbers.

    Attributes:
        delays: ``(D,)`` int64, the delays written, ``0..max_delay``.
        mf: ``(D,)`` float64 in [0, 1], MF at those delays.
        capacity: Σ MF over *all* delays of the horizon (not only the written ones). For the analytic routes
            this is the dimension of the memory subspace, exactly: the rank, or T when the horizon is shorter;
            for an empirical profile it is the sum over the estimated delays.
        rank: the number of distinct eigenvalues of the real system; for an empirical profile, the number of
            state features.
        horizon: T (the state sees the last T inputs), ``None`` for the infinite (stationary) horizon.
        method: how the profile was computed, e.g. ``"takenaka-malmquist"``,
            ``"dense-hessenberg+takenaka-malmquist"``, ``"empirical"``.
        eigenvalues: ``(N,)`` complex128, all discrete eigenvalues of the real system (conjugate-closed),
            empty for systems without a known spectrum.
    """

    delays: np.ndarray
    mf: np.ndarray
    capacity: float
    rank: int
    horizon: int | None
    method: str
    eigenvalues: np.ndarray

    def __post_init__(self) -> None:
        if self.delays.shape != self.mf.shape or self.mf.ndim != 1:
            raise ValueError(f"delays {self.delays.shape} and mf {self.mf.shape} must be 1-D of equal length")

    @property
    def max_delay(self) -> int:
        """The last delay written (-1 for an empty profile)."""
        return int(self.delays[-1]) if self.delays.size else -1

    @property
    def written_capacity(self) -> float:
        """Σ MF over the written delays only (≤ :attr:`capacity`)."""
        return float(self.mf.sum())

    def memory_length(self, threshold: float = DEFAULT_LENGTH_THRESHOLD) -> int:
        """The largest written delay τ with MF(τ) > ``threshold``; -1 if there is none.

        A lower bound of the true memory length when MF is still above ``threshold`` at the last written delay.
        """
        check_threshold(threshold)
        last = memory_length(self.mf, threshold)
        return int(self.delays[last]) if last >= 0 else -1

    def accuracy(self, n_delays: int = DEFAULT_ACCURACY_DELAYS) -> float:
        """Mean MF over the first ``n_delays`` delays (0..n_delays-1): how exactly the recent past is kept."""
        if n_delays < 1 or n_delays > self.mf.size:
            raise ValueError(f"n_delays must be in 1..{self.mf.size} (the delays written); got {n_delays}")
        return float(self.mf[:n_delays].mean())

    @property
    def mutual_information(self) -> np.ndarray:
        """``(D,)`` float64: -½ log(1 - MF(τ)) nats (Gaussian input); +inf where MF = 1."""
        with np.errstate(divide="ignore"):
            return -0.5 * np.log1p(-np.clip(self.mf, 0.0, 1.0))

    def summary(self, *, threshold: float = DEFAULT_LENGTH_THRESHOLD, n_delays: int = DEFAULT_ACCURACY_DELAYS) -> dict:
        """The headline numbers as a plain dict (JSON-ready)."""
        return {
            "capacity": float(self.capacity),
            "rank": int(self.rank),
            "horizon": self.horizon,
            "method": self.method,
            "memory_length": self.memory_length(threshold),
            "accuracy": self.accuracy(min(n_delays, self.mf.size)),
        }
