"""Claims decided from paired differences: a confidence interval of the mean difference against a tolerance.

Two arms run with the same seed (and task, set, setting) form a *pair*; the claim is about the mean of the
per-pair differences d_i = arm 1 − arm 2. With n ≥ 2 pairs, the two-sided Student t interval at ``level`` is

    mean(d) ± t_{(1 + level)/2, n - 1} · std(d, ddof = 1) / √n

and the claim "the mean difference lies above (or below) ``tolerance``" is

* confirmed when the whole interval lies on the claim's side of the tolerance,
* not confirmed when the whole interval lies on the other side,
* inconclusive when the interval contains the tolerance, or when there are fewer than two pairs (one seed
  says nothing about the spread between seeds).

A claim over several pairs or tasks aggregates their verdicts by majority (:func:`majority_verdict`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
DIRECTIONS = ("above", "below")
MIN_PAIRS = 2


@dataclass(frozen=True)
class Verdict:
    """A paired claim's status, the mean difference and its confidence interval (``None`` with < 2 pairs)."""

    status: str  # confirmed | not confirmed | inconclusive
    mean: float | None
    low: float | None
    high: float | None
    n: int
    level: float = LEVEL

    @property
    def interval(self) -> tuple[float, float] | None:
        return None if self.low is None or self.high is None else (self.low, self.high)

    def fmt(self, scale: float = 1.0, digits: int = 2, unit: str = "") -> str:
        """``"-1.20 [95% CI -2.00, -0.40], n = 3"`` (the values times ``scale``)."""
        if self.mean is None:
            return "no pairs"
        if self.interval is None:
            return f"{self.mean * scale:+.{digits}f}{unit}, n = {self.n} (no interval from one pair)"
        return (f"{self.mean * scale:+.{digits}f}{unit} [{100 * self.level:.0f}% CI {self.low * scale:+.{digits}f}, "
                f"{self.high * scale:+.{digits}f}], n = {self.n}")


def paired_verdict(diffs: Iterable[float], tolerance: float, direction: str, level: float = LEVEL) -> Verdict:
    """Judge "the mean of the paired differences ``diffs`` ``(n,)`` lies ``direction`` of ``tolerance``".

    ``direction`` is ``"above"`` (the claim holds for large differences) or ``"below"``; non-finite
    differences are left out. The interval is the two-sided Student t interval at ``level``.

    >>> paired_verdict([1.0, 1.2, 0.8], tolerance=0.0, direction="above").status
    'confirmed'
    >>> paired_verdict([1.0], tolerance=0.0, direction="above").status  # one pair: no spread, no verdict
    'inconclusive'
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; valid choices: {', '.join(DIRECTIONS)}")
    if not 0 < level < 1:
        raise ValueError(f"confidence level {level!r} must lie strictly between 0 and 1")
    d = np.asarray([x for x in diffs if x is not None and np.isfinite(x)], dtype=np.float64)
    if d.size == 0:
        return Verdict("inconclusive", None, None, None, 0, level)
    mean = float(d.mean())
    if d.size < MIN_PAIRS:
        return Verdict("inconclusive", mean, None, None, int(d.size), level)
    from scipy.stats import t  # imported here: keeps `import ssmem.report` light

    half = float(t.ppf((1 + level) / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
    low, high = mean - half, mean + half
    above, below = low > tolerance, high < tolerance  # the whole interval on one side (a touch is neither)
    if direction == "below":
        above, below = below, above
    status = "confirmed" if above else "not confirmed" if below else "inconclusive"
    return Verdict(status, mean, low, high, int(d.size), level)


def majority_verdict(statuses: Sequence[str]) -> str:
    """Aggregate per-pair (or per-task) verdicts: confirmed when more than half of them are confirmed, not
    confirmed when more than half are not confirmed, else (and with none) inconclusive."""
    total = len(statuses)
    if sum(s == "confirmed" for s in statuses) * 2 > total:
        return "confirmed"
    if sum(s == "not confirmed" for s in statuses) * 2 > total:
        return "not confirmed"
    return "inconclusive"


def tally(statuses: Sequence[str]) -> str:
    """``"2 confirmed, 1 inconclusive of 3"`` (the counts a majority verdict came from)."""
    counts = [f"{sum(s == k for s in statuses)} {k}" for k in ("confirmed", "not confirmed", "inconclusive")
              if any(s == k for s in statuses)]
    return f"{', '.join(counts) or 'none'} of {len(statuses)}"


__all__ = ["DIRECTIONS", "LEVEL", "MIN_PAIRS", "Verdict", "majority_verdict", "paired_verdict", "tally"]
