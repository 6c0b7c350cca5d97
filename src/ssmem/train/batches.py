"""Data order: which examples go into which batch, as a pure function of (seed, epoch, position).

The training order of epoch ``e`` is a permutation drawn from a generator seeded with ``(seed, e)`` alone, so
a resumed run only needs the epoch and the batch index to continue with exactly the batches an
uninterrupted run would have seen. Under data parallelism each global batch is cut into ``world_size``
equal contiguous slices, one per rank: every rank's gradient is then a piece of the same global batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


def epoch_permutation(n: int, *, seed: int, epoch: int) -> torch.Tensor:
    """The order of the ``n`` training examples in ``epoch``: ``(n,)`` int64, depends on (seed, epoch) only."""
    generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch) + 0x5EED)
    return torch.randperm(n, generator=generator)


def steps_per_epoch(n: int, batch_size: int, *, drop_last: bool) -> int:
    """Optimiser steps in one pass over ``n`` examples with global batches of ``batch_size``."""
    steps = n // batch_size if drop_last else -(-n // batch_size)
    if steps == 0:
        raise ValueError(f"the training split has {n} examples, fewer than one batch of {batch_size} (train.batch_size)")
    return steps


def train_batches(
    n: int, batch_size: int, *, seed: int, epoch: int, start: int, rank: int, world_size: int, drop_last: bool
) -> list[list[int]]:
    """This rank's index lists for the global batches ``start, start+1, ...`` of ``epoch``."""
    if batch_size % world_size:
        raise ValueError(f"train.batch_size ({batch_size}) must be divisible by the number of processes ({world_size})")
    order = epoch_permutation(n, seed=seed, epoch=epoch).tolist()
    total = steps_per_epoch(n, batch_size, drop_last=drop_last or world_size > 1)
    out = []
    for b in range(start, total):
        batch = order[b * batch_size : (b + 1) * batch_size]
        per_rank = len(batch) // world_size
        out.append(batch[rank * per_rank : (rank + 1) * per_rank])
    return out


def eval_batches(n: int, batch_size: int, *, rank: int, world_size: int, max_batches: int | None) -> list[list[int]]:
    """In-order evaluation batches; rank r takes global batches r, r + world_size, ... (sums are all-reduced)."""
    batches = [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]
    if max_batches is not None:
        batches = batches[:max_batches]
    return batches[rank::world_size]


class _BatchPlan(Sampler):
    """The index lists of the next pass over a split (set before each pass)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class SplitLoader:
    """One DataLoader for a split, reused for every pass: ``split_loader(batches)`` iterates the given index lists.

    Workers (``num_workers > 0``) persist across passes instead of starting again each epoch and evaluation, and
    batches go to pinned memory when the run's device is a GPU (so that ``to_device``'s non-blocking copies
    overlap with compute). Its own generator keeps it from drawing on the global RNG.
    """

    def __init__(self, dataset: Dataset, *, num_workers: int, device: torch.device) -> None:
        self.dataset = dataset
        self._plan = _BatchPlan()
        self._loader = DataLoader(
            dataset,
            batch_sampler=self._plan,
            num_workers=num_workers,
            pin_memory=torch.device(device).type == "cuda",
            persistent_workers=num_workers > 0,
            generator=torch.Generator().manual_seed(0),
        )

    def __call__(self, batches: Sequence[list[int]]) -> Iterator[Any]:
        self._plan.batches = [list(b) for b in batches]
        self._loader.generator.manual_seed(0)  # the same worker seeds on every pass, resumed or not
        return iter(self._loader)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move a (nested tuple/list of) tensor batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    return batch
