"""Map-style datasets over stored arrays, shared by the real-data tasks.

Arrays stay in their compact stored dtype (uint8 pixels and bytes, int16 tokens) and are converted per item,
so a split of 100k sequences costs its stored size in memory, not 8 bytes per token.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


class TokenDataset(Dataset):
    """Token sequences with one class label each: items ``(x int64 (L,), y int64 ())``.

    ``groups`` (optional, ``(n,)``) records which source document each item came from.
    """

    def __init__(self, tokens: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None) -> None:
        if len(tokens) != len(labels):
            raise ValueError(f"{len(tokens)} sequences but {len(labels)} labels")
        self.tokens = torch.from_numpy(np.ascontiguousarray(tokens))
        self.labels = torch.from_numpy(np.ascontiguousarray(labels).astype(np.int64))
        self.groups = None if groups is None else np.asarray(groups)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tokens[i].long(), self.labels[i]


class PairDataset(Dataset):
    """Pairs of token sequences with a label: items ``((x1 (L,), x2 (L,)), y)``, all int64.

    The pairs index rows of one ``tokens`` array: ``first[i]``, ``second[i]``; ``groups`` gives each row's
    source document.
    """

    def __init__(
        self,
        tokens: np.ndarray,
        first: np.ndarray,
        second: np.ndarray,
        labels: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> None:
        if not len(first) == len(second) == len(labels):
            raise ValueError(f"pair index lengths differ: {len(first)}, {len(second)}, {len(labels)}")
        self.tokens = torch.from_numpy(np.ascontiguousarray(tokens))
        self.first = np.asarray(first, dtype=np.int64)
        self.second = np.asarray(second, dtype=np.int64)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.groups = None if groups is None else np.asarray(groups)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        return (self.tokens[self.first[i]].long(), self.tokens[self.second[i]].long()), self.labels[i]


class PixelDataset(Dataset):
    """Flattened uint8 images as real sequences: items ``(x float32 (L, C), y int64 ())``.

    ``pixels`` is ``(n, rows, cols)`` (C = ``channels`` = 1) or ``(n, rows, cols, C)``; L = rows x cols in raster
    order. ``x = (pixel / 255 - mean) / std``; the same ``mean``/``std`` (fitted on the training split, over all
    channels) serve all splits. ``permutation`` (optional, ``(L,)``) reorders the pixels of every image.
    """

    def __init__(
        self,
        pixels: np.ndarray,
        labels: np.ndarray,
        *,
        mean: float,
        std: float,
        permutation: np.ndarray | None = None,
        channels: int = 1,
    ) -> None:
        if len(pixels) != len(labels):
            raise ValueError(f"{len(pixels)} images but {len(labels)} labels")
        flat = pixels.reshape(len(pixels), -1, channels)  # (n, L, C)
        if permutation is not None:
            flat = flat[:, permutation]
        self.pixels = torch.from_numpy(np.ascontiguousarray(flat))
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.mean = float(mean)
        self.std = float(std)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = (self.pixels[i].float() / 255.0 - self.mean) / self.std
        return x, self.labels[i]


class NextByteDataset(Dataset):
    """Windows of a byte stream for next-byte prediction: items ``(x int64 (L,), y int64 (L,))``, ``y[t] = x[t+1]``.

    Window ``i`` covers ``stream[starts[i] : starts[i] + L + 1]``.
    """

    def __init__(self, stream: np.ndarray, starts: np.ndarray, seq_len: int) -> None:
        starts = np.asarray(starts, dtype=np.int64)
        if len(starts) and (starts.min() < 0 or starts.max() + seq_len + 1 > len(stream)):
            raise ValueError(f"window starts out of range for a stream of {len(stream)} bytes and L = {seq_len}")
        self.stream = torch.from_numpy(np.ascontiguousarray(stream, dtype=np.uint8))
        self.starts = starts
        self.seq_len = seq_len

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = int(self.starts[i])
        window = self.stream[s : s + self.seq_len + 1].long()
        return window[:-1], window[1:]


class ForecastDataset(Dataset):
    """Sliding windows of a normalised multivariate series: items ``(x float32 (lookback, C), y float32 (horizon*K,))``.

    ``x`` is ``series[t - lookback : t]`` (all C columns); ``y`` the next ``horizon`` steps of the K target
    columns, flattened step-major (``y[h*K + k]`` = step ``t + h``, target ``k``). ``every_ends``: the ends of
    every window of the split when ``ends`` thins them (a stride), for closed-form fits that use them all.
    """

    def __init__(self, series: np.ndarray, ends: np.ndarray, lookback: int, horizon: int, targets: np.ndarray,
                 every_ends: np.ndarray | None = None) -> None:
        self.series = torch.from_numpy(np.ascontiguousarray(series, dtype=np.float32))
        self.ends = np.asarray(ends, dtype=np.int64)
        self.lookback = lookback
        self.horizon = horizon
        self.targets = torch.from_numpy(np.asarray(targets, dtype=np.int64))
        self.every_ends = self.ends if every_ends is None else np.asarray(every_ends, dtype=np.int64)

    def every_window(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every window of the split, stacked: ``(x (n, lookback, C), y (n, horizon*K))``."""
        rows = torch.from_numpy(self.every_ends)[:, None]
        x = self.series[rows + torch.arange(-self.lookback, 0)]  # (n, L, C)
        y = self.series[rows + torch.arange(self.horizon)][..., self.targets]  # (n, H, K)
        return x, y.reshape(len(rows), -1)

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        t = int(self.ends[i])
        x = self.series[t - self.lookback : t]
        y = self.series[t : t + self.horizon][:, self.targets]
        return x, y.reshape(-1)


def pixel_stats(pixels: np.ndarray, chunk: int = 4096) -> tuple[float, float]:
    """Mean and standard deviation of ``pixels / 255`` over a uint8 array, in float64, without a float copy."""
    flat = pixels.reshape(len(pixels), -1)
    if flat.size == 0:
        return 0.0, 1.0
    total, total_sq = 0, 0
    for start in range(0, len(flat), chunk):
        block = flat[start : start + chunk].astype(np.int64)
        total += int(block.sum())
        total_sq += int((block * block).sum())
    n = flat.size
    mean = total / n
    var = max(total_sq / n - mean * mean, 0.0)
    return mean / 255.0, (var**0.5 / 255.0) or 1.0


def majority_chance(train_labels: np.ndarray, test_labels: np.ndarray) -> float | None:
    """Chance level: the test accuracy of the best constant prediction (the test split's most frequent class);
    None (unknown) for an empty test split.

    This is never below predicting the training split's majority class, so "above chance" is a safe claim.
    """
    if len(test_labels) == 0:
        return None
    return float(np.bincount(test_labels).max() / len(test_labels))
