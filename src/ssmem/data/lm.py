"""Byte-level language modelling: predict the next byte of real text (a causal model, per-step targets).

Documents of a corpus (see :mod:`ssmem.data.corpora`) are divided among the splits at random (a single
document - a text file - is cut into three contiguous ranges instead); each split's documents are joined
into one byte stream and cut into non-overlapping windows of ``seq_len + 1`` bytes: ``x = w[:-1]``,
``y = w[1:]``. The metric is bits per byte. ``TaskInfo.extra["baselines"]`` holds two baselines' test bits
per byte, scored on the model's own test targets: ``unigram``, the add-one smoothed byte frequencies of the
training stream, and ``ngram``, an interpolated Kneser-Ney byte n-gram model (:mod:`ssmem.data.ngram`) fitted on
the training windows (the bytes the model trains on) whose order is chosen on the validation windows; each
prediction conditions only on the bytes before it in the same window, as the model's does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._cache import cached, file_fingerprint
from ._checks import check_at_least, check_split_fractions, check_subsets
from ._chunks import subsample
from ._datasets import NextByteDataset
from ._params import CacheParams, SplitSizeParams
from ._sources import Availability, data_seed_of, register_availability, split_rng
from .corpora import corpus_available, corpus_files, load_documents
from .ngram import NGRAM_ORDERS, ngram_baseline, windows_of
from .task import SPLITS, TaskData, TaskInfo, register_task


@dataclass
class LMParams(SplitSizeParams, CacheParams):
    """Next-byte prediction on ``corpus`` (a shipped corpus, ``a+b``, a text file or a directory).

    ``n_*`` > 0 keep that many windows of a split (at random); 0 keeps all.
    """

    corpus: str = "shakespeare"
    seq_len: int = 1024
    val_fraction: float = 0.05
    test_fraction: float = 0.05

    def __post_init__(self) -> None:
        check_at_least(self, 1, "seq_len")
        check_split_fractions(self)
        check_subsets(self)


def unigram_bits_per_byte(train: np.ndarray, targets: np.ndarray) -> float:
    """Mean ``-log2 p(b)`` over ``targets`` under add-one smoothed byte frequencies of ``train`` (uint8 arrays)."""
    counts = np.bincount(train.reshape(-1), minlength=256).astype(np.float64) + 1.0
    log_p = np.log2(counts / counts.sum())
    return float(-log_p[targets.reshape(-1)].mean()) if targets.size else float("nan")


def split_streams(texts: list[bytes], *, val_fraction: float, test_fraction: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One uint8 byte stream per split, dividing whole documents (or, for a single text, contiguous ranges)."""
    if len(texts) == 1:
        data = texts[0]
        n_test, n_val = int(len(data) * test_fraction), int(len(data) * val_fraction)
        cut = len(data) - n_val - n_test
        pieces = {"train": data[:cut], "val": data[cut : cut + n_val], "test": data[cut + n_val :]}
    else:
        order = rng.permutation(len(texts))
        n_test = max(1, round(test_fraction * len(texts)))
        n_val = max(1, round(val_fraction * len(texts)))
        if n_test + n_val >= len(texts):
            raise ValueError(f"{len(texts)} documents are too few for train/val/test splits")
        index = {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}
        pieces = {s: b"".join(texts[i] for i in sorted(idx)) for s, idx in index.items()}
    return {s: np.frombuffer(pieces[s], dtype=np.uint8).copy() for s in SPLITS}


def _build_arrays(params: LMParams, data_seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(data_seed)
    texts = [d.text for d in load_documents(params.corpus)]
    streams = split_streams(texts, val_fraction=params.val_fraction, test_fraction=params.test_fraction, rng=rng)
    arrays = {}
    for split in SPLITS:
        stream = streams[split]
        n_windows = max(0, (len(stream) - 1) // params.seq_len)
        if n_windows == 0:
            raise ValueError(f"the {split} split of {params.corpus!r} has {len(stream)} bytes, fewer than seq_len + 1 = {params.seq_len + 1}")
        starts = np.arange(n_windows) * params.seq_len
        arrays[f"{split}_stream"] = stream
        arrays[f"{split}_starts"] = starts[subsample(getattr(params, f"n_{split}"), n_windows, split_rng(data_seed, split))]
    return arrays


def _targets(stream: np.ndarray, starts: np.ndarray, seq_len: int) -> np.ndarray:
    return stream[(starts[:, None] + 1 + np.arange(seq_len)[None, :])] if len(starts) else np.zeros(0, np.uint8)


def _ngram_arrays(params: LMParams, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The n-gram baseline as arrays (so that it is cached with the task's other arrays): the chosen order,
    the val and test bits per byte, and every candidate order's val bits per byte."""
    windows = {s: windows_of(arrays[f"{s}_stream"], arrays[f"{s}_starts"], params.seq_len) for s in SPLITS}
    baseline = ngram_baseline(windows["train"], windows["val"], windows["test"], NGRAM_ORDERS)
    return {
        "order": np.array(baseline.order),
        "val_bits_per_byte": np.array(baseline.val_bits_per_byte),
        "test_bits_per_byte": np.array(baseline.test_bits_per_byte),
        "orders": np.array(sorted(baseline.val_by_order)),
        "val_by_order": np.array([baseline.val_by_order[n] for n in sorted(baseline.val_by_order)]),
    }


def lm_info(params: LMParams) -> TaskInfo:
    """What a model needs to know, without reading the corpus (``chance`` unknown: None)."""
    return TaskInfo(objective="next_token", seq_len=params.seq_len, d_output=256, vocab_size=256, per_step=True, metric="bits_per_byte", extra={"corpus": params.corpus})


@register_task("lm/bytes", LMParams, "next-byte prediction on a corpus or any text file (bits per byte)", info=lm_info)
def build_lm(params: LMParams, *, seed: int, data_dir: Path | None) -> TaskData:
    data_seed = data_seed_of(params, seed)
    extra = file_fingerprint(corpus_files(params.corpus))
    arrays = cached("lm/bytes", params, data_seed, lambda: _build_arrays(params, data_seed), extra=extra)
    # its own entry (same folder, own key): a change to the baseline leaves the windows' entries valid
    ngram = cached("lm/bytes", params, data_seed, lambda: _ngram_arrays(params, arrays),
                   extra={"files": extra, "baseline": "ngram-kneser-ney", "orders": list(NGRAM_ORDERS)})
    splits = {s: NextByteDataset(arrays[f"{s}_stream"], arrays[f"{s}_starts"], params.seq_len) for s in SPLITS}
    train = arrays["train_stream"]
    baseline = {
        s: unigram_bits_per_byte(train, _targets(arrays[f"{s}_stream"], arrays[f"{s}_starts"], params.seq_len))
        for s in ("val", "test")
    }
    info = TaskInfo(
        objective="next_token",
        seq_len=params.seq_len,
        d_output=256,
        vocab_size=256,
        per_step=True,
        chance=baseline["test"],
        metric="bits_per_byte",
        extra={
            "unigram_bits_per_byte": baseline["test"],
            "unigram_bits_per_byte_val": baseline["val"],
            "ngram_bits_per_byte": float(ngram["test_bits_per_byte"]),
            "ngram_bits_per_byte_val": float(ngram["val_bits_per_byte"]),
            "ngram_order": int(ngram["order"]),
            "ngram_bits_per_byte_val_by_order": {int(n): float(v) for n, v in zip(ngram["orders"], ngram["val_by_order"])},
            "baselines": {"unigram": baseline["test"], "ngram": float(ngram["test_bits_per_byte"])},
            "corpus": params.corpus,
            "n_bytes": {s: int(len(arrays[f"{s}_stream"])) for s in SPLITS},
        },
    )
    return TaskData(info=info, **splits)


@register_availability("lm/bytes")
def _available(params: LMParams, data_dir: Path | None) -> Availability:
    return Availability(*corpus_available(params.corpus))
