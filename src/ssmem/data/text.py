"""Byte-level document classification (the LRA Text task): which work does a chunk of text come from?

From a corpus (see :mod:`ssmem.data.corpora`): every document is cut into ``seq_len``-byte chunks
(NUL-padded), the class is the document's work (or its group), and documents - never chunks - are divided
among the splits, stratified by class, so no document has chunks in two splits.

From the IMDB release (``source="imdb"``, the data of LRA Text): ``aclImdb/{train,test}/{pos,neg}/*.txt``,
label 1 = positive; each review is truncated or padded to ``seq_len`` bytes; ``n_val`` reviews (0 = 10%)
are held out of the training files for validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._cache import cached, file_fingerprint
from ._checks import check_document_chunks
from ._chunks import chunk_split, choose_classes, split_documents, subsample, to_bytes_row
from ._datasets import TokenDataset, majority_chance
from ._errors import DataNotFoundError, MalformedDataError
from ._params import CacheParams, ReleaseParams, SplitSizeParams
from ._sources import Availability, candidate_dirs, data_seed_of, first_dir_with, register_availability, split_rng
from .corpora import corpus_available, corpus_files, load_documents
from .task import SPLITS, TaskData, TaskInfo, register_task

SOURCES = ("corpus", "imdb")


@dataclass
class TextParams(SplitSizeParams, ReleaseParams, CacheParams):
    """Byte-level classification: the source, the classes and the chunk length.

    ``source``: "corpus" (``corpus`` names a shipped corpus, ``a+b``, a file or a directory) or "imdb"
    (``release_dir``, else ``<data_dir>/aclImdb``, else ``$SSMEM_DATA/aclImdb``). ``label``: "work" or
    "group"; ``max_classes`` > 0 keeps the classes with the most text. ``n_*`` > 0 subsample a split.
    """

    source: str = "corpus"
    corpus: str = "shakespeare"
    label: str = "work"
    max_classes: int = 0
    seq_len: int = 4096
    val_fraction: float = 0.1
    test_fraction: float = 0.1

    def __post_init__(self) -> None:
        check_document_chunks(self, SOURCES)


_IMDB_LAYOUT = "  <dir>/train/pos/*.txt, train/neg/*.txt, test/pos/*.txt, test/neg/*.txt"
_IMDB_OBTAIN = "the Large Movie Review Dataset v1.0 (aclImdb_v1.tar.gz) unpacked; or use source='corpus'"


def _imdb_dir(params: TextParams, data_dir: Path | None) -> Path:
    candidates = candidate_dirs(params.release_dir, data_dir, "aclImdb")
    found = first_dir_with(candidates, lambda d: all((d / s / c).is_dir() for s in ("train", "test") for c in ("pos", "neg")))
    if found is None:
        raise DataNotFoundError("IMDB reviews", candidates, _IMDB_LAYOUT, _IMDB_OBTAIN)
    return found


def read_imdb_split(folder: Path, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Reviews of one split folder (``pos``/``neg`` subfolders): uint8 ``(n, seq_len)`` and labels ``(n,)``."""
    rows, labels = [], []
    for label, sub in ((0, "neg"), (1, "pos")):
        files = sorted(f for f in (folder / sub).glob("*.txt") if f.is_file())
        if not files:  # a split with one class only would train or score a one-sided task
            raise MalformedDataError(folder / sub, "no reviews (*.txt); each split needs pos/ and neg/ reviews")
        for file in files:
            text = file.read_bytes()
            if not text.strip():
                raise MalformedDataError(file, "an empty review")
            rows.append(to_bytes_row(text, seq_len))
            labels.append(label)
    return np.stack(rows), np.asarray(labels, dtype=np.int64)


def _build_imdb(params: TextParams, data_seed: int, data_dir: Path | None) -> dict[str, np.ndarray]:
    root = _imdb_dir(params, data_dir)
    train_x, train_y = read_imdb_split(root / "train", params.seq_len)
    test_x, test_y = read_imdb_split(root / "test", params.seq_len)
    rng = np.random.default_rng(data_seed)
    order = rng.permutation(len(train_y))
    n_val = params.n_val if params.n_val > 0 else len(train_y) // 10
    if n_val >= len(train_y):
        raise ValueError(f"n_val = {n_val} leaves no training reviews: {root / 'train'} holds {len(train_y)}")
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    train = train[subsample(params.n_train, len(train), split_rng(data_seed, "train"))]
    test = subsample(params.n_test, len(test_y), split_rng(data_seed, "test"))
    return {
        "train_x": train_x[train], "train_y": train_y[train], "train_doc": train,
        "val_x": train_x[val], "val_y": train_y[val], "val_doc": val,
        "test_x": test_x[test], "test_y": test_y[test], "test_doc": len(train_y) + test,
        "classes": np.array(["negative", "positive"]),
    }  # fmt: skip


def _build_corpus(params: TextParams, data_seed: int) -> dict[str, np.ndarray]:
    docs = load_documents(params.corpus)
    classes = choose_classes(docs, params.label, params.max_classes)
    class_of = {name: k for k, name in enumerate(classes)}
    rng = np.random.default_rng(data_seed)
    parts = split_documents(docs, classes, params.label, val_fraction=params.val_fraction, test_fraction=params.test_fraction, rng=rng)
    arrays: dict[str, np.ndarray] = {"classes": np.array(classes)}
    for split in SPLITS:
        chunks = chunk_split(docs, parts[split], class_of, params.label, params.seq_len)
        keep = subsample(getattr(params, f"n_{split}"), len(chunks.labels), split_rng(data_seed, split))
        arrays[f"{split}_x"], arrays[f"{split}_y"], arrays[f"{split}_doc"] = chunks.tokens[keep], chunks.labels[keep], chunks.documents[keep]
    return arrays


def text_info(params: TextParams) -> TaskInfo:
    """What a model needs to know, without building chunks (a corpus is listed to count its classes)."""
    classes = ["negative", "positive"] if params.source == "imdb" else choose_classes(load_documents(params.corpus), params.label, params.max_classes)
    return TaskInfo(objective="classification", seq_len=params.seq_len, d_output=len(classes), vocab_size=256, extra={"classes": classes, "pad_index": 0, "source": params.source, "corpus": params.corpus})


@register_task("lra/text", TextParams, "byte-level classification of documents by their source work (L = 4096), or IMDB", info=text_info)
def build_text(params: TextParams, *, seed: int, data_dir: Path | None) -> TaskData:
    data_seed = data_seed_of(params, seed)
    if params.source == "imdb":
        root = _imdb_dir(params, data_dir)
        extra = file_fingerprint(sorted((root / s / c) for s in ("train", "test") for c in ("pos", "neg")))
        arrays = cached("lra/text", params, data_seed, lambda: _build_imdb(params, data_seed, data_dir), extra=extra)
    else:
        extra = file_fingerprint(corpus_files(params.corpus))
        arrays = cached("lra/text", params, data_seed, lambda: _build_corpus(params, data_seed), extra=extra)
    classes = [str(c) for c in arrays["classes"]]
    splits = {s: TokenDataset(arrays[f"{s}_x"], arrays[f"{s}_y"], groups=arrays[f"{s}_doc"]) for s in SPLITS}
    info = TaskInfo(
        objective="classification",
        seq_len=params.seq_len,
        d_output=len(classes),
        vocab_size=256,
        chance=majority_chance(arrays["train_y"], arrays["test_y"]),
        extra={"classes": classes, "pad_index": 0, "source": params.source, "corpus": params.corpus},
    )
    return TaskData(info=info, **splits)


@register_availability("lra/text")
def _available(params: TextParams, data_dir: Path | None) -> Availability:
    if params.source == "imdb":
        try:
            return Availability(True, f"IMDB at {_imdb_dir(params, data_dir)}")
        except DataNotFoundError:
            return Availability(False, "IMDB release (aclImdb) not found")
    return Availability(*corpus_available(params.corpus))
