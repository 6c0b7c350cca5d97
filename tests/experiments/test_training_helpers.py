"""The probes' helpers: ridge readouts, the warm start, and the bank's predictions."""

import numpy as np
import pytest
import torch

from ssmem.experiments._progress import fit_progress
from ssmem.experiments._theory import predicted_r2
from ssmem.memory.profile import memory_length
from ssmem.experiments._training import (
    ChannelBank,
    FitResult,
    delayed,
    filtered,
    fit,
    gaussian_inputs,
    late_steps,
    r2_per_output,
    ridge,
    warm_start_readout,
)


def test_ridge_solves_the_regularised_normal_equations(rng):
    F = rng.normal(size=(200, 6))
    y = rng.normal(size=200)
    w = ridge(F, y, 0.1)
    lam = 0.1 * np.mean(np.linalg.svd(F, compute_uv=False) ** 2)
    np.testing.assert_allclose(w, np.linalg.solve(F.T @ F + lam * np.eye(6), F.T @ y), rtol=1e-10)


def test_targets_are_delays_and_filters():
    u = torch.arange(1.0, 7.0)[None]  # (1, 6)
    assert delayed(u, [0, 2])[0, :, 1].tolist() == [0, 0, 1, 2, 3, 4]
    assert filtered(u, np.array([1.0, 0.0, -1.0]))[0].tolist() == [1, 2, 2, 2, 2, 2]


@pytest.mark.parametrize("skip", [True, False])
def test_warm_start_reaches_the_analytic_best_r2(skip):
    # the readout set by the warm start is the optimum: held-out R² equals the window prediction
    length, delays = 256, [5, 40, 120]
    bank = ChannelBank(len(delays), 16, init="s4d-inv", dt=0.05, train="reservoir", skip=skip, seed=0)
    u, u_test = gaussian_inputs(96, length, seed=0), gaussian_inputs(96, length, seed=1)
    mask = late_steps(96, length, 128)
    warm_start_readout(bank, u, delayed(u, delays), mask, ridge_scale=1e-12)
    r2 = r2_per_output(bank, u_test, delayed(u_test, delays), mask)
    modes = bank.discrete_eigenvalues()
    expected = [predicted_r2(modes[h], tau, length=length, start=128, skip=skip) for h, tau in enumerate(delays)]
    np.testing.assert_allclose(r2, expected, atol=0.01)
    assert expected[0] > 0.3 and expected[-1] < expected[0]


def test_memory_length_is_the_last_delay_above_threshold():
    assert memory_length(np.array([1.0, 0.5, 0.001, 0.2, 0.0])) == 3
    assert memory_length(np.zeros(4)) == -1


def test_fit_shows_a_bar_per_fit_only_when_asked_and_trains_the_same(capsys, monkeypatch):
    def train() -> FitResult:
        bank = ChannelBank(2, 8, init="s4d-lin", dt=0.05, train="all", seed=0)
        u = gaussian_inputs(16, 32, seed=0)
        return fit(bank, u, delayed(u, [1, 4]), late_steps(16, 32, 8), steps=6, lr=0.01, batch_size=4, seed=0,
                   n_snapshots=3)

    quiet = train()
    assert capsys.readouterr().err == ""
    with fit_progress("demo", True):  # stderr is not a terminal: no bar (a log file would fill with redraws)
        train()
    assert capsys.readouterr().err == ""
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with fit_progress("demo", True):
        shown, again = train(), train()
    err = capsys.readouterr().err
    assert "demo: fit 1:" in err and "demo: fit 2:" in err and "0/6" in err  # one bar per fit, over its steps
    for result in (shown, again):
        np.testing.assert_array_equal(result.losses, quiet.losses)
        assert result.snapshot_steps.tolist() == quiet.snapshot_steps.tolist() == [0, 3, 6]
        np.testing.assert_array_equal(result.snapshots[-1], quiet.snapshots[-1])
