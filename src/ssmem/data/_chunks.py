"""Byte chunks of documents and document-level splits (no document ever spans two splits)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .corpora import Document

PAD_BYTE = 0  # pads short chunks; text never contains NUL
LABELS = ("work", "group")  # the document field that is the class


def to_bytes_row(text: bytes, seq_len: int) -> np.ndarray:
    """``text`` truncated or NUL-padded to ``seq_len``: uint8 ``(seq_len,)``."""
    row = np.full(seq_len, PAD_BYTE, dtype=np.uint8)
    data = np.frombuffer(text[:seq_len], dtype=np.uint8)
    row[: len(data)] = data
    return row


def chunk_document(text: bytes, seq_len: int, min_fill: float = 0.25) -> list[bytes]:
    """Consecutive ``seq_len``-byte pieces of ``text``; a shorter last piece is kept if ≥ ``min_fill`` full."""
    pieces = [text[i : i + seq_len] for i in range(0, len(text), seq_len)]
    if pieces and len(pieces[-1]) < seq_len and (len(pieces[-1]) < min_fill * seq_len and len(pieces) > 1):
        pieces.pop()
    return pieces


def split_documents(
    docs: list[Document], classes: list[str], label: str, *, val_fraction: float, test_fraction: float, rng: np.random.Generator
) -> dict[str, list[int]]:
    """Indices of ``docs`` per split, stratified by class: each class keeps ≥ 1 document in every split.

    ``label`` is "work" or "group" (the document field that is the class). Classes with fewer than three
    documents cannot be split this way and raise.
    """
    out: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for name in classes:
        members = [i for i, d in enumerate(docs) if getattr(d, label) == name]
        if len(members) < 3:
            raise ValueError(f"class {name!r} has {len(members)} document(s); splitting by document needs at least 3")
        members = [members[i] for i in rng.permutation(len(members))]
        n_test = min(max(1, round(test_fraction * len(members))), len(members) - 2)
        n_val = min(max(1, round(val_fraction * len(members))), len(members) - 1 - n_test)
        out["test"] += members[:n_test]
        out["val"] += members[n_test : n_test + n_val]
        out["train"] += members[n_test + n_val :]
    return {k: sorted(v) for k, v in out.items()}


@dataclass
class ChunkSet:
    """Chunks of one split: bytes uint8 ``(n, L)``, class ids ``(n,)``, document index ``(n,)``."""

    tokens: np.ndarray
    labels: np.ndarray
    documents: np.ndarray


def chunk_split(docs: list[Document], indices: list[int], class_of: dict[str, int], label: str, seq_len: int) -> ChunkSet:
    """All chunks of the documents ``indices``."""
    rows, labels, owners = [], [], []
    for i in indices:
        for piece in chunk_document(docs[i].text, seq_len):
            rows.append(to_bytes_row(piece, seq_len))
            labels.append(class_of[getattr(docs[i], label)])
            owners.append(i)
    tokens = np.stack(rows) if rows else np.zeros((0, seq_len), np.uint8)
    return ChunkSet(tokens, np.asarray(labels, dtype=np.int64), np.asarray(owners, dtype=np.int64))


def choose_classes(docs: list[Document], label: str, max_classes: int) -> list[str]:
    """The class names: all values of ``label``, or the ``max_classes`` with the most bytes (ties by name)."""
    if label not in LABELS:
        raise ValueError(f"label {label!r} is not one of: {', '.join(LABELS)}")
    sizes: dict[str, int] = {}
    for d in docs:
        sizes[getattr(d, label)] = sizes.get(getattr(d, label), 0) + len(d.text)
    ranked = sorted(sizes, key=lambda name: (-sizes[name], name))
    chosen = ranked[:max_classes] if max_classes > 0 else ranked
    return sorted(chosen)


def subsample(n_keep: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n_keep`` sorted indices out of ``n`` at random (all if ``n_keep`` is 0 or ≥ n)."""
    if n_keep <= 0 or n_keep >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=n_keep, replace=False))
