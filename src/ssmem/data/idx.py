"""The IDX format (MNIST, Fashion-MNIST): ``magic (0, 0, dtype code, ndim)``, ``ndim`` big-endian uint32
sizes, then the values, big-endian. Files may be gzip-compressed (detected by their first bytes)."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from ._errors import MalformedDataError

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (raw or gzip), shape ``(d0, d1, ...)`` in native byte order."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise MalformedDataError(path, f"gzip data is corrupt ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise MalformedDataError(path, "not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MalformedDataError(path, f"truncated header ({len(raw)} bytes for {ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = math.prod(shape) * dtype.itemsize  # Python integers: a header's sizes cannot overflow the product
    if len(raw) - header != expected:
        raise MalformedDataError(path, f"holds {len(raw) - header} data bytes, shape {shape} needs {expected}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx_shape(path: str | Path) -> tuple[int, ...]:
    """The array shape an IDX file's header declares (raw or gzip), reading only the header's bytes."""
    path = Path(path)
    with path.open("rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if gzipped else path.open("rb")) as handle:
            head = handle.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _DTYPES:
                raise MalformedDataError(path, "not an IDX file (bad magic number)")
            sizes = handle.read(4 * head[3])
    except (OSError, EOFError, zlib.error) as err:
        raise MalformedDataError(path, f"gzip data is corrupt ({err})") from None
    if len(sizes) < 4 * head[3]:
        raise MalformedDataError(path, f"truncated header ({4 + len(sizes)} bytes for {head[3]} dimensions)")
    return tuple(int(d) for d in np.frombuffer(sizes, dtype=">u4"))
