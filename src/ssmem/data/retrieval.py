"""Byte-level retrieval (the LRA Retrieval task): do two texts come from the same work?

From a corpus: documents are divided among the splits exactly as for :mod:`ssmem.data.text` (stratified,
never a document in two splits), cut into ``seq_len``-byte chunks, and each split's pairs are drawn from
its own chunks only: half positive (two chunks of one work, from different documents where the work has
more than one in the split), half negative (chunks of two different works), in random order.

From the AAN release (``source="aan"``): ``new_aan_pairs.{train,eval,test}.tsv``, tab-separated columns
``label, id1, id2, text1, text2`` (no quoting), each text truncated or padded to ``seq_len`` bytes.
Items are ``((x1, x2), y)``: the model encodes each text with the same tower and classifies the pair.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._cache import cached, file_fingerprint
from ._checks import check_document_chunks, check_drawn_sizes
from ._chunks import chunk_split, choose_classes, split_documents, to_bytes_row
from ._datasets import PairDataset, majority_chance
from ._errors import DataNotFoundError, MalformedDataError
from ._params import CacheParams, ReleaseParams, SplitSizeParams
from ._progress import say
from ._sources import Availability, candidate_dirs, data_seed_of, first_dir_with, register_availability, split_rng
from .corpora import corpus_available, corpus_files, load_documents
from .task import SPLITS, TaskData, TaskInfo, register_task

SOURCES = ("corpus", "aan")
AAN_FILES = {"train": "new_aan_pairs.train.tsv", "val": "new_aan_pairs.eval.tsv", "test": "new_aan_pairs.test.tsv"}


@dataclass
class RetrievalParams(SplitSizeParams, ReleaseParams, CacheParams):
    """Pairs of byte sequences, "same work?" (corpus) or "does one paper cite the other?" (AAN).

    ``n_*``: pairs per split drawn from a corpus; for the AAN release, > 0 keeps the first rows (0 = all).
    """

    source: str = "corpus"
    corpus: str = "shakespeare"
    label: str = "work"
    max_classes: int = 0
    seq_len: int = 4000
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    n_train: int = 20000
    n_val: int = 2000
    n_test: int = 2000

    def __post_init__(self) -> None:
        check_document_chunks(self, SOURCES)
        if self.source == "corpus":
            check_drawn_sizes(self, "source='corpus' (pairs are drawn)")


def make_pairs(labels: np.ndarray, documents: np.ndarray, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_pairs`` index pairs into chunks with ``labels``/``documents`` ``(n,)``: (first, second, same-class label).

    The first ``ceil(n/2)`` drawn are positive, the rest negative; the order is then shuffled.
    """
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(f"retrieval pairs need chunks of at least 2 classes, found {len(classes)}")
    members = {c: np.flatnonzero(labels == c) for c in classes}
    eligible = np.concatenate([m for m in members.values() if len(m) >= 2])
    if len(eligible) == 0:
        raise ValueError("no class has two chunks to form a positive pair")
    n_pos = (n_pairs + 1) // 2
    first, second = np.empty(n_pairs, np.int64), np.empty(n_pairs, np.int64)
    for k in range(n_pairs):
        if k < n_pos:
            i = int(rng.choice(eligible))
            same = members[labels[i]]
            other_docs = same[documents[same] != documents[i]]
            pool = other_docs if len(other_docs) else same[same != i]
        else:
            i = int(rng.integers(len(labels)))
            pool = np.flatnonzero(labels != labels[i])
        first[k], second[k] = i, int(rng.choice(pool))
    target = (np.arange(n_pairs) < n_pos).astype(np.int64)
    order = rng.permutation(n_pairs)
    return first[order], second[order], target[order]


def _aan_dir(params: RetrievalParams, data_dir: Path | None) -> Path:
    candidates = candidate_dirs(params.release_dir, data_dir, "tsv_data")
    found = first_dir_with(candidates, lambda d: all((d / f).is_file() for f in AAN_FILES.values()))
    if found is None:
        layout = "  <dir>/" + ", ".join(AAN_FILES.values()) + "  (label, id1, id2, text1, text2; tab-separated)"
        raise DataNotFoundError("AAN retrieval release", candidates, layout, "the Long Range Arena release (lra_release/tsv_data); or use source='corpus'")
    return found


def read_aan_tsv(path: Path, seq_len: int, limit: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Texts uint8 ``(2n, seq_len)`` (all first texts, then all second texts) and labels ``(n,)``."""
    csv.field_size_limit(sys.maxsize)
    firsts, seconds, labels = [], [], []
    # surrogateescape: bytes that are not UTF-8 pass through unchanged (as the IMDB reader keeps raw bytes)
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        for line, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if limit and len(labels) >= limit:
                say(f"{path.name}: read the first {limit} pairs only (n_train/n_val/n_test = 0 reads every pair)")
                break
            if len(row) != 5:
                raise MalformedDataError(path, f"line {line} has {len(row)} columns, expected 5 (label, id1, id2, text1, text2)")
            try:
                value = float(row[0])  # the release writes 0/1 or 0.0/1.0
            except ValueError:
                if line == 1:
                    continue  # a header row
                raise MalformedDataError(path, f"line {line}: label {row[0]!r} is not a number") from None
            if value not in (0.0, 1.0):
                raise MalformedDataError(path, f"line {line}: label {row[0]!r} is not 0 or 1")
            firsts.append(to_bytes_row(row[3].encode("utf-8", "surrogateescape"), seq_len))
            seconds.append(to_bytes_row(row[4].encode("utf-8", "surrogateescape"), seq_len))
            labels.append(int(value))
    if not labels:
        raise MalformedDataError(path, "no pairs")
    return np.stack(firsts + seconds), np.asarray(labels, dtype=np.int64)


def _build_arrays(params: RetrievalParams, data_seed: int, data_dir: Path | None) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    if params.source == "aan":
        root = _aan_dir(params, data_dir)
        for split, name in AAN_FILES.items():
            tokens, labels = read_aan_tsv(root / name, params.seq_len, getattr(params, f"n_{split}"))
            n = len(labels)
            arrays |= {f"{split}_x": tokens, f"{split}_y": labels, f"{split}_first": np.arange(n), f"{split}_second": n + np.arange(n), f"{split}_doc": np.arange(2 * n)}
        return arrays
    docs = load_documents(params.corpus)
    classes = choose_classes(docs, params.label, params.max_classes)
    class_of = {name: k for k, name in enumerate(classes)}
    rng = np.random.default_rng(data_seed)
    parts = split_documents(docs, classes, params.label, val_fraction=params.val_fraction, test_fraction=params.test_fraction, rng=rng)
    for split in SPLITS:
        chunks = chunk_split(docs, parts[split], class_of, params.label, params.seq_len)
        first, second, target = make_pairs(chunks.labels, chunks.documents, getattr(params, f"n_{split}"),
                                           split_rng(data_seed, split))
        arrays |= {f"{split}_x": chunks.tokens, f"{split}_y": target, f"{split}_first": first, f"{split}_second": second, f"{split}_doc": chunks.documents}
    return arrays


def retrieval_info(params: RetrievalParams) -> TaskInfo:
    """What a model needs to know, without building pairs (``chance`` unknown: None)."""
    return TaskInfo(objective="classification", seq_len=params.seq_len, d_output=2, vocab_size=256, pairs=True, extra={"pad_index": 0, "source": params.source, "corpus": params.corpus})


@register_task("lra/retrieval", RetrievalParams, "byte-level pairs: are two texts from the same work? (2 x 4000 bytes), or AAN", info=retrieval_info)
def build_retrieval(params: RetrievalParams, *, seed: int, data_dir: Path | None) -> TaskData:
    retrieval_info(params)  # validates the source
    data_seed = data_seed_of(params, seed)
    if params.source == "aan":
        root = _aan_dir(params, data_dir)
        extra = file_fingerprint(root / f for f in AAN_FILES.values())
    else:
        extra = file_fingerprint(corpus_files(params.corpus))
    arrays = cached("lra/retrieval", params, data_seed, lambda: _build_arrays(params, data_seed, data_dir), extra=extra)
    splits = {
        s: PairDataset(arrays[f"{s}_x"], arrays[f"{s}_first"], arrays[f"{s}_second"], arrays[f"{s}_y"], groups=arrays[f"{s}_doc"])
        for s in SPLITS
    }
    info = TaskInfo(
        objective="classification",
        seq_len=params.seq_len,
        d_output=2,
        vocab_size=256,
        pairs=True,
        chance=majority_chance(arrays["train_y"], arrays["test_y"]),
        extra={"pad_index": 0, "source": params.source, "corpus": params.corpus},
    )
    return TaskData(info=info, **splits)


@register_availability("lra/retrieval")
def _available(params: RetrievalParams, data_dir: Path | None) -> Availability:
    if params.source == "aan":
        try:
            return Availability(True, f"AAN at {_aan_dir(params, data_dir)}")
        except DataNotFoundError:
            return Availability(False, "AAN release (tsv_data) not found")
    return Availability(*corpus_available(params.corpus))
