"""Numeric precision of a training run: ``train.precision`` (autocast) and ``train.tf32`` (TF32 matmuls).

* ``fp32``: everything in float32.
* ``bf16``: the blocks' linear layers, norms and heads under ``torch.autocast(dtype=bfloat16)``; the SSM layers leave
  autocast (:func:`ssmem.ssm._common.full_precision`), so kernels, FFTs and the complex einsum stay in float32.
  bfloat16 has float32's exponent range: no loss scaling.
* ``fp16``: as bf16 with float16, plus dynamic loss scaling (``torch.amp.GradScaler``): a step whose scaled gradients
  overflow is skipped and the scale halves, which is not a divergence.

TF32 rounds float32 matmul inputs to 10 mantissa bits on Ampere and later GPUs. ``train.tf32=false`` (the default)
keeps float32 matmuls exact for the run; ``true`` allows TF32 in the blocks' matmuls and convolutions. The SSM
kernel never runs in TF32 (:func:`ssmem.ssm._common.full_precision` guards it), whatever the run or the user set globally.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

PRECISIONS = ("fp32", "bf16", "fp16")
_LOW_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid choices: {', '.join(PRECISIONS)}")


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context for forward and loss: ``torch.autocast`` to bf16/fp16, or nothing for fp32."""
    check_precision(precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=_LOW_DTYPES[precision])


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler:
    """Dynamic loss scaling for fp16; a disabled scaler (its calls pass through) otherwise."""
    check_precision(precision)
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


@contextlib.contextmanager
def tf32_policy(allow: bool) -> Iterator[None]:
    """Allow or forbid TF32 in float32 matmuls and cuDNN convolutions for the duration (flags restored after)."""
    before = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision("high" if allow else "highest")
    torch.backends.cudnn.allow_tf32 = allow
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before[0])
        torch.backends.cudnn.allow_tf32 = before[1]
