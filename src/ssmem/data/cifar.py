"""CIFAR-10 python batches, read through a restricted unpickler.

A pickle can run arbitrary code when loaded; the batches only need plain containers, bytes, strings,
numbers and numpy arrays, so the unpickler resolves nothing but the few numpy functions that rebuild an
array and refuses every other global (an ``UnpicklingError`` naming it).

Layout: ``cifar-10-batches-py/{data_batch_1 .. data_batch_5, test_batch}``, each a dict with ``b"data"``
(uint8 ``(10000, 3072)``, the red, green and blue planes of a 32 x 32 image) and ``b"labels"``.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from ._errors import MalformedDataError

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)


def _allowed() -> dict[tuple[str, str], object]:
    core = getattr(np, "_core", None) or np.core  # numpy >= 2 names it _core
    reconstruct = core.multiarray._reconstruct
    frombuffer = core.numeric._frombuffer
    table: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core", "numpy._core"):
        table[(f"{module}.multiarray", "_reconstruct")] = reconstruct
        table[(f"{module}.numeric", "_frombuffer")] = frombuffer
        table[(f"{module}.multiarray", "scalar")] = core.multiarray.scalar
    table[("_codecs", "encode")] = __import__("codecs").encode  # how protocol-2 pickles spell bytes
    return table


class RefusedGlobalError(pickle.UnpicklingError):
    """A pickle asked for a global that data files have no business loading."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles containers, scalars and numpy arrays only; any other global is refused."""

    _ALLOWED = _allowed()

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobalError(
                f"refusing to load global {module}.{name}: data pickles may only hold containers and numpy arrays"
            ) from None


def restricted_load(path: str | Path) -> object:
    """Load a pickle file with :class:`RestrictedUnpickler` (bytes keys kept as bytes)."""
    path = Path(path)
    try:
        return RestrictedUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except RefusedGlobalError as err:
        raise MalformedDataError(path, str(err)) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as err:
        raise MalformedDataError(path, f"not a readable pickle ({err})") from None


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 ``(n, 32, 32, 3)`` and labels int64 ``(n,)`` of one CIFAR-10 batch file."""
    batch = restricted_load(path)
    if not isinstance(batch, dict):
        raise MalformedDataError(path, f"expected a dict, found {type(batch).__name__}")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if not isinstance(data, np.ndarray) or labels is None:
        raise MalformedDataError(path, "expected keys 'data' (a numpy array) and 'labels'")
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise MalformedDataError(path, f"'data' is {data.dtype} {data.shape}, expected uint8 (n, 3072)")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise MalformedDataError(path, "'labels' must be one class 0-9 per image (found values that are not integers)") from None
    if labels.shape != (len(data),) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise MalformedDataError(path, "'labels' must be one class 0-9 per image")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of uint8 RGB images ``(..., 3)`` → uint8 ``(...)``: 0.299 R + 0.587 G + 0.114 B."""
    luma = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)
