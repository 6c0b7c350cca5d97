import math
import re
import warnings

import numpy as np
import pytest

from ssmem.data import build_task
from ssmem.data.corpora import load_documents, non_text_fraction
from ssmem.data.lm import LMParams
from ssmem.data.ngram import NGRAM_ORDERS, ngram_baseline, windows_of


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


def test_baselines_in_extra_are_the_unigram_and_the_ngram_on_the_test_windows(tmp_path):
    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(60)).encode()
    (tmp_path / "t.txt").write_bytes(text)
    params = LMParams(corpus=str(tmp_path / "t.txt"), seq_len=32, val_fraction=0.1, test_fraction=0.1, cache_dir=str(tmp_path / "cache"))
    extra = build_task("lm/bytes", params).info.extra
    data = build_task("lm/bytes", params).info.extra  # the second build reads the n-gram entry from the cache
    assert data == extra and len(list((tmp_path / "cache" / "lm__bytes").glob("*.npz"))) == 2
    windows = {s: windows_of(np.frombuffer(b, dtype=np.uint8), np.arange((len(b) - 1) // 32) * 32, 32)
               for s, b in zip(("train", "val", "test"), _splits(text, 0.1, 0.1))}
    expected = ngram_baseline(windows["train"], windows["val"], windows["test"], NGRAM_ORDERS)
    assert extra["baselines"] == {"unigram": extra["unigram_bits_per_byte"], "ngram": expected.test_bits_per_byte}
    assert extra["ngram_order"] == expected.order and extra["ngram_bits_per_byte_val"] == expected.val_bits_per_byte
    # the repeated lines make the n-gram far better than byte frequencies
    assert extra["baselines"]["ngram"] < extra["baselines"]["unigram"] - 2


def _splits(text: bytes, val_fraction: float, test_fraction: float) -> tuple[bytes, bytes, bytes]:
    n_test, n_val = int(len(text) * test_fraction), int(len(text) * val_fraction)
    cut = len(text) - n_val - n_test
    return text[:cut], text[cut : cut + n_val], text[cut + n_val :]


def test_non_text_fraction_counts_controls_and_invalid_utf8():
    assert non_text_fraction("tab\there, newline\n, é — ok\r\n".encode()) == 0.0
    assert non_text_fraction(b"ab\x00\xff" + "é".encode()) == pytest.approx(2 / 6)  # NUL and a stray 0xff
    assert non_text_fraction(b"\xc3") == 1.0 and non_text_fraction(b"") == 0.0  # a cut multibyte character


def test_a_binary_file_given_as_text_warns_naming_it_and_text_does_not(tmp_path):
    binary = tmp_path / "weights.bin"
    binary.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.warns(UserWarning, match=r"text corpus file '.*weights\.bin' \((\d+)% non-text bytes\)") as caught:
        load_documents(str(binary))
    fraction = int(re.search(r"\((\d+)% non-text", str(caught[0].message)).group(1))
    assert fraction == round(100 * non_text_fraction(binary.read_bytes())) and fraction > 30
    (tmp_path / "c" / "w").mkdir(parents=True)
    (tmp_path / "c" / "w" / "poem.txt").write_text("Shall I compare thee to a summer’s day?\n" * 20, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_documents(str(tmp_path / "c"))
        (tmp_path / "c" / "w" / "blob.dat").write_bytes(binary.read_bytes())
    with pytest.warns(UserWarning, match=r"blob\.dat"):
        load_documents(str(tmp_path / "c"))
