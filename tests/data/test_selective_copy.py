"""The selective-copy task: on a tiny fixture the targets are exactly the marked (non-noise) tokens, in order."""

import numpy as np
import pytest

from ssmem.data import TASKS, build_task, task_info
from ssmem.data.selective_copy import SelectiveCopyParams


def test_targets_are_the_data_tokens_in_order_after_the_marker():
    params = SelectiveCopyParams(n_tokens=3, n_symbols=4, prefix=9, n_train=6, n_val=2, n_test=2)
    data = build_task("memory/selective-copy", params, seed=5)
    x, y = (t.numpy() for t in data.train.tensors)
    info = data.info
    noise, marker = info.extra["noise"], info.extra["marker"]
    assert x.shape == y.shape == (6, 13) and info == task_info("memory/selective-copy", params)
    for row_x, row_y in zip(x, y):
        scattered = [t for t in row_x[:9] if t != noise]  # read back from the input alone
        assert len(scattered) == 3 and row_x[9] == marker and (row_x[10:] == noise).all()
        assert row_y[10:].tolist() == scattered
        assert (row_y[:10] == info.ignore_index).all()
    # the positions differ between rows: the task is not a fixed-lag copy
    assert len({tuple(np.flatnonzero(r[:9] != noise)) for r in x}) > 1
    assert info.chance == 0.25 and info.vocab_size == 6 and info.seq_len == 13


def test_splits_differ_and_seeds_repeat():
    params = SelectiveCopyParams(n_tokens=2, n_symbols=3, prefix=6, n_train=20, n_val=20, n_test=20)
    a, b = build_task("memory/selective-copy", params, seed=1), build_task("memory/selective-copy", params, seed=1)
    assert (a.train.tensors[0] == b.train.tensors[0]).all()
    assert not (a.train.tensors[0] == a.val.tensors[0]).all()
    assert "memory/selective-copy" in TASKS


def test_parameters_are_checked():
    with pytest.raises(ValueError, match=r"prefix must be an integer >= n_tokens = 5"):
        SelectiveCopyParams(n_tokens=5, prefix=3)
