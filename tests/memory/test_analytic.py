"""The exact diagonal memory function: closed forms, high-precision agreement, capacity = rank, numerics."""

import numpy as np
import pytest
from ._mp_memory_reference import mp_memory_function, spectrum

from ssmem.eigs import EIGENVALUE_SETS, conjugate_closed, discrete_eigenvalues
from ssmem.memory import MemoryProfile, memory_basis, memory_function, rank_of

DELAYS = [0, 1, 2, 5, 17, 64, 150, 333, 700, 1023]
EXPECTED_RANK_N32 = {"s4d-lin": 31, "s4d-real": 16}  # one real eigenvalue / all real; every other set: 32


def test_every_registered_set_is_checked():
    # the parametrised tests below enumerate the registry; the paper's sets must be among them
    assert {"s4d-inv", "s4d-lin", "s4d-legs", "s4d-real", "random", "lin", "step"} <= set(EIGENVALUE_SETS.names())


@pytest.mark.parametrize("name", EIGENVALUE_SETS.names())
@pytest.mark.parametrize("horizon", [1024, None])
def test_agrees_with_mpmath_and_capacity_is_rank(name, horizon):
    modes = discrete_eigenvalues(name, 32, dt=0.01, seed=0)
    profile = memory_function(modes, horizon=horizon, max_delay=1023)
    reference = mp_memory_function(modes, horizon, DELAYS, dps=60)
    np.testing.assert_allclose(profile.mf[DELAYS], reference, atol=1e-9, rtol=0)
    rank = EXPECTED_RANK_N32.get(name, len(spectrum(modes)))
    assert profile.rank == rank
    assert profile.capacity == pytest.approx(rank, abs=1e-9)
    if horizon is not None:
        assert profile.mf.sum() == pytest.approx(rank, abs=1e-9)  # Σ_{τ<T} MF, computed, not asserted by fiat
    assert profile.eigenvalues.shape == (32,)
    np.testing.assert_array_equal(profile.eigenvalues, conjugate_closed(modes))


@pytest.mark.parametrize(
    "name, d_state, dt",
    [("s4d-inv", 64, 1e-3), ("s4d-lin", 32, 1e-4), ("s4d-legs", 32, 1e-3), ("s4d-real", 64, 1e-3)],
)
def test_slow_modes_against_mpmath(name, d_state, dt):
    """Modes slow compared with T: the truncated basis is rank-deficient in float64, rational Arnoldi is not."""
    modes = discrete_eigenvalues(name, d_state, dt=dt)
    profile = memory_function(modes, horizon=1024)
    assert profile.method == "rational-arnoldi"
    reference = mp_memory_function(modes, 1024, DELAYS, dps=120)
    np.testing.assert_allclose(profile.mf[DELAYS], reference, atol=1e-9, rtol=0)
    assert profile.mf.sum() == pytest.approx(profile.rank, abs=1e-9)


def test_naive_gram_inversion_fails_where_ours_does_not():
    """Why the Gram formula is never used: cond(G) ~ 1e17 for `random`, N = 32."""
    modes = discrete_eigenvalues("random", 32, dt=0.01, seed=0)
    lams = conjugate_closed(modes)
    p = lams.conj()[:, None] * lams[None, :]
    gram = (1 - p**1024) / (1 - p)
    assert np.linalg.cond(gram) > 1e14
    v = lams.conj()[None, :] ** np.arange(1024)[:, None]  # (T, N) rows v_τ
    naive = np.real(np.einsum("ti,ij,tj->t", v.conj(), np.linalg.inv(gram), v))
    ours = memory_function(modes, horizon=1024)
    assert abs(naive.sum() - 32) > 1e-6  # the naive capacity is off
    assert abs(ours.mf.sum() - 32) < 1e-9


@pytest.mark.parametrize("lam", [0.3, -0.7, 0.95])
def test_one_dimensional_closed_form(lam):
    profile = memory_function(np.array([lam + 0j]), horizon=None, max_delay=200)
    tau = np.arange(201)
    expected = (1 - lam**2) * lam ** (2 * tau)
    np.testing.assert_allclose(profile.mf, expected, atol=1e-14, rtol=1e-12)
    assert profile.rank == 1 and profile.capacity == 1.0
    np.testing.assert_allclose(profile.mutual_information, -0.5 * np.log(1 - expected), rtol=1e-12, atol=1e-15)
    threshold = 0.01
    above = tau[expected > threshold]
    assert profile.memory_length(threshold) == above.max()
    assert profile.accuracy(5) == pytest.approx(expected[:5].mean(), rel=1e-12)


def test_finite_horizon_one_dimensional_closed_form():
    """Finite T: MF(τ) = λ^{2τ} (1 - λ²) / (1 - λ^{2T})."""
    lam, T = 0.9, 50
    profile = memory_function(np.array([lam + 0j]), horizon=T)
    tau = np.arange(T)
    np.testing.assert_allclose(profile.mf, lam ** (2 * tau) * (1 - lam**2) / (1 - lam ** (2 * T)), atol=1e-14)


def test_linear_attention_running_sum_is_degenerate():
    """λ = 1 (no forgetting): every delay is weighted alike, MF = 1/T, capacity 1 whatever the state size."""
    profile = memory_function(np.ones(8, dtype=complex), horizon=256)
    np.testing.assert_allclose(profile.mf, np.full(256, 1 / 256), atol=1e-15)
    assert profile.rank == 1 and profile.capacity == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match=r"\|eigenvalue\| < 1"):
        memory_function(np.ones(2, dtype=complex), horizon=None)


def test_zero_eigenvalue_remembers_only_the_present():
    profile = memory_function(np.array([0j]), horizon=None, max_delay=5)
    np.testing.assert_allclose(profile.mf, [1, 0, 0, 0, 0, 0], atol=1e-15)
    assert np.isinf(profile.mutual_information[0])
    # λ = 0 next to other modes: MF(0) = 1 exactly (the present input is in the state)
    mixed = memory_function(np.array([0j, 0.5 + 0.5j]), horizon=None)
    assert mixed.mf[0] == pytest.approx(1.0, abs=1e-14)
    assert mixed.rank == 3


def test_representation_does_not_matter(rng):
    modes = discrete_eigenvalues("random", 16, dt=0.01, seed=3)
    base = memory_function(modes, horizon=300)
    for variant in (conjugate_closed(modes), modes.conj(), rng.permutation(modes), np.concatenate([modes, modes[:3]])):
        other = memory_function(variant, horizon=300)
        assert other.rank == base.rank == 16
        np.testing.assert_allclose(other.mf, base.mf, atol=1e-13)


def test_horizon_shorter_than_rank_remembers_everything():
    modes = discrete_eigenvalues("lin", 32, dt=0.01)
    profile = memory_function(modes, horizon=10)
    np.testing.assert_allclose(profile.mf, np.ones(10), atol=1e-12)
    assert profile.rank == 32 and profile.capacity == pytest.approx(10.0)
    big = memory_function(discrete_eigenvalues("lin", 600, dt=1.0), horizon=512)  # was 0.13 at some delays
    assert big.method == "full-window" and big.mf.min() == 1.0 and big.capacity == 512


@pytest.mark.parametrize("name, d_state, rank", [("s4d-real", 512, 256), ("s4d-lin", 512, 511)])
def test_rational_arnoldi_stays_orthonormal_for_hundreds_of_modes(name, d_state, rank):
    """Slow modes (Δ = 0.001) at N = 512 take the Arnoldi route; one Gram–Schmidt pass per step let its basis
    drift (Σ MF was 192 for rank 256). Orthonormal columns give Σ MF = rank and MF ≤ 1 without clipping."""
    from ssmem.memory import memory_basis

    modes = discrete_eigenvalues(name, d_state, dt=0.001)
    basis = memory_basis(modes, horizon=1024)
    assert basis.shape == (1024, rank)
    np.testing.assert_allclose(basis.T @ basis, np.eye(rank), atol=1e-10)
    profile = memory_function(modes, horizon=1024)
    assert profile.method == "rational-arnoldi" and profile.mf.sum() == pytest.approx(rank, abs=1e-8)


def test_powers_that_leave_float64_are_refused_with_the_horizon_that_fits():
    with pytest.raises(ValueError, match=r"eigenvalue 1\.5\+0j .* within the horizon T = 1024 .*at most 740"):
        memory_function(np.array([1.5, 0.5 + 0.3j]), horizon=1024)
    profile = memory_function(np.array([1.5, 0.5 + 0.3j]), horizon=740)
    assert profile.capacity == pytest.approx(3.0, abs=1e-9) and np.isfinite(profile.mf).all()


def test_infinite_horizon_default_length_captures_the_capacity():
    modes = discrete_eigenvalues("s4d-inv", 32, dt=0.01)
    profile = memory_function(modes, horizon=None)
    assert profile.horizon is None
    assert profile.mf.sum() == pytest.approx(32, abs=1e-9)
    assert profile.mf.size in (1024, 2048, 4096, 8192)


@pytest.mark.parametrize("horizon", [400, None])
def test_memory_basis_is_orthonormal_and_gives_mf(horizon, rng):
    modes = discrete_eigenvalues("s4d-lin", 16, dt=0.05)
    rank = rank_of(modes)
    basis = memory_basis(modes, horizon=horizon, max_delay=None if horizon else 3999)
    assert basis.shape[1] == rank == 15
    np.testing.assert_allclose(basis.T @ basis, np.eye(rank), atol=1e-9 if horizon is None else 1e-12)
    profile = memory_function(modes, horizon=horizon, max_delay=None if horizon else 3999)
    np.testing.assert_allclose((basis**2).sum(1), profile.mf, atol=1e-12)
    # the basis spans the exponentials: a least-squares fit of a real mode sequence (Re λ^τ) is exact
    tau = np.arange(basis.shape[0])
    target = (modes[3] ** tau).real
    residual = target - basis @ (basis.T @ target)
    assert np.linalg.norm(residual) < 1e-9 * np.linalg.norm(target)


def test_bad_arguments_name_the_value():
    modes = np.array([0.5 + 0.1j])
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        memory_function(modes, horizon=0)
    with pytest.raises(ValueError, match="max_delay must be < horizon"):
        memory_function(modes, horizon=10, max_delay=10)
    with pytest.raises(ValueError, match="finite"):
        memory_function(np.array([np.nan + 0j]), horizon=10)
    profile = memory_function(modes, horizon=10)
    with pytest.raises(ValueError, match="n_delays must be in 1..10"):
        profile.accuracy(11)
    for threshold in (-1, 1.0, 2):
        with pytest.raises(ValueError, match=rf"an MF threshold must lie in \[0, 1\), got {threshold}"):
            profile.memory_length(threshold)
    layer_modes = np.array([[0.5 + 0.1j], [0.9 + 0j]])  # (H, n_modes): one system per row, not one system
    with pytest.raises(ValueError, match=r"got shape \(2, 1\) .*take one channel, modes\[h\]"):
        memory_function(layer_modes, horizon=10)


def test_capacity_is_the_rank_capped_at_the_horizon():
    modes = np.array([0.9, 0.5 + 0.3j])  # three distinct eigenvalues of the real system
    assert memory_function(modes, horizon=None).capacity == pytest.approx(3.0, abs=1e-12)
    for horizon in (1, 2, 3, 4):
        profile = memory_function(modes, horizon=horizon)
        assert profile.rank == 3
        assert profile.capacity == pytest.approx(min(3, horizon), abs=1e-12)


def test_profile_summary_and_shapes():
    profile = memory_function(discrete_eigenvalues("lin", 8, dt=0.01), horizon=64, max_delay=20)
    assert isinstance(profile, MemoryProfile)
    assert profile.delays.dtype == np.int64 and profile.mf.dtype == np.float64
    np.testing.assert_array_equal(profile.delays, np.arange(21))
    assert profile.capacity == pytest.approx(8, abs=1e-12)  # over all of the horizon, not only 21 delays
    assert profile.written_capacity < profile.capacity
    summary = profile.summary()
    assert summary["rank"] == 8 and summary["horizon"] == 64 and summary["memory_length"] == profile.memory_length()


def test_long_horizon_capacity():
    modes = discrete_eigenvalues("s4d-inv", 64, dt=0.01)
    profile = memory_function(modes, horizon=16384)  # timed in benchmarks/memory_functions.py
    assert profile.mf.sum() == pytest.approx(64, abs=1e-9)


@pytest.mark.slow
def test_large_capacity():
    modes = discrete_eigenvalues("s4d-inv", 1024, dt=0.01)
    profile = memory_function(modes, horizon=4096)
    assert profile.mf.sum() == pytest.approx(1024, abs=1e-8)


def test_phase_pi_mode_is_real():
    """exp(-0.1 + iπ) has Im ~ 1e-17 from rounding: it is a real eigenvalue, one real dimension."""
    modes = discrete_eigenvalues("s4d-lin", 12, dt=0.2)  # n = 5: phase 5·π·0.2 = π
    assert 0 < abs(modes[5].imag) < 1e-15
    assert rank_of(modes) == 10  # two real modes (n = 0 and n = 5) and four pairs
    exact = modes.copy()
    exact[5] = exact[5].real
    np.testing.assert_allclose(memory_function(modes, horizon=200).mf, memory_function(exact, horizon=200).mf, atol=1e-13)


def test_memory_basis_on_the_rational_arnoldi_path():
    modes = discrete_eigenvalues("s4d-inv", 16, dt=1e-3)
    profile = memory_function(modes, horizon=512)
    assert profile.method == "rational-arnoldi"
    basis = memory_basis(modes, horizon=512)
    assert basis.dtype == np.float64 and basis.shape == (512, 16)
    np.testing.assert_allclose(basis.T @ basis, np.eye(16), atol=1e-12)
    np.testing.assert_allclose((basis**2).sum(1), profile.mf, atol=1e-12)


def test_docstring_examples():
    import doctest

    import ssmem.memory.analytic

    results = doctest.testmod(ssmem.memory.analytic)
    assert results.attempted >= 2 and results.failed == 0


def test_conjugate_list_matching_to_within_the_resolution(rng):
    """E.g. eigenvalues from a dense eigensolver: pairs that agree to an ulp are one pair each where float64
    cannot separate them (|λ| ≤ 0.8: g ≤ 3.6, 1 ulp ≤ 1.1e-16; slower modes, see test_scale.py)."""
    modes = 0.8 * discrete_eigenvalues("random", 16, dt=0.01, seed=5)
    up, down = rng.integers(0, 2, size=(2, 8)) * 2.0 - 1.0  # one ulp up or down, real and imaginary parts
    conj = modes.conj()
    noisy_conj = np.nextafter(conj.real, up * np.inf) + 1j * np.nextafter(conj.imag, down * np.inf)
    assert np.all(noisy_conj != conj)
    noisy = np.concatenate([modes, noisy_conj])
    assert rank_of(noisy, horizon=256) == 16
    np.testing.assert_allclose(memory_function(noisy, horizon=256).mf, memory_function(modes, horizon=256).mf, atol=1e-13)


def test_near_duplicates_count_once_in_large_spectra_too():
    """Values float64 cannot separate count once (infinite horizon here), in any order; see test_scale.py."""
    from ssmem.memory import distinct_spectrum

    # |a - b|·g: 1.5e-15 (merged), 3.4e-14 for 0.3 vs 0.3(1 + 1e-13) (kept), 1e-9 (kept)
    modes = np.array([0.5 + 0.1j, 0.5 + 0.1j * (1 + 1e-14), 0.5 - 0.1j, 0.3, 0.3 * (1 + 1e-13), 0.2, 0.2 + 1e-9])
    real, cplx = distinct_spectrum(modes)
    assert real.tolist() == [0.2, 0.2 + 1e-9, 0.3, 0.3 * (1 + 1e-13)] and cplx.tolist() == [0.5 + 0.1j]
    many = discrete_eigenvalues("lin", 32768, dt=1.0)  # 16384 distinct modes (a k-d tree, not all pairs)
    assert rank_of(many) == 32768 and rank_of(np.concatenate([many, many[::-1]])) == 32768


@pytest.mark.parametrize("zero_at", [0, 1, 2])
def test_a_zero_eigenvalue_anywhere_in_the_pole_order_against_mpmath(zero_at):
    """λ = 0 (bilinear with Δ·|A| = 2) is the impulse: filtering the newest vector by its section alone adds
    nothing, so each step filters the shifted vector (this MF was off by 0.7 with 0 as the second pole)."""
    others = [-0.5, 0.9999, 0.9998 * np.exp(0.01j), 0.9997 * np.exp(0.02j)]
    modes = np.array(others[:zero_at] + [0.0] + others[zero_at:])
    profile = memory_function(modes, horizon=16)
    assert profile.method == "rational-arnoldi"
    np.testing.assert_allclose(profile.mf, mp_memory_function(modes, 16, range(16), dps=60), atol=1e-10, rtol=0)
    assert profile.mf.sum() == pytest.approx(7.0, abs=1e-10)
