"""Empirical memory function of any system (nonlinear, deep, trained) by simulation (PAPER.md §3).

Drive the system with iid N(0, 1) input u, collect its features X_t (states, or outputs), fit one ridge readout
per delay τ on a training stretch and score it on a held-out stretch:

    MF̂(τ) = 1 - mean_test((ŵ_τᵀ X_t - u_{t-τ})²) / var_test(u)

Finite samples bias this estimate. In-sample R² is biased *up* by about F/n (F features, n samples); a held-out
estimate is instead biased *down*, because the fitted readout carries estimation noise: for least squares
with Gaussian features E[test MSE] = σ²_res (1 + F/(n - F - 1)). ssmem handles it explicitly
(``bias_correction``):

* ``"none"``: the held-out estimate, clipped to [0, 1].
* ``"analytic"``: undo the variance inflation, MF̃ = 1 - (1 - MF̂)/(1 + F/(n - F - 1)), clipped to [0, 1].
* ``"surrogate"`` (default): the analytic correction, then a significance threshold: the same estimate is
  computed for shuffled copies of the input (targets the system cannot know), and MF̃ values not above the
  mean + 3 std of those surrogate values (``threshold_``) are set to 0.

``standard_error_`` is the sampling standard error of the held-out estimate at each delay (from the spread of
the squared test residuals); on linear SSMs the estimate agrees with the analytic MF within a few of these.
The readout solve uses an SVD of the centred features, so ill-conditioned states (linear SSMs whose Gram
matrix has cond ~1e17) lose only the directions below float64 resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._values import is_integer
from .profile import MemoryProfile

BIAS_CORRECTIONS = ("surrogate", "analytic", "none")
SURROGATE_SIGMAS = 3.0


def _features_of(system: Any, u: np.ndarray) -> np.ndarray:
    """Run ``system`` on the input series ``u (L,)`` and return float64 features ``(L, F)``."""
    try:
        import torch
        from torch import nn
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = nn = None
    if nn is not None and isinstance(system, nn.Module):
        param = next(iter(system.parameters()), None)
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        device = param.device if param is not None else torch.device("cpu")
        with torch.no_grad():
            out = system(torch.as_tensor(u, dtype=dtype, device=device).reshape(1, -1, 1))
    elif callable(system):
        out = system(u)
    else:
        raise TypeError(f"system must be a callable or an nn.Module; got {type(system).__name__}")
    if torch is not None and isinstance(out, torch.Tensor):
        out = out.detach().to("cpu", torch.float64).numpy()
    out = np.asarray(out)
    if np.iscomplexobj(out):
        out = np.concatenate([out.real, out.imag], axis=-1)
    out = out.astype(np.float64)
    if out.ndim == 3 and out.shape[0] == 1:
        out = out[0]
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2 or out.shape[0] != u.size:
        raise ValueError(f"system must return features of shape (L, F) or (1, L, F) with L = {u.size}; got {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError("system returned non-finite features (is it stable?)")
    return out


def diagonal_system(modes: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A simulator of the diagonal SSM x_t = λ x_{t-1} + u_t: ``u (L,) → [Re x, Im x] (L, 2·n_modes)``."""
    from scipy.signal import lfilter

    modes = np.asarray(modes, dtype=np.complex128).ravel()

    def simulate(u: np.ndarray) -> np.ndarray:
        states = np.stack([lfilter([1.0], [1.0, -lam], u.astype(np.complex128)) for lam in modes], axis=1)
        return np.concatenate([states.real, states.imag], axis=1)

    return simulate


def dense_system(A_bar: np.ndarray, B_bar: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A simulator of x_t = Ā x_{t-1} + B̄ u_t: ``u (L,) → x (L, N)`` (plain recurrence, float64)."""
    A_bar = np.asarray(A_bar, dtype=np.float64)
    B_bar = np.asarray(B_bar, dtype=np.float64)

    def simulate(u: np.ndarray) -> np.ndarray:
        x = np.zeros(A_bar.shape[0])
        out = np.empty((u.size, A_bar.shape[0]))
        for t, u_t in enumerate(u):
            x = A_bar @ x + B_bar * u_t
            out[t] = x
        return out

    return simulate


class EmpiricalMemory:
    """Empirical MF by ridge readouts on simulated iid input (scikit-learn style: ``fit`` sets ``*_`` fields).

    Args:
        max_delay: delays 0..max_delay are estimated.
        n_train, n_test: samples used to fit and to score the readouts.
        washout: steps discarded first (let the state forget its zero start); must be ≥ max_delay.
        ridge: Tikhonov strength relative to the largest squared singular value of the centred features;
            0 (default) is minimum-norm least squares, which keeps the weak directions of ill-conditioned states.
        bias_correction: ``"surrogate"`` (default), ``"analytic"`` or ``"none"`` (see the module docstring).
        n_surrogates: shuffled-input surrogate targets for the ``"surrogate"`` threshold.
        seed: seeds the input and the shuffles.

    After :meth:`fit`: ``memory_function_ (D,)``, ``raw_memory_function_ (D,)`` (held-out, uncorrected),
    ``standard_error_ (D,)``, ``capacity_`` (Σ MF over the estimated delays), ``threshold_`` (0 unless
    ``"surrogate"``), ``n_features_`` and ``profile_`` (a :class:`MemoryProfile`, method ``"empirical"``).
    """

    def __init__(
        self,
        *,
        max_delay: int = 100,
        n_train: int = 20000,
        n_test: int = 10000,
        washout: int = 1000,
        ridge: float = 0.0,
        bias_correction: str = "surrogate",
        n_surrogates: int = 20,
        seed: int = 0,
    ) -> None:
        if bias_correction not in BIAS_CORRECTIONS:
            raise ValueError(f"unknown bias_correction {bias_correction!r}; valid choices: {', '.join(BIAS_CORRECTIONS)}")
        counts = (("max_delay", max_delay, 0), ("n_train", n_train, 2), ("n_test", n_test, 2), ("n_surrogates", n_surrogates, 2))
        for name, value, low in counts:
            if not is_integer(value) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
        if washout < max_delay:
            raise ValueError(f"washout ({washout}) must be >= max_delay ({max_delay}) so every target u_(t-tau) exists")
        if ridge < 0:
            raise ValueError(f"ridge must be >= 0; got {ridge!r}")
        self.max_delay = int(max_delay)
        self.n_train = int(n_train)
        self.n_test = int(n_test)
        self.washout = int(washout)
        self.ridge = float(ridge)
        self.bias_correction = bias_correction
        self.n_surrogates = int(n_surrogates)
        self.seed = int(seed)

    def _held_out_scores(self, X_train, X_test, Y_train, Y_test) -> tuple[np.ndarray, np.ndarray]:
        """Held-out 1 - NMSE and its standard error for every target column."""
        x_mean, y_mean = X_train.mean(0), Y_train.mean(0)
        U, s, Vt = np.linalg.svd(X_train - x_mean, full_matrices=False)
        alpha = self.ridge * (s[0] ** 2 if s.size else 0.0)
        keep = s > s[0] * 1e-15 if s.size else s > 0
        gain = np.zeros_like(s)
        gain[keep] = s[keep] / (s[keep] ** 2 + alpha)
        W = Vt.T @ (gain[:, None] * (U.T @ (Y_train - y_mean)))  # (F, D)
        residual = (X_test - x_mean) @ W + y_mean - Y_test  # (n_test, D)
        var = Y_test.var(0)
        sq = residual**2
        return 1.0 - sq.mean(0) / var, sq.std(0) / np.sqrt(sq.shape[0]) / var

    def _correct(self, raw: np.ndarray, n_features: int) -> np.ndarray:
        if self.bias_correction == "none":
            return raw
        inflation = 1.0 + n_features / max(self.n_train - n_features - 1, 1)
        return 1.0 - (1.0 - raw) / inflation

    def fit(self, system: Any) -> EmpiricalMemory:
        """Estimate the MF of ``system``.

        ``system``: an ``nn.Module`` (called on a ``(1, L, 1)`` tensor of its parameters' dtype/device, returning
        ``(1, L, F)`` or ``(L, F)``), or any callable taking the input series as a numpy ``(L,)`` float64 array and
        returning features ``(L, F)`` (numpy or torch; complex features are split into real and imaginary parts).
        """
        rng = np.random.default_rng(self.seed)
        length = self.washout + self.n_train + self.n_test
        u = rng.standard_normal(length)
        X = _features_of(system, u)
        n_features = X.shape[1]
        if n_features >= self.n_train - 1:
            raise ValueError(f"n_train ({self.n_train}) must exceed the number of features ({n_features}) + 1")
        t = np.arange(self.washout, length)
        delays = np.arange(self.max_delay + 1)
        split = self.n_train
        Y = u[t[:, None] - delays[None, :]]  # (n, D): u_{t-τ}
        raw, se = self._held_out_scores(X[t[:split]], X[t[split:]], Y[:split], Y[split:])
        mf = self._correct(raw, n_features)
        threshold = 0.0
        if self.bias_correction == "surrogate":
            shuffled = np.stack([rng.permutation(u)[t] for _ in range(self.n_surrogates)], axis=1)  # (n, S)
            null_raw, _ = self._held_out_scores(X[t[:split]], X[t[split:]], shuffled[:split], shuffled[split:])
            null = self._correct(null_raw, n_features)
            threshold = float(null.mean() + SURROGATE_SIGMAS * null.std())
            mf = np.where(mf > threshold, mf, 0.0)
        mf = np.clip(mf, 0.0, 1.0)
        self.raw_memory_function_ = raw
        self.memory_function_ = mf
        self.standard_error_ = se
        self.threshold_ = threshold
        self.capacity_ = float(mf.sum())
        self.n_features_ = int(n_features)
        self.profile_ = MemoryProfile(
            delays=delays.astype(np.int64),
            mf=mf,
            capacity=self.capacity_,
            rank=int(n_features),
            horizon=None,
            method="empirical",
            eigenvalues=np.zeros(0, dtype=np.complex128),
        )
        return self
