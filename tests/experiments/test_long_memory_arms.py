"""The long-memory experiment's copy and deep arms: the copy data, the copy-recall closed form, frozen reservoirs."""

import numpy as np
import pytest
import torch
from torch import nn

from ssmem.experiments._training import accuracy_per_position
from ssmem.experiments.long_memory import COPY, IGNORE, copy_data, copy_recall_r2, train_deep


def test_copy_data_puts_each_token_at_its_recall_step():
    k, s, gap = COPY["n_tokens"], COPY["n_symbols"], 37
    x, y = copy_data(64, n_tokens=k, n_symbols=s, gap=gap, seed=3)
    assert x.shape == y.shape == (64, 2 * k + gap) and x.dtype == y.dtype == torch.int64
    assert torch.equal(y[:, k + gap :], x[:, :k])  # token k recalled at step K + gap + k
    assert bool((y[:, : k + gap] == IGNORE).all())
    assert bool((x[:, :k] < s).all()) and bool((x[:, k + gap - 1] == s + 1).all())  # symbols, then the marker
    blank_steps = torch.cat([x[:, k : k + gap - 1], x[:, k + gap :]], dim=1)
    assert bool((blank_steps == s).all())
    x2, _ = copy_data(64, n_tokens=k, n_symbols=s, gap=gap, seed=3)
    assert torch.equal(x, x2) and not torch.equal(x, copy_data(64, n_tokens=k, n_symbols=s, gap=gap, seed=4)[0])


@pytest.mark.parametrize("a", [0.5, 0.9])
def test_copy_recall_r2_matches_the_two_token_closed_form(a):
    # one real mode, K = 2: features a^{g+1}·[a, 1, a², a] against targets [1, 0, 0, 1] → R² = 2a² / (1 + a²)²,
    # whatever the gap (blanks carry no information, so a noise-free recall does not decay)
    for gap in (1, 20, 200):
        assert copy_recall_r2(np.array([a + 0j]), n_tokens=2, gap=gap) == pytest.approx(2 * a**2 / (1 + a**2) ** 2,
                                                                                        rel=1e-9)
    assert copy_recall_r2(np.array([0.5 + 0.3j]), n_tokens=1, gap=5) == pytest.approx(1.0, abs=1e-12)


def test_accuracy_per_position_counts_hits_per_step():
    class Fixed(nn.Module):
        def forward(self, x):  # predicts class x at every step
            return nn.functional.one_hot(x, 4).double()

    x = torch.tensor([[0, 1, 2, 3], [0, 1, 1, 3]])
    y = torch.tensor([[0, 1, 2, 0], [1, 1, 2, 3]])
    np.testing.assert_array_equal(accuracy_per_position(Fixed(), x, y, [0, 1, 2, 3]), [0.5, 1.0, 0.5, 0.5])


def test_deep_reservoir_keeps_its_eigenvalues_bit_identical():
    sizes = dict(delays=[2, 6], length=32, n_train=16, steps=5, lr=0.05, seed=0)
    reservoir = train_deep("s4d-inv", 0.01, "reservoir", **sizes)
    learnable = train_deep("s4d-inv", 0.01, "learnable", **sizes)
    assert reservoir["max_eigenvalue_shift"] == 0.0
    assert learnable["max_eigenvalue_shift"] > 1e-4
    np.testing.assert_array_equal(reservoir["predicted_one_layer"], learnable["predicted_one_layer"])
