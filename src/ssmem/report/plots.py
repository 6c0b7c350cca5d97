"""The report's figures (PNG, matplotlib). Each function draws grouped runs and writes one file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._io import atomic_save_figure
from .tables import GroupRow, fmt_metric

DPI = 110


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    return atomic_save_figure(fig, path, dpi=DPI)  # a unique temporary name: two writers on one folder do not collide


def _mean_curve(group: GroupRow, split: str, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Mean and sample std (ddof = 1, as the tables) over seeds on the steps all seeds logged: ``(steps, mean,
    std)``."""
    curves = [c for c in (r.curve(split, key) for r in group.runs) if c is not None and c.steps.size]
    if not curves:
        return None
    steps = curves[0].steps
    for c in curves[1:]:
        steps = np.intersect1d(steps, c.steps)
    if steps.size == 0:
        return None
    values = np.stack([c.values[np.searchsorted(c.steps, steps)] for c in curves])
    return steps, values.mean(axis=0), values.std(axis=0, ddof=1) if len(curves) > 1 else np.zeros(steps.size)


def training_curves(task: str, groups: Sequence[GroupRow], path: Path) -> Path:
    """Loss and the task metric vs step, train (left two) and validation (right two); mean ± std over seeds."""
    plt = _plt()
    metric = groups[0].metric
    scale, unit = fmt_metric(metric)
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    panels = [("train", "loss", "train loss"), ("val", "loss", "validation loss"),
              ("train", metric, f"train {metric}{unit}"), ("val", metric, f"validation {metric}{unit}")]
    for ax, (split, key, title) in zip(axes, panels):
        for i, g in enumerate(groups):
            mc = _mean_curve(g, split, key)
            if mc is None:
                continue
            steps, mean, std = mc
            s = 1.0 if key == "loss" else scale
            style = "-" if g.train_mode == "all" else ("--" if g.train_mode == "reservoir" else ":")
            line, = ax.plot(steps, mean * s, style, color=f"C{_color(g, groups)}", label=g.label, lw=1.6,
                            marker="o" if split == "val" else None, ms=3)
            ax.fill_between(steps, (mean - std) * s, (mean + std) * s, color=line.get_color(), alpha=0.15)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    if not handles:
        handles, labels = axes[3].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 6), bbox_to_anchor=(0.5, 1.08),
               frameon=False)
    fig.suptitle(f"{task}: training curves ({_mode_key(groups, ('solid', 'dashed', 'dotted'))})", y=1.14)
    return _save(fig, path)


def _mode_key(groups: Sequence[GroupRow], marks: tuple[str, str, str]) -> str:
    """``"solid: learnable, dashed: reservoir"``: the marks of the train modes present, in mode order."""
    names = {"all": "learnable", "reservoir": "reservoir", "readout": "readout"}
    present = {g.train_mode for g in groups}
    return ", ".join(f"{mark}: {names[mode]}" for mark, mode in zip(marks, names) if mode in present)


def _color(group: GroupRow, groups: Sequence[GroupRow]) -> int:
    sets = sorted({g.eigs for g in groups})
    return sets.index(group.eigs) % 10


def accuracy_bars(rows: Sequence[GroupRow], path: Path) -> Path:
    """Test metric per task, one bar per (set, train mode) with the std over seeds; published S4D as marks."""
    plt = _plt()
    tasks = list(dict.fromkeys(r.task for r in rows))
    labels = list(dict.fromkeys(r.label for r in rows))
    width = 0.8 / max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(tasks) + 2), 4))
    for j, label in enumerate(labels):
        xs, ys, es = [], [], []
        for i, task in enumerate(tasks):
            r = next((r for r in rows if r.task == task and r.label == label), None)
            if r is None or r.test.mean is None:
                continue
            scale, _ = fmt_metric(r.metric)
            xs.append(i - 0.4 + (j + 0.5) * width)
            ys.append(r.test.mean * scale)
            es.append((r.test.std or 0) * scale)
            if r.published is not None:
                ax.plot([xs[-1] - width / 2, xs[-1] + width / 2], [r.published] * 2, "k-", lw=2)
        ax.bar(xs, ys, width, yerr=es, capsize=3, label=label, color=f"C{j % 10}",
               hatch="//" if "reservoir" in label else None, edgecolor="white")
    if any(r.published is not None for r in rows):
        ax.plot([], [], "k-", lw=2, label="published S4D (learnable, LRA data)")
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylabel("test accuracy (%)" if rows and rows[0].metric == "accuracy" else "test metric")
    ax.legend(fontsize=8, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("LRA test metric: mean ± std over seeds")
    return _save(fig, path)


def convergence_and_gap(rows: Sequence[GroupRow], path: Path) -> Path:
    """Left: steps to 95% of the final validation metric. Right: train − validation gap. Per group."""
    plt = _plt()
    rows = [r for r in rows if r.convergence_steps.mean is not None or r.gap.mean is not None]
    names = [f"{r.task}\n{r.label}" for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(12, max(3, 0.35 * len(rows) + 1.5)))
    y = np.arange(len(rows))
    colors = [("C0" if r.train_mode == "all" else "C1" if r.train_mode == "reservoir" else "C2") for r in rows]
    conv = [r.convergence_steps.mean or 0 for r in rows]
    conv_e = [r.convergence_steps.std or 0 for r in rows]
    axes[0].barh(y, conv, xerr=conv_e, color=colors, capsize=3)
    axes[0].set_xlabel("steps to 95% of final validation metric")
    gap = [(r.gap.mean or 0) * fmt_metric(r.metric)[0] for r in rows]
    gap_e = [(r.gap.std or 0) * fmt_metric(r.metric)[0] for r in rows]
    axes[1].barh(y, gap, xerr=gap_e, color=colors, capsize=3)
    axes[1].axvline(0, color="k", lw=0.8)
    axes[1].set_xlabel("train − validation metric (pp)")
    for ax in axes:
        ax.set_yticks(y, names, fontsize=7)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    axes[1].set_yticklabels([])
    fig.suptitle(f"Convergence speed and overfitting ({_mode_key(rows, ('blue', 'orange', 'green'))})")
    return _save(fig, path)


def trained_memory(task: str, groups: Sequence[GroupRow], path: Path) -> Path:
    """MF by delay before (dashed) and after (solid) training, averaged over layers, channels and seeds."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for g in groups:
        mems = [r.memory for r in g.runs if r.memory is not None]
        if not mems:
            continue
        mf = np.mean([m.mf for m in mems], axis=0)  # (2, D)
        delays = np.arange(1, mf.shape[1] + 1)
        color = f"C{_color(g, groups)}"
        after = "trained" if g.train_mode == "all" else "frozen"
        grown = "" if g.memory_extension.mean is None else f" (memory time ×{g.memory_extension.mean:.2f})"
        ax.plot(delays, mf[1], "-" if g.train_mode == "all" else "-.", color=color, label=f"{g.label}: {after}{grown}")
        if g.train_mode == "all":
            ax.plot(delays, mf[0], ":", color=color, label=f"{g.eigs}: initial")
    ax.set_xscale("log")
    ax.set_xlabel("delay τ + 1")
    ax.set_ylabel("MF(τ), mean over channels and layers")
    ax.set_title(f"{task}: memory function of the eigenvalues before and after training")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def ablation_series(key: str, rows: Sequence[GroupRow]) -> dict[str, list[tuple[object, float, float]]]:
    """Per line of the ablation plot (task, set, mode and the values of the study's other varied keys): the
    points ``(value of key, test mean, test std)`` in display units."""
    series: dict[str, list[tuple[object, float, float]]] = {}
    for r in rows:
        if r.test.mean is None:
            continue
        scale, _ = fmt_metric(r.metric)
        others = " ".join(f"{k.split('.')[-1]}={'recipe' if v is None else v}" for k, v in r.extra if k != key)
        series.setdefault(f"{r.task} {r.eigs} / {r.train_mode}" + (f" ({others})" if others else ""), []).append(
            (dict(r.extra).get(key), r.test.mean * scale, (r.test.std or 0) * scale))
    return series


def ablation(title: str, key: str, rows: Sequence[GroupRow], path: Path) -> Path:
    """Test metric against one varied override (numeric: lines; otherwise grouped points)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    series = ablation_series(key, rows)
    values = sorted({v for pts in series.values() for v, _, _ in pts}, key=str)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    for i, (name, pts) in enumerate(series.items()):
        if numeric:
            pts = sorted(pts, key=lambda p: p[0])
            xs = [p[0] for p in pts]
        else:
            xs = [values.index(p[0]) + (i - len(series) / 2) * 0.08 for p in pts]
        ax.errorbar(xs, [p[1] for p in pts], yerr=[p[2] for p in pts], marker="o", capsize=3, label=name,
                    ls="-" if numeric else "none")
    if not numeric:
        ax.set_xticks(range(len(values)), [str(v) for v in values])
    ax.set_xlabel(key)
    ax.set_ylabel("test accuracy (%)" if rows and rows[0].metric == "accuracy" else "test metric")
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)
