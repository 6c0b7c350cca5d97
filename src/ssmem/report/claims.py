"""The paper's claims, each checked against what the runs found: confirmed / not confirmed, with numbers.

Rules (ours), stated in each finding's evidence:

* every RC-against-learnable comparison takes the pairs (task, set, setting) with at least ``MIN_SEEDS``
  finished runs on each side (the others are named as left out) and shows each side's number of runs;
  an exact tie counts neither way;
* "matches or beats": the reservoir's mean test metric is no worse than the learnable mean by more than
  ``MATCH_TOLERANCE``: 1 percentage point of accuracy, or 1 % of the learnable value for other metrics (in
  the direction the metric improves: lower mean squared error or bits per byte is better);
* a claim about "most" tasks or pairs holds when it holds for more than half of them;
* "barely extends memory": the trained 90%-capacity delay (the delay holding 90 % of the MF sum) is at most
  ``MEMORY_GROWTH`` times the initial one, on average over the learnable runs;
* "about 10 % untrained": the frozen share of one LRA block (H = 256, N = 64, bidirectional S4D with its GLU
  mixing layer and norm, as built by ssmem) lies within ``FROZEN_SHARE`` ± ``FROZEN_SHARE_TOLERANCE``; the
  shares of the runs (which depend on their width) are shown beside it;
* claims about trained eigenvalues (RC faster, overfits less, matches or beats, the ListOps exception, memory
  barely extends) need learnable runs whose eigenvalues moved: when the median move |Ā_trained - Ā_initial|
  is below ``MIN_EIGENVALUE_MOVE`` of the distance 1 - |Ā_initial| to the unit circle, both modes trained
  nearly the same model (and memory cannot have grown), so the claim is "inconclusive" (the measured move is in
  the evidence).

A claim without the runs to test it is "inconclusive". Findings of the theory experiments are passed on
as the experiments wrote them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .tables import Comparison, GroupRow, Stat, fmt_metric, reservoir_vs_learnable

MATCH_TOLERANCE = 0.01
MEMORY_GROWTH = 1.25
FROZEN_SHARE, FROZEN_SHARE_TOLERANCE = 0.10, 0.025
MIN_EIGENVALUE_MOVE = 0.05
MIN_SEEDS = 2
STATUSES = ("confirmed", "not confirmed", "inconclusive")


@dataclass(frozen=True)
class Finding:
    """One claim and what the runs say about it."""

    claim: str
    status: str  # confirmed | not confirmed | inconclusive
    evidence: str
    source: str = "LRA sweep"


def lra_findings(rows: Sequence[GroupRow]) -> list[Finding]:
    """The LRA claims of the paper (PAPER.md §6), checked on grouped runs."""
    pairs = reservoir_vs_learnable(rows)
    move = eigenvalue_move([c.learnable for c in pairs])
    trained = [_faster(pairs), _overfits_less(pairs), _matches(pairs), _listops_exception(pairs),
               _memory_barely_extends(rows)]
    if move is not None:
        note = (f"; the learnable runs' eigenvalues moved by a median {100 * move:.1f}% of their distance to the "
                "unit circle")
        if move < MIN_EIGENVALUE_MOVE:
            note += (f" (under {100 * MIN_EIGENVALUE_MOVE:.0f}%: both modes trained nearly the same model, so "
                     "the runs cannot tell)")
        trained = [Finding(f.claim, "inconclusive" if move < MIN_EIGENVALUE_MOVE and f.status != "inconclusive"
                           else f.status, f.evidence + note, f.source) for f in trained]
    return [*trained[:4], _frozen_share(rows), trained[4]]


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


def _majority(hits: int, total: int) -> str:
    if total == 0:
        return "inconclusive"
    return "confirmed" if hits * 2 > total else "not confirmed"


def _seeded_pairs(
    pairs: Sequence[Comparison], statistic: Callable[[GroupRow], Stat]
) -> tuple[list[tuple[Comparison, Stat, Stat]], str]:
    """``(comparison, learnable, reservoir)`` for the pairs with at least ``MIN_SEEDS`` values of ``statistic``
    on each side, and a note naming the pairs left out for fewer ("" when none)."""
    used, few = [], []
    for c in pairs:
        a, b = statistic(c.learnable), statistic(c.reservoir)
        if a.n >= MIN_SEEDS and b.n >= MIN_SEEDS:
            used.append((c, a, b))
        elif a.n or b.n:
            few.append(f"{c.label} (RC {b.n}, learnable {a.n})")
    note = f"; left out, fewer than {MIN_SEEDS} runs a side: {', '.join(few)}" if few else ""
    return used, note


def _reservoir_lower(
    pairs: Sequence[Comparison], statistic: Callable[[GroupRow], Stat], show: Callable[[Comparison, float], str]
) -> tuple[list[str], int, int, str]:
    """Over the pairs with enough runs of ``statistic`` (a statistic of a side's group): the parts
    ``"task/eigs: RC vs learnable (n = RC/learnable)"`` (values written by ``show``), how often RC's mean is the
    lower, how many pairs are not tied, and the note on left-out pairs."""
    used, note = _seeded_pairs(pairs, statistic)
    parts, hits, total = [], 0, 0
    for c, a, b in used:
        hits += b.mean < a.mean
        total += b.mean != a.mean
        tie = " (tie)" if b.mean == a.mean else ""
        parts.append(f"{c.label}: {show(c, b.mean)} vs {show(c, a.mean)} (n = {b.n}/{a.n}){tie}")
    return parts, hits, total, note


def _faster(pairs: Sequence[Comparison]) -> Finding:
    claim = "Reservoir (RC) training converges faster than learnable eigenvalues"
    parts, hits, total, note = _reservoir_lower(pairs, lambda side: side.convergence_steps, lambda c, v: f"{v:.0f}")
    evidence = (f"steps to reach 95% of the final validation metric, RC vs learnable (mean over seeds): "
                f"{'; '.join(parts) or 'no pairs'}; RC faster in {hits} of {total}{note}")
    return Finding(claim, _majority(hits, total), evidence)


def _overfits_less(pairs: Sequence[Comparison]) -> Finding:
    claim = "RC overfits less (smaller train − validation gap)"
    parts, hits, total, note = _reservoir_lower(
        pairs, lambda side: side.gap, lambda c, v: f"{v * fmt_metric(c.learnable.metric)[0]:.2f}"
    )
    evidence = (f"final train − validation metric, RC vs learnable: {'; '.join(parts) or 'no pairs'}; "
                f"smaller for RC in {hits} of {total}{note}")
    return Finding(claim, _majority(hits, total), evidence)


def match_tolerance(metric: str, learnable_mean: float) -> float:
    """How much worse than the learnable mean still "matches": 1 pp of accuracy, else 1 % of the value."""
    return MATCH_TOLERANCE if metric == "accuracy" else MATCH_TOLERANCE * abs(learnable_mean)


def _matches(pairs: Sequence[Comparison]) -> Finding:
    claim = "RC matches or beats learnable eigenvalues on most tasks"
    by_task: dict[str, list[bool]] = {}
    parts = []
    used, note = _seeded_pairs(pairs, lambda side: side.test)
    for c, a, b in used:
        better = 1.0 if c.learnable.higher_is_better else -1.0
        ok = better * (b.mean - a.mean) >= -match_tolerance(c.learnable.metric, a.mean) - 1e-12  # (rounding)
        by_task.setdefault(c.task, []).append(ok)
        scale, _ = fmt_metric(c.learnable.metric)
        direction = "" if c.learnable.higher_is_better else f", {c.learnable.metric}: lower is better"
        parts.append(f"{c.label}: {b.mean * scale:.2f} vs {a.mean * scale:.2f} (n = {b.n}/{a.n}{direction})"
                     f"{'' if ok else ' (worse)'}")
    matched = [t for t, oks in by_task.items() if sum(oks) * 2 > len(oks)]
    evidence = (f"test metric RC vs learnable (tolerance 1 pp of accuracy, else 1% of the learnable value): "
                f"{'; '.join(parts) or 'no pairs'}; RC matches or beats on {len(matched)} of {len(by_task)} "
                f"tasks ({', '.join(matched) or 'none'}){note}")
    return Finding(claim, _majority(len(matched), len(by_task)), evidence)


def _listops_exception(pairs: Sequence[Comparison]) -> Finding:
    claim = "ListOps is the exception: learnable eigenvalues beat RC there"
    used, note = _seeded_pairs([c for c in pairs if c.task == "listops"], lambda side: side.test)
    wins = [c for c, a, b in used if a.mean > b.mean + MATCH_TOLERANCE]
    parts = [f"{c.eigs}: learnable {a.mean * 100:.2f} vs RC {b.mean * 100:.2f} (n = {a.n}/{b.n})" for c, a, b in used]
    evidence = (f"ListOps test accuracy: {'; '.join(parts) or 'no ListOps pairs'}; learnable ahead by more "
                f"than {MATCH_TOLERANCE * 100:.0f} pp for {len(wins)} of {len(used)} sets{note}")
    return Finding(claim, _majority(len(wins), len(used)), evidence)


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
    parts, ratios = [], []
    for r in rows:
        a, b = r.memory_length_initial, r.memory_length_trained
        if r.train_mode != "all" or a.mean is None or b.mean is None:
            continue
        ratio = b.mean / max(a.mean, 1.0)
        ratios.append(ratio)
        parts.append(f"{r.cell_label}: 90%-capacity delay {a.mean:.0f} → {b.mean:.0f}, "
                     f"capacity {r.capacity_initial.mean:.1f} → {r.capacity_trained.mean:.1f}")
    if not ratios:
        return Finding(claim, "inconclusive", "no learnable runs recorded their memory")
    mean = float(np.mean(ratios))
    status = "confirmed" if mean <= MEMORY_GROWTH else "not confirmed"
    return Finding(claim, status, f"{'; '.join(parts)}; mean trained/initial 90%-capacity delay {mean:.2f} "
                                  f"(barely = at most {MEMORY_GROWTH})")
