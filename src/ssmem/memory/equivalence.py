"""S4 ≡ S4D: the memory of a dense S4-LegS layer equals that of a diagonal layer with its eigenvalues (PAPER.md §4).

HiPPO-LegS is lower triangular with eigenvalues -1, -2, …, -N, so (with every mode excited) S4-LegS with state
size N remembers exactly like the real diagonal system with those N eigenvalues: the ``s4d-real`` set taken with
N modes, i.e. S4D's ``d_state = 2N``. It does *not* remember like ``s4d-legs`` (the eigenvalues of LegS's normal
part). :func:`memory_equivalence` computes all of these, plus randomly re-coordinatised copies of S4, and reports
the largest MF difference to the dense S4 profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import expm, solve_triangular

from .._values import is_integer, is_real
from ..eigs import discrete_eigenvalues, hippo_legs
from .analytic import memory_function
from .dense import dense_memory_function, reachable_eigenvalues
from .profile import MemoryProfile

EQUIVALENCE_TOLERANCE = 1e-9


def discretize_dense(
    A: np.ndarray, B: np.ndarray, dt: float, discretization: str = "bilinear"
) -> tuple[np.ndarray, np.ndarray]:
    """Discretise a dense continuous system in float64: ``A (N, N), B (N,) → (A_bar (N, N), B_bar (N,))``.

    bilinear: Ā = (I - ΔA/2)⁻¹(I + ΔA/2), B̄ = (I - ΔA/2)⁻¹ΔB (triangular solves keep a triangular A triangular);
    zoh: [[Ā, B̄], [0, 1]] = exp(Δ [[A, B], [0, 0]]).
    """
    if not (is_real(dt) and np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive finite step size, got {dt!r}")
    d_state = A.shape[0]
    if discretization == "bilinear":
        left = np.eye(d_state) - dt * A / 2
        lower = not np.triu(A, 1).any()  # exactly lower-triangular (as HiPPO-LegS is); a tolerance would drop entries
        if lower:
            return (
                solve_triangular(left, np.eye(d_state) + dt * A / 2, lower=True),
                solve_triangular(left, dt * B, lower=True),
            )
        return np.linalg.solve(left, np.eye(d_state) + dt * A / 2), np.linalg.solve(left, dt * B)
    if discretization == "zoh":
        augmented = np.zeros((d_state + 1, d_state + 1))
        augmented[:d_state, :d_state] = dt * A
        augmented[:d_state, d_state] = dt * B
        block = expm(augmented)
        return block[:d_state, :d_state], block[:d_state, d_state]
    raise ValueError(f"unknown discretization {discretization!r}; valid choices: bilinear, zoh")


@dataclass(frozen=True)
class EquivalenceRow:
    """One system of the comparison: its profile and its distance to the dense S4 profile."""

    system: str
    d_state: int  # size of the real state (S4D's convention: 2 × stored modes)
    profile: MemoryProfile
    max_abs_diff: float  # max_τ |MF(τ) - MF_S4(τ)|
    eigenvalue_error: float  # max distance of the eigenvalues used to the exact LegS ones (nan if not applicable)
    expected_equal: bool  # True for the systems the theory says remember exactly like S4


@dataclass(frozen=True)
class MemoryEquivalence:
    """Result of :func:`memory_equivalence`; ``table()`` renders it."""

    d_state: int
    dt: float
    horizon: int | None
    discretization: str
    rows: list[EquivalenceRow] = field(default_factory=list)

    @property
    def equivalent(self) -> bool:
        """True when every system expected to match S4 does, within ``EQUIVALENCE_TOLERANCE``."""
        return all(row.max_abs_diff <= EQUIVALENCE_TOLERANCE for row in self.rows if row.expected_equal)

    def table(self, *, markdown: bool = True) -> str:
        head = ["system", "d_state", "rank", "capacity", "max abs ΔMF vs S4", "eig. error", "memory length"]
        body = [
            [
                row.system,
                str(row.d_state),
                str(row.profile.rank),
                f"{row.profile.capacity:.6f}",
                f"{row.max_abs_diff:.2e}",
                "—" if np.isnan(row.eigenvalue_error) else f"{row.eigenvalue_error:.1e}",
                str(row.profile.memory_length()),
            ]
            for row in self.rows
        ]
        horizon = "inf" if self.horizon is None else self.horizon
        title = f"S4 ≡ S4D memory equivalence: N = {self.d_state}, dt = {self.dt:g}, T = {horizon}, {self.discretization}"
        verdict = f"equivalent (to {EQUIVALENCE_TOLERANCE:g}): {'yes' if self.equivalent else 'NO'}"
        if markdown:
            lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
            lines += ["| " + " | ".join(cells) + " |" for cells in body]
            return f"**{title}**\n\n" + "\n".join(lines) + f"\n\n{verdict}\n"
        widths = [max(len(h), *(len(cells[i]) for cells in body)) for i, h in enumerate(head)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [title, fmt.format(*head)] + [fmt.format(*cells) for cells in body]
        return "\n".join(lines) + f"\n{verdict}\n"


def _eigenvalue_error(values: np.ndarray, exact: np.ndarray) -> float:
    return float(np.max(np.min(np.abs(values[:, None] - exact[None, :]), axis=1)))


def memory_equivalence(
    d_state: int = 32,
    *,
    dt: float = 0.01,
    horizon: int | None = 1024,
    discretization: str = "bilinear",
    n_similarity: int = 2,
    seed: int = 0,
) -> MemoryEquivalence:
    """Compare the MF of S4 (dense HiPPO-LegS, state N = ``d_state``) with its diagonal equivalents.

    Rows: S4 itself (dense route); the diagonal system with S4's computed discrete eigenvalues; ``s4d-real``
    with N modes (S4D ``d_state = 2N``); ``n_similarity`` copies of S4 under random similarity transforms
    S Ā S⁻¹, S B̄ (Gaussian S from ``seed``; their float64 eigenvalues are far off, their MF is not); and, as the
    contrast the theory predicts to differ, ``s4d-legs`` with N/2 modes (the same real state size N).
    """
    if not is_integer(d_state) or d_state < 2 or d_state % 2:
        raise ValueError(f"d_state must be an even integer >= 2 (so that s4d-legs has the same state size); got {d_state!r}")
    if not is_real(dt) or not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be positive and finite, got {dt!r}")
    if not is_integer(n_similarity) or n_similarity < 0:
        raise ValueError(f"n_similarity must be an integer >= 0, got {n_similarity!r}")
    A, B = hippo_legs(d_state)
    A_bar, B_bar = discretize_dense(A, B, dt, discretization)
    exact = discrete_eigenvalues("s4d-real", 2 * d_state, dt=dt, discretization=discretization)
    max_delay = None if horizon is not None else 4 * 1024 - 1

    def profile_of(modes: np.ndarray) -> MemoryProfile:
        return memory_function(modes, horizon=horizon, max_delay=max_delay)

    s4 = dense_memory_function(A_bar, B_bar, horizon=horizon, max_delay=max_delay)
    systems: list[tuple[str, int, MemoryProfile, float, bool]] = [
        ("S4 (dense HiPPO-LegS)", d_state, s4, _eigenvalue_error(reachable_eigenvalues(A_bar, B_bar), exact), True)
    ]
    computed = np.linalg.eigvals(A_bar)
    systems.append(("diagonal, S4's eigenvalues", d_state, profile_of(computed), _eigenvalue_error(computed, exact), True))
    systems.append((f"s4d-real ({d_state} modes)", 2 * d_state, profile_of(exact), 0.0, True))
    rng = np.random.default_rng(seed)
    for k in range(n_similarity):
        S = rng.standard_normal((d_state, d_state))
        A_sim, B_sim = S @ A_bar @ np.linalg.inv(S), S @ B_bar
        profile = dense_memory_function(A_sim, B_sim, horizon=horizon, max_delay=max_delay)
        error = _eigenvalue_error(reachable_eigenvalues(A_sim, B_sim), exact)
        systems.append((f"S4, random similarity {k + 1}", d_state, profile, error, True))
    legs = discrete_eigenvalues("s4d-legs", d_state, dt=dt, discretization=discretization)
    systems.append((f"s4d-legs ({d_state // 2} modes)", d_state, profile_of(legs), np.nan, False))

    rows = [
        EquivalenceRow(name, n, p, float(np.max(np.abs(p.mf - s4.mf))), err, expected)
        for name, n, p, err, expected in systems
    ]
    return MemoryEquivalence(d_state=int(d_state), dt=float(dt), horizon=horizon, discretization=discretization, rows=rows)
