"""Information processing capacity (IPC): how much of every polynomial function of the past input a linear
readout of the state computes (Dambre, Verstraeten, Schrauwen & Massar, "Information processing capacity of
dynamical systems", Sci. Rep. 2, 514, 2012).

Drive a system with iid input u_t, keep T state samples x_t (N columns) after a washout, and score every target

    y_t = Π_i P_{p_i}(u_{t-k_i})        distinct delays 0 ≤ k_i < max_delay, powers p_i ≥ 1, degree d = Σ_i p_i

where P_p is the degree-p polynomial orthonormal under the input distribution: √(2p+1)·Legendre_p for uniform
input on [-1, 1], He_p/√(p!) (probabilists' Hermite) for standard Gaussian input. Its capacity is the R² of the
least-squares readout with a bias,

    C[y] = 1 - min_{w,b} Σ_t (y_t - wᵀx_t - b)² / Σ_t (y_t - ȳ)²  =  ||Qᵀ y_c||² / ||y_c||²,

with Q (T, r) an orthonormal basis of the centred state columns (r their rank) and y_c the centred target: one
factorisation of the states serves every target. The targets are orthonormal, so the capacities of a system with
fading memory add up to at most r over all degrees (to r exactly when nothing else drives it); degree 1 is the
memory function of PAPER.md §3, estimated in sample.

Finite T: a target the state knows nothing about still gets C ≈ χ²_r / T. ``threshold`` sets capacities at or
below a level to zero: ``"chi2"`` the (1 - p) quantile of χ²_r / T; ``"shuffle"`` the (1 - p) quantile of a scaled
χ² matched (mean and variance) to the capacities of time-shuffled targets of each degree, which also holds for
inputs or states far from Gaussian; a number is used as it is (0 keeps everything). Both null models assume the
target independent of the state; a target merely uncorrelated with it (sharing an input with a nonlinear state,
e.g. u_{t-1}·u_{t-5} against a state holding u²_{t-1}) spreads wider, so a few such capacities of order the
threshold can pass.

The search is finite: for each degree d and each multiset of powers (a partition of d into m parts, a family),
the targets are visited by their oldest delay s (m - 1 ≤ s < max_delay) with every choice of the other m - 1
delays below s and every distinct order of the powers over the delays. A family stops after ``patience``
consecutive values of s where no target passes the threshold, as the IPC literature prunes its search; a family
that reaches max_delay first counts in ``truncated_families`` (raise max_delay when it is not 0).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._values import check_seed, is_integer, is_real

DISTRIBUTIONS = ("uniform", "gaussian")
THRESHOLDS = ("chi2", "shuffle")
MODEL_WASHOUT = 1000  # steps a model driven from rest runs before states are kept
CHUNK_ELEMENTS = 2**23  # target values built at once (64 MiB in float64)


def _check_distribution(distribution: str) -> None:
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}; valid choices: {', '.join(DISTRIBUTIONS)}")


def orthonormal_polynomials(u: torch.Tensor, max_degree: int, distribution: str) -> torch.Tensor:
    """``u (...)`` → ``(..., max_degree + 1)``: P_0(u) … P_max_degree(u), orthonormal under ``distribution``.

    ``"uniform"`` (u on [-1, 1]): √(2p+1)·Legendre_p(u); ``"gaussian"`` (u ~ N(0, 1)): He_p(u)/√(p!).
    """
    _check_distribution(distribution)
    polys = [torch.ones_like(u), u]
    for n in range(1, max_degree):
        if distribution == "uniform":  # (n+1) P_{n+1} = (2n+1) u P_n - n P_{n-1}
            polys.append(((2 * n + 1) * u * polys[n] - n * polys[n - 1]) / (n + 1))
        else:  # He_{n+1} = u He_n - n He_{n-1}
            polys.append(u * polys[n] - n * polys[n - 1])
    stacked = torch.stack(polys[: max_degree + 1], dim=-1)
    p = torch.arange(max_degree + 1, dtype=u.dtype, device=u.device)
    scale = torch.sqrt(2 * p + 1) if distribution == "uniform" else torch.exp(-0.5 * torch.lgamma(p + 1))
    return stacked * scale


def draw_inputs(
    distribution: str, shape: tuple[int, ...], *, seed: int | np.random.Generator | None = None, device=None
) -> torch.Tensor:
    """iid float64 input of ``shape``: uniform on [-1, 1] or standard Gaussian, drawn on the CPU from ``seed`` (an
    integer, a NumPy generator or None) so that a seed gives the same input on every device."""
    _check_distribution(distribution)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    values = rng.uniform(-1.0, 1.0, shape) if distribution == "uniform" else rng.standard_normal(shape)
    return torch.as_tensor(values, dtype=torch.float64, device=device)


def state_basis(states: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``states (T, N)`` → ``Q (T, r)``, an orthonormal basis of the centred columns, and their rank r.

    A thin QR, then an SVD of the small R: directions with singular values below max(T, N)·eps·s_max (NumPy's
    rank rule) are dropped, so nearly dependent states (linear SSMs) do not inflate the basis.
    """
    centred = states - states.mean(dim=0)
    q, r = torch.linalg.qr(centred)  # (T, K), (K, N) with K = min(T, N)
    left, singular, _ = torch.linalg.svd(r)  # (K, K), (K,)
    tol = singular.max() * max(states.shape) * torch.finfo(states.dtype).eps if singular.numel() else 0.0
    keep = singular > tol
    return q @ left[:, keep], int(keep.sum())


def target_capacities(basis: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``basis (T, r)`` (from :func:`state_basis`), ``targets (T, M)`` → ``(M,)``: ||Qᵀ y_c||² / ||y_c||²."""
    centred = targets - targets.mean(dim=0)
    projected = basis.T @ centred  # (r, M)
    return (projected**2).sum(dim=0) / (centred**2).sum(dim=0)


def _target_capacities_reference(states: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The twin of :func:`target_capacities` from the normal equations of ``[states, 1]``: R² of each readout
    (full-rank states only)."""
    design = torch.cat([states, torch.ones_like(states[:, :1])], dim=1)  # (T, N + 1)
    weights = torch.linalg.solve(design.T @ design, design.T @ targets)  # (N + 1, M)
    residual = targets - design @ weights
    centred = targets - targets.mean(dim=0)
    return 1.0 - (residual**2).sum(dim=0) / (centred**2).sum(dim=0)


def _partitions(degree: int, largest: int | None = None) -> Iterator[tuple[int, ...]]:
    """The partitions of ``degree`` as non-increasing tuples, fewest parts first within a leading part."""
    largest = degree if largest is None else largest
    if degree == 0:
        yield ()
        return
    for first in range(min(degree, largest), 0, -1):
        for rest in _partitions(degree - first, first):
            yield (first, *rest)


def target_families(max_degree: int) -> list[tuple[int, ...]]:
    """Every family searched: the partitions of 1..max_degree, by degree (``[(1,), (2,), (1, 1), (3,), …]``)."""
    return [powers for degree in range(1, max_degree + 1) for powers in _partitions(degree)]


def span_targets(family: tuple[int, ...], span: int) -> tuple[np.ndarray, np.ndarray]:
    """The targets of ``family`` whose oldest delay is ``span``: ``delays (M, m)`` ascending, ``powers (M, m)``.

    The other m - 1 delays are every subset of 0..span-1; each gets every distinct order of the family's powers.
    """
    orders = sorted(set(itertools.permutations(family)))
    others = itertools.combinations(range(span), len(family) - 1)
    rows = [(*below, span) for below in others for _ in orders]
    n_subsets = len(rows) // len(orders)
    delays = np.asarray(rows, dtype=np.int64).reshape(-1, len(family))
    powers = np.tile(np.asarray(orders, dtype=np.int64), (n_subsets, 1))
    return delays, powers


def target_values(polys: torch.Tensor, times: torch.Tensor, delays: torch.Tensor, powers: torch.Tensor) -> torch.Tensor:
    """The targets Π_i P_{powers_i}(u_{t - delays_i}) at the kept times.

    ``polys (B, L, D + 1)`` from :func:`orthonormal_polynomials`, ``times (T,)`` kept steps of each sequence,
    ``delays``, ``powers (M, m)`` → ``(B·T, M)``.
    """
    values = None
    for i in range(delays.shape[1]):
        factor = polys[:, times[None, :] - delays[:, i, None], powers[:, i, None]]  # (B, M, T)
        values = factor if values is None else values * factor
    return values.permute(0, 2, 1).reshape(-1, delays.shape[0])


def _capacities(basis, polys, times, delays: np.ndarray, powers: np.ndarray) -> torch.Tensor:
    """Capacities of the targets ``delays``, ``powers (M, m)``, built a chunk at a time."""
    device = polys.device
    chunk = max(1, CHUNK_ELEMENTS // basis.shape[0])
    parts = []
    for start in range(0, delays.shape[0], chunk):
        d = torch.as_tensor(delays[start : start + chunk], device=device)
        p = torch.as_tensor(powers[start : start + chunk], device=device)
        parts.append(target_capacities(basis, target_values(polys, times, d, p)))
    return torch.cat(parts)


def chi2_threshold(rank: int, n_samples: int, p_value: float) -> float:
    """The (1 - p) quantile of χ²_rank / n_samples: the capacity a target independent of the state exceeds with
    probability p."""
    from scipy.stats import chi2

    return float(chi2.isf(p_value, rank) / n_samples) if rank > 0 else 0.0


def _shuffle_thresholds(basis, polys, times, *, max_degree, n_surrogates, p_value, rng) -> np.ndarray:
    """Per degree, the (1 - p) quantile of a scaled χ² (c·χ²_k, matched by mean and variance) to the capacities of
    ``n_surrogates`` time-shuffled targets of that degree (the families' first targets in turn)."""
    n_samples = basis.shape[0]
    thresholds = np.zeros(max_degree)
    for degree in range(1, max_degree + 1):
        families = list(_partitions(degree))
        columns = []
        for i in range(n_surrogates):
            family = families[i % len(families)]
            delays = torch.arange(len(family), device=polys.device)[None, :]
            powers = torch.as_tensor(family, device=polys.device)[None, :]
            target = target_values(polys, times, delays, powers)[:, 0]
            columns.append(target[torch.as_tensor(rng.permutation(n_samples), device=polys.device)])
        null = target_capacities(basis, torch.stack(columns, dim=1)).cpu().numpy()
        mean, var = float(null.mean()), float(null.var(ddof=1))
        if mean <= 0 or var <= 0:
            continue
        from scipy.stats import chi2

        scale, dof = var / (2 * mean), 2 * mean**2 / var
        thresholds[degree - 1] = scale * chi2.isf(p_value, dof)
    return thresholds


@dataclass(frozen=True)
class IPCResult:
    """The capacities of every target searched, with the settings that qualify them.

    Attributes:
        degrees: ``(M,)`` int64, each target's degree Σ powers.
        delays: M tuples of ascending delays k_i, one per factor.
        powers: M tuples of powers p_i ≥ 1, matching ``delays``.
        capacities: ``(M,)`` float64 in [0, 1], after the threshold.
        raw_capacities: ``(M,)`` float64, before it.
        threshold: ``(max_degree,)`` the level applied at each degree (index d - 1).
        threshold_method: ``"chi2"``, ``"shuffle"`` or ``"fixed"``.
        p_value: the significance behind a ``"chi2"``/``"shuffle"`` threshold; None for a fixed one.
        rank: rank of the centred state matrix (the most total capacity there can be).
        n_features: state columns N.
        n_samples: samples T the readouts were fitted on (all sequences, after the washout).
        distribution: the input distribution, ``"uniform"`` or ``"gaussian"``.
        max_degree, max_delay, patience: the search's limits.
        truncated_families: families whose search reached max_delay before ``patience`` empty spans.
    """

    degrees: np.ndarray
    delays: tuple[tuple[int, ...], ...]
    powers: tuple[tuple[int, ...], ...]
    capacities: np.ndarray
    raw_capacities: np.ndarray
    threshold: np.ndarray
    threshold_method: str
    p_value: float | None
    rank: int
    n_features: int
    n_samples: int
    distribution: str
    max_degree: int
    max_delay: int
    patience: int
    truncated_families: int

    @property
    def by_degree(self) -> np.ndarray:
        """``(max_degree,)``: total capacity of each degree 1..max_degree."""
        return np.bincount(self.degrees - 1, weights=self.capacities, minlength=self.max_degree)

    @property
    def total(self) -> float:
        """Σ of all capacities (≤ rank up to finite-sample error)."""
        return float(self.capacities.sum())

    def capacity_of(self, factors: dict[int, int]) -> float:
        """The capacity of the target Π_k P_{factors[k]}(u_{t-k}), given as ``{delay: power}``; 0 for a target the
        search pruned (or never reached), which is the value the pruning stands for."""
        delays = tuple(sorted(factors))
        powers = tuple(factors[k] for k in delays)
        for i, (d, p) in enumerate(zip(self.delays, self.powers)):
            if d == delays and p == powers:
                return float(self.capacities[i])
        return 0.0

    def summary(self) -> dict:
        """The headline numbers as a plain dict (JSON-ready)."""
        return {
            "total": self.total,
            "by_degree": [float(c) for c in self.by_degree],
            "rank": self.rank,
            "n_samples": self.n_samples,
            "n_targets": int(self.capacities.size),
            "threshold_method": self.threshold_method,
            "distribution": self.distribution,
            "truncated_families": self.truncated_families,
        }


def _as_float64(values: Any, device) -> torch.Tensor:
    """A tensor, an array or a list → a float64 tensor (complex values split into [real, imag] on the last axis)."""
    tensor = values.detach() if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values))
    if tensor.is_complex():
        tensor = torch.cat([tensor.real, tensor.imag], dim=-1)
    return tensor.to(device=device if device is not None else tensor.device, dtype=torch.float64)


def _model_states(model: Callable, inputs: torch.Tensor, device) -> torch.Tensor:
    """Run ``model`` on ``inputs (B, L)`` as ``(B, L, 1)``; its states as float64 ``(B, L, N)``."""
    if isinstance(model, nn.Module):
        param = next(iter(model.parameters()), None)
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float64
        device = device if device is not None else (param.device if param is not None else inputs.device)
        with torch.no_grad():
            out = model(inputs.to(device=device, dtype=dtype)[..., None])
    else:
        with torch.no_grad():
            out = model(inputs.to(device=device if device is not None else inputs.device)[..., None])
    states = _as_float64(out, device if device is not None else inputs.device)
    if states.ndim == 2:  # one feature per step
        states = states[..., None]
    if states.ndim != 3 or tuple(states.shape[:2]) != tuple(inputs.shape):
        raise ValueError(f"the model must map input (B, L, 1) = {(*inputs.shape, 1)} to states (B, L, N); got "
                         f"{tuple(states.shape)}")
    return states


def _check_arguments(max_degree, max_delay, patience, p_value, n_surrogates, threshold) -> None:
    for name, value, low in (("max_degree", max_degree, 1), ("max_delay", max_delay, 1), ("patience", patience, 1),
                             ("n_surrogates", n_surrogates, 3)):
        if not is_integer(value) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    if not is_real(p_value) or not 0 < p_value < 1:
        raise ValueError(f"p_value must lie in (0, 1); got {p_value!r}")
    if isinstance(threshold, str):
        if threshold not in THRESHOLDS:
            raise ValueError(f"unknown threshold {threshold!r}; valid choices: {', '.join(THRESHOLDS)} or a number "
                             "in [0, 1)")
    elif not is_real(threshold) or not 0 <= threshold < 1:
        raise ValueError(f"a numeric threshold must lie in [0, 1); got {threshold!r}")


def _progress_bar(total: int, progress: bool | None):
    from tqdm import tqdm

    return tqdm(total=total, desc="IPC", unit="family", leave=False, dynamic_ncols=True,
                disable=None if progress is None else not progress)


def information_capacity(
    states_or_model: Any,
    inputs: Any = None,
    *,
    max_degree: int = 3,
    max_delay: int = 100,
    distribution: str = "uniform",
    threshold: str | float = "chi2",
    p_value: float = 1e-4,
    patience: int = 10,
    n_samples: int = 20000,
    n_sequences: int = 1,
    washout: int | None = None,
    n_surrogates: int = 200,
    seed: int | None = None,
    device=None,
    progress: bool | None = None,
) -> IPCResult:
    """The information processing capacity of a system: the capacity of every product of orthonormal polynomials
    of the past input, by degree (see the module docstring for the definitions).

    Args:
        states_or_model: either the states, ``(T, N)`` or ``(B, T, N)`` (numpy or torch, any device; complex
            states count as [real, imag] columns), with ``inputs`` ``(T,)`` or ``(B, T)`` the iid input that drove
            them; or a model (an ``nn.Module`` or a callable) mapping input ``(B, L, 1)`` to states ``(B, L, N)``,
            driven here with ``n_sequences`` sequences of ``washout + n_samples`` steps from ``distribution``.
        inputs: the input for given states; None for a model.
        max_degree: the highest total degree d searched.
        max_delay: delays 0..max_delay-1.
        distribution: ``"uniform"`` (on [-1, 1], Legendre) or ``"gaussian"`` (N(0, 1), Hermite); the input must
            follow it for the targets to be orthonormal.
        threshold: ``"chi2"``, ``"shuffle"`` or a number in [0, 1) (see the module docstring).
        p_value: the false-positive rate per target of the ``"chi2"`` and ``"shuffle"`` thresholds.
        patience: a family stops after this many consecutive spans with no capacity above the threshold.
        n_samples, n_sequences: the length kept from each sequence, and the sequences (batch) for a model.
        washout: leading steps of each sequence not used as samples; None: max_delay - 1 for given states (the
            oldest target needs that much past input), ``MODEL_WASHOUT`` for a model started from rest.
        n_surrogates: shuffled targets per degree for the ``"shuffle"`` threshold.
        seed: seeds the model's input and the shuffles.
        device: where to compute; None: the states' device (the model's parameters' device for a model).
        progress: a bar over the families (None: only on a terminal).

    Returns:
        an :class:`IPCResult`.

    >>> import numpy as np
    >>> u = np.random.default_rng(0).uniform(-1, 1, 5000)
    >>> x = np.stack([u, np.roll(u, 1) ** 2], axis=1)  # x_t = [u_t, u_{t-1}²]
    >>> r = information_capacity(x, u, max_degree=2, max_delay=5, seed=0)
    >>> np.round(r.by_degree, 3).tolist(), round(r.capacity_of({1: 2}), 6)
    ([1.0, 1.0], 1.0)
    """
    _check_distribution(distribution)
    _check_arguments(max_degree, max_delay, patience, p_value, n_surrogates, threshold)
    check_seed(seed)
    rng = np.random.default_rng(seed)
    states, u, washout = _states_and_inputs(states_or_model, inputs, distribution=distribution, max_delay=max_delay,
                                            n_samples=n_samples, n_sequences=n_sequences, washout=washout, rng=rng,
                                            device=device)
    n_batch, length, n_features = states.shape
    times = torch.arange(washout, length, device=states.device)  # (T,)
    if times.numel() * n_batch <= n_features + 1:
        raise ValueError(f"{times.numel() * n_batch} samples after a washout of {washout} cannot fit a readout of "
                         f"{n_features} states and a bias")
    basis, rank = state_basis(states[:, washout:].reshape(-1, n_features))
    n_kept = basis.shape[0]
    polys = orthonormal_polynomials(u, max_degree, distribution)  # (B, L, D + 1)
    if threshold == "chi2":
        levels, method = np.full(max_degree, chi2_threshold(rank, n_kept, p_value)), "chi2"
    elif threshold == "shuffle":
        levels = _shuffle_thresholds(basis, polys, times, max_degree=max_degree, n_surrogates=n_surrogates,
                                     p_value=p_value, rng=rng)
        method = "shuffle"
    else:
        levels, method = np.full(max_degree, float(threshold)), "fixed"
    all_delays, all_powers, raw_capacities, degrees_array, truncated = _search(
        basis, polys, times, levels, max_degree=max_degree, max_delay=max_delay, patience=patience, progress=progress)
    kept = np.where(raw_capacities > levels[degrees_array - 1], np.clip(raw_capacities, 0.0, 1.0), 0.0)
    return IPCResult(
        degrees=degrees_array,
        delays=tuple(all_delays),
        powers=tuple(all_powers),
        capacities=kept,
        raw_capacities=raw_capacities,
        threshold=levels,
        threshold_method=method,
        p_value=None if method == "fixed" else float(p_value),
        rank=rank,
        n_features=n_features,
        n_samples=n_kept,
        distribution=distribution,
        max_degree=int(max_degree),
        max_delay=int(max_delay),
        patience=int(patience),
        truncated_families=truncated,
    )


def _states_and_inputs(states_or_model: Any, inputs: Any, *, distribution: str, max_delay: int, n_samples: int,
                       n_sequences: int, washout: int | None, rng: np.random.Generator, device) -> tuple:
    """``(states (B, L, N), inputs (B, L), washout)`` in float64: the given ones checked, or a model driven here."""
    if inputs is None:
        if not callable(states_or_model):
            raise TypeError(f"without inputs, states_or_model must be a model (callable); got "
                            f"{type(states_or_model).__name__}")
        for name, value in (("n_samples", n_samples), ("n_sequences", n_sequences)):
            if not is_integer(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        washout = MODEL_WASHOUT if washout is None else washout
        u = draw_inputs(distribution, (n_sequences, washout + n_samples), seed=rng)
        states = _model_states(states_or_model, u, device)
        u = u.to(states.device)
    else:
        states = _as_float64(states_or_model, device)
        u = _as_float64(inputs, states.device)
        if states.ndim == 2:
            states, u = states[None], u[None]
        if states.ndim != 3 or u.shape != states.shape[:2]:
            raise ValueError(f"states must be (T, N) with inputs (T,), or (B, T, N) with inputs (B, T); got states "
                             f"{tuple(states.shape)} and inputs {tuple(u.shape)}")
        washout = max_delay - 1 if washout is None else washout
    if not is_integer(washout) or washout < max_delay - 1:
        raise ValueError(f"washout must be an integer >= max_delay - 1 = {max_delay - 1} so that every target's "
                         f"past input exists; got {washout!r}")
    if not bool(torch.isfinite(states).all()) or not bool(torch.isfinite(u).all()):
        raise ValueError("states and inputs must be finite (is the system stable?)")
    if distribution == "uniform" and bool((u.abs() > 1).any()):
        raise ValueError("distribution 'uniform' means input on [-1, 1]; the inputs leave it (use 'gaussian'?)")
    return states, u, washout


def _search(basis: torch.Tensor, polys: torch.Tensor, times: torch.Tensor, levels: np.ndarray, *, max_degree: int,
            max_delay: int, patience: int, progress: bool | None) -> tuple:
    """Every family's spans, oldest delay 0.. until ``patience`` quiet spans in a row: ``(delays, powers, raw
    capacities, degrees, families truncated by max_delay)``."""
    all_delays, all_powers, raw, degrees = [], [], [], []
    truncated = 0
    families = target_families(max_degree)
    with _progress_bar(len(families), progress) as bar:
        for family in families:
            degree, quiet = sum(family), 0
            for span in range(len(family) - 1, max_delay):
                delays, powers = span_targets(family, span)
                capacities = _capacities(basis, polys, times, delays, powers)
                all_delays.extend(map(tuple, delays.tolist()))
                all_powers.extend(map(tuple, powers.tolist()))
                raw.append(capacities)
                degrees.append(np.full(delays.shape[0], degree, dtype=np.int64))
                quiet = 0 if bool((capacities > levels[degree - 1]).any()) else quiet + 1
                if quiet >= patience:
                    break
            else:
                truncated += 1
            bar.update(1)
    raw_capacities = torch.cat(raw).cpu().numpy() if raw else np.zeros(0)
    degrees_array = np.concatenate(degrees) if degrees else np.zeros(0, dtype=np.int64)
    return all_delays, all_powers, raw_capacities, degrees_array, truncated

def draw_ipc(result: IPCResult, ax: Any) -> Any:
    """Draw the capacity of each degree as bars on a matplotlib ``ax``, with the rank as a dashed line; returns
    the bars (a ``BarContainer``)."""
    degrees = np.arange(1, result.max_degree + 1)
    bars = ax.bar(degrees, result.by_degree, color="tab:blue", width=0.7)
    ax.axhline(result.rank, color="black", linestyle="--", linewidth=1, label=f"rank = {result.rank}")
    ax.set_ylim(0, 1.1 * max(result.rank, float(result.by_degree.max(initial=0.0)), 1e-3))
    ax.set_xticks(degrees)
    ax.set_xlabel("degree d")
    ax.set_ylabel("capacity")
    ax.set_title(f"IPC total {result.total:.2f} ({result.distribution} input, T = {result.n_samples})")
    ax.legend(fontsize=8)
    return bars


def plot_ipc(result: IPCResult, path: str | Path, *, title: str | None = None) -> Path:
    """Write a bar chart of the capacity per degree (PNG, PDF or SVG by the suffix); returns the path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .._io import atomic_save_figure

    fig, ax = plt.subplots(figsize=(5, 3.5))
    draw_ipc(result, ax)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return atomic_save_figure(fig, path, dpi=120, tight=False)
