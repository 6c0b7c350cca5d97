"""What the SSM layers share: argument checks, seeded draws, parameter-or-buffer, and :class:`SSMLayerCommon`
(read-only properties, the readout-mode kernel cache, ``kernel()`` and the convolution-mode ``forward``)."""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator
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


def full_precision(method: Callable) -> Callable:
    """Run a layer method with autocast and TF32 off: the layer computes in its parameters' float dtype (S4's
    dense matmuls would otherwise drop to bfloat16, and the kernel's complex einsum to TF32's 10-bit mantissa).
    Under autocast, float16/bfloat16 tensor arguments are first raised to that dtype, as autocast does for FFTs."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        device_type = self.D.device.type
        with exact_float32_matmuls():
            if not _autocast_enabled(device_type):
                return method(self, *args, **kwargs)
            low = (torch.float16, torch.bfloat16)
            args = tuple(a.to(self.D.dtype) if isinstance(a, torch.Tensor) and a.dtype in low else a for a in args)
            with torch.autocast(device_type, enabled=False):
                return method(self, *args, **kwargs)

    return wrapper


class SSMLayerCommon:
    """What the convolution layers (S4D, S4Dense) share besides their forward pass: read-only hyperparameters (set
    once in ``__init__`` as ``_d_model``, ``_d_state``, ``_train``, ``_bidirectional``, ``_discretization``),
    argument checks, and the readout-mode cache of the kernel and its spectrum (:meth:`_kernels`; a layer defines
    ``_compute_kernel(L) -> (K, H, L)`` and ``_kernel_key(L)``, and sets ``_kernel_cache = None``).
    """

    _d_model: int
    _d_state: int
    _train: str
    _bidirectional: bool
    _discretization: str

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

    def _kernels(self, length: int) -> tuple[torch.Tensor, KernelSpectrum | None]:
        """Kernels of every direction ``(K, H, L)`` and, in readout mode, their FFT for the convolution: both
        computed once per key and cached there (a readout step does no kernel work); otherwise ``(kernels, None)``."""
        if self._train != "readout" or functorch_active():  # (transforms may batch the frozen tensors)
            return self._compute_kernel(length), None
        key = self._kernel_key(length)
        if self._kernel_cache is None or self._kernel_cache[0] != key:
            with torch.no_grad():
                kernels = self._compute_kernel(length)
                self._kernel_cache = (key, kernels, kernel_spectrum(kernels))
        return self._kernel_cache[1], self._kernel_cache[2]

    @full_precision
    def kernel(self, length: int) -> torch.Tensor:
        """The convolution kernel: ``(H, L)`` real, or ``(2, H, L)`` when bidirectional (the second acts on the
        reversed sequence). In readout mode it is computed once and cached; the tensor returned is a copy."""
        self._check_parameter_dtype()
        kernels, _ = self._kernels(length)
        if self.train_mode == "readout":
            kernels = kernels.clone()
        return kernels if self.bidirectional else kernels[0]

    def _tensor_key(self, length: int, tensors: list[torch.Tensor]) -> tuple:
        """What identifies the cached kernel: the length and each tensor's storage, version, device and dtype.
        In-place changes are seen through the version counter; writes that bypass it (through ``.data``, or
        fused optimizer kernels) are not: call :meth:`clear_cache` after them."""
        return (length,) + tuple((t.data_ptr(), t._version, t.device, t.dtype) for t in tensors)

    def clear_cache(self) -> None:
        """Forget the cached readout-mode kernel and step-mode tensors (they are recomputed on next use)."""
        self._kernel_cache = None
        if hasattr(self, "_step_cache"):
            self._step_cache = None

    def __getstate__(self) -> dict:
        # caches are derived (and may view parameter storage): pickles, torch.save and deepcopy leave them out
        parent = getattr(super(), "__getstate__", None)  # nn.Module's leaves out a compiled call
        state = dict(parent() if parent is not None else self.__dict__)
        state["_kernel_cache"] = None
        if "_step_cache" in state:
            state["_step_cache"] = None
        return state

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
