"""From what a user names (a set's name, an eigenvalue file, an array, a set) to eigenvalues of a given size,
continuous or discrete."""

from __future__ import annotations

import os

import numpy as np

from .._values import check_seed
from .discretize import check_discretization, to_continuous, to_discrete
from .registry import EIGENVALUE_SETS, EigenvalueSet, n_modes_of
from .user import load_eigenvalues, user_set


def resolve_set(init: "str | EigenvalueSet | np.ndarray") -> EigenvalueSet:
    """Turn ``init`` into an :class:`EigenvalueSet`.

    ``init`` is a registered name (an unknown name raises with the valid choices), a path to an eigenvalue
    file (a string or a path object; see :func:`ssmem.eigs.load_eigenvalues`), an array (NumPy or torch) of
    discrete eigenvalues, or a set itself.
    """
    if isinstance(init, EigenvalueSet):
        return init
    if hasattr(init, "detach") and hasattr(init, "numpy"):  # a torch tensor (this package does not import torch)
        init = init.detach().cpu().numpy()
    if isinstance(init, np.ndarray):
        return user_set(init)
    if isinstance(init, os.PathLike):
        return load_eigenvalues(os.fspath(init))
    if isinstance(init, str):
        # a name with a suffix (``my.npy``, ``my.dat``) is a file: an unsupported suffix is reported as such
        if init not in EIGENVALUE_SETS and os.path.splitext(init)[1]:
            return load_eigenvalues(init)
        return EIGENVALUE_SETS.get(init)
    raise TypeError(
        f"init must be a set name, a file path, an array of eigenvalues or an EigenvalueSet; got {type(init).__name__}"
    )


def set_eigenvalues(init: "str | EigenvalueSet | np.ndarray", d_state: int, *, seed: int = 0) -> np.ndarray:
    """The set's own eigenvalues (in its own domain), ``(d_state // 2,)`` complex128."""
    eig_set = resolve_set(init)
    n_modes = n_modes_of(d_state)
    check_seed(seed)
    values = np.asarray(eig_set.make(n_modes, np.random.default_rng(seed)), dtype=np.complex128)
    if values.shape != (n_modes,):
        raise ValueError(f"eigenvalue set {eig_set.name!r} gave shape {values.shape}, expected ({n_modes},)")
    return values


def _check_dt(dt: float | np.ndarray) -> np.ndarray:
    dt_arr = np.asarray(dt, dtype=np.float64)
    if not np.all(np.isfinite(dt_arr)) or np.any(dt_arr <= 0):
        raise ValueError(f"dt must be positive and finite; got {dt!r}")
    return dt_arr


def continuous_eigenvalues(
    init: "str | EigenvalueSet | np.ndarray",
    d_state: int,
    *,
    dt: float | np.ndarray | None = None,
    discretization: str = "zoh",
    seed: int = 0,
) -> np.ndarray:
    """Continuous-time eigenvalues A of a set: ``(n_modes,)``, or ``(*dt.shape, n_modes)`` for array ``dt``.

    Continuous sets ignore ``dt`` (they are broadcast to its shape when it is an array). Discrete sets need
    ``dt`` and are converted with the inverse of ``discretization`` (ZOH: A = log(Ā)/Δ), so that discretising
    A again gives back exactly the set.
    """
    eig_set = resolve_set(init)
    values = set_eigenvalues(eig_set, d_state, seed=seed)
    if eig_set.domain == "continuous":
        if dt is None:
            return values
        dt_arr = _check_dt(dt)
        return np.broadcast_to(values, (*dt_arr.shape, values.shape[-1])).copy()
    if dt is None:
        raise ValueError(f"eigenvalue set {eig_set.name!r} is defined on discrete eigenvalues: pass dt")
    return to_continuous(values, _check_dt(dt)[..., None], discretization)


def discrete_eigenvalues(
    init: "str | EigenvalueSet | np.ndarray",
    d_state: int,
    *,
    dt: float | np.ndarray,
    discretization: str = "zoh",
    seed: int = 0,
) -> np.ndarray:
    """Discrete eigenvalues Ā of a set at step ``dt``: ``(n_modes,)`` or ``(*dt.shape, n_modes)`` complex128."""
    eig_set = resolve_set(init)
    dt_arr = _check_dt(dt)
    values = set_eigenvalues(eig_set, d_state, seed=seed)
    if eig_set.domain == "discrete":
        check_discretization(discretization)
        return np.broadcast_to(values, (*dt_arr.shape, values.shape[-1])).copy()
    return to_discrete(values, dt_arr[..., None], discretization)
