import math

import pytest

from ssmem.data import build_task
from ssmem.data.lm import LMParams


def test_windows_are_shifted_streams_and_unigram_baseline_is_exact(tmp_path):
    text = ("the quick brown fox jumps over the lazy dog. " * 50).encode()
    (tmp_path / "t.txt").write_bytes(text)
    data = build_task("lm/bytes", LMParams(corpus=str(tmp_path / "t.txt"), seq_len=16, val_fraction=0.1, test_fraction=0.1))
    info = data.info
    assert info.per_step and info.objective == "next_token" and info.vocab_size == 256 and info.metric == "bits_per_byte"
    n = len(text)
    n_test, n_val = int(n * 0.1), int(n * 0.1)
    train, test = text[: n - n_val - n_test], text[n - n_test :]
    # windows tile each split's stream: y is x shifted by one byte
    x, y = data.test[1]
    assert bytes(x.tolist()) == test[16:32] and bytes(y.tolist()) == test[17:33]
    assert len(data.test) == (len(test) - 1) // 16
    # add-one unigram model of the training bytes, scored on every test target byte
    counts = {b: train.count(bytes([b])) + 1 for b in range(256)}
    total = sum(counts.values())
    targets = b"".join(bytes(data.test[i][1].tolist()) for i in range(len(data.test)))
    expected = -sum(math.log2(counts[b] / total) for b in targets) / len(targets)
    assert info.extra["unigram_bits_per_byte"] == pytest.approx(expected, rel=1e-12)
    assert info.chance == info.extra["unigram_bits_per_byte"]


def test_documents_are_not_split_across_streams(tmp_path):
    root = tmp_path / "c"
    for k in range(20):
        (root / "w").mkdir(parents=True, exist_ok=True)
        (root / "w" / f"{k:02d}.txt").write_text(f"[doc{k:02d}]" + "z" * 100)
    data = build_task("lm/bytes", LMParams(corpus=str(root), seq_len=8, val_fraction=0.1, test_fraction=0.1))
    streams = {s: bytes(getattr(data, s).stream.numpy()) for s in ("train", "val", "test")}
    for k in range(20):
        marker = f"[doc{k:02d}]".encode()
        assert sum(marker in s for s in streams.values()) == 1
    assert sum(s.count(b"[doc") for s in streams.values()) == 20
    assert len(streams["test"]) == len(streams["val"]) == 2 * 107
