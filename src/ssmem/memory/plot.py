"""The paper's Fig. 1 from memory profiles: |Ā| by mode index (left), MF by delay (right), one line per set."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._io import atomic_save_figure
from .profile import MemoryProfile


def upper_half_modes(profile: MemoryProfile) -> np.ndarray:
    """The modes a profile was built from: the first half of a ``[modes, conj(modes)]`` list, else Im ≥ 0."""
    values = profile.eigenvalues
    half = values.size // 2
    if values.size % 2 == 0 and np.array_equal(values[half:], values[:half].conj()):
        return values[:half]
    return values[values.imag >= 0]


def plot_memory_profiles(
    profiles: Sequence[MemoryProfile],
    labels: Sequence[str],
    path: str | Path,
    *,
    title: str | None = None,
    log_delay: bool = True,
) -> Path:
    """Write a two-panel PNG: |Ā_n| by index n (left) and MF(τ) by delay (right). Returns the path.

    ``log_delay`` puts the delay axis on a log scale (delays τ ≥ 1). The file is written atomically.
    """
    if len(profiles) != len(labels) or not profiles:
        raise ValueError(
            f"need one label per profile and at least one profile; got {len(profiles)} profiles, {len(labels)} labels"
        )
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for profile, label in zip(profiles, labels):
        moduli = np.abs(upper_half_modes(profile))
        left.plot(np.arange(moduli.size), moduli, marker="o", markersize=3, linewidth=1, label=label)
        delays, mf = profile.delays, profile.mf
        if log_delay:  # τ + 1 on the log axis, so that MF(0) is drawn too
            delays = delays + 1
        few = mf.size < 3  # a point or two draw no visible line: mark them
        right.plot(delays, mf, linewidth=1.2, marker="o" if few else None, label=f"{label} (MC={profile.capacity:.1f})")
    left.set_xlabel("mode index n")
    left.set_ylabel(r"$|\bar{A}_n|$")
    left.set_ylim(0, 1.02)
    left.set_title("eigenvalue moduli")
    right.set_xlabel(r"delay $\tau$ + 1" if log_delay else r"delay $\tau$")
    right.set_ylabel(r"MF($\tau$)")
    right.set_title("memory function" + ("" if profiles[0].horizon is None else f" (T = {profiles[0].horizon})"))
    if log_delay:
        right.set_xscale("log")
    right.set_ylim(0, 1.02)
    right.legend(fontsize=8)
    left.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return atomic_save_figure(fig, path, dpi=120, tight=False)
