"""The paper's claims, each checked against what the runs found: confirmed / not confirmed, with numbers.

Rules (ours), stated in each finding's evidence:

* "matches or beats": the reservoir's mean test metric is at least the learnable mean minus
  ``MATCH_TOLERANCE`` (1 percentage point of accuracy);
* a claim about "most" tasks or pairs holds when it holds for more than half of them;
* "barely extends memory": the trained 90%-capacity delay (the delay holding 90 % of the MF sum) is at most
  ``MEMORY_GROWTH`` times the initial one, on average over the learnable runs;
* "about 10 % untrained": the frozen share of one LRA block (H = 256, N = 64, bidirectional S4D with its GLU
  mixing layer and norm, as built by ssmem) lies within ``FROZEN_SHARE`` ± ``FROZEN_SHARE_TOLERANCE``; the
  shares of the runs (which depend on their width) are shown beside it;
* RC against learnable (faster, overfits less, matches or beats, the ListOps exception) needs learnable runs
  whose eigenvalues moved: when the median move |Ā_trained - Ā_initial| is below ``MIN_EIGENVALUE_MOVE`` of the
  distance 1 - |Ā_initial| to the unit circle, both modes trained nearly the same model and the comparison is
  "inconclusive" (the measured move is in the evidence).

A claim without the runs to test it is "inconclusive". Findings of the theory experiments are passed on
as the experiments wrote them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .tables import Comparison, GroupRow, fmt_metric, reservoir_vs_learnable

MATCH_TOLERANCE = 0.01
MEMORY_GROWTH = 1.25
FROZEN_SHARE, FROZEN_SHARE_TOLERANCE = 0.10, 0.025
MIN_EIGENVALUE_MOVE = 0.05
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
    comparisons = [_faster(pairs), _overfits_less(pairs), _matches(pairs), _listops_exception(pairs)]
    move = eigenvalue_move([c.learnable for c in pairs])
    if move is not None:
        note = (f"; the learnable runs' eigenvalues moved by a median {100 * move:.1f}% of their distance to the "
                "unit circle")
        if move < MIN_EIGENVALUE_MOVE:
            note += (f" (under {100 * MIN_EIGENVALUE_MOVE:.0f}%: both modes trained nearly the same model, so "
                     "the comparison cannot tell them apart)")
        comparisons = [Finding(f.claim, "inconclusive" if move < MIN_EIGENVALUE_MOVE and f.status != "inconclusive"
                               else f.status, f.evidence + note, f.source) for f in comparisons]
    return [*comparisons, _frozen_share(rows), _memory_barely_extends(rows, move)]


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


def _reservoir_lower(
    pairs: Sequence[Comparison], statistic: Callable[[GroupRow], Any], show: Callable[[Comparison, float], str]
) -> tuple[list[str], int, int]:
    """Over the pairs where both sides have a mean of ``statistic`` (a statistic of a side's group): the parts
    ``"task/eigs: RC vs learnable"`` (values written by ``show``), how often RC's mean is the lower, and the count."""
    parts, hits = [], 0
    for c in pairs:
        a, b = statistic(c.learnable), statistic(c.reservoir)
        if a.mean is None or b.mean is None:
            continue
        hits += b.mean < a.mean
        parts.append(f"{c.label}: {show(c, b.mean)} vs {show(c, a.mean)}")
    return parts, hits, len(parts)


def _faster(pairs: Sequence[Comparison]) -> Finding:
    claim = "Reservoir (RC) training converges faster than learnable eigenvalues"
    parts, hits, total = _reservoir_lower(pairs, lambda side: side.convergence_steps, lambda c, v: f"{v:.0f}")
    evidence = (f"steps to reach 95% of the final validation metric, RC vs learnable (mean over seeds): "
                f"{'; '.join(parts) or 'no pairs'}; RC faster in {hits} of {total}")
    return Finding(claim, _majority(hits, total), evidence)


def _overfits_less(pairs: Sequence[Comparison]) -> Finding:
    claim = "RC overfits less (smaller train − validation gap)"
    parts, hits, total = _reservoir_lower(
        pairs, lambda side: side.gap, lambda c, v: f"{v * fmt_metric(c.learnable.metric)[0]:.2f}"
    )
    evidence = (f"final train − validation metric, RC vs learnable: {'; '.join(parts) or 'no pairs'}; "
                f"smaller for RC in {hits} of {total}")
    return Finding(claim, _majority(hits, total), evidence)


def _matches(pairs: Sequence[Comparison]) -> Finding:
    claim = "RC matches or beats learnable eigenvalues on most tasks"
    by_task: dict[str, list[bool]] = {}
    parts = []
    for c in pairs:
        a, b = c.learnable.test, c.reservoir.test
        if a.mean is None or b.mean is None:
            continue
        ok = b.mean >= a.mean - MATCH_TOLERANCE
        by_task.setdefault(c.task, []).append(ok)
        scale, _ = fmt_metric(c.learnable.metric)
        parts.append(f"{c.label}: {b.mean * scale:.2f} vs {a.mean * scale:.2f}{'' if ok else ' (worse)'}")
    matched = [t for t, oks in by_task.items() if sum(oks) * 2 > len(oks)]
    evidence = (f"test metric RC vs learnable (tolerance {MATCH_TOLERANCE * 100:.0f} pp): "
                f"{'; '.join(parts) or 'no pairs'}; RC matches or beats on {len(matched)} of {len(by_task)} "
                f"tasks ({', '.join(matched) or 'none'})")
    return Finding(claim, _majority(len(matched), len(by_task)), evidence)


def _listops_exception(pairs: Sequence[Comparison]) -> Finding:
    claim = "ListOps is the exception: learnable eigenvalues beat RC there"
    listops = [c for c in pairs if c.task == "listops" and c.learnable.test.mean is not None
               and c.reservoir.test.mean is not None]
    wins = [c for c in listops if c.learnable.test.mean > c.reservoir.test.mean + MATCH_TOLERANCE]
    parts = [f"{c.eigs}: learnable {c.learnable.test.mean * 100:.2f} vs RC {c.reservoir.test.mean * 100:.2f}"
             for c in listops]
    evidence = (f"ListOps test accuracy: {'; '.join(parts) or 'no ListOps pairs'}; learnable ahead by more "
                f"than {MATCH_TOLERANCE * 100:.0f} pp for {len(wins)} of {len(listops)} sets")
    return Finding(claim, _majority(len(wins), len(listops)), evidence)


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


def _memory_barely_extends(rows: Sequence[GroupRow], move: float | None = None) -> Finding:
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
    moved = "" if move is None else f"; eigenvalues moved by a median {100 * move:.1f}% of their distance to the unit circle"
    return Finding(claim, status, f"{'; '.join(parts)}; mean trained/initial 90%-capacity delay {mean:.2f} "
                                  f"(barely = at most {MEMORY_GROWTH}){moved}")
