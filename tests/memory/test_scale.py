"""Exact MF at scale: the Takenaka–Malmquist prefix extended by real rational Arnoldi, and which near-equal
eigenvalues merge (float64 cannot separate their memory over the horizon), both against 60-digit arithmetic."""

import numpy as np
import pytest
from ._mp_memory_reference import mp_memory_function

from ssmem.eigs import discrete_eigenvalues
from ssmem.memory import distinct_spectrum, memory_function, rank_of
from ssmem.memory.analytic import (
    ARNOLDI_METHOD,
    TRACE_RESOLUTION,
    _finite_basis,
    _rational_arnoldi_basis,
    _rational_arnoldi_extend,
    _sections_slow_last,
    trace_sensitivity,
)

DELAYS = [0, 1, 2, 5, 17, 64, 150, 333, 700, 1023]


def _mf(q: np.ndarray) -> np.ndarray:
    return np.sum(np.abs(q) ** 2, axis=1)


@pytest.mark.parametrize(
    "name, d_state, dt, horizon, tolerance",
    [
        ("s4d-inv", 128, 1e-3, 1024, 1e-10),
        ("s4d-legs", 64, 1e-3, 1024, 1e-10),
        ("s4d-real", 128, 1e-3, 1024, 1e-10),
        ("lin", 96, 1.0, 700, 1e-10),
        # the prefix's condition number multiplies its cascade's rounding (7e-9 here with a cut at 1e4)
        ("s4d-inv", 256, 1e-3, 1024, 5e-10),
    ],
)
def test_prefix_plus_real_arnoldi_equals_the_complex_arnoldi_twin(name, d_state, dt, horizon, tolerance):
    """The fast route (well-conditioned Takenaka–Malmquist prefix, then real rational Arnoldi for the slow poles)
    against the plain complex rational Arnoldi over every pole, and against real Arnoldi from an empty prefix."""
    real, cplx = distinct_spectrum(discrete_eigenvalues(name, d_state, dt=dt), horizon=horizon)
    if name == "lin":  # a marginal and an unstable pole: never in the prefix, always by Arnoldi
        real = np.r_[real, 1.0, 1.002]
    q, method = _finite_basis(real, cplx, horizon)
    assert method == ARNOLDI_METHOD and q.dtype == np.float64
    np.testing.assert_allclose(q.T @ q, np.eye(q.shape[1]), atol=1e-12)
    twin = _rational_arnoldi_basis(real, cplx, horizon)
    np.testing.assert_allclose(_mf(q), _mf(twin), atol=tolerance, rtol=0)
    sections = _sections_slow_last(real, cplx)
    alone = np.zeros_like(q, order="F")
    _rational_arnoldi_extend(alone, 0, sections, horizon)
    np.testing.assert_allclose(_mf(q), _mf(alone), atol=tolerance, rtol=0)


def test_the_prefix_is_most_of_a_slow_spectrum_and_arnoldi_the_rest(monkeypatch):
    """The split is real: both parts carry columns (s4d-inv at Δ = 1e-3: all modes slow, the clustered low
    frequencies ill-conditioned), and the result still matches 120-digit arithmetic."""
    from ssmem.memory import analytic

    calls = []
    extend = analytic._rational_arnoldi_extend

    def spy(q, k, sections, horizon):
        calls.append((k, sections.size))
        return extend(q, k, sections, horizon)

    monkeypatch.setattr(analytic, "_rational_arnoldi_extend", spy)
    modes = discrete_eigenvalues("s4d-inv", 64, dt=1e-3)
    profile = memory_function(modes, horizon=1024)
    (prefix, n_arnoldi), = calls
    assert 0 < prefix < 64 and prefix + 2 * n_arnoldi == 64
    np.testing.assert_allclose(profile.mf[DELAYS], mp_memory_function(modes, 1024, DELAYS, dps=120), atol=1e-10, rtol=0)


def test_trace_sensitivity_bounds_the_turning_rate():
    """g_T(ρ) = ||(τ λ^(τ-1))|| / ||(λ^τ)|| over τ < T: the bound is never below it and within a factor 2."""
    for rho in (0.0, 0.3, 0.9, 0.999, 1.0, 1.003):
        for horizon in (2, 10, 1024, None):
            if horizon is None and rho >= 1:
                assert trace_sensitivity(np.array([rho]), None)[0] == np.inf
                continue
            tau = np.arange(horizon if horizon else 200_000, dtype=np.float64)
            weights = rho ** (2 * tau)
            if rho == 0:
                exact = 1.0  # ∂λ e at λ = 0 is the unit impulse at τ = 1
            else:
                exact = np.sqrt(np.sum(tau**2 * weights) / np.sum(weights)) / rho
            bound = trace_sensitivity(np.array([rho]), horizon)[0]
            assert exact * (1 - 1e-12) <= bound <= 2 * exact, (rho, horizon, exact, bound)


def test_close_eigenvalues_keep_their_memory_against_mpmath():
    """0.9 and 0.9(1 + 5e-13) are two memories: over T = 1024 their traces differ by 3.2e-12 (~14000 eps).
    Exact: capacity 2 and MF(0) = 0.3439 (≈ the Jordan pair's 1 - 0.9⁴), not one pole's 0.19."""
    modes = np.array([0.9, 0.9 * (1 + 5e-13)])
    profile = memory_function(modes)  # the default horizon, 1024
    reference = mp_memory_function(modes, 1024, range(1024), dps=60)
    assert profile.rank == 2 and reference.sum() == pytest.approx(2.0, abs=1e-12)
    assert profile.capacity == pytest.approx(2.0, abs=1e-12)
    np.testing.assert_allclose(profile.mf, reference, atol=1e-12, rtol=0)
    assert profile.mf[0] == pytest.approx(0.3439, abs=1e-12)


def test_eigenvalues_merge_exactly_below_the_trace_resolution():
    """Just below |a - b|·g_T = 16·eps the pair is one eigenvalue (one pole's closed form); just above it is two,
    and then matches 60-digit arithmetic although the pair is only a few ulps apart."""
    lam, horizon = 0.9, 1024
    threshold = TRACE_RESOLUTION / trace_sensitivity(np.array([lam]), horizon)[0]  # ≈ 5.0e-16
    merged = memory_function(np.array([lam, lam + 0.5 * threshold]), horizon=horizon)
    tau = np.arange(horizon)
    assert merged.rank == 1
    np.testing.assert_allclose(merged.mf, lam ** (2 * tau) * (1 - lam**2) / (1 - lam ** (2 * horizon)), atol=1e-14)
    apart = np.array([lam, lam + 2 * threshold])
    kept = memory_function(apart, horizon=horizon)
    assert kept.rank == 2 and kept.capacity == pytest.approx(2.0, abs=1e-12)
    np.testing.assert_allclose(kept.mf[DELAYS], mp_memory_function(apart, horizon, DELAYS, dps=60), atol=1e-10)
    assert rank_of(np.array([lam, np.nextafter(lam, 1.0)]), horizon=horizon) == 1  # 1 ulp: 7.9e-16 in trace


def test_the_criterion_depends_on_the_horizon_and_the_modulus():
    """A slow mode's trace turns faster over a longer window: the same gap merges at T = 10, not at T = ∞;
    a fast mode's does not (g ≈ 1), so there the gap merges at any horizon."""
    slow = 0.999  # g_10 = 9/0.999 ≈ 9; g_∞ = √(1 + ρ²)/(1 - ρ²) ≈ 707
    pair = np.array([slow, slow + TRACE_RESOLUTION / 50])
    assert rank_of(pair, horizon=10) == 1
    assert rank_of(pair, horizon=None) == 2 and rank_of(pair, horizon=4096) == 2
    fast = 0.1
    assert rank_of(np.array([fast, fast + TRACE_RESOLUTION / 50]), horizon=None) == 1
    # complex: a conjugate pair off by 1 ulp is one pair for a fast mode, two pairs for a slow mode at T = 4096
    for modulus, rank in ((0.7, 2), (0.9999, 4)):
        z = modulus * np.exp(0.3j)
        off = complex(np.nextafter(z.real, 0.0), -z.imag)
        assert rank_of(np.array([z, off]), horizon=4096) == rank


def test_a_mode_is_real_when_its_conjugate_is_inseparable():
    """exp(-0.1 + iπ) (Im ~ 1e-16 from rounding) is real; Im λ just above the resolution is a pair."""
    rho = np.exp(-0.1)
    tiny = complex(-rho, rho * np.sin(np.pi))  # what exp(-0.1 + iπ) gives
    assert rank_of(np.array([tiny]), horizon=200) == 1
    g = trace_sensitivity(np.array([rho]), 200)[0]
    assert rank_of(np.array([complex(-rho, 2 * TRACE_RESOLUTION / (2 * g))]), horizon=200) == 2


def test_aliased_frequencies_kept_apart_by_rounding_against_150_digits():
    """S4D-Lin at Δ = 0.1 aliases: ω_n·Δ and ω_{20±n}·Δ name one eigenvalue up to the rounding of the phase
    (~1e-15). Pairs whose traces that rounding separates beyond the resolution stay (54 of 63, not 20), and the
    near-confluent clusters they form are still computed exactly (the reference gets the same distinct values)."""
    modes = discrete_eigenvalues("s4d-lin", 64, dt=0.1)
    profile = memory_function(modes, horizon=1024)
    real, cplx = distinct_spectrum(modes, horizon=1024)
    assert profile.rank == real.size + 2 * cplx.size == 54
    kept = np.concatenate([real + 0j, cplx])
    np.testing.assert_allclose(profile.mf[DELAYS], mp_memory_function(kept, 1024, DELAYS, dps=150), atol=1e-12, rtol=0)
