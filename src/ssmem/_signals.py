"""Stopping long work cleanly: SIGTERM as Ctrl-C, and Ctrl-C deferred to the end of a training step."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass


def raise_interrupt(signum: int, frame: object) -> None:
    """A signal handler that stops the program like Ctrl-C (``KeyboardInterrupt``)."""
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """A scheduler's (or ``kill``'s) SIGTERM stops the program like Ctrl-C: writes in progress remove their
    temporary files and the work resumes next time."""
    signal.signal(signal.SIGTERM, raise_interrupt)


@dataclass
class StopRequest:
    """Set when a stop was asked for inside :func:`stop_between_steps`."""

    requested: bool = False


@contextlib.contextmanager
def stop_between_steps(enabled: bool = True) -> Iterator[StopRequest]:
    """Within the block, the first Ctrl-C (and a SIGTERM that :func:`stop_on_sigterm` turned into one) only sets
    ``requested``: the caller finishes the step in progress, saves, and raises ``KeyboardInterrupt`` itself. A
    second signal interrupts at once. Handlers are restored on exit; off the main thread, or with other
    handlers installed (the user's own), nothing changes."""
    request = StopRequest()
    ours = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: raise_interrupt}
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield request
        return

    def defer(signum: int, frame: object) -> None:
        if request.requested:
            raise KeyboardInterrupt
        request.requested = True

    previous = {sig: signal.getsignal(sig) for sig in ours}
    replaced = [sig for sig, handler in ours.items() if previous[sig] is handler]
    for sig in replaced:
        signal.signal(sig, defer)
    try:
        yield request
    finally:
        for sig in replaced:
            signal.signal(sig, previous[sig])
