"""Synthetic long-memory tasks: delay, copy and adding (generated, seeded, any length).

* ``memory/delay``: iid input u_t ~ N(0, 1) (or uniform with unit variance); per-step targets u_{t-τ} for
  each delay τ in ``delays`` (one output per delay). With a linear readout of a linear SSM the best
  achievable R² at delay τ is exactly MF(τ) (PAPER.md §5), so this task measures memory directly. Steps
  t < τ have no defined target and are NaN (not counted).
* ``memory/copy``: K symbols from an alphabet of ``n_symbols``, then ``gap`` blank steps whose last one is a
  recall marker, then K blank steps during which the model must output the K symbols in order. Only those
  last K steps count (the others are ``ignore_index``). The distance between a symbol and its recall is
  K + gap steps.
* ``memory/adding``: two input channels, values uniform in [0, 1] and a marker channel with exactly two
  ones (one in each half of the sequence); the target is the sum of the two marked values. Predicting the
  mean (1) gives MSE 1/6 ≈ 0.167 (R² = 0).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ._checks import SPLIT_SIZES, check_at_least, check_choice
from .task import SPLITS, TaskData, TaskInfo, register_task

DISTRIBUTIONS = ("gaussian", "uniform")


def _split_rng(seed: int, split: str) -> np.random.Generator:
    """An independent generator per (seed, split): the splits never share samples."""
    return np.random.default_rng([int(seed), SPLITS.index(split), 0x5353])


# ----------------------------------------------------------------------------------------------- delay


@dataclass
class DelayParams:
    seq_len: int = 256
    delays: tuple[int, ...] = (16,)
    n_train: int = 4096
    n_val: int = 512
    n_test: int = 512
    distribution: str = "gaussian"  # "gaussian" (N(0, 1)) or "uniform" (U(-√3, √3), unit variance)

    def __post_init__(self) -> None:
        check_at_least(self, 1, "seq_len", *SPLIT_SIZES)
        if isinstance(self.delays, (str, bytes)) or not isinstance(self.delays, Iterable):
            raise ValueError(f"delays must be a list of delays, got {self.delays!r}")
        self.delays = tuple(self.delays)
        if not self.delays:
            raise ValueError("delays must name at least one delay")
        if not all(isinstance(tau, numbers.Integral) and 0 <= tau < self.seq_len for tau in self.delays):
            raise ValueError(f"every delay must lie in [0, seq_len) = [0, {self.seq_len}) and be an integer, got {list(self.delays)}")
        check_choice(self, "distribution", DISTRIBUTIONS)


def delay_sequences(
    n: int, seq_len: int, delays: tuple[int, ...], *, distribution: str, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` delay sequences: inputs ``(n, L, 1)`` float32, targets ``(n, L, len(delays))`` (NaN for t < τ)."""
    if distribution == "gaussian":
        u = rng.standard_normal((n, seq_len))
    elif distribution == "uniform":
        u = rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), size=(n, seq_len))
    else:
        raise ValueError(f"unknown distribution {distribution!r}; valid choices: {', '.join(DISTRIBUTIONS)}")
    y = np.full((n, seq_len, len(delays)), np.nan)
    for j, tau in enumerate(delays):
        y[:, tau:, j] = u[:, : seq_len - tau]  # y_t = u_{t - tau}
    return torch.from_numpy(u[..., None].astype(np.float32)), torch.from_numpy(y.astype(np.float32))


def delay_info(p: DelayParams) -> TaskInfo:
    return TaskInfo(
        objective="regression",
        seq_len=p.seq_len,
        d_output=len(p.delays),
        d_input=1,
        per_step=True,
        chance=0.0,
        metric="r2",
        extra={"delays": list(p.delays)},
    )


@register_task("memory/delay", DelayParams, "regress u[t - tau] from iid input (one output per delay)", info=delay_info)
def build_delay(params: DelayParams, *, seed: int, data_dir: Path | None = None) -> TaskData:
    p = params
    sets = {}
    for split, n in zip(SPLITS, (p.n_train, p.n_val, p.n_test)):
        x, y = delay_sequences(n, p.seq_len, tuple(p.delays), distribution=p.distribution, rng=_split_rng(seed, split))
        sets[split] = TensorDataset(x, y)
    return TaskData(info=delay_info(p), **sets)


# ----------------------------------------------------------------------------------------------- copy


@dataclass
class CopyParams:
    n_tokens: int = 10  # K, the symbols to remember
    n_symbols: int = 8  # alphabet size
    gap: int = 100  # blank steps between the symbols and the recall (the last one is the marker)
    n_train: int = 4096
    n_val: int = 512
    n_test: int = 512

    def __post_init__(self) -> None:
        check_at_least(self, 1, "n_tokens", "gap", *SPLIT_SIZES)
        check_at_least(self, 2, "n_symbols")


def copy_sequences(
    n: int, n_tokens: int, n_symbols: int, gap: int, *, rng: np.random.Generator, ignore_index: int = -100
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(n, 2K + gap)`` int64 tokens (symbols 0..S-1, blank S, marker S+1); targets ``(n, 2K + gap)``."""
    blank, marker = n_symbols, n_symbols + 1
    length = 2 * n_tokens + gap
    symbols = rng.integers(0, n_symbols, size=(n, n_tokens))
    x = np.full((n, length), blank, dtype=np.int64)
    x[:, :n_tokens] = symbols
    x[:, n_tokens + gap - 1] = marker
    y = np.full((n, length), ignore_index, dtype=np.int64)
    y[:, n_tokens + gap :] = symbols
    return torch.from_numpy(x), torch.from_numpy(y)


def copy_info(p: CopyParams) -> TaskInfo:
    return TaskInfo(
        objective="classification",
        seq_len=2 * p.n_tokens + p.gap,
        d_output=p.n_symbols,
        vocab_size=p.n_symbols + 2,
        per_step=True,
        chance=1.0 / p.n_symbols,
        metric="accuracy",
        extra={"recall_distance": p.n_tokens + p.gap, "blank": p.n_symbols, "marker": p.n_symbols + 1},
    )


@register_task("memory/copy", CopyParams, "reproduce a token sequence after a blank gap", info=copy_info)
def build_copy(params: CopyParams, *, seed: int, data_dir: Path | None = None) -> TaskData:
    p = params
    info = copy_info(p)
    sets = {}
    for split, n in zip(SPLITS, (p.n_train, p.n_val, p.n_test)):
        x, y = copy_sequences(n, p.n_tokens, p.n_symbols, p.gap, rng=_split_rng(seed, split), ignore_index=info.ignore_index)
        sets[split] = TensorDataset(x, y)
    return TaskData(info=info, **sets)


# ----------------------------------------------------------------------------------------------- adding


@dataclass
class AddingParams:
    seq_len: int = 200
    n_train: int = 4096
    n_val: int = 512
    n_test: int = 512

    def __post_init__(self) -> None:
        check_at_least(self, 1, *SPLIT_SIZES)
        check_at_least(self, 2, "seq_len")


def adding_sequences(n: int, seq_len: int, *, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(n, L, 2)`` float32 (value, marker); targets ``(n, 1)``: the sum of the two marked values."""
    half = seq_len // 2
    values = rng.uniform(0.0, 1.0, size=(n, seq_len))
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, seq_len, size=n)
    markers = np.zeros((n, seq_len))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1)
    y = (values[rows, first] + values[rows, second])[:, None]
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))


def adding_info(p: AddingParams) -> TaskInfo:
    return TaskInfo(
        objective="regression",
        seq_len=p.seq_len,
        d_output=1,
        d_input=2,
        chance=0.0,
        metric="r2",
        extra={"baseline_mse": 1.0 / 6.0},
    )


@register_task("memory/adding", AddingParams, "sum the two marked values of a long sequence", info=adding_info)
def build_adding(params: AddingParams, *, seed: int, data_dir: Path | None = None) -> TaskData:
    p = params
    sets = {}
    for split, n in zip(SPLITS, (p.n_train, p.n_val, p.n_test)):
        sets[split] = TensorDataset(*adding_sequences(n, p.seq_len, rng=_split_rng(seed, split)))
    return TaskData(info=adding_info(p), **sets)
