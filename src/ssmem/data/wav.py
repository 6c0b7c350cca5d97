"""WAV files as float waveforms, and resampling to a common rate.

PCM samples of 8 bits (unsigned, offset 128), 16, 24 or 32 bits (signed, little-endian) are read with the
standard library's ``wave`` module and scaled to [-1, 1): ``x = s / 2^(bits-1)``. Several channels are
averaged to one (mono). Resampling is polyphase (``scipy.signal.resample_poly``: up by p, low-pass, down by q,
with p/q the ratio of the rates in lowest terms).
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np

from ._errors import MalformedDataError


def _pcm_values(raw: bytes, width: int) -> np.ndarray:
    """Interleaved PCM bytes of ``width`` bytes per sample → int64 sample values (signed, zero = silence)."""
    if width == 1:
        return np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - 128
    if width == 3:  # no numpy dtype: assemble three little-endian bytes and sign-extend from bit 23
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int64)
        value = bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)
        return np.where(value >= 1 << 23, value - (1 << 24), value)
    return np.frombuffer(raw, dtype={2: "<i2", 4: "<i4"}[width]).astype(np.int64)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """The samples of a PCM WAV file, float64 ``(frames, channels)`` in [-1, 1), and its sample rate in Hz.

    A file that is not PCM WAV, has another sample width, or is cut short is a :class:`MalformedDataError`
    naming it.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as handle:
            channels, width, rate, frames = handle.getnchannels(), handle.getsampwidth(), handle.getframerate(), handle.getnframes()
            raw = handle.readframes(frames)
    except (wave.Error, EOFError, OSError) as err:
        raise MalformedDataError(path, f"not a readable PCM WAV file ({err})") from None
    if width not in (1, 2, 3, 4):
        raise MalformedDataError(path, f"{8 * width}-bit samples; readable: 8, 16, 24 or 32-bit PCM")
    if len(raw) != frames * channels * width:
        raise MalformedDataError(path, f"holds {len(raw)} bytes of samples, its header promises {frames * channels * width}")
    values = _pcm_values(raw, width).reshape(frames, channels)
    return values / float(1 << (8 * width - 1)), rate


def to_mono(samples: np.ndarray) -> np.ndarray:
    """``(frames, channels) → (frames,)``: the mean of the channels."""
    return samples.mean(axis=1)


def resample(signal: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """``signal (n,)`` sampled at ``rate`` Hz, resampled to ``target_rate`` Hz: ``ceil(n * target/rate)`` samples
    (polyphase filter; the same array when the rates are equal)."""
    if rate == target_rate:
        return signal
    from scipy.signal import resample_poly

    common = math.gcd(rate, target_rate)
    return resample_poly(signal, target_rate // common, rate // common)
