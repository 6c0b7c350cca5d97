"""Selective copy (Gu & Dao 2023, §4.1.1): K data tokens at random positions among noise tokens, then a recall
marker, then K steps during which the model outputs the K data tokens in their order.

Unlike ``memory/copy`` (symbols at fixed positions, a fixed recall distance), where the tokens sit changes from
sequence to sequence, so a time-invariant filter cannot keep them at fixed lags: the model has to select what to
store by content, which is what an input-dependent (selective) transition is for.

Tokens: data symbols 0..S-1, noise S, recall marker S+1. A sequence of length L = prefix + 1 + K:

    positions 0..prefix-1   noise, with the K data tokens at K distinct positions drawn uniformly (sorted)
    position prefix         the marker
    positions prefix+1..    noise; the targets there are the K data tokens in order (elsewhere ``ignore_index``)

Chance accuracy is 1/S.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ._checks import SPLIT_SIZES, check_at_least
from .task import SPLITS, TaskData, TaskInfo, register_task


@dataclass
class SelectiveCopyParams:
    n_tokens: int = 4  # K, the data tokens to copy
    n_symbols: int = 8  # S, the alphabet of data tokens
    prefix: int = 64  # steps holding the K data tokens among noise (before the marker)
    n_train: int = 4096
    n_val: int = 512
    n_test: int = 512

    def __post_init__(self) -> None:
        check_at_least(self, 1, "n_tokens", *SPLIT_SIZES)
        check_at_least(self, 2, "n_symbols")
        if not isinstance(self.prefix, int) or self.prefix < self.n_tokens:
            raise ValueError(f"prefix must be an integer >= n_tokens = {self.n_tokens} (room for the data tokens), "
                             f"got {self.prefix!r}")


def selective_copy_sequences(
    n: int, n_tokens: int, n_symbols: int, prefix: int, *, rng: np.random.Generator, ignore_index: int = -100
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(n, prefix + 1 + K)`` int64 tokens; targets of the same shape (the data tokens in order on the
    last K steps, ``ignore_index`` elsewhere)."""
    noise, marker = n_symbols, n_symbols + 1
    length = prefix + 1 + n_tokens
    symbols = rng.integers(0, n_symbols, size=(n, n_tokens))
    # K distinct positions per row: the K smallest of prefix uniform keys, in ascending order
    positions = np.sort(np.argsort(rng.random((n, prefix)), axis=1)[:, :n_tokens], axis=1)
    x = np.full((n, length), noise, dtype=np.int64)
    np.put_along_axis(x, positions, symbols, axis=1)
    x[:, prefix] = marker
    y = np.full((n, length), ignore_index, dtype=np.int64)
    y[:, prefix + 1 :] = symbols
    return torch.from_numpy(x), torch.from_numpy(y)


def selective_copy_info(p: SelectiveCopyParams) -> TaskInfo:
    return TaskInfo(
        objective="classification",
        seq_len=p.prefix + 1 + p.n_tokens,
        d_output=p.n_symbols,
        vocab_size=p.n_symbols + 2,
        per_step=True,
        chance=1.0 / p.n_symbols,
        metric="accuracy",
        extra={"noise": p.n_symbols, "marker": p.n_symbols + 1, "prefix": p.prefix},
    )


def _split_rng(seed: int, split: str) -> np.random.Generator:
    """An independent generator per (seed, split)."""
    return np.random.default_rng([int(seed), SPLITS.index(split), 0x5343])


@register_task("memory/selective-copy", SelectiveCopyParams,
               "copy K data tokens scattered among noise tokens, in order, after a marker", info=selective_copy_info)
def build_selective_copy(params: SelectiveCopyParams, *, seed: int, data_dir: Path | None = None) -> TaskData:
    p = params
    info = selective_copy_info(p)
    sets = {}
    for split, n in zip(SPLITS, (p.n_train, p.n_val, p.n_test)):
        x, y = selective_copy_sequences(n, p.n_tokens, p.n_symbols, p.prefix, rng=_split_rng(seed, split),
                                        ignore_index=info.ignore_index)
        sets[split] = TensorDataset(x, y)
    return TaskData(info=info, **sets)


__all__ = ["SelectiveCopyParams", "build_selective_copy", "selective_copy_info", "selective_copy_sequences"]
