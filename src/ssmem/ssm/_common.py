"""What the SSM layers share: argument checks, seeded draws, parameter-or-buffer, and :class:`SSMLayerCommon`
(read-only properties, argument checks, ``kernel()`` and the readout-mode frozen kernel, :class:`FrozenKernel`)."""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .._values import check_seed, is_integer
from .kernels import KernelSpectrum, check_discretization, functorch_active, kernel_spectrum

TRAIN_MODES = ("all", "reservoir", "readout")


def check_train_mode(train: str) -> None:
    if train not in TRAIN_MODES:
        raise ValueError(f"unknown train mode {train!r}; valid choices: {', '.join(TRAIN_MODES)}")


def check_common(
    d_model: int, dt_min: float, dt_max: float, train: str, discretization: str, bidirectional: bool, seed: int | None
) -> None:
    """Validate the arguments every SSM layer shares; raise ValueError (TypeError for a non-bool flag) naming the
    bad value."""
    if not is_integer(d_model) or d_model < 1:
        raise ValueError(f"d_model must be a positive integer, got {d_model!r}")
    if not isinstance(bidirectional, (bool, np.bool_)):
        raise TypeError(f"bidirectional must be True or False, got {bidirectional!r}")
    check_seed(seed)
    if not (math.isfinite(dt_min) and math.isfinite(dt_max)) or dt_min <= 0:
        raise ValueError(f"dt_min must be positive and finite, got dt_min={dt_min!r}, dt_max={dt_max!r}")
    if dt_min > dt_max:
        raise ValueError(f"dt_min must be <= dt_max, got dt_min={dt_min!r} > dt_max={dt_max!r}")
    check_train_mode(train)
    check_discretization(discretization)


def resolve_dtype(dtype: torch.dtype | None) -> torch.dtype:
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64 (complex tensors follow it), got {dtype}")
    return dtype


def make_generator(seed: int | None) -> torch.Generator | None:
    """A CPU generator seeded with ``seed`` (draws independent of the global RNG), or None for the global RNG."""
    if seed is None:
        return None
    return torch.Generator(device="cpu").manual_seed(int(seed))


def resolve_device(device: torch.device | str | None) -> torch.device:
    """``device``, or where new tensors go by default (``torch.set_default_device``, ``with torch.device(...)``)."""
    return torch.device(device) if device is not None else torch.empty(0).device


def as_complex(pairs: torch.Tensor) -> torch.Tensor:
    """``(..., 2)`` real (re, im) pairs as a complex tensor: a view when the layout allows one, else a copy (e.g.
    a parameter living at an odd offset of a flat buffer, as ``vector_to_parameters`` makes)."""
    try:
        return torch.view_as_complex(pairs)
    except RuntimeError:
        return torch.complex(pairs[..., 0], pairs[..., 1])


def log_uniform_dt(
    d_model: int, dt_min: float, dt_max: float, generator: torch.Generator | None
) -> torch.Tensor:
    """log Δ per channel, log-uniform in [dt_min, dt_max]: ``(H,)`` float64 on CPU."""
    u = torch.rand(d_model, generator=generator, dtype=torch.float64, device="cpu")
    return math.log(dt_min) + u * (math.log(dt_max) - math.log(dt_min))


def register_tensor(module: nn.Module, name: str, value: torch.Tensor, trainable: bool) -> None:
    """Register ``value`` as a trainable parameter or as a frozen buffer."""
    if trainable:
        module.register_parameter(name, nn.Parameter(value))
    else:
        module.register_buffer(name, value)


def _autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except RuntimeError:  # a device type without autocast (e.g. meta)
        return False


@contextlib.contextmanager
def exact_float32_matmuls() -> Iterator[None]:
    """Float32 matmuls in full float32 for the duration, even where TF32 is allowed (restored after)."""
    before = torch.get_float32_matmul_precision()
    if before == "highest":
        yield
        return
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


@contextlib.contextmanager
def exact_float32(device_type: str) -> Iterator[None]:
    """Autocast (where it is on) and TF32 off for the duration: float32 work stays float32, contractions too."""
    with exact_float32_matmuls():
        if not _autocast_enabled(device_type):
            yield
            return
        with torch.autocast(device_type, enabled=False):
            yield


def full_precision(method: Callable) -> Callable:
    """Run a layer method with autocast and TF32 off: the layer computes in its parameters' float dtype (S4's
    dense matmuls would otherwise drop to bfloat16, and the kernel's complex einsum to TF32's 10-bit mantissa).
    Under autocast, float16/bfloat16 tensor arguments are first raised to that dtype, as autocast does for FFTs."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        device_type = self.D.device.type
        if _autocast_enabled(device_type):
            low = (torch.float16, torch.bfloat16)
            args = tuple(a.to(self.D.dtype) if isinstance(a, torch.Tensor) and a.dtype in low else a for a in args)
        with exact_float32(device_type):
            return method(self, *args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class FrozenKernel:
    """A readout-mode layer's convolution kernel, computed once by :meth:`SSMLayerCommon.freeze_kernel`:
    ``kernels (K, H, L)`` (K = 2 directions or 1, no gradient) and their FFT for the convolution."""

    kernels: torch.Tensor
    spectrum: KernelSpectrum

    @classmethod
    def of(cls, kernels: torch.Tensor) -> FrozenKernel:
        return cls(kernels, kernel_spectrum(kernels))

    @property
    def length(self) -> int:
        return self.kernels.shape[-1]

    def __reduce__(self):
        # the spectrum holds views of one storage as two dtypes, which torch.save refuses: it is saved as the
        # kernels it is made from
        return (FrozenKernel.of, (self.kernels,))


class SSMLayerCommon:
    """What the SSM layers share besides their forward pass: read-only hyperparameters (set once in ``__init__``
    as ``_d_model``, ``_d_state``, ``_train``, ``_bidirectional``, ``_discretization``), argument checks, and for
    the convolution layers (which define ``_compute_kernel(L) -> (K, H, L)``) ``kernel()`` and the readout-mode
    frozen kernel (:meth:`freeze_kernel`).
    """

    _d_model: int
    _d_state: int
    _train: str
    _bidirectional: bool
    _discretization: str
    _frozen_kernel: FrozenKernel | None = None

    @property
    def d_model(self) -> int:
        return self._d_model

    @property
    def d_state(self) -> int:
        return self._d_state

    @property
    def train_mode(self) -> str:
        return self._train

    @property
    def bidirectional(self) -> bool:
        return self._bidirectional

    @property
    def discretization(self) -> str:
        return self._discretization

    # ------------------------------------------------------------------------------------- frozen kernel

    @property
    def frozen_kernel(self) -> FrozenKernel | None:
        """The kernel :meth:`freeze_kernel` computed, or None."""
        return self._frozen_kernel

    def freeze_kernel(self, length: int) -> FrozenKernel:
        """Compute the kernel at ``length`` once, for every later forward pass of that length or shorter.

        For ``train="readout"`` layers, whose A, Δ, B and C do not train: their kernel is a constant, and a
        forward pass that reuses it does no kernel work (the harness freezes every readout layer at the task's
        length before training). The frozen kernel is a snapshot of A, Δ, B and C: loading weights
        (``load_state_dict``) takes it again, and a forward pass on another device or dtype than it was taken
        on takes it there; after any other write to those tensors call ``freeze_kernel`` again (or
        :meth:`unfreeze_kernel`). Under ``torch.func`` transforms, which may batch those tensors, and for
        longer sequences the kernel is computed as if not frozen.
        """
        name = type(self).__name__
        if not hasattr(self, "_compute_kernel"):
            raise TypeError(f"{name} has no convolution kernel to freeze")
        if self._train != "readout":
            raise ValueError(f"freeze_kernel is for train='readout' layers (A, Δ, B and C frozen); this {name} has "
                             f"train={self._train!r}: its kernel changes as it trains")
        if not is_integer(length) or length < 1:
            raise ValueError(f"length must be a positive integer, got {length!r}")
        self._check_parameter_dtype()
        with torch.no_grad():
            kernels = self._compute_kernel(int(length))
        self._frozen_kernel = FrozenKernel.of(kernels)
        return self._frozen_kernel

    def unfreeze_kernel(self) -> None:
        """Forget the frozen kernel: every forward pass computes the kernel again."""
        self._frozen_kernel = None

    def _kernels(self, length: int) -> tuple[torch.Tensor, KernelSpectrum | None]:
        """Kernels of every direction ``(K, H, L)`` and, when frozen at this length, their FFT."""
        frozen = self._frozen_kernel
        if frozen is None or length > frozen.length or functorch_active():
            return self._compute_kernel(length), None
        if frozen.kernels.device != self.D.device or frozen.kernels.dtype != self.D.dtype:
            frozen = self.freeze_kernel(frozen.length)  # the layer moved: take the kernel where it is now
        if length < frozen.length:  # a kernel's first L taps are the kernel at length L
            return frozen.kernels[..., :length], None
        return frozen.kernels, frozen.spectrum

    @full_precision
    def kernel(self, length: int) -> torch.Tensor:
        """The convolution kernel: ``(H, L)`` real, or ``(2, H, L)`` when bidirectional (the second acts on the
        reversed sequence); a copy of the frozen kernel when there is one (:meth:`freeze_kernel`)."""
        self._check_parameter_dtype()
        kernels, _ = self._kernels(length)
        if self._frozen_kernel is not None:
            kernels = kernels.clone()
        return kernels if self.bidirectional else kernels[0]

    def _check_recurrent(self) -> None:
        if self._bidirectional:
            raise ValueError(
                f"a bidirectional {type(self).__name__} layer has no recurrent (step) mode: it needs the future inputs"
            )

    def _check_parameter_dtype(self) -> None:
        """The layer computes in float32 or float64 only."""
        if self.D.dtype not in (torch.float32, torch.float64):
            raise ValueError(
                f"{type(self).__name__} computes in float32 or float64 but its parameters are {self.D.dtype} (after "
                ".half() or .bfloat16()); convert it back with layer.float() and use torch.autocast for the rest"
            )

    def _check_input(self, x: torch.Tensor) -> None:
        """``x (B, L, H)`` in the parameters' dtype."""
        if x.dim() != 3 or x.shape[-1] != self._d_model:
            raise ValueError(
                f"{type(self).__name__} expects input (B, L, H={self._d_model}); got shape {tuple(x.shape)}"
            )
        self._check_dtype(x)

    def _check_dtype(self, x: torch.Tensor) -> None:
        """The layer computes in float32 or float64 only, and the input has the parameters' dtype (as for
        ``nn.Linear``: no silent promotion; under autocast :func:`full_precision` has raised it)."""
        self._check_parameter_dtype()
        if x.dtype != self.D.dtype:
            raise ValueError(
                f"{type(self).__name__} has {self.D.dtype} parameters but the input is {x.dtype}; convert one "
                f"(x.to({self.D.dtype}) or layer.to({x.dtype}) for a float32/float64 input)"
            )

    def _check_batch(self, batch: int) -> None:
        self._check_recurrent()
        self._check_parameter_dtype()
        if not is_integer(batch) or batch < 1:
            raise ValueError(f"initial_state needs a positive integer batch size, got {batch!r}")

    def _check_step(self, x_t: torch.Tensor, state: torch.Tensor, state_size: int) -> None:
        """``x_t (B, H)`` and ``state (B, H, state_size)`` as :meth:`initial_state` made it."""
        self._check_recurrent()
        name = type(self).__name__
        if x_t.dim() != 2 or x_t.shape[-1] != self._d_model:
            raise ValueError(f"{name}.step expects x_t of shape (B, H={self._d_model}); got {tuple(x_t.shape)}")
        expected = (x_t.shape[0], self._d_model, state_size)
        if tuple(state.shape) != expected:
            raise ValueError(
                f"{name}.step expects a state of shape {expected} (initial_state({x_t.shape[0]}) or the previous "
                f"step's); got {tuple(state.shape)}"
            )
        self._check_dtype(x_t)


def refreeze_after_load(module: nn.Module, incompatible_keys: Any) -> None:
    """``load_state_dict`` post-hook of the convolution layers: a frozen kernel is taken again from the weights
    just loaded."""
    frozen = module._frozen_kernel
    if frozen is not None:
        module.freeze_kernel(frozen.length)


def freeze_readout_kernels(model: nn.Module, length: int) -> int:
    """:meth:`SSMLayerCommon.freeze_kernel` at ``length`` on every readout-mode convolution layer of ``model``;
    returns how many were frozen."""
    layers = [m for m in model.modules() if isinstance(m, SSMLayerCommon) and hasattr(m, "_compute_kernel")
              and m.train_mode == "readout"]
    for layer in layers:
        layer.freeze_kernel(length)
    return len(layers)
