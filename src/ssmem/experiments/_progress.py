"""Progress of an experiment's training loops: a transient bar per fit on stderr, while progress is on.

:func:`run_experiment` turns it on for one experiment (``with fit_progress(name, enabled)``); the shared
training loop iterates over :func:`fit_steps`, so every experiment shows its fits without knowing about bars.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class _FitBars:
    """Numbers the fits of one experiment and makes a bar for each."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def steps(self, total: int) -> Iterable[int]:
        from tqdm import tqdm

        self.count += 1
        return tqdm(range(total), desc=f"{self.name}: fit {self.count}", unit="step", leave=False, dynamic_ncols=True,
                    disable=None)


_ACTIVE: contextvars.ContextVar[_FitBars | None] = contextvars.ContextVar("ssmem_fit_progress", default=None)


@contextmanager
def fit_progress(name: str, enabled: bool) -> Iterator[None]:
    """Show a bar for every fit run inside the block (labelled ``name: fit k``) when ``enabled``."""
    token = _ACTIVE.set(_FitBars(name) if enabled else None)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def fit_steps(total: int) -> Iterable[int]:
    """``range(total)``, drawn as a bar while :func:`fit_progress` is on."""
    bars = _ACTIVE.get()
    return range(total) if bars is None else bars.steps(total)
