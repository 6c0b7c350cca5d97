"""Progress while a data set is built: off in the library, on where a command line asks for it.

``with data_progress(True):`` (``ssmem train``, ``ssmem data --prepare``) makes the slow builders report: the
cache says when it builds (and where it stores) a data set, and the generators draw a bar over their items.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("ssmem_data_progress", default=False)


@contextmanager
def data_progress(enabled: bool) -> Iterator[None]:
    """Report the data building done inside the block when ``enabled``."""
    token = _ENABLED.set(bool(enabled))
    try:
        yield
    finally:
        _ENABLED.reset(token)


def say(text: str) -> None:
    """One line on stderr, when progress is on."""
    if _ENABLED.get():
        print(text, file=sys.stderr, flush=True)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def item_bar(total: int, desc: str, unit: str) -> Any:
    """A bar over ``total`` items, advanced with ``update(n)`` (a do-nothing stand-in when progress is off)."""
    if not _ENABLED.get():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True, disable=None)
