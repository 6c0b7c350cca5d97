"""The synthetic long-memory tasks: targets computed independently, seeds, splits and shapes."""

import numpy as np
import pytest
import torch

from ssmem.data import TASKS, build_task, task_info
from ssmem.data.memory_tasks import AddingParams, CopyParams, DelayParams


def test_memory_tasks_are_registered_with_info():
    for name in ("memory/delay", "memory/copy", "memory/adding"):
        assert name in TASKS
        assert TASKS.get(name).info is not None


def test_delay_targets_are_the_input_shifted_and_nan_before_the_delay():
    params = DelayParams(seq_len=50, delays=(0, 3, 7), n_train=5, n_val=2, n_test=2)
    data = build_task("memory/delay", params, seed=3)
    x, y = data.train.tensors  # (n, L, 1), (n, L, 3)
    assert x.shape == (5, 50, 1) and y.shape == (5, 50, 3)
    u = x[..., 0].numpy()
    for j, tau in enumerate((0, 3, 7)):
        assert np.isnan(y[:, :tau, j].numpy()).all()
        for t in range(tau, 50):
            np.testing.assert_array_equal(y[:, t, j].numpy(), u[:, t - tau])
    assert data.info == task_info("memory/delay", params)
    assert data.info.d_output == 3 and data.info.per_step and data.info.metric == "r2"


def test_delay_input_statistics_are_zero_mean_unit_variance():
    for distribution in ("gaussian", "uniform"):
        params = DelayParams(seq_len=1000, n_train=200, n_val=1, n_test=1, distribution=distribution)
        u = build_task("memory/delay", params, seed=0).train.tensors[0].double()
        assert abs(u.mean().item()) < 0.01
        assert abs(u.var().item() - 1.0) < 0.01
        if distribution == "uniform":
            assert u.abs().max().item() <= np.sqrt(3.0) + 1e-6


def test_seeds_give_identical_data_and_splits_differ():
    params = DelayParams(seq_len=20, n_train=4, n_val=4, n_test=4)
    a = build_task("memory/delay", params, seed=11)
    b = build_task("memory/delay", params, seed=11)
    c = build_task("memory/delay", params, seed=12)
    assert torch.equal(a.train.tensors[0], b.train.tensors[0])
    assert not torch.equal(a.train.tensors[0], c.train.tensors[0])
    assert not torch.equal(a.train.tensors[0], a.val.tensors[0])
    assert not torch.equal(a.val.tensors[0], a.test.tensors[0])


def test_copy_layout():
    params = CopyParams(n_tokens=4, n_symbols=5, gap=6, n_train=30, n_val=2, n_test=2)
    data = build_task("memory/copy", params, seed=0)
    x, y = data.train.tensors
    info = data.info
    assert x.shape == y.shape == (30, 14) and x.dtype == y.dtype == torch.int64
    assert info.seq_len == 14 and info.vocab_size == 7 and info.d_output == 5 and info.chance == pytest.approx(0.2)
    blank, marker = 5, 6
    for row_x, row_y in zip(x.tolist(), y.tolist()):
        symbols = row_x[:4]
        assert all(0 <= s < 5 for s in symbols)
        assert row_x[4:9] == [blank] * 5 and row_x[9] == marker and row_x[10:] == [blank] * 4
        assert row_y[:10] == [info.ignore_index] * 10 and row_y[10:] == symbols
    # the recall distance: symbol i is asked for n_tokens + gap steps later
    assert info.extra["recall_distance"] == 10


def test_adding_target_is_the_sum_of_the_marked_values():
    params = AddingParams(seq_len=40, n_train=50, n_val=2, n_test=2)
    x, y = build_task("memory/adding", params, seed=1).train.tensors
    assert x.shape == (50, 40, 2) and y.shape == (50, 1)
    markers = x[..., 1]
    assert torch.equal(markers.sum(1), torch.full((50,), 2.0))
    assert torch.equal(markers[:, :20].sum(1), torch.ones(50))  # one marker in each half
    expected = (x[..., 0] * markers).sum(1, keepdim=True)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-6)


def test_bad_parameters_are_clear_errors():
    with pytest.raises(ValueError, match=r"delay must lie in \[0, seq_len\)"):
        build_task("memory/delay", DelayParams(seq_len=10, delays=(10,)), seed=0)
    with pytest.raises(ValueError, match="distribution 'cauchy' is not one of: gaussian, uniform"):
        build_task("memory/delay", DelayParams(seq_len=10, delays=(1,), distribution="cauchy", n_train=1, n_val=1, n_test=1), seed=0)
    with pytest.raises(ValueError, match="n_val must be a number >= 1, got 0"):
        build_task("memory/copy", CopyParams(n_val=0), seed=0)
