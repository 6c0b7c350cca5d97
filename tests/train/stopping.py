"""A callback that interrupts training after a given step (what a kill or Ctrl-C does to a run, for resume tests)."""

from ssmem.train import Callback


class Stop(Exception):
    """Raised by :class:`StopAt`."""


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step(self, ctx):
        if ctx.step == self.step:
            raise Stop
