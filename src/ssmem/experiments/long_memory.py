"""Experiment ``long-memory``: do learnable eigenvalues extend memory? (PAPER.md §5, §7 item 4)

Delay task u_{t-τ*} with τ* inside and beyond the initial memory. For each eigenvalue set, a bank of
single-channel S4D systems (one channel per τ*, N = 32, all channels at the same Δ) is trained twice:
``reservoir`` (A, Δ frozen; B, C, D trained) and ``learnable`` (everything trained, the same learning rate).
Both start from the same readout, fitted by ridge least squares, so the comparison isolates what training the
eigenvalues adds. Each run records Ā during training. The analytic prediction is the best R² of a readout
shared by the evaluation steps (:func:`ssmem.dynamics.window_basis`, with the direct term D).
"""

from __future__ import annotations

import numpy as np

from ._theory import memory_length, predicted_r2, window_memory_function
from ._training import ChannelBank, delayed, fit, gaussian_inputs, late_steps, r2_per_output, warm_start_readout
from .registry import ExperimentContext, ExperimentOutput, judged, register_experiment

SETS = {"s4d-inv": 0.01, "s4d-lin": 0.01, "random": 1.0, "mf-designed": 1.0}  # name → Δ
MODES = ("reservoir", "learnable")
BEYOND = 0.1  # a delay is "beyond the initial memory" when its initial best R² is below this


def train_bank(init: str, dt: float, mode: str, *, delays: list[int], length: int, n_train: int, steps: int,
               lr: float, seed: int) -> dict:
    """Warm-start, train and evaluate one bank; Ā snapshots, R² and the analytic predictions."""
    start = length // 2
    u, u_test = gaussian_inputs(n_train, length, seed=seed), gaussian_inputs(128, length, seed=seed + 1)
    y, y_test = delayed(u, delays), delayed(u_test, delays)
    mask, mask_test = late_steps(n_train, length, start), late_steps(128, length, start)
    bank = ChannelBank(len(delays), 32, init=init, dt=dt, train="all" if mode == "learnable" else "reservoir",
                       seed=seed)
    warm_start_readout(bank, u, y, mask)
    r2_start = r2_per_output(bank, u_test, y_test, mask_test)
    trace = fit(bank, u, y, mask, steps=steps, lr=lr, batch_size=32, seed=seed, n_snapshots=6)
    r2 = r2_per_output(bank, u_test, y_test, mask_test)
    before, after = trace.snapshots[0], trace.snapshots[-1]  # (H, n_modes)
    return {
        "r2_warm_start": r2_start,
        "r2": r2,
        "predicted_before": np.array([predicted_r2(before[h], tau, length=length, start=start, skip=True)
                                      for h, tau in enumerate(delays)]),
        "predicted_after": np.array([predicted_r2(after[h], tau, length=length, start=start, skip=True)
                                     for h, tau in enumerate(delays)]),
        "snapshots": np.stack(trace.snapshots),  # (n_snapshots, H, n_modes)
        "final_loss": float(np.mean(trace.losses[-20:])),
    }


@register_experiment("long-memory", "delay task beyond the initial memory: learnable vs reservoir eigenvalues, "
                                    "eigenvalues and MF before/after, R² vs τ* with the analytic prediction")
def run(ctx: ExperimentContext) -> ExperimentOutput:
    import matplotlib.pyplot as plt

    if ctx.quick:
        length, n_train, steps, delays = 512, 96, 150, [8, 32, 96, 160, 256]
    else:
        length, n_train, steps, delays = 1024, 512, 2000, [8, 32, 64, 128, 192, 256, 384, 512]
    start, lr = length // 2, 0.01
    runs = {
        (name, mode): train_bank(name, dt, mode, delays=delays, length=length, n_train=n_train, steps=steps, lr=lr,
                                 seed=ctx.seed)
        for name, dt in SETS.items()
        for mode in MODES
    }
    profiles = {}
    for name in SETS:
        snaps = runs[(name, "learnable")]["snapshots"]
        profiles[name] = {
            "before": window_memory_function(snaps[0, -1], length=length, start=start, skip=True),
            "after": window_memory_function(snaps[-1, -1], length=length, start=start, skip=True),
        }

    figures = []
    # eigenvalues in the complex plane, before/after, for the channel trained on the longest delay
    fig, axes = plt.subplots(2, len(SETS), figsize=(4 * len(SETS), 7.5), gridspec_kw={"height_ratios": [1, 1.1]})
    circle = np.exp(1j * np.linspace(0, np.pi, 200))
    for col, name in enumerate(SETS):
        snaps = runs[(name, "learnable")]["snapshots"][:, -1]  # (n_snapshots, n_modes)
        ax = axes[0, col]
        ax.plot(circle.real, circle.imag, color="0.8", lw=1)
        for k in range(snaps.shape[1]):
            ax.plot(snaps[:, k].real, snaps[:, k].imag, color="C0", lw=0.8, alpha=0.6)
        ax.plot(snaps[0].real, snaps[0].imag, "o", mfc="none", color="0.4", ms=5, label="before")
        ax.plot(snaps[-1].real, snaps[-1].imag, ".", color="C3", ms=7, label="after (learnable)")
        ax.set_aspect("equal")
        ax.set(title=f"{name} (channel τ* = {delays[-1]})", xlabel="Re Ā", ylabel="Im Ā")
        ax.legend(fontsize=7, loc="lower left")
        # the same modes as phase and decay per step, which separates modes crowded near Ā = 1
        ax = axes[1, col]
        for k in range(snaps.shape[1]):
            ax.plot(np.angle(snaps[:, k]), 1 - np.abs(snaps[:, k]), color="C0", lw=0.8, alpha=0.6)
        ax.plot(np.angle(snaps[0]), 1 - np.abs(snaps[0]), "o", mfc="none", color="0.4", ms=5)
        ax.plot(np.angle(snaps[-1]), 1 - np.abs(snaps[-1]), ".", color="C3", ms=7)
        ax.set_yscale("log")
        ax.set(xlabel="arg Ā (rad)", ylabel="1 − |Ā| (decay per step)")
    figures.append(ctx.save_figure(fig, "eigenvalues_before_after.png"))

    fig, axes = plt.subplots(1, len(SETS), figsize=(4 * len(SETS), 3.5), sharey=True)
    for ax, name in zip(axes, SETS):
        ax.plot(profiles[name]["before"], color="0.4", ls="--", label="before")
        ax.plot(profiles[name]["after"], color="C3", label="after (learnable)")
        ax.axvline(delays[-1], color="0.7", lw=1)
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 1.05)
        ax.set(title=name, xlabel="delay τ")
    axes[0].set_ylabel("best R² of the delay (window MF)")
    axes[0].legend(fontsize=8)
    figures.append(ctx.save_figure(fig, "memory_before_after.png"))

    fig, axes = plt.subplots(1, len(SETS), figsize=(4 * len(SETS), 3.5), sharey=True)
    for ax, name in zip(axes, SETS):
        ax.plot(profiles[name]["before"], color="0.5", lw=1, label="analytic (initial Ā)")
        ax.plot(delays, runs[(name, "reservoir")]["r2"], "o", color="C0", label="reservoir")
        ax.plot(delays, runs[(name, "learnable")]["r2"], "x", color="C3", ms=8, label="learnable")
        ax.plot(delays, runs[(name, "learnable")]["predicted_after"], "_", color="C3", ms=12,
                label="analytic (trained Ā)")
        ax.set(title=name, xlabel="delay τ*", ylim=(-0.05, 1.02))
    axes[0].set_ylabel("held-out R²")
    axes[0].legend(fontsize=7)
    figures.append(ctx.save_figure(fig, "accuracy_vs_delay.png"))

    # findings
    gains, mf_gains, beyond_cases = [], [], []
    for name in SETS:
        res, lea = runs[(name, "reservoir")], runs[(name, "learnable")]
        for j, tau in enumerate(delays):
            if res["predicted_before"][j] < BEYOND:
                gains.append(lea["r2"][j] - res["r2"][j])
                mf_gains.append(lea["predicted_after"][j] - lea["predicted_before"][j])
                beyond_cases.append(f"{name}@{tau}")
    long_delays = [j for j, tau in enumerate(delays) if tau >= length // 8]
    random_best = max(float(np.max(runs[("random", m)]["r2"][long_delays])) for m in MODES)
    hippo_best = max(float(np.max(runs[(n, m)]["r2"][long_delays])) for n in ("s4d-inv", "s4d-lin") for m in MODES)
    res_dev = {name: float(np.max(np.abs(runs[(name, "reservoir")]["r2"] - runs[(name, "reservoir")]["predicted_before"])))
               for name in SETS}
    well_conditioned = [n for n in SETS if n != "random"]
    findings = [
        judged("Learnable eigenvalues barely extend memory: beyond the initial memory, training the eigenvalues "
               "adds little R² over a reservoir (mean gain < 0.05)",
               (float(np.mean(gains)) < 0.05) if gains else None,
               f"over {len(gains)} (set, τ*) pairs with initial best R² < {BEYOND}: mean R² gain "
               f"{np.mean(gains):+.3f} (max {np.max(gains):+.3f}); analytic best R² of the trained Ā rose by "
               f"{np.mean(mf_gains):+.3f} on average; {steps} Adam steps at lr {lr} on every parameter"
               if gains else "no delay was beyond the initial memory"),
        judged("Random initialisations fail on long memory (R² < 0.05 at τ* ≥ L/8, learnable or not)",
               random_best < 0.05,
               f"random: best R² at τ* ≥ {length // 8} is {random_best:.3f}; HiPPO sets reach {hippo_best:.3f}"),
        judged("The trained reservoir readout follows the analytic prediction (within 0.03) for well-conditioned sets",
               max(res_dev[n] for n in well_conditioned) <= 0.03,
               "max |R² − predicted| per set: " + ", ".join(f"{n} {v:.3f}" for n, v in res_dev.items())
               + " (random: nearly collinear states, the ridge-regularised readout stays below the exact MF)"),
    ]
    results = {
        "length": length, "delays": delays, "steps": steps, "lr": lr, "d_state": 32,
        "dt": SETS,
        "runs": {f"{name}/{mode}": {k: v for k, v in run.items() if k != "snapshots"}
                 for (name, mode), run in runs.items()},
        "memory_length_before": {n: memory_length(p["before"]) for n, p in profiles.items()},
        "memory_length_after": {n: memory_length(p["after"]) for n, p in profiles.items()},
        "beyond_initial_memory": beyond_cases,
    }
    return ExperimentOutput(results=results, findings=findings, figures=figures)
