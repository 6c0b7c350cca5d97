"""S4 ≡ S4D table, the memory–accuracy trade-off, comparisons with echo-state RNNs and linear attention."""

import numpy as np
import pytest

from ssmem.eigs import EIGENVALUE_SETS
from ssmem.memory import memory_function
from ssmem.memory.compare import compare_memory, echo_state_system
from ssmem.memory.equivalence import memory_equivalence
from ssmem.memory.tradeoff import memory_tradeoff, tradeoff_row


def test_memory_equivalence_names_a_bad_step_or_count():
    with pytest.raises(ValueError, match="dt must be positive and finite, got -1"):
        memory_equivalence(8, dt=-1)
    with pytest.raises(ValueError, match="n_similarity must be an integer >= 0, got -1"):
        memory_equivalence(8, n_similarity=-1)


def test_memory_equivalence_table():
    result = memory_equivalence(32, dt=0.01, horizon=1024, n_similarity=2, seed=0)
    assert result.equivalent
    by_name = {row.system: row for row in result.rows}
    assert len(result.rows) == 6
    for row in result.rows:
        if row.expected_equal:
            assert row.max_abs_diff < 1e-9 and row.profile.rank == 32
    # float64 eigenvalues of the re-coordinatised LegS are far off; their memory is not
    assert by_name["S4, random similarity 1"].eigenvalue_error > 1e-4
    assert by_name["s4d-legs (16 modes)"].max_abs_diff > 1e-2
    assert by_name["s4d-real (32 modes)"].d_state == 64
    markdown = result.table()
    assert markdown.count("\n| ") == 7  # header + 6 rows (the separator line starts with "|---")
    assert "| s4d-real (32 modes) | 64 | 32 | 32.000000 |" in markdown
    assert "equivalent (to 1e-09): yes" in result.table(markdown=False)


def test_equivalence_infinite_horizon_zoh():
    result = memory_equivalence(12, dt=0.05, horizon=None, discretization="zoh", n_similarity=1)
    assert result.equivalent and all(row.profile.mf.size == 4096 for row in result.rows)


def test_tradeoff_budget_is_fixed_and_memory_trades_against_accuracy():
    sets = ("s4d-inv", "s4d-lin", "random", "lin", "step")
    result = memory_tradeoff(sets, d_state=32, dts=(0.001, 0.01, 0.1), horizon=1024)
    assert len(result.rows) == 2 * 3 + 3  # discrete sets do not depend on Δ: one row each
    for row in result.rows:
        assert row.capacity == pytest.approx(row.rank, abs=1e-9)
    inv = [r for r in result.rows if r.eigs == "s4d-inv"]
    assert [r.dt for r in inv] == [0.001, 0.01, 0.1]
    assert inv[0].memory_length > inv[1].memory_length > inv[2].memory_length  # larger Δ forgets faster
    assert inv[0].accuracy < inv[2].accuracy  # ... and is more accurate
    at_001 = {r.eigs: r for r in result.rows if r.dt in (None, 0.01)}
    for hippo in ("s4d-inv", "s4d-lin"):
        for short in ("random", "lin", "step"):
            assert at_001[hippo].memory_length > 2 * at_001[short].memory_length
            assert at_001[hippo].accuracy < 0.5 < at_001[short].accuracy
    assert "s4d-inv" in result.table() and result.table(markdown=True).startswith("| eigs |")


def test_tradeoff_row_information_and_centroid_closed_form():
    lam = 0.8
    profile = memory_function(np.array([lam + 0j]), horizon=None, max_delay=300)
    row = tradeoff_row("one", None, profile, threshold=0.01, n_delays=4)
    tau = np.arange(301)
    mf = (1 - lam**2) * lam ** (2 * tau)
    assert row.information == pytest.approx(np.sum(-0.5 * np.log(1 - mf)), rel=1e-10)
    assert row.centroid == pytest.approx(lam**2 / (1 - lam**2), rel=1e-8)  # Σ τ MF = λ²/(1-λ²) for Σ MF = 1
    assert row.accuracy == pytest.approx(mf[:4].mean(), rel=1e-12)


def test_comparison_echo_state_and_linear_attention():
    result = compare_memory(("s4d-inv", "random"), d_state=16, dt=0.01, horizon=512, spectral_radius=0.9, seed=2)
    rows = {row.system.split(" (")[0]: row for row in result.rows}
    attention = rows["linear attention"].profile
    assert attention.rank == 1 and attention.capacity == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(attention.mf, 1 / 512, atol=1e-14)
    esn = rows["echo-state RNN"].profile
    W, _ = echo_state_system(16, spectral_radius=0.9, seed=2)
    assert np.max(np.abs(np.linalg.eigvals(W))) == pytest.approx(0.9)
    np.testing.assert_allclose(esn.mf, memory_function(np.linalg.eigvals(W), horizon=512).mf, atol=1e-10)
    assert esn.rank == 16
    assert rows["S4D s4d-inv"].memory_length > 3 * rows["echo-state RNN"].memory_length
    assert "rank 1 whatever d_state" in result.table()
    stationary = compare_memory(("s4d-inv",), d_state=8, horizon=None)
    assert [r.system for r in stationary.rows] == ["S4D s4d-inv", "echo-state RNN (rho=0.9)"]
    assert "no stationary memory" in stationary.notes[0]
    short = compare_memory(("s4d-inv",), d_state=8, horizon=5)  # shorter than the 10 delays of the accuracy
    assert short.rows[0].accuracy == pytest.approx(short.rows[0].profile.mf.mean())


def test_echo_state_rejects_unstable_radius():
    with pytest.raises(ValueError, match=r"spectral_radius must be in \(0, 1\)"):
        echo_state_system(8, spectral_radius=1.2)


def test_unknown_set_lists_choices():
    with pytest.raises(ValueError, match="valid choices"):
        memory_tradeoff(("s4d-nope",))
    assert "s4d-inv" in EIGENVALUE_SETS.names()


def test_an_empty_tradeoff_has_a_header_only_table():
    empty = memory_tradeoff(("s4d-inv",), d_state=4, dts=())
    assert empty.rows == [] and empty.table().splitlines()[0].split()[:3] == ["eigs", "dt", "rank"]


def test_dense_discretisation_of_a_small_full_matrix_uses_all_of_it(rng):
    """A tiny-scale full A passed an absolute-tolerance triangularity check and lost its upper part."""
    from ssmem.memory.equivalence import discretize_dense

    A = 1e-9 * (rng.normal(size=(3, 3)) - 3 * np.eye(3))
    B = rng.normal(size=3)
    dt = 1e9
    left = np.eye(3) - dt * A / 2
    A_bar, B_bar = discretize_dense(A, B, dt, "bilinear")
    np.testing.assert_allclose(A_bar, np.linalg.solve(left, np.eye(3) + dt * A / 2), atol=1e-12)
    np.testing.assert_allclose(B_bar, np.linalg.solve(left, dt * B), atol=1e-12)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="dt must be a positive finite step size"):
            discretize_dense(A, B, bad)
