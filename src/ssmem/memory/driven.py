"""Memory of one SSM layer of any kind, trained or not: its MF (exact where the layer is linear time-invariant,
empirical where it is selective) and its information processing capacity (IPC).

A layer maps ``(B, L, H) → (B, L, H)``. To measure it as a system of one scalar input, it is driven along one fixed
direction of its input space,

    x_t = u_t · w,        w (H,) seeded Gaussian, scaled to |w|² = H (each channel of unit gain on average)

and read through its H outputs, the features a next layer sees. For a linear layer the MF of these features is at
most the MF of its state (the output is a linear map of the state plus D u), so the exact MF of the state is
reported for S4D, S4, LRU and S5 (:func:`ssmem.memory.layer_memory`, channel mean) and the empirical MF of the
outputs only for Mamba, whose transitions depend on the input. The IPC is computed on the outputs for every
kind (:func:`ssmem.memory.information_capacity`), so degrees above one measure the layer's own nonlinearity: zero
for the linear layers, up to sampling threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .empirical import EmpiricalMemory
from .ipc import IPCResult, information_capacity
from .layers import layer_memory


# ridge of the empirical MF (relative to the largest squared singular value of the outputs): a selective layer's
# features are ill-conditioned, and a minimum-norm readout of their weakest directions does not carry over to
# held-out data
EMPIRICAL_RIDGE = 1e-4


def drive_direction(d_model: int, seed: int) -> torch.Tensor:
    """``(H,)`` float64: a seeded Gaussian direction with ``|w|² = H``."""
    w = torch.randn(d_model, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return w * (d_model**0.5 / w.norm())


def driven_layer(layer: nn.Module, direction: torch.Tensor):
    """The layer as a one-input system: ``u (B, L, 1) → outputs (B, L, H)`` with input ``u · direction``, run in
    the layer's dtype and device without gradients."""
    param = next(iter(layer.parameters()))

    def system(u: torch.Tensor) -> torch.Tensor:
        w = direction.to(device=param.device, dtype=param.dtype)
        with torch.no_grad():
            return layer(u.to(device=param.device, dtype=param.dtype) * w)

    return system


def is_time_invariant(layer: nn.Module) -> bool:
    """True for layers with an exact MF (``state_matrices`` or ``discrete_eigenvalues``)."""
    return callable(getattr(layer, "state_matrices", None)) or callable(getattr(layer, "discrete_eigenvalues", None))


@dataclass(frozen=True)
class DrivenMemory:
    """MF and IPC of one layer.

    Attributes:
        name: a label (``layer0`` …).
        kind: the layer's class name.
        method: ``"exact"`` (state MF, channel mean) or ``"empirical"`` (held-out MF of the outputs).
        mf: ``(D,)`` over delays 0..D-1.
        ipc: the IPC of the outputs.
    """

    name: str
    kind: str
    method: str
    mf: np.ndarray
    ipc: IPCResult

    @property
    def capacity(self) -> float:
        """Σ MF over the delays given."""
        return float(self.mf.sum())

    def summary(self) -> dict:
        """JSON-ready numbers."""
        return {"name": self.name, "kind": self.kind, "method": self.method, "capacity": self.capacity,
                "mf": self.mf.tolist(), "ipc": self.ipc.summary()}


def driven_memory(
    layer: nn.Module,
    *,
    name: str = "layer",
    max_delay: int = 50,
    ipc_degree: int = 2,
    ipc_delays: int = 20,
    n_samples: int = 4000,
    seed: int = 0,
    progress: bool | None = False,
) -> DrivenMemory:
    """MF over delays 0..max_delay and IPC (degree ≤ ``ipc_degree``, delays 0..ipc_delays-1, ``n_samples``
    samples, chi-squared threshold, uniform input) of ``layer``; see the module docstring for what is measured."""
    system = driven_layer(layer, drive_direction(layer.d_model, seed))
    if is_time_invariant(layer):
        mf, method = layer_memory(layer, horizon=None, max_delay=max_delay).mean_mf, "exact"
    else:
        # the estimator draws N(0, 1) input; the readout sees the H outputs
        estimator = EmpiricalMemory(max_delay=max_delay, n_train=max(n_samples, 4 * layer.d_model), n_test=n_samples,
                                    washout=max(max_delay, 200), ridge=EMPIRICAL_RIDGE, bias_correction="surrogate",
                                    seed=seed)
        mf = estimator.fit(lambda u: system(torch.from_numpy(u).reshape(1, -1, 1))[0]).memory_function_
        method = "empirical"
    ipc = information_capacity(system, max_degree=ipc_degree, max_delay=ipc_delays, n_samples=n_samples,
                               washout=max(ipc_delays, 200), seed=seed, progress=progress)
    return DrivenMemory(name=name, kind=type(layer).__name__, method=method, mf=np.asarray(mf, dtype=np.float64),
                        ipc=ipc)





def plot_driven_memory(results: list[DrivenMemory], path, *, title: str | None = None):
    """Two panels: the MF of every layer by delay, and its IPC by degree (grouped bars); PNG, PDF or SVG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .._io import atomic_save_figure

    fig, (ax_mf, ax_ipc) = plt.subplots(1, 2, figsize=(9, 3.5))
    width = 0.8 / max(len(results), 1)
    for i, r in enumerate(results):
        label = f"{r.name} {r.kind} ({r.method})"
        ax_mf.plot(np.arange(r.mf.size), r.mf, label=label)
        degrees = np.arange(1, r.ipc.max_degree + 1)
        ax_ipc.bar(degrees + (i - (len(results) - 1) / 2) * width, r.ipc.by_degree, width=width, label=r.name)
    ax_mf.set(xlabel="delay", ylabel="MF", ylim=(0, 1.05))
    ax_mf.legend(fontsize=7)
    ax_ipc.set(xlabel="degree", ylabel="IPC of the outputs")
    ax_ipc.set_xticks(np.arange(1, max((r.ipc.max_degree for r in results), default=1) + 1))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return atomic_save_figure(fig, path, dpi=120, tight=False)

__all__ = ["DrivenMemory", "drive_direction", "driven_layer", "driven_memory", "is_time_invariant", "plot_driven_memory"]
