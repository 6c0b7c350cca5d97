"""Memory functions of SSM layers and models, per channel, summarised per layer.

A layer qualifies if it exposes either

* ``state_matrices() -> (A_bar (H, N, N), B_bar (H, N), C)``: a dense layer (S4); each channel goes through
  :func:`ssmem.memory.dense_memory_function`; or
* ``discrete_eigenvalues() -> (H, n_modes)`` complex: a diagonal layer (S4D); each channel goes through
  :func:`ssmem.memory.memory_function`, over the modes with B_n ≠ 0 where the layer has ``ssm_parameters()``
  (as S4D does; otherwise every mode is taken as excited).

MF concerns the state only (C and D do not enter). A model qualifies if ``model.ssm_layers()`` lists its layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .analytic import memory_function
from .dense import dense_memory_function
from .profile import DEFAULT_ACCURACY_DELAYS, DEFAULT_LENGTH_THRESHOLD, MemoryProfile, check_threshold

# delays written for the infinite horizon when no max_delay is given (a common length for the channel mean)
INFINITE_HORIZON_DELAYS = 4096


def _numpy(tensor: torch.Tensor | np.ndarray) -> np.ndarray:
    """float64 / complex128 numpy copy of a (detached) tensor or array."""
    if isinstance(tensor, torch.Tensor):
        tensor = tensor.detach().cpu()
        return (tensor.to(torch.complex128) if tensor.is_complex() else tensor.double()).numpy()
    return np.asarray(tensor)


@dataclass(frozen=True)
class LayerMemory:
    """Per-channel memory profiles of one layer and their summary.

    Attributes:
        name: a label (the layer's class name unless given).
        profiles: H profiles, one per channel, all over the same delays.
        horizon: T or ``None``.
        threshold: the MF threshold of the memory lengths.
    """

    name: str
    profiles: list[MemoryProfile]
    horizon: int | None
    threshold: float = DEFAULT_LENGTH_THRESHOLD
    n_delays: int = DEFAULT_ACCURACY_DELAYS

    @property
    def n_channels(self) -> int:
        return len(self.profiles)

    @property
    def delays(self) -> np.ndarray:
        return self.profiles[0].delays

    @property
    def mf(self) -> np.ndarray:
        """``(H, D)`` float64: the MF of every channel."""
        return np.stack([p.mf for p in self.profiles])

    @property
    def mean_mf(self) -> np.ndarray:
        """``(D,)``: the channel-mean MF curve."""
        return self.mf.mean(0)

    @property
    def capacities(self) -> np.ndarray:
        """``(H,)`` capacities."""
        return np.array([p.capacity for p in self.profiles])

    @property
    def mean_capacity(self) -> float:
        return float(self.capacities.mean())

    @property
    def memory_lengths(self) -> np.ndarray:
        """``(H,)`` int64 memory lengths at :attr:`threshold`."""
        return np.array([p.memory_length(self.threshold) for p in self.profiles], dtype=np.int64)

    def summary(self) -> dict:
        """JSON-ready headline numbers of the layer."""
        lengths = self.memory_lengths
        return {
            "name": self.name,
            "n_channels": self.n_channels,
            "horizon": self.horizon,
            "mean_capacity": self.mean_capacity,
            "memory_length": {
                "threshold": self.threshold,
                "min": int(lengths.min()),
                "median": float(np.median(lengths)),
                "mean": float(lengths.mean()),
                "max": int(lengths.max()),
            },
            "mean_accuracy": float(np.mean([p.accuracy(min(self.n_delays, p.mf.size)) for p in self.profiles])),
        }


def layer_memory(
    layer,
    *,
    horizon: int | None = 1024,
    max_delay: int | None = None,
    threshold: float = DEFAULT_LENGTH_THRESHOLD,
    name: str | None = None,
) -> LayerMemory:
    """MF of every channel of ``layer`` (S4-like: ``state_matrices()``; S4D-like: ``discrete_eigenvalues()``).

    For ``horizon=None`` without ``max_delay``, delays 0..4095 are written for every channel (the capacity
    stays exact: it is the rank).
    """
    check_threshold(threshold)
    if horizon is None and max_delay is None:
        max_delay = INFINITE_HORIZON_DELAYS - 1
    if hasattr(layer, "state_matrices"):
        A_bar, B_bar, _ = layer.state_matrices()
        A_bar, B_bar = _numpy(A_bar), _numpy(B_bar)
        if A_bar.ndim != 3 or B_bar.shape != A_bar.shape[:2]:
            raise ValueError(
                f"state_matrices() must give A_bar (H, N, N) and B_bar (H, N); got {A_bar.shape}, {B_bar.shape}"
            )
        profiles = [dense_memory_function(A, B, horizon=horizon, max_delay=max_delay) for A, B in zip(A_bar, B_bar)]
    elif hasattr(layer, "discrete_eigenvalues"):
        modes = _numpy(layer.discrete_eigenvalues())
        if modes.ndim != 2:
            raise ValueError(f"discrete_eigenvalues() must give (H, n_modes); got shape {modes.shape}")
        excited = np.ones(modes.shape, dtype=bool)
        if hasattr(layer, "ssm_parameters"):  # B̄_n = 0 exactly when B_n = 0: such a mode never moves
            excited = _numpy(layer.ssm_parameters()["B"]) != 0
            if excited.shape != modes.shape:
                raise ValueError(f"ssm_parameters()['B'] must have the shape of the eigenvalues {modes.shape}; "
                                 f"got {excited.shape}")
        silent = np.flatnonzero(~excited.any(axis=1))
        if silent.size:
            raise ValueError(f"channels {silent.tolist()} have B = 0 on every mode: their state holds no memory")
        profiles = [memory_function(m[e], horizon=horizon, max_delay=max_delay) for m, e in zip(modes, excited)]
    else:
        raise TypeError(
            f"{type(layer).__name__} has neither state_matrices() (dense SSM) nor discrete_eigenvalues() (diagonal SSM)"
        )
    return LayerMemory(name=name or type(layer).__name__, profiles=profiles, horizon=horizon, threshold=threshold)


@dataclass(frozen=True)
class ModelMemory:
    """:class:`LayerMemory` of every SSM layer of a model, in order."""

    layers: list[LayerMemory] = field(default_factory=list)

    def summary(self) -> list[dict]:
        return [layer.summary() for layer in self.layers]

    def table(self) -> str:
        head = f"{'layer':<12} {'H':>5} {'mean MC':>9} {'length min/median/max':>24} {'accuracy':>9}"
        lines = [head]
        for layer in self.layers:
            s = layer.summary()
            ml = s["memory_length"]
            lengths = f"{ml['min']}/{ml['median']:g}/{ml['max']}"
            lines.append(
                f"{s['name']:<12} {s['n_channels']:>5} {s['mean_capacity']:>9.3f} {lengths:>24} {s['mean_accuracy']:>9.4f}"
            )
        return "\n".join(lines) + "\n"


def model_memory(
    model, *, horizon: int | None = 1024, max_delay: int | None = None, threshold: float = DEFAULT_LENGTH_THRESHOLD
) -> ModelMemory:
    """MF of every SSM layer of ``model`` (anything with ``ssm_layers()``), labelled ``layer0``, ``layer1``, …"""
    if not hasattr(model, "ssm_layers"):
        raise TypeError(f"{type(model).__name__} has no ssm_layers(): cannot find its SSM layers")
    return ModelMemory(
        layers=[
            layer_memory(layer, horizon=horizon, max_delay=max_delay, threshold=threshold, name=f"layer{i}")
            for i, layer in enumerate(model.ssm_layers())
        ]
    )
