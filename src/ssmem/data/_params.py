"""The parameters most tasks share, as dataclasses that the tasks' own parameter dataclasses inherit.

A task's params class lists its own fields and inherits these (their fields come first); a task whose default
differs (e.g. the split sizes of generated data) declares the field again with its own default.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CacheParams:
    """``data_seed``: the seed of the data's random draws (splits, subsets; None: a fresh draw); ``cache_dir``,
    ``cache``: where the prepared arrays are kept, and whether."""

    data_seed: int | None = 0
    cache_dir: str | None = None
    cache: bool = True


@dataclass
class SplitSizeParams:
    """``n_train``, ``n_val``, ``n_test``: the size of each split (read data: 0 keeps it whole, n > 0 a seeded
    subset of n; generated data: the number drawn)."""

    n_train: int = 0
    n_val: int = 0
    n_test: int = 0


@dataclass
class ReleaseParams:
    """``release_dir``: the folder of a published release or of the user's files (None: the task's default)."""

    release_dir: str | None = None
