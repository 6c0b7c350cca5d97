"""User-given eigenvalues: from an array, from a file (.npy, .json, .txt/.csv) or from a trained run directory.

A user set holds ``n_modes`` upper-half representatives. A conjugate-closed list of all N eigenvalues (as
``ssmem memory --json`` writes them) is accepted too and reduced to its upper half.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from .._values import parses_as_number
from .registry import Domain, EigenvalueSet

FILE_SUFFIXES = (".npy", ".json", ".txt", ".csv")

# every form an eigenvalue source may take, for the errors that refuse one
ACCEPTED_FORMS = (
    "accepted forms: a set name (`ssmem eigs` lists them); "
    ".npy (complex values, or rows of [re, im]); "
    ".txt/.csv (rows of `re im` / `re,im`, or one complex value per cell such as 0.9+0.1j or 0.9-0.1j); "
    '.json (a list of [re, im], {"real": [...], "imag": [...]}, an object with "discrete_eigenvalues" or '
    '"continuous_eigenvalues", or what `ssmem memory --json` writes); '
    "a training run directory (config.yaml and checkpoints/: one set per channel of every SSM layer)"
)


def upper_half(values: np.ndarray) -> np.ndarray:
    """The upper-half representatives of a conjugate-closed spectrum, or ``values`` unchanged if not closed.

    Conjugates are matched to within 1e-12 of the largest magnitude, each to its nearest partner (so pairs whose
    parts differ by rounding are matched, in any order)."""
    values = np.asarray(values, dtype=np.complex128).ravel()
    scale = max(1.0, float(np.max(np.abs(values)))) if values.size else 1.0
    tol = 1e-12 * scale
    upper = values[values.imag > tol]
    lower = values[values.imag < -tol]
    real = np.sort(values[np.abs(values.imag) <= tol].real)
    closed = (
        len(upper) == len(lower)
        and _one_to_one_within(upper, lower.conj(), tol)
        and len(real) % 2 == 0
        and np.allclose(real[0::2], real[1::2], atol=tol, rtol=0)
    )
    if not closed:
        return values
    return np.concatenate([upper, real[0::2] + 0j])


def _one_to_one_within(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    """Whether every value of ``a`` has its own nearest value of ``b`` within ``tol`` (a one-to-one matching)."""
    if a.size == 0:
        return True
    from scipy.spatial import cKDTree

    distance, index = cKDTree(np.stack([b.real, b.imag], axis=1)).query(np.stack([a.real, a.imag], axis=1))
    return bool(np.all(distance <= tol) and np.unique(index).size == a.size)


def _repeated(modes: np.ndarray) -> np.ndarray:
    """The values of ``modes`` that occur more than once (within 1e-12 of the largest magnitude)."""
    if modes.size < 2:
        return modes[:0]
    from scipy.spatial import cKDTree

    tol = 1e-12 * max(1.0, float(np.max(np.abs(modes))))
    pairs = cKDTree(np.stack([modes.real, modes.imag], axis=1)).query_pairs(tol, output_type="ndarray")
    return modes[np.unique(pairs[:, 1])] if pairs.size else modes[:0]


def user_set(values: np.ndarray, *, domain: Domain = "discrete", name: str = "user") -> EigenvalueSet:
    """An :class:`EigenvalueSet` from explicit eigenvalues (upper-half modes, or a conjugate-closed list)."""
    if domain not in ("continuous", "discrete"):
        raise ValueError(f"domain must be 'continuous' or 'discrete', got {domain!r}")
    modes = upper_half(np.asarray(values))
    if modes.size == 0:
        raise ValueError("user eigenvalues must be a non-empty array of finite numbers; got none")
    checks = [(~np.isfinite(modes), "user eigenvalues must be finite numbers")]
    if domain == "continuous":
        checks.append((modes.real >= 0, "continuous-time eigenvalues must have Re(A) < 0 (stability)"))
    else:
        checks.append(((np.abs(modes) >= 1) | (modes == 0), "discrete eigenvalues must satisfy 0 < |A_bar| < 1 "
                       "(stability; continuous-time eigenvalues go in a .json under 'continuous_eigenvalues')"))
    given = np.asarray(values, dtype=np.complex128).ravel()

    def position(value: complex) -> int:  # where the value stands in the list as given (not its upper half)
        return int(np.flatnonzero((given == value) | np.isnan(given) & np.isnan(value))[0])

    for bad, rule in checks:
        if np.any(bad):
            index = np.flatnonzero(bad)
            shown = ", ".join(f"{modes[i]:.6g} (index {position(modes[i])})" for i in index[:4])
            raise ValueError(f"{rule}; got {shown}" + (f" and {index.size - 4} more" if index.size > 4 else ""))
    repeated = _repeated(modes)
    if repeated.size:
        shown = ", ".join(f"{v:.6g}" for v in repeated[:4]) + (f" and {repeated.size - 4} more" if repeated.size > 4 else "")
        warnings.warn(f"user eigenvalues repeat ({shown}; a conjugate pair counts as one mode, given once): each "
                      "repeat adds two real state dimensions but no memory (the rank counts it once)", stacklevel=2)

    def make(n_modes: int, rng: np.random.Generator) -> np.ndarray:
        if n_modes != modes.size:
            raise ValueError(
                f"eigenvalue set {name!r} has {modes.size} modes (d_state = {2 * modes.size}); "
                f"asked for n_modes = {n_modes} (d_state = {2 * n_modes})"
            )
        return modes.copy()

    return EigenvalueSet(name, f"user-given {domain} eigenvalues ({modes.size} modes)", domain, make, n_modes=modes.size)


def _pairs_to_complex(array: np.ndarray, source: str) -> np.ndarray:
    array = np.asarray(array)
    if np.iscomplexobj(array):
        return array.astype(np.complex128).ravel()
    if array.ndim == 2 and array.shape[1] == 2:
        return array[:, 0].astype(np.float64) + 1j * array[:, 1].astype(np.float64)
    if array.ndim == 1:
        return array.astype(np.complex128)
    raise ValueError(f"{source}: expected complex values or rows of [re, im], got an array of shape {array.shape}")


def load_eigenvalues(path: str | Path, *, domain: Domain | None = None) -> EigenvalueSet:
    """Read a user eigenvalue set from a file.

    Formats: ``.npy`` (complex, or (n, 2) [re, im]); ``.txt``/``.csv`` (two columns re, im, or one complex
    value per cell in Python's syntax, ``0.9+0.1j``); ``.json`` (a list of [re, im], an object
    ``{"real": [...], "imag": [...]}``, or an object with ``discrete_eigenvalues`` or ``continuous_eigenvalues``
    holding either of those, or the first entry of ``results`` as written by ``ssmem memory --json``).
    ``domain`` defaults to what the file says, else discrete.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder, not an eigenvalue file: a training run directory is read by "
                         "ssmem.train.run_eigenvalue_sets (ssmem memory --eigs RUN_DIR)")
    if not path.is_file():
        raise FileNotFoundError(f"eigenvalue file {str(path)!r} does not exist")
    try:
        with warnings.catch_warnings():  # an empty or odd file is reported in the error, not as NumPy's warnings
            warnings.simplefilter("ignore")
            raw, file_domain = _read_raw(path, path.suffix.lower())
            if np.size(raw) == 0:
                raise ValueError("the file holds no eigenvalues")
            values = _pairs_to_complex(raw, "the file")
            return user_set(values, domain=domain or file_domain or "discrete", name=path.stem)
    except (OSError, ValueError, KeyError, IndexError, TypeError, EOFError) as err:
        message = str(err)
        if "pickled" in message:  # NumPy's words for a file that is not an .npy array at all
            message = "not a NumPy .npy array file"
        raise ValueError(f"cannot read eigenvalues from {str(path)!r}: {message}; {ACCEPTED_FORMS}") from None


def _read_raw(path: Path, suffix: str) -> tuple[np.ndarray, Domain | None]:
    """The numbers of an eigenvalue file and the domain it names (None if it names none)."""
    file_domain: Domain | None = None
    if suffix == ".npy":
        raw = np.load(path, allow_pickle=False)
    elif suffix in (".txt", ".csv"):
        delimiter = "," if suffix == ".csv" else None
        with path.open(encoding="utf-8-sig") as handle:  # (-sig: a spreadsheet's byte-order mark is not a value)
            lines = handle.read().splitlines()
        first = lines[0].split(delimiter) if lines else []
        header = bool(first) and not any(_parses_as_complex(cell) for cell in first)  # a header row such as `re,im`
        rows = [line.split("#", 1)[0].split(delimiter) for line in lines[int(header):]]
        if any("j" in cell.lower() for row in rows for cell in row):
            raw = _complex_cells(rows, first_line=1 + int(header))
        else:
            raw = np.loadtxt(path, delimiter=delimiter, ndmin=2, skiprows=int(header), encoding="utf-8-sig")
    elif suffix == ".json":
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "results" in data:
            if not data["results"]:
                raise ValueError("its 'results' list is empty")
            data = data["results"][0]
        if isinstance(data, dict) and not {"real", "imag"} <= data.keys():
            keys = [k for k in ("discrete_eigenvalues", "continuous_eigenvalues") if k in data]
            if not keys:
                raise ValueError("expected keys 'real' and 'imag', or a key 'discrete_eigenvalues' or "
                                 f"'continuous_eigenvalues'; got keys {', '.join(map(repr, data)) or 'none'}")
            file_domain = "discrete" if keys[0].startswith("discrete") else "continuous"
            data = data[keys[0]]
        raw = _real_imag(data) if isinstance(data, dict) else np.asarray(data, dtype=np.float64)
    else:
        raise ValueError(f"unsupported suffix {suffix!r}; valid: {', '.join(FILE_SUFFIXES)}")
    return raw, file_domain


def _parses_as_complex(cell: str) -> bool:
    """Whether a text cell reads as a number, complex ones (``0.9+0.1j``) included."""
    try:
        complex(cell.strip().replace(" ", ""))
    except ValueError:
        return parses_as_number(cell)
    return True


def _complex_cells(rows: list[list[str]], first_line: int) -> np.ndarray:
    """Every non-empty cell of ``rows`` as one complex value (Python's syntax, spaces allowed around the sign)."""
    values = []
    for number, row in enumerate(rows, start=first_line):
        for cell in row:
            if not cell.strip():
                continue
            try:
                values.append(complex(cell.strip().replace(" ", "")))
            except ValueError:
                raise ValueError(f"line {number}: {cell.strip()!r} is not a number (a complex value is written like "
                                 "0.9+0.1j; a file of complex values holds one per cell)") from None
    return np.asarray(values, dtype=np.complex128)


def _real_imag(data: dict) -> np.ndarray:
    """``{"real": [...], "imag": [...]}`` → complex values (the two lists of equal length)."""
    if not {"real", "imag"} <= data.keys():
        raise ValueError(f"expected keys 'real' and 'imag'; got keys {', '.join(map(repr, data)) or 'none'}")
    real, imag = (np.asarray(data[k], dtype=np.float64) for k in ("real", "imag"))
    if real.ndim != 1 or real.shape != imag.shape:
        raise ValueError(f"'real' and 'imag' must be lists of equal length; got shapes {real.shape} and {imag.shape}")
    return real + 1j * imag
