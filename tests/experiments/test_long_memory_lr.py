"""The long-memory experiment at the paper's eigenvalue lr, the lr axis, and the judged MF ≈ 0 delays."""

import numpy as np
import pytest

from ssmem.experiments import long_memory
from ssmem.experiments._training import ChannelBank, delayed, fit, gaussian_inputs, late_steps, parameter_groups
from ssmem.experiments.long_memory import PAPER_EIG_LR, LongMemoryConfig, _judge_gains, config


def test_default_eigenvalue_lr_is_the_papers_ssm_lr():
    for quick in (True, False):
        cfg = config(quick)
        assert cfg.eig_lrs[0] == PAPER_EIG_LR == 1e-3  # PAPER.md §1: SSM lr 1e-3
        assert 1e-2 in cfg.eig_lrs and cfg.n_seeds >= 3  # the axis that shows where the claim breaks, and seeds
    with pytest.raises(ValueError, match="n_seeds=1: the paired findings need at least 2 seeds"):
        LongMemoryConfig(**{**config(True).__dict__, "n_seeds": 1})


def test_eigenvalues_learn_at_their_own_rate():
    bank = ChannelBank(2, 8, init="s4d-lin", dt=0.05, train="all", seed=0)
    groups = parameter_groups(bank, lr=0.01, eig_lr=1e-3)
    assert [g["lr"] for g in groups] == [0.01, 1e-3]
    names = {id(p): n.split(".")[-1] for n, p in bank.named_parameters()}
    assert sorted(names[id(p)] for p in groups[1]["params"]) == ["A_imag", "log_A_real", "log_dt"]
    # eigenvalue lr 0: the readout trains, Ā stays bit-identical
    u = gaussian_inputs(16, 32, seed=0)
    before = bank.discrete_eigenvalues()
    c_before = bank.layer.C.detach().clone()
    fit(bank, u, delayed(u, [1, 3]), late_steps(16, 32, 8), steps=5, lr=0.05, eig_lr=0.0, batch_size=8, seed=0)
    np.testing.assert_array_equal(bank.discrete_eigenvalues(), before)
    assert not np.array_equal(bank.layer.C.detach().numpy(), c_before.numpy())


def _bank(delays, predicted_before, r2):
    return {"delays": delays, "predicted_before": np.asarray(predicted_before), "r2": np.asarray(r2),
            "predicted_after": np.asarray(predicted_before) + 0.01}


def test_mf_zero_delays_are_judged_not_left_out(monkeypatch):
    """Delays with initial MF ≈ 0 are a prediction (no gain), judged from per-seed paired gains."""
    monkeypatch.setattr(long_memory, "SETS", {"random": 1.0})
    delays = [8, 96, 256]
    initial = [0.9, 0.05, 0.001]  # inside, beyond the initial memory, MF ≈ 0
    banks = {}
    for seed, noise in zip((0, 1, 2), (0.000, 0.002, 0.001)):
        banks[("random", "reservoir", seed)] = _bank(delays, initial, [0.9, 0.04, 0.000])
        banks[("random", 1e-3, seed)] = _bank(delays, initial, [0.9, 0.05 + noise, 0.000 + noise])
        banks[("random", 1e-2, seed)] = _bank(delays, initial, [0.9, 0.20 + noise, 0.08 + noise])
    zero = _judge_gains(banks, 1e-3, "mf0", [0, 1, 2])
    verdict, cases, rise = zero["random"]
    assert rise == pytest.approx(0.01)
    assert verdict.status == "confirmed" and verdict.n == 3  # gains 0, 0.002, 0.001: below 0.01
    assert cases == ["seed 0: τ* [256]", "seed 1: τ* [256]", "seed 2: τ* [256]"]
    assert _judge_gains(banks, 1e-2, "mf0", [0, 1, 2])["random"][0].status == "not confirmed"  # +0.08: a gain
    beyond = _judge_gains(banks, 1e-3, "beyond", [0, 1, 2])["random"][0]
    assert beyond.status == "confirmed" and beyond.mean == pytest.approx(0.011)  # 0.01 + mean noise, below 0.05
    assert _judge_gains(banks, 1e-2, "beyond", [0, 1, 2])["random"][0].status == "not confirmed"  # +0.16
    # one seed: no interval, no verdict
    assert _judge_gains(banks, 1e-3, "mf0", [0])["random"][0].status == "inconclusive"


@pytest.mark.slow
def test_tiny_run_judges_every_lr_and_both_bands(tmp_path, monkeypatch):
    from ssmem.experiments import run_experiment

    tiny = LongMemoryConfig(length=64, n_train=8, steps=3, delays=(2, 24, 32), n_seeds=2, copy_n_train=8, copy_steps=2,
                            gaps=(4, 8), deep_n_train=8, deep_steps=2, deep_delays=(4,), deep_sets=("s4d-inv",))
    monkeypatch.setattr(long_memory, "config", lambda quick: tiny)
    result = run_experiment("long-memory", tmp_path, quick=True, seed=0)
    claims = [f.claim for f in result.findings]
    assert sum(c.startswith("Learnable eigenvalues barely extend memory at eigenvalue lr ") for c in claims) == 2
    assert sum(c.startswith("Where the initial MF is ≈ 0") for c in claims) == 2
    assert "eigenvalue lr 0.001 (the paper’s SSM lr)" in claims[0]
    rows = result.results["paired_gains"]
    assert {(r["eig_lr"], r["delays"]) for r in rows} <= {(lr, d) for lr in (1e-3, 1e-2)
                                                          for d in ("beyond initial memory", "MF ≈ 0")}
    assert all(r["n_seeds"] == 2 for r in rows)
    assert result.results["eig_lrs"] == [1e-3, 1e-2] and result.results["seeds"] == [0, 1]


def test_predictions_with_a_shared_basis_match_one_call_per_delay():
    from ssmem.experiments._theory import predicted_r2
    from ssmem.experiments.long_memory import predicted_delays

    modes = ChannelBank(3, 8, init="s4d-lin", dt=0.05, train="all", seed=0).discrete_eigenvalues()
    modes[2] = modes[2] * 0.97  # a channel whose modes moved gets its own basis
    delays = [2, 9, 20]
    expected = [predicted_r2(modes[h], tau, length=64, start=32, skip=True) for h, tau in enumerate(delays)]
    np.testing.assert_allclose(predicted_delays(modes, delays, length=64, start=32), expected, rtol=1e-12)


def test_arms_share_their_start_and_train_alone():
    from ssmem.experiments.long_memory import train_arms, train_bank

    sizes = dict(delays=[2, 9], length=48, n_train=8, steps=4, lr=0.01, seed=3)
    arms = train_arms("s4d-inv", 0.05, ["reservoir", 1e-3, 0.0], **sizes)
    alone = train_bank("s4d-inv", 0.05, "learnable", eig_lr=1e-3, **sizes)
    np.testing.assert_array_equal(arms[1e-3]["r2"], alone["r2"])  # one arm trained with others = trained alone
    np.testing.assert_array_equal(arms["reservoir"]["r2_warm_start"], arms[1e-3]["r2_warm_start"])
    res, frozen = arms["reservoir"]["snapshots"], arms[0.0]["snapshots"]
    assert np.array_equal(res[0], res[-1]) and np.array_equal(frozen[0], frozen[-1])  # eigenvalue lr 0: fixed Ā
    assert not np.array_equal(arms[1e-3]["snapshots"][0], arms[1e-3]["snapshots"][-1])
    np.testing.assert_array_equal(arms["reservoir"]["predicted_after"], arms["reservoir"]["predicted_before"])
