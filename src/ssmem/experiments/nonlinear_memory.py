"""Experiment ``nonlinear-memory``: the memory of deep nonlinear SSMs, measured.

1. A 2-layer S4D model (GELU/GLU blocks, learnable eigenvalues) is trained on the registered delay task
   ``memory/delay``. Its empirical MF (:class:`ssmem.memory.EmpiricalMemory`: ridge readouts of u_{t-τ} from the
   model's final features on iid input, shuffled-surrogate threshold) is compared, before and after training,
   with the analytic MF of its linear layers: the first layer's channels together (one linear system driven by
   u), and all layers' eigenvalues together (the cascade of the linear parts).
2. Memory capacity of S4D sets vs a random linear RNN (echo state) vs linear attention, all with real state
   size N = 32 (:func:`ssmem.memory.compare_memory`), as a figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.task import build_task
from ..memory import EmpiricalMemory, compare_memory, memory_function
from ._training import deep_model, fit
from .registry import ExperimentContext, ExperimentOutput, Finding, judged, register_experiment

DELAYS = (4, 16, 48)
COMPARED_SETS = ("s4d-inv", "s4d-lin", "random", "mf-designed")  # the S4D sets of the capacity comparison
SE_MARGIN, SE_FLOOR = 3, 0.01  # the empirical MF "stays below" the analytic one within 3 standard errors + 0.01
RUNNING_SUM_SHARE = 0.1  # linear attention's MC is "far below" an SSM's: under this share of the smallest S4D MC


@dataclass(frozen=True)
class NonlinearMemoryConfig:
    """Sizes of one run: delay-task ``length``, ``n_seq`` training sequences, ``steps``; ``n_emp`` samples of
    the empirical MF estimator, which measures delays 0..``max_delay``."""

    length: int
    n_seq: int
    steps: int
    n_emp: int
    max_delay: int


def config(quick: bool) -> NonlinearMemoryConfig:
    """The quick (CPU minutes) or full configuration."""
    if quick:
        return NonlinearMemoryConfig(length=256, n_seq=256, steps=250, n_emp=6000, max_delay=120)
    return NonlinearMemoryConfig(length=1024, n_seq=2048, steps=3000, n_emp=40000, max_delay=400)


def layer_modes(model: torch.nn.Module) -> list[np.ndarray]:
    """Ā of every SSM layer, all channels flattened: one ``(H·n_modes,)`` complex128 array per layer."""
    return [layer.discrete_eigenvalues().cpu().numpy().astype(np.complex128).ravel() for layer in model.ssm_layers()]


def empirical_memory(model: torch.nn.Module, *, max_delay: int, n_train: int, seed: int) -> EmpiricalMemory:
    """Empirical MF of the model's final features ``(L, H)`` on one long iid input series."""
    tower = model.tower.eval()

    def features(u: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return tower(torch.from_numpy(u).float()[None, :, None])[0].double().numpy()

    estimator = EmpiricalMemory(max_delay=max_delay, n_train=n_train, n_test=n_train // 2, washout=max(1000, max_delay),
                                seed=seed)
    return estimator.fit(features)


@dataclass
class MemoryEstimate:
    """One empirical MF (:class:`ssmem.memory.EmpiricalMemory`): ``mf`` and ``standard_error`` ``(max_delay + 1,)``,
    ``capacity`` = Σ mf, the surrogate ``threshold``, and ``n_features`` read out."""

    mf: np.ndarray
    standard_error: np.ndarray
    capacity: float
    threshold: float
    n_features: int

    @classmethod
    def of(cls, fitted: EmpiricalMemory) -> "MemoryEstimate":
        return cls(fitted.memory_function_, fitted.standard_error_, fitted.capacity_, fitted.threshold_,
                   fitted.n_features_)


@dataclass
class NonlinearMemoryResult:
    """Everything measured.

    Attributes:
        empirical: ``{"before" | "after": MemoryEstimate}`` of the model's final features around training.
        analytic: exact MF ``(max_delay + 1,)`` of the linear parts: ``"layer1_after"`` (the first layer's Ā after
            training), ``"all_layers_after"``, ``"all_layers_before"`` (every layer's Ā together).
        task_r2: held-out R² ``(len(DELAYS),)`` of the trained model per delay output.
        final_loss: mean training loss over the last 20 steps.
        comparison: ``{system: {"capacity", "memory_length", "rank", "delays", "mf"}}`` of
            :func:`ssmem.memory.compare_memory` (N = 32, T = 1024), in its row order.
        comparison_table: that comparison as a markdown table.
    """

    config: NonlinearMemoryConfig
    empirical: dict
    analytic: dict
    task_r2: np.ndarray
    final_loss: float
    comparison: dict
    comparison_table: str


def compute(cfg: NonlinearMemoryConfig, *, seed: int = 0) -> NonlinearMemoryResult:
    """Train the 2-layer S4D model on the delay task, measuring its memory before and after; then the MC comparison."""
    from ..data.memory_tasks import DelayParams

    length, max_delay = cfg.length, cfg.max_delay
    task = build_task("memory/delay", DelayParams(seq_len=length, delays=DELAYS, n_train=cfg.n_seq, n_val=8,
                                                  n_test=64), seed=seed)
    x, y = task.train.tensors
    start = max(DELAYS)  # every target defined from here on
    mask = torch.zeros(x.shape[0], length, dtype=torch.bool)
    mask[:, start:] = True
    model = deep_model(d_output=len(DELAYS), d_input=1, d_model=8, n_layers=2, d_state=16, init="s4d-inv",
                       train="all", dt_min=1e-3, dt_max=1e-1, seed=seed)
    before = empirical_memory(model, max_delay=max_delay, n_train=cfg.n_emp, seed=seed)
    modes_before = layer_modes(model)
    trace = fit(model, x, torch.nan_to_num(y), mask, steps=cfg.steps, lr=0.01, batch_size=32, seed=seed,
                n_snapshots=2)
    after = empirical_memory(model, max_delay=max_delay, n_train=cfg.n_emp, seed=seed)
    modes_after = layer_modes(model)

    def analytic(modes_list: list[np.ndarray]) -> np.ndarray:
        return memory_function(np.concatenate(modes_list), horizon=None, max_delay=max_delay).mf

    x_test, y_test = task.test.tensors  # held-out sequences
    with torch.no_grad():
        out = model(x_test)
    target = torch.nan_to_num(y_test)
    task_r2 = (1 - ((out - target)[:, start:] ** 2).sum((0, 1)) / (target[:, start:] ** 2).sum((0, 1))).numpy()
    comparison = compare_memory(COMPARED_SETS, d_state=32, dt=0.01, horizon=1024, seed=seed)
    return NonlinearMemoryResult(
        config=cfg,
        empirical={"before": MemoryEstimate.of(before), "after": MemoryEstimate.of(after)},
        analytic={"layer1_after": analytic(modes_after[:1]), "all_layers_after": analytic(modes_after),
                  "all_layers_before": analytic(modes_before)},
        task_r2=task_r2,
        final_loss=float(np.mean(trace.losses[-20:])),
        comparison={row.system: {"capacity": row.profile.capacity, "memory_length": row.memory_length,
                                 "rank": row.profile.rank, "delays": row.profile.delays, "mf": row.profile.mf}
                    for row in comparison.rows},
        comparison_table=comparison.table(markdown=True),
    )


# ----------------------------------------------------------------------------------------------- judge


def judge(result: NonlinearMemoryResult) -> list[Finding]:
    """The empirical MF against the analytic bound, its rise at the trained delays, and linear attention's MC."""
    before, after = result.empirical["before"], result.empirical["after"]
    first_after, all_after = result.analytic["layer1_after"], result.analytic["all_layers_after"]
    excess = after.mf - all_after
    bounded = bool(np.all(excess <= SE_MARGIN * after.standard_error + SE_FLOOR))
    mc = {system: row["capacity"] for system, row in result.comparison.items()}
    la = [v for k, v in mc.items() if k.startswith("linear attention")]
    ssm = [v for k, v in mc.items() if k.startswith("S4D")]
    trained = list(DELAYS)
    return [
        judged("The empirical MF of a trained deep nonlinear S4D model stays below the analytic MF of its linear "
               "layers' eigenvalues (all layers together)",
               bounded,
               f"max over delays of (empirical − analytic) = {excess.max():+.3f} (tolerance {SE_MARGIN} SE + "
               f"{SE_FLOOR:g}); empirical MC {before.capacity:.1f} → {after.capacity:.1f} with training (features: "
               f"{after.n_features}); analytic MC of layer 1 {first_after.sum():.1f}, all layers "
               f"{all_after.sum():.1f}; held-out task R² "
               + ", ".join(f"τ={t}: {r:.2f}" for t, r in zip(DELAYS, result.task_r2))),
        judged("Training on the delay task raises the empirical memory at the trained delays",
               bool(np.mean(after.mf[trained]) > np.mean(before.mf[trained])),
               "empirical MF at τ* before → after: " + ", ".join(
                   f"{t}: {before.mf[t]:.2f} → {after.mf[t]:.2f}" for t in DELAYS)),
        judged("Linear attention (a running sum) has the capacity of one state dimension, far below an SSM's N",
               bool(la) and max(la) < RUNNING_SUM_SHARE * min(ssm),
               "MC: " + ", ".join(f"{k} {v:.1f}" for k, v in mc.items())),
    ]


# ----------------------------------------------------------------------------------------------- plot


def plot(result: NonlinearMemoryResult):
    """Two panels: empirical vs analytic MF of the deep model around training; MF of the compared systems."""
    import matplotlib.pyplot as plt

    max_delay = result.config.max_delay
    before, after = result.empirical["before"], result.empirical["after"]
    analytic = result.analytic
    delays = np.arange(max_delay + 1)
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
    ax = axes[0]
    ax.plot(delays, analytic["all_layers_after"], color="0.2",
            label=f"analytic, all layers' Ā (trained), Σ={analytic['all_layers_after'].sum():.1f}")
    ax.plot(delays, analytic["layer1_after"], color="0.55", ls="--",
            label=f"analytic, layer 1 Ā (trained), Σ={analytic['layer1_after'].sum():.1f}")
    ax.plot(delays, analytic["all_layers_before"], color="0.75", ls=":", label="analytic, all layers' Ā (initial)")
    ax.plot(delays, after.mf, color="C3", label=f"empirical, trained model, Σ={after.capacity:.1f}")
    ax.plot(delays, before.mf, color="C0", label=f"empirical, initial model, Σ={before.capacity:.1f}")
    for tau in DELAYS:
        ax.axvline(tau, color="0.85", lw=1)
    ax.set_xscale("symlog", linthresh=1)
    ax.set(xlim=(0, max_delay), xlabel="delay τ", ylabel="MF(τ)", ylim=(-0.02, 1.02),
           title=f"2-layer S4D (H=8, N=16), trained on delays {list(DELAYS)}")
    ax.legend(fontsize=7, title=f"Σ = Σ MF(τ ≤ {max_delay})", title_fontsize=7)
    ax = axes[1]
    for k, (system, row) in enumerate(result.comparison.items()):
        # from τ = 1: the log axis has no place for τ = 0
        ax.plot(row["delays"][1:], row["mf"][1:], color=f"C{k}", label=f"{system}: MC={row['capacity']:.1f}")
    ax.set(xscale="log", yscale="log", ylim=(1e-4, 1.05), xlabel="delay τ", ylabel="MF(τ)",
           title="S4D vs linear RNN vs linear attention (N=32, T=1024)")
    ax.legend(fontsize=7)
    return fig


# ----------------------------------------------------------------------------------------------- run


def results_of(result: NonlinearMemoryResult) -> dict:
    """The numbers written to ``results.json`` (the comparison's MF curves left out: the figure shows them)."""
    return {
        "delays": list(DELAYS),
        "train_steps": result.config.steps,
        "task_r2": result.task_r2,
        "final_loss": result.final_loss,
        "empirical": {stage: {"mf": e.mf, "capacity": e.capacity, "threshold": e.threshold}
                      for stage, e in result.empirical.items()},
        "analytic": result.analytic,
        "comparison": {system: {k: row[k] for k in ("capacity", "memory_length", "rank")}
                       for system, row in result.comparison.items()},
        "comparison_table": result.comparison_table,
    }


@register_experiment("nonlinear-memory", "empirical MF of trained deep nonlinear S4D models vs the analytic MF of "
                                         "their linear layers; MC of SSM vs linear RNN vs linear attention")
def run(ctx: ExperimentContext) -> ExperimentOutput:
    result = compute(config(ctx.quick), seed=ctx.seed)
    return ExperimentOutput(results=results_of(result), findings=judge(result),
                            figures=[ctx.save_figure(plot(result), "nonlinear_memory.png")])
