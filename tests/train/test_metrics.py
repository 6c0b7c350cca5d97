"""Losses and metrics against independent computations (numpy / scikit-learn)."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import r2_score

from ssmem.data import TaskInfo
from ssmem.train.metrics import MetricSums, check_task_metric, loss_and_sums, summarize


def _accumulate(parts, info):
    total = MetricSums.zeros(info)
    for out, y in parts:
        total.add(MetricSums.from_tensor(loss_and_sums(out, y, info)[2]))
    return summarize(total, info)


def test_per_step_classification_ignores_masked_steps():
    info = TaskInfo(objective="classification", seq_len=6, d_output=4, vocab_size=6, per_step=True)
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 6, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (3, 6), generator=gen)
    y[:, :2] = info.ignore_index
    loss_sum, count, sums = loss_and_sums(logits, y, info)
    valid = y != info.ignore_index
    logp = torch.log_softmax(logits, -1)
    expected = -logp[valid].gather(1, y[valid][:, None]).sum()
    assert count.item() == 12 and loss_sum.item() == pytest.approx(expected.item(), rel=1e-6)
    acc = (logits.argmax(-1) == y)[valid].double().mean().item()
    out = summarize(MetricSums.from_tensor(sums), info)
    assert out["accuracy"] == pytest.approx(acc) and out["loss"] == pytest.approx(expected.item() / 12, rel=1e-6)


def test_next_token_reports_bits_per_byte():
    info = TaskInfo(objective="next_token", seq_len=5, d_output=256, vocab_size=256, per_step=True, metric="bits_per_byte")
    logits = torch.zeros(2, 5, 256)  # uniform prediction: exactly 8 bits per byte
    y = torch.randint(0, 256, (2, 5), generator=torch.Generator().manual_seed(1))
    out = _accumulate([(logits, y)], info)
    assert out["bits_per_byte"] == pytest.approx(8.0, rel=1e-6)
    assert out["loss"] == pytest.approx(math.log(256), rel=1e-6)


def test_regression_r2_matches_sklearn_and_batches_add_up(rng):
    info = TaskInfo(objective="regression", seq_len=30, d_output=2, d_input=1, per_step=True, metric="r2")
    y = rng.standard_normal((8, 30, 2))
    pred = 0.7 * y + 0.3 * rng.standard_normal((8, 30, 2))
    y[:, :5, 0] = np.nan  # steps without a target
    yt, pt = torch.from_numpy(y), torch.from_numpy(pred)
    out = _accumulate([(pt[:3], yt[:3]), (pt[3:], yt[3:])], info)
    whole = _accumulate([(pt, yt)], info)
    per_output = []
    for d in range(2):
        mask = ~np.isnan(y[..., d])
        per_output.append(r2_score(y[..., d][mask], pred[..., d][mask]))
    assert out["r2"] == pytest.approx(np.mean(per_output), rel=1e-5)
    assert out["r2_0"] == pytest.approx(per_output[0], rel=1e-5)
    assert whole["r2"] == pytest.approx(out["r2"], rel=1e-9)
    mask = ~np.isnan(y)
    assert out["mse"] == pytest.approx(np.mean((pred[mask] - y[mask]) ** 2), rel=1e-5)
    assert out["mae"] == pytest.approx(np.mean(np.abs(pred[mask] - y[mask])), rel=1e-5)


def test_sums_survive_a_tensor_round_trip():
    info = TaskInfo(objective="regression", seq_len=4, d_output=3, d_input=1)
    sums = MetricSums.from_tensor(loss_and_sums(torch.ones(5, 3), torch.arange(15.0).reshape(5, 3), info)[2])
    again = MetricSums.from_tensor(sums.as_tensor())
    assert again == sums


def test_unknown_task_metric_is_refused():
    info = TaskInfo(objective="classification", seq_len=4, d_output=3, vocab_size=3, metric="r2")
    with pytest.raises(ValueError, match="task metric 'r2' is not computed for objective 'classification'"):
        check_task_metric(info)
