"""The paper's claims, each checked against what the runs found: confirmed / not confirmed / inconclusive.

Rules (ours), stated in each finding's evidence:

* every RC-against-learnable comparison is decided from **per-seed paired differences**: a reservoir run and
  a learnable run (``train = all``) of the same task, eigenvalue set, setting and seed form a pair (runs of one
  seed in one arm are averaged; seeds run in one arm only are left out). For each (task, set, setting) the
  two-sided Student t interval at 95 % of the mean difference decides (:func:`ssmem.stats.paired_verdict`):
  confirmed when it lies wholly on the claim's side of the tolerance, not confirmed when it lies wholly on the
  other side, inconclusive when it contains the tolerance or when there are fewer than 2 pairs;
* a comparison whose learnable eigenvalues did not move is inconclusive: when the median move
  |Ā_trained - Ā_initial| is below ``MIN_EIGENVALUE_MOVE`` of the distance 1 - |Ā_initial| to the unit circle,
  both modes trained nearly the same model (the measured move is in the evidence);
* a claim over several (task, set, setting) pairs takes the majority of their verdicts: confirmed when more
  than half are confirmed, not confirmed when more than half are not, else inconclusive. "On most tasks" first
  takes that majority over each task's pairs, then over the tasks;
* "converges faster": RC − learnable steps to come within 5 % of the run's final validation metric, below 0;
* "overfits less": RC − learnable final train − validation gap (in the direction the metric improves), below 0;
* "matches or beats": RC − learnable test metric (signed so that positive is better for RC) above
  −``MATCH_TOLERANCE``: 1 percentage point of accuracy, or 1 % of the learnable mean for other metrics (lower
  mean squared error or bits per byte is better);
* "ListOps is the exception": learnable − RC ListOps test accuracy above ``MATCH_TOLERANCE`` (1 pp);
* "barely extends memory": per learnable run, the mean over all its recorded modes of
  ln(τ_trained / τ_initial), τ = -1/ln|Ā| the mode's decay time (the log of the geometric-mean factor by which
  training lengthened the memory time), is judged below ln ``MEMORY_GROWTH`` (the runs of one group are the
  paired differences, trained against initial); groups aggregate by majority;
* "about 10 % untrained": the frozen share of one LRA block (H = 256, N = 64, bidirectional S4D with its GLU
  mixing layer and norm, as built by ssmem) lies within ``FROZEN_SHARE`` ± ``FROZEN_SHARE_TOLERANCE``: a count
  of ssmem's own block, which needs no runs; the shares of the runs (which depend on their width) are shown
  beside it.

The LRA claims are judged on the LRA runs. Language-model (``lm/*``, bits per byte) and forecasting
(``forecast/*``, mean squared error) runs, and any other family of recipes, get their own "converges faster" and
"matches or beats" findings when they ran. Findings of the theory experiments are passed on as the experiments
wrote them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .collect import RunData
from ..stats import LEVEL, Verdict, majority_verdict, paired_verdict, tally
from .tables import (
    Comparison,
    GroupRow,
    fmt_metric,
    generalization_gap,
    reservoir_vs_learnable,
    run_memory_extension,
    steps_to_fraction,
)

MATCH_TOLERANCE = 0.01
MEMORY_GROWTH = 1.25
FROZEN_SHARE, FROZEN_SHARE_TOLERANCE = 0.10, 0.025
MIN_EIGENVALUE_MOVE = 0.05
STATUSES = ("confirmed", "not confirmed", "inconclusive")
_CI = f"Student t {100 * LEVEL:.0f}% interval of the mean per-seed paired difference"


@dataclass(frozen=True)
class Finding:
    """One claim and what the runs say about it."""

    claim: str
    status: str  # confirmed | not confirmed | inconclusive
    evidence: str
    source: str = "LRA sweep"


@dataclass(frozen=True)
class PairJudgement:
    """One (task, set, setting) comparison of a claim: its paired verdict and the status after the move rule."""

    comparison: Comparison
    verdict: Verdict
    status: str
    text: str


def sweep_findings(rows: Sequence[GroupRow]) -> list[Finding]:
    """Every sweep claim: the LRA claims (:func:`lra_findings`), then "converges faster" and "matches or beats"
    for each other task family that ran (LM, forecasting, ...)."""
    out = lra_findings(rows)
    for family in dict.fromkeys(r.family for r in rows):
        if family == "LRA":
            continue
        pairs = [c for c in reservoir_vs_learnable(rows) if c.learnable.family == family]
        source = f"{family} sweep"
        out += [_faster(pairs, family=family, source=source), _matches(pairs, family=family, source=source)]
    return out


def lra_findings(rows: Sequence[GroupRow]) -> list[Finding]:
    """The LRA claims of the paper (PAPER.md §6), checked on grouped runs: RC converges faster, overfits less,
    matches or beats on most tasks, ListOps is the exception, ~10 % frozen, training barely extends memory
    (the last over every family's learnable runs)."""
    pairs = [c for c in reservoir_vs_learnable(rows) if c.learnable.family == "LRA"]
    return [_faster(pairs), _overfits_less(pairs), _matches(pairs), _listops_exception(pairs), _frozen_share(rows),
            _memory_barely_extends(rows)]


def eigenvalue_move(rows: Sequence[GroupRow]) -> float | None:
    """Median over the modes of the runs in ``rows`` of |Ā_trained - Ā_initial| / (1 - |Ā_initial|), from the
    recorded memory endpoints; None when no run recorded its eigenvalues."""
    moves = []
    for row in rows:
        for run in row.runs:
            for endpoints in () if run.memory is None else run.memory.eigenvalues:
                initial, trained = endpoints[0], endpoints[-1]
                moves.append((np.abs(trained - initial) / np.maximum(1 - np.abs(initial), 1e-12)).ravel())
    return float(np.median(np.concatenate(moves))) if moves else None


def experiment_findings(experiments: Sequence[dict[str, Any]]) -> list[Finding]:
    """The findings the theory experiments wrote into their ``results.json``."""
    out = []
    for exp in experiments:
        for f in exp.get("findings", []):
            status = str(f.get("status", "inconclusive"))
            out.append(Finding(str(f.get("claim", "")), status if status in STATUSES else "inconclusive",
                               str(f.get("evidence", "")), source=f"experiment {exp.get('name', '?')}"))
    return out


def seed_differences(c: Comparison, measure: Callable[[RunData], float | None]) -> list[float]:
    """``measure(RC run) − measure(learnable run)`` for each seed both arms ran (``None`` values left out; a
    seed's runs within one arm averaged), in seed order."""

    def by_seed(row: GroupRow) -> dict[int, float]:
        values: dict[int, list[float]] = {}
        for run in row.runs:
            v = measure(run)
            if v is not None and np.isfinite(v):
                values.setdefault(run.seed, []).append(float(v))
        return {seed: float(np.mean(v)) for seed, v in values.items()}

    rc, learnable = by_seed(c.reservoir), by_seed(c.learnable)
    return [rc[s] - learnable[s] for s in sorted(set(rc) & set(learnable))]


def _judge_pairs(
    pairs: Sequence[Comparison],
    measure: Callable[[RunData], float | None],
    *,
    sign: Callable[[Comparison], float] = lambda c: 1.0,
    tolerance: Callable[[Comparison], float] = lambda c: 0.0,
    direction: str,
    show: Callable[[Comparison, Verdict], str],
) -> list[PairJudgement]:
    """Judge each comparison from ``sign(c) · (measure(RC) − measure(learnable))`` per seed; a comparison whose
    learnable eigenvalues did not move is inconclusive whatever its interval."""
    out = []
    for c in pairs:
        diffs = [sign(c) * d for d in seed_differences(c, measure)]
        verdict = paired_verdict(diffs, tolerance(c), direction)
        status, note = verdict.status, ""
        move = eigenvalue_move([c.learnable])
        if move is not None and move < MIN_EIGENVALUE_MOVE:
            status = "inconclusive"
            note = (f"; learnable eigenvalues moved a median {100 * move:.1f}% of their distance to the unit circle "
                    f"(under {100 * MIN_EIGENVALUE_MOVE:.0f}%: both modes trained nearly the same model)")
        out.append(PairJudgement(c, verdict, status, f"{c.label}: {show(c, verdict)} → {status}{note}"))
    return out


def _summary(judged: Sequence[PairJudgement]) -> str:
    return "; ".join(j.text for j in judged) or "no reservoir/learnable pairs"


def _named(claim: str, family: str | None) -> str:
    return claim if family is None else f"{claim} ({family})"


def _faster(pairs: Sequence[Comparison], *, family: str | None = None, source: str = "LRA sweep") -> Finding:
    claim = _named("Reservoir (RC) training converges faster than learnable eigenvalues", family)
    judged = _judge_pairs(pairs, steps_to_fraction, direction="below",
                          show=lambda c, v: v.fmt(digits=0, unit=" steps"))
    status = majority_verdict([j.status for j in judged])
    evidence = (f"steps to come within 5% of the final validation metric, RC − learnable ({_CI}; faster when it "
                f"lies below 0): {_summary(judged)}; pairs: {tally([j.status for j in judged])} (majority rule)")
    return Finding(claim, status, evidence, source)


def _overfits_less(pairs: Sequence[Comparison]) -> Finding:
    claim = "RC overfits less (smaller train − validation gap)"
    judged = _judge_pairs(pairs, generalization_gap, direction="below",
                          show=lambda c, v: v.fmt(fmt_metric(c.learnable.metric)[0], unit=_unit(c)))
    evidence = (f"final train − validation metric, RC − learnable ({_CI}; less overfitting when it lies below 0): "
                f"{_summary(judged)}; pairs: {tally([j.status for j in judged])} (majority rule)")
    return Finding(claim, majority_verdict([j.status for j in judged]), evidence)


def match_tolerance(metric: str, learnable_mean: float) -> float:
    """How much worse than the learnable mean still "matches": 1 pp of accuracy, else 1 % of the value."""
    return MATCH_TOLERANCE if metric == "accuracy" else MATCH_TOLERANCE * abs(learnable_mean)


def _unit(c: Comparison) -> str:
    return " pp" if c.learnable.metric == "accuracy" else ""


def _matches(pairs: Sequence[Comparison], *, family: str | None = None, source: str = "LRA sweep") -> Finding:
    claim = ("RC matches or beats learnable eigenvalues on most tasks" if family is None else
             f"RC matches or beats learnable eigenvalues (final test metric) on most {family} tasks")

    def show(c: Comparison, v: Verdict) -> str:
        scale = fmt_metric(c.learnable.metric)[0]
        worse = "" if c.learnable.higher_is_better else f", {c.learnable.metric}: lower is better"
        return (f"{v.fmt(scale, unit=_unit(c))} (RC {c.reservoir.test.fmt(scale)} vs learnable "
                f"{c.learnable.test.fmt(scale)}; tolerance −{match_tolerance(c.learnable.metric, c.learnable.test.mean or 0) * scale:.3g}"
                f"{_unit(c)}{worse})")

    judged = _judge_pairs(pairs, lambda run: run.test_metric,
                          sign=lambda c: 1.0 if c.learnable.higher_is_better else -1.0,
                          tolerance=lambda c: -match_tolerance(c.learnable.metric, c.learnable.test.mean or 0.0),
                          direction="above", show=show)
    by_task: dict[str, list[str]] = {}
    for j in judged:
        by_task.setdefault(j.comparison.task, []).append(j.status)
    tasks = {task: majority_verdict(statuses) for task, statuses in by_task.items()}
    evidence = (f"test metric RC − learnable, signed so that positive favours RC ({_CI}; matches when it lies above "
                f"−tolerance: 1 pp of accuracy, else 1% of the learnable mean): {_summary(judged)}; per task "
                f"(majority of its pairs): " + (", ".join(f"{t} {s}" for t, s in tasks.items()) or "none")
                + f"; tasks: {tally(list(tasks.values()))} (majority rule)")
    return Finding(claim, majority_verdict(list(tasks.values())), evidence, source)


def _listops_exception(pairs: Sequence[Comparison]) -> Finding:
    claim = "ListOps is the exception: learnable eigenvalues beat RC there"
    judged = _judge_pairs([c for c in pairs if c.task == "listops"], lambda run: run.test_metric, sign=lambda c: -1.0,
                          tolerance=lambda c: MATCH_TOLERANCE, direction="above",
                          show=lambda c, v: f"learnable − RC {v.fmt(100, unit=' pp')}")
    evidence = (f"ListOps test accuracy, learnable − RC ({_CI}; learnable ahead when it lies above "
                f"{100 * MATCH_TOLERANCE:.0f} pp): {_summary(judged) if judged else 'no ListOps pairs'}; sets: "
                f"{tally([j.status for j in judged])} (majority rule)")
    return Finding(claim, majority_verdict([j.status for j in judged]), evidence)


def lra_block_frozen_share(d_model: int = 256, d_state: int = 64) -> float:
    """The frozen share of one reservoir LRA block as ssmem builds it: bidirectional S4D, GLU mixing, norm."""
    from ..ssm import S4D, SSMBlock, count_parameters

    block = SSMBlock(d_model, S4D(d_model, d_state, train="reservoir", bidirectional=True, seed=0))
    return count_parameters(block).frozen_fraction


def _frozen_share(rows: Sequence[GroupRow]) -> Finding:
    claim = "RC leaves about 10% of the parameters untrained (the recurrent eigenvalues and steps)"
    share = lra_block_frozen_share()
    low, high = FROZEN_SHARE - FROZEN_SHARE_TOLERANCE, FROZEN_SHARE + FROZEN_SHARE_TOLERANCE
    status = "confirmed" if low <= share <= high else "not confirmed"
    parts = [f"{r.cell_label}: {r.frozen:,} of {r.trainable + r.frozen:,} "
             f"({100 * r.frozen / max(r.trainable + r.frozen, 1):.1f}%)"
             for r in rows if r.train_mode == "reservoir" and r.trainable is not None and r.frozen is not None]
    runs = f"; these runs (their width sets the share): {'; '.join(parts)}" if parts else ""
    return Finding(claim, status, f"one LRA block (H = 256, N = 64, bidirectional S4D + GLU + norm) in reservoir "
                                  f"mode: {100 * share:.1f}% frozen (about 10% = {100 * low:.1f}-{100 * high:.1f}%)"
                                  f"{runs}", source="parameter count")


def _memory_barely_extends(rows: Sequence[GroupRow]) -> Finding:
    claim = "Gradient training of the eigenvalues barely extends memory"
    parts, statuses = [], []
    for r in rows:
        if r.train_mode != "all":
            continue
        logs = [np.log(x) for x in (run_memory_extension(run) for run in r.runs) if x is not None]
        if not logs:
            continue
        verdict = paired_verdict(logs, np.log(MEMORY_GROWTH), "below")
        status, note = verdict.status, ""
        move = eigenvalue_move([r])
        if move is not None and move < MIN_EIGENVALUE_MOVE:
            status = "inconclusive"
            note = (f"; eigenvalues moved a median {100 * move:.1f}% of their distance to the unit circle (under "
                    f"{100 * MIN_EIGENVALUE_MOVE:.0f}%: training did not act on them)")
        statuses.append(status)
        factor = f"×{np.exp(verdict.mean):.2f}"
        if verdict.interval is not None:
            factor += f" [{100 * verdict.level:.0f}% CI ×{np.exp(verdict.low):.2f}, ×{np.exp(verdict.high):.2f}]"
        parts.append(f"{r.cell_label}: memory time {factor}, n = {verdict.n} runs (median decay time "
                     f"{r.decay_time_initial.fmt(digits=0)} → {r.decay_time_trained.fmt(digits=0)} steps) → "
                     f"{status}{note}")
    if not statuses:
        return Finding(claim, "inconclusive", "no learnable runs recorded their eigenvalues", source="sweep")
    evidence = (f"per learnable run, the geometric mean over its modes of τ_trained / τ_initial (τ = −1/ln|Ā|, the "
                f"decay time); per group the Student t {100 * LEVEL:.0f}% interval of the mean log factor, barely "
                f"when it lies below ×{MEMORY_GROWTH} (extended when above): {'; '.join(parts)}; groups: "
                f"{tally(statuses)} (majority rule)")
    return Finding(claim, majority_verdict(statuses), evidence, source="sweep")
