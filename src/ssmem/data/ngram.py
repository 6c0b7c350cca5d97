"""Byte n-gram language models with interpolated Kneser-Ney smoothing: the baseline a byte-level model should beat.

The model of order ``n`` predicts byte ``w`` after the context ``h`` (the ``n - 1`` bytes before it) as

    p_n(w | h) = max(c(h w) - D_n, 0) / c(h •)  +  D_n · N1+(h •) / c(h •) · p_{n-1}(w | h')

where ``c(h •)`` sums the counts after ``h``, ``N1+(h •)`` is the number of distinct bytes seen after ``h``,
``h'`` drops the oldest byte of ``h``, and a context never seen gives ``p_{n-1}(w | h')`` unchanged. The top
order counts n-grams (``c``); the lower orders count *continuations* instead: the number of distinct bytes
``v`` seen before the m-gram ``g`` in an (m+1)-gram ``v g``, so a byte that follows only one frequent context
does not get a large backed-off probability. Below order 1 is the uniform distribution over the 256 bytes, so
every byte has a probability above zero. Each level's discount is ``D = n1 / (n1 + 2 n2)`` from its own counts
of counts (``n_k`` = how many of its m-grams have count k), or 1/2 when that level has no count of 1.
Reference: Chen & Goodman, "An empirical study of smoothing techniques for language modeling" (1999), §3.

Windows. A sequence model scored on a window ``w`` (``seq_len + 1`` bytes) predicts ``w[t]`` from ``w[:t]``
only, so the n-gram model conditions on the same bytes: the target at position ``t`` uses the model of order
``min(t + 1, n)``, whose top level counts raw (t + 1)-grams. Counts come from n-grams that lie inside the
training windows.

The order is chosen on the validation windows among :data:`NGRAM_ORDERS` (lowest bits per byte; the lower
order on a tie), so the choice is a deterministic function of the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NGRAM_ORDERS = (3, 4, 5)  # byte contexts of 2-4 bytes: past 5 the counts of a few MB of text are too sparse
_VOCAB = 256
_DEFAULT_DISCOUNT = 0.5


@dataclass(frozen=True)
class _Level:
    """One level of the model: sorted m-gram keys with their (raw or continuation) counts, per-context sums."""

    keys: np.ndarray  # int64 (K,): the m-gram's bytes in base 256, oldest byte most significant
    counts: np.ndarray  # int64 (K,)
    context_keys: np.ndarray  # int64 (C,): the (m-1)-gram contexts that occur
    context_totals: np.ndarray  # int64 (C,): c(h •)
    context_types: np.ndarray  # int64 (C,): N1+(h •)
    discount: float


@dataclass(frozen=True)
class KneserNey:
    """A fitted byte model: ``raw[m]`` counts m-grams (m = 1..order), ``continuation[m]`` (m = 1..order-1)."""

    order: int
    raw: dict[int, _Level]
    continuation: dict[int, _Level]


@dataclass(frozen=True)
class NgramBaseline:
    """An n-gram model's bits per byte on the validation and test targets, at the order chosen on validation."""

    order: int
    val_bits_per_byte: float
    test_bits_per_byte: float
    val_by_order: dict[int, float]  # every candidate order's validation bits per byte


def ngram_keys(windows: np.ndarray, m: int) -> np.ndarray:
    """Every m-gram inside each window as one int64 (oldest byte most significant).

    windows: uint8 (W, T). Returns int64 (W, T - m + 1); entry ``[i, s]`` encodes ``windows[i, s : s + m]``.
    """
    width = windows.shape[1] - m + 1
    keys = np.zeros((windows.shape[0], max(width, 0)), dtype=np.int64)
    for j in range(m):
        keys = keys * _VOCAB + windows[:, j : j + width]
    return keys


def _discount(counts: np.ndarray) -> float:
    n1, n2 = int(np.sum(counts == 1)), int(np.sum(counts == 2))
    return n1 / (n1 + 2 * n2) if n1 > 0 else _DEFAULT_DISCOUNT


def _level(keys: np.ndarray, counts: np.ndarray) -> _Level:
    """Context sums of sorted, distinct m-gram ``keys`` with their ``counts``."""
    contexts, first, types = np.unique(keys // _VOCAB, return_index=True, return_counts=True)
    totals = np.add.reduceat(counts, first) if len(counts) else np.zeros(0, np.int64)
    return _Level(keys, counts, contexts, totals.astype(np.int64), types.astype(np.int64), _discount(counts))


def fit_kneser_ney(windows: np.ndarray, order: int) -> KneserNey:
    """Count the m-grams (m = 1..order) inside the training windows (uint8 (W, T)) and their continuations."""
    if order < 1 or order > 7:
        raise ValueError(f"order must be between 1 and 7 (7 bytes fill an int64 key), got {order}")
    raw = {m: _level(*np.unique(ngram_keys(windows, m), return_counts=True)) for m in range(1, order + 1)}
    # continuation count of an m-gram g: distinct (m+1)-grams v g that end in it
    continuation = {m: _level(*np.unique(raw[m + 1].keys % _VOCAB**m, return_counts=True)) for m in range(1, order)}
    return KneserNey(order, raw, continuation)


def _lookup(sorted_keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``values`` at ``queries`` in ``sorted_keys``, 0 where a query is absent."""
    if len(sorted_keys) == 0:
        return np.zeros(queries.shape, np.int64)
    at = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
    return np.where(sorted_keys[at] == queries, values[at], 0)


def ngram_probability(model: KneserNey, keys: np.ndarray, m: int, *, top: bool = True) -> np.ndarray:
    """``p_m(w | h)`` for m-gram keys ``h w`` (int64 (N,)): level m counts raw m-grams if ``top``, else continuations."""
    if m == 0:
        return np.full(keys.shape, 1.0 / _VOCAB)
    if m > model.order or (not top and m == model.order):
        raise ValueError(f"a model of order {model.order} has no {'top' if top else 'lower'} level {m}")
    level = model.raw[m] if top else model.continuation[m]
    lower = ngram_probability(model, keys % _VOCAB ** (m - 1), m - 1, top=False)
    count = _lookup(level.keys, level.counts, keys)
    contexts = keys // _VOCAB
    total = _lookup(level.context_keys, level.context_totals, contexts)
    types = _lookup(level.context_keys, level.context_types, contexts)
    d = level.discount
    seen = total > 0
    own = np.maximum(count - d, 0.0) / np.where(seen, total, 1)
    backoff = d * types / np.where(seen, total, 1)
    return np.where(seen, own + backoff * lower, lower)


def window_bits(model: KneserNey, windows: np.ndarray, order: int) -> np.ndarray:
    """``-log2 p(w[t] | w[max(0, t-order+1) : t])`` for every target ``t = 1..T-1`` of each window.

    windows: uint8 (W, T). Returns float64 (W, T - 1) under the model of order ``order`` (≤ ``model.order``);
    targets closer than ``order - 1`` bytes to their window's start use the shorter context there is.
    """
    if order > model.order:
        raise ValueError(f"order {order} exceeds the fitted model's order {model.order}")
    n_windows, n_bytes = windows.shape
    bits = np.zeros((n_windows, n_bytes - 1))
    for t in range(1, min(order - 1, n_bytes)):  # short contexts at the window start
        keys = ngram_keys(windows[:, : t + 1], t + 1)[:, 0]
        bits[:, t - 1] = -np.log2(ngram_probability(model, keys, t + 1))
    first = max(order - 1, 1)  # the first target with a full context (t = 0 is no target)
    if n_bytes > first:
        keys = ngram_keys(windows, order)[:, first - order + 1 :]  # (W, T - first): targets t = first .. T-1
        bits[:, first - 1 :] = -np.log2(ngram_probability(model, keys.reshape(-1), order)).reshape(keys.shape)
    return bits


def windows_of(stream: np.ndarray, starts: np.ndarray, seq_len: int) -> np.ndarray:
    """The windows ``stream[s : s + seq_len + 1]`` for each start: uint8 (len(starts), seq_len + 1)."""
    return stream[np.asarray(starts, dtype=np.int64)[:, None] + np.arange(seq_len + 1)[None, :]]


def ngram_baseline(train: np.ndarray, val: np.ndarray, test: np.ndarray, orders: tuple[int, ...] = NGRAM_ORDERS) -> NgramBaseline:
    """Fit on the training windows, choose the order on the validation windows, score the test windows.

    train, val, test: uint8 (W, T) windows (T = seq_len + 1; each split may have its own W).
    """
    if not orders:
        raise ValueError("orders is empty; give at least one n-gram order, e.g. (3, 4, 5)")
    model = fit_kneser_ney(train, max(orders))
    val_by_order = {n: float(window_bits(model, val, n).mean()) for n in sorted(orders)}
    best = min(val_by_order, key=lambda n: (val_by_order[n], n))
    return NgramBaseline(best, val_by_order[best], float(window_bits(model, test, best).mean()), val_by_order)
