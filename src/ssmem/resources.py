"""Peak-memory estimates made before anything large is allocated, and the check that refuses what cannot fit.

A configuration with ``model.d_model=1000000000`` would otherwise grow for minutes and be killed by the system;
here its size is computed from the numbers alone (no tensor is built) and compared with the memory the machine
has available (``MemAvailable`` of ``/proc/meminfo``, else ``os.sysconf``). Each estimate is a list of parts
(parameters, activations, kernels, data set, ...) so that a refusal can say which part is too large and which
setting shrinks it.

The constants are counts of tensors of a given shape alive at the peak, read off the code they model (named at
each) and fitted to the peak resident memory of runs of ``ssmem train`` on a CPU (estimate against the growth of
the process's resident memory over its size before the run): the memory/delay recipe 106 against 113 MiB,
lra/listops-cpu 218 against 190 MiB, H = 128, 2 layers, L = 1024, batch 16: 443 against 403 MiB; and, not used in
the fit, H = 64, 4 layers, N = 64, L = 512, batch 32: 392 against 390 MiB. The S4 layer: H = 64, 2 layers, N = 64,
L = 512, batch 16: 388 against 398 MiB; not used in the fit, H = 32, 3 layers, N = 128, L = 256: 517 against 564 MiB.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

MAMBA_EXPAND, MAMBA_CONV = 2, 4  # ssmem.ssm.Mamba's defaults (the models build it with them)
LINEAR_ATTENTION_CHUNK = 64  # ssmem.ssm.LinearAttention's default chunk_size
FLOAT = 4  # bytes of a float32 (models train in float32)
DOUBLE = 8  # float64 (analysis)
COMPLEX_DOUBLE = 16  # complex128 (eigenvalues, memory-function bases)
OVERRIDE_FLAG = "--ignore-memory-check"

# (B, L, H) float32 tensors that one residual block keeps for the backward pass of a training step (norm input and
# output, the SSM layer's rFFT of the zero-padded input (complex, 2L) and its product with the kernel's, the layer
# output, GELU input and output, the Linear(H, 2H) output and the GLU halves, the residual sum): 15 measured
BLOCK_ACTIVATIONS = 15
# (B, L, H) tensors of a training step besides the blocks' (encoder output, decoder output and loss terms, the
# gradients flowing back, and the freed blocks glibc keeps for the next step, ssmem._allocator): 12 measured
STEP_ACTIVATIONS = 12
# (B, L, H) tensors alive while one block evaluates without gradients (input, padded FFT, output, GLU)
EVAL_ACTIVATIONS = 10
# (H, L) float32 tensors per S4D kernel computation (K output vectors): the kernel, its rFFT at 2L and its
# conjugate (complex: 2 floats each), kept for the backward pass
KERNEL_TENSORS = 6
# (H, 2N+2, 2N+2) float64 blocks alive in the backward pass of one S4 layer's matrix exponential: fitted to the
# peak of a 2-layer S4 run (H = 64, N = 64, L = 512)
S4_EXP_BACKWARD = 16
# (B, L, E, N) float32 tensors of one Mamba layer's selective scan (ssmem.ssm.selective_scan keeps one state per
# chunk and a few chunk-sized tensors: a fraction of one) and (B, L, E) float32 tensors of the rest of the layer
# (the projections, conv, SiLU, Δ, B_t, C_t, gate, the scan's per-step inputs and their gradients): fitted to the
# peak resident memory of one forward and backward of a whole layer, 23.8 and 22.9 (B, L, E) units measured at
# N = 16 (B 4, L 512, H 32; B 8, L 1024, H 64) and 39.5 at N = 64, against 25 and 43 estimated
MAMBA_SCAN_TENSORS = 0.375
MAMBA_INNER_TENSORS = 19
# (B, L, n) float32 units of an LRU or S5 layer's per-mode states (complex, and their FFTs at 2L, in the forward and
# backward of ssmem.ssm.modal.modal_convolution): 39 (LRU) and 44 (S5) measured (B 4, L 512, H 64, n 128)
MODAL_STATE_TENSORS = 44
# what the training loop loads besides the model and the data (its modules, the data pipeline's buffers): measured
# as the peak of a one-layer run with tiny tensors less the process's size before it
LOOP_RUNTIME = 80 * 2**20


class InsufficientMemoryError(ValueError):
    """An estimate does not fit in the memory available: the message names the estimate, its largest part, what
    shrinks it and the override flag."""


@dataclass(frozen=True)
class MemoryPart:
    """One part of a peak: ``size`` bytes, on ``place`` (``"host"`` or ``"device"``, a GPU), and the settings that
    shrink it (empty for a fixed part)."""

    name: str
    size: int
    shrink: str
    place: str = "host"


@dataclass(frozen=True)
class MemoryEstimate:
    """The estimated peak memory of a computation, by part; ``unknown`` names what could not be counted."""

    what: str
    parts: tuple[MemoryPart, ...]
    unknown: tuple[str, ...] = field(default=())

    @property
    def total(self) -> int:
        return sum(p.size for p in self.parts)

    def on(self, place: str) -> int:
        """The bytes the estimate puts on ``place``."""
        return sum(p.size for p in self.parts if p.place == place)

    def summary(self) -> str:
        """``about 1.2 GiB (activations 900 MiB, data set 200 MiB, ...)``, largest parts first."""
        parts = sorted((p for p in self.parts if p.size), key=lambda p: -p.size)
        inner = ", ".join(f"{p.name} {format_bytes(p.size)}" + (" on the GPU" if p.place == "device" else "")
                          for p in parts)
        missing = f"; not counted: {', '.join(self.unknown)}" if self.unknown else ""
        return f"about {format_bytes(self.total)} ({inner}{missing})"


def format_bytes(size: float) -> str:
    """``1536`` → ``"1.5 KiB"``: binary units, three significant digits."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB"):
        if abs(size) < 1024 or unit == "ZiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.3g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


# ----------------------------------------------------------------------------------------------- the machine


def available_memory() -> int | None:
    """Bytes of memory this machine can give a new allocation without swapping (``MemAvailable``), or the free
    physical pages where there is no ``/proc/meminfo``; None when neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def available_device_memory(device: str) -> int | None:
    """Free bytes of the CUDA device ``device`` (``"cuda"`` = the current one), or None without one."""
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        free, _ = torch.cuda.mem_get_info(None if device == "cuda" else device)
        return int(free)
    except (RuntimeError, ValueError, ImportError):  # pragma: no cover (a device that cannot be queried)
        return None


def check_memory(estimate: MemoryEstimate, *, host: int | None = None, device: int | None = None,
                 flag: str = OVERRIDE_FLAG) -> None:
    """Raise :class:`InsufficientMemoryError` (one line) when ``estimate`` needs more than ``host`` bytes of memory
    (default: :func:`available_memory`) or its GPU parts more than ``device`` bytes (None: not checked)."""
    host = available_memory() if host is None else host
    for place, room, where in (("host", host, "available"), ("device", device, "free on the GPU")):
        need = estimate.on(place)
        if room is None or need <= room:
            continue
        adjustable = [p for p in estimate.parts if p.place == place and p.shrink]
        largest = max(adjustable, key=lambda p: p.size) if adjustable else None
        remedy = f"lower {largest.shrink} (the {largest.name}), or " if largest is not None else ""
        raise InsufficientMemoryError(
            f"not enough memory for {estimate.what}: it needs {estimate.summary()}, and {format_bytes(room)} is "
            f"{where}; {remedy}pass {flag} to try anyway")


# ----------------------------------------------------------------------------------------------- training


def _ssm_layer_tensors(layer: str, d_model: int, d_state: int, *, bidirectional: bool, train: str,
                       freeze_fraction: float) -> tuple[int, int]:
    """(trainable, all) tensor entries of one SSM layer (:class:`ssmem.ssm.S4D`, :class:`ssmem.ssm.S4`,
    :class:`ssmem.ssm.LRU`, :class:`ssmem.ssm.S5`, :class:`ssmem.ssm.Mamba` with its default expand, d_conv and
    dt_rank, :class:`ssmem.ssm.LinearAttention`)."""
    H, K = d_model, 2 if bidirectional else 1
    eigen, kernel = train == "all", train != "readout"
    if layer in ("lru", "s5"):
        n = d_state // 2
        eigen_size = (2 if layer == "lru" else 3) * n  # ν_log, θ_log; or log_dt, log_A_real, A_imag
        readout = 2 * H * n + H  # C (complex), D: always trained
        return readout + eigen_size * eigen + 2 * n * H * kernel, readout + eigen_size + 2 * n * H
    if layer == "linear-attention":
        N = d_state
        always = H * H + H  # out_weight, D
        return always + 2 * N * H * eigen + H * H * kernel, always + 2 * N * H + H * H  # q, k; v
    if layer == "mamba":
        E, N, R = MAMBA_EXPAND * H, d_state, -(-H // 16)
        eigen_size = E + E * N  # dt_bias, A_log
        projections = 2 * E * H + (R + 2 * N) * E + E * R  # in_proj, x_proj, dt_proj
        always = MAMBA_CONV * E + E + E + H * E  # conv weight and bias, D, out_proj
        return always + eigen_size * eigen + projections * kernel, always + eigen_size + projections
    if layer == "s4d":
        n = d_state // 2
        eigen_size = H + 2 * H * n  # log_dt, log_A_real, A_imag
        kernel_size = 2 * H * n + 2 * K * H * n  # B and C, complex as (re, im) pairs
        frozen_copies = (3 * H * n + H) if freeze_fraction > 0 else 0  # mask and frozen eigenvalues, Δ
    else:
        N = d_state
        eigen_size = N * N + H  # A (shared), log_dt
        kernel_size = H * N + K * H * N  # B, C
        frozen_copies = 0
    trainable = H + eigen_size * eigen + kernel_size * kernel  # D always trains
    return trainable, H + eigen_size + kernel_size + frozen_copies


def model_tensor_sizes(model: Any, info: Any) -> tuple[int, int]:
    """(trainable, all) tensor entries (parameters and buffers) of the model that
    :func:`ssmem.train.build_model` builds for ``model`` (a :class:`~ssmem.train.ModelConfig`) and task ``info``,
    computed from the numbers alone."""
    from .train.build import architecture_for, norm_for

    arch = architecture_for(model, info)
    norm = norm_for(model, arch)
    H = model.d_model
    layer_trainable, layer_all = _ssm_layer_tensors(
        model.layer, H, model.d_state, bidirectional=model.bidirectional, train=model.train,
        freeze_fraction=model.freeze_fraction)
    norm_trainable = {"batch": 2 * H, "layer": 2 * H, "none": 0}[norm]
    norm_all = norm_trainable + (2 * H + 1 if norm == "batch" else 0)  # running mean, variance, batch count
    block_trainable = layer_trainable + 2 * H * H + 2 * H + norm_trainable  # + Linear(H, 2H)
    block_all = layer_all + 2 * H * H + 2 * H + norm_all
    encoder = info.vocab_size * H if info.vocab_size is not None else info.d_input * H + H
    if arch == "dual":
        decoder = 4 * H * H + H + H * info.d_output + info.d_output
    else:
        decoder = H * info.d_output + info.d_output
    # a prenorm tower ends in one more norm
    final_trainable, final_all = (norm_trainable, norm_all) if model.prenorm else (0, 0)
    n = model.n_layers
    trainable = encoder + decoder + n * block_trainable + final_trainable
    return trainable, encoder + decoder + n * block_all + final_all


def _dataset_bytes(params: Any, info: Any) -> int | None:
    """Bytes of a task's three splits in memory (inputs and targets), or None when the task reads a number of
    rows it cannot know before reading its files (``n_train = 0``: every row)."""
    sizes = [getattr(params, f"n_{split}", None) for split in ("train", "val", "test")]
    if any(not isinstance(n, int) or n <= 0 for n in sizes):
        return None
    L = info.seq_len
    per_input = info.d_input * FLOAT if info.d_input is not None else DOUBLE  # tokens: int64 at most
    per_target = (info.d_output * FLOAT if info.objective == "regression" else DOUBLE) if info.per_step else 0
    row = L * (per_input + per_target) * (2 if info.pairs else 1) + DOUBLE
    # generators draw a split in float64 before keeping float32 (memory_tasks): the largest split, twice more
    return row * (sum(sizes) + 2 * max(sizes))


def training_estimate(cfg: Any, info: Any | None = None) -> MemoryEstimate:
    """The peak memory of training ``cfg`` (a :class:`~ssmem.train.RunConfig`): model tensors with their gradients
    and AdamW's two moments, the activations of a training step (or of an evaluation, the larger), the SSM kernels
    and the data set when its size is known; ``info`` is the task's :class:`~ssmem.data.TaskInfo` (looked up when
    None)."""
    from .data.task import task_info
    from .train.config import task_params

    if info is None:
        info = task_info(cfg.task.name, task_params(cfg.task), seed=cfg.seed, data_dir=cfg.task.data_dir)
    m, t = cfg.model, cfg.train
    place = "device" if _uses_gpu(cfg.device) else "host"
    trainable, tensors = model_tensor_sizes(m, info)
    H, L, n_layers = m.d_model, info.seq_len, m.n_layers
    streams = 2 if info.pairs else 1
    batch, eval_batch = t.batch_size * streams, (t.eval_batch_size or t.batch_size) * streams
    activations = max((BLOCK_ACTIVATIONS * n_layers + STEP_ACTIVATIONS) * batch, EVAL_ACTIVATIONS * eval_batch)
    activations *= L * H * FLOAT
    K = 2 if m.bidirectional else 1
    kernel_part = ("SSM kernels", "model.d_model, model.d_state or task.params.seq_len")
    if m.layer == "mamba":
        # no kernel: the scan's (B, L, E, N) tensors and the inner (B, L, E) ones, per layer (E = expand·H)
        E = MAMBA_EXPAND * H
        kernels = math.ceil(n_layers * batch * L * E * (MAMBA_SCAN_TENSORS * m.d_state + MAMBA_INNER_TENSORS) * FLOAT)
        kernel_part = ("selective scan", "train.batch_size, model.d_state, model.d_model or task.params.seq_len")
    elif m.layer == "linear-attention":
        # no kernel: q, k, v, and per chunk of T steps the (T, T) scores, two (T, H) products and the carried state
        T = LINEAR_ATTENTION_CHUNK
        per_step = 2 * m.d_state + 3 * H + T + -(-m.d_state * H // T)
        kernels = n_layers * batch * L * per_step * FLOAT
        kernel_part = ("chunked attention", "train.batch_size, model.d_model or task.params.seq_len")
    elif m.layer in ("lru", "s5"):
        # no kernel: each mode's states, convolved by FFT, per layer
        kernels = n_layers * MODAL_STATE_TENSORS * batch * L * (m.d_state // 2) * FLOAT
        kernel_part = ("per-mode states", "train.batch_size, model.d_state or task.params.seq_len")
    elif m.layer == "s4d":
        # blocked Vandermonde factors (K, H, n, ~√L) and (H, n, ~√L), complex64, kept for the backward pass
        factors = 2 * (K + 1) * H * (m.d_state // 2) * math.isqrt(L) * 2 * FLOAT
        kernels = n_layers * (KERNEL_TENSORS * K * H * L * FLOAT + factors)
    else:
        # dense Ā (H, N, N), its log2(L) squarings and the Krylov block (H, N, L), kept for the backward pass; the
        # discretisation in float64 (an (H, N+1, N+1) matrix exponential, a few kept per layer) and the backward of
        # one matrix exponential, on (H, 2N+2, 2N+2) blocks
        N = m.d_state
        krylov = (H * N * N * (2 + max(1, math.ceil(math.log2(max(L, 2))))) + 3 * H * N * L) * FLOAT
        discretization = 4 * H * (N + 1) ** 2 * DOUBLE
        kernels = n_layers * (krylov + discretization) + S4_EXP_BACKWARD * H * (2 * N + 2) ** 2 * DOUBLE
    parts = [
        MemoryPart("model, gradients and optimizer state", (tensors + 3 * trainable) * FLOAT,
                   "model.d_model, model.d_state or model.n_layers", place),
        MemoryPart("activations", activations,
                   "train.batch_size, task.params.seq_len, model.d_model or model.n_layers", place),
        MemoryPart(kernel_part[0], int(kernels), kernel_part[1], place),
        MemoryPart("training loop", LOOP_RUNTIME, ""),
    ]
    unknown = []
    data = _dataset_bytes(task_params(cfg.task), info)
    if data is None:
        unknown.append("the data set (its size is known once its files are read)")
    else:
        parts.append(MemoryPart("data set", data, "task.params.n_train or task.params.seq_len"))
    if t.record_memory_every:
        T = t.memory_horizon
        rank = min(m.d_state, T)
        parts.append(MemoryPart("memory-function basis", 2 * T * rank * COMPLEX_DOUBLE, "train.memory_horizon"))
    return MemoryEstimate(f"training {cfg.task.name}", tuple(parts), tuple(unknown))


def _uses_gpu(device: str) -> bool:
    if device == "cpu":
        return False
    if device == "cuda":
        return True
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        return False


def check_training_memory(cfg: Any, info: Any | None = None, *, flag: str = OVERRIDE_FLAG) -> MemoryEstimate:
    """:func:`training_estimate` of ``cfg``, checked against the host's available memory and, for a run on a GPU,
    the GPU's free memory; returns the estimate or raises :class:`InsufficientMemoryError`."""
    estimate = training_estimate(cfg, info)
    device = available_device_memory(cfg.device if cfg.device != "auto" else "cuda") if estimate.on("device") else None
    check_memory(estimate, device=device, flag=flag)
    return estimate


# ----------------------------------------------------------------------------------------------- analysis


def eigenvalues_estimate(d_state: int, *, as_json: bool = False) -> MemoryEstimate:
    """The peak of ``ssmem eigs`` for ``d_state`` (N/2 complex modes): the continuous and discrete eigenvalues with
    the temporaries of their computation (complex128), and the JSON text when ``as_json``."""
    modes = d_state // 2 + 1
    parts = [MemoryPart("eigenvalues", 8 * modes * COMPLEX_DOUBLE, "--d-state")]
    if as_json:  # two [re, im] lists of Python floats per mode, then their indented text: 850 bytes a mode measured
        parts.append(MemoryPart("JSON output", modes * 850, "--d-state"))
    return MemoryEstimate("these eigenvalues", tuple(parts))


def memory_function_estimate(d_state: int, horizon: int | None, *, max_delay: int | None = None,
                             n_sets: int = 1) -> MemoryEstimate:
    """The peak of ``ssmem memory`` for ``n_sets`` eigenvalue sets of real state size ``d_state`` and horizon
    ``horizon`` (None: infinite): the basis of the memory subspace of one set (a (T, min(N, T)) matrix, complex for
    rational Arnoldi, and its Gram matrix; T × T for N ≥ T) and every set's MF and JSON row."""
    modes = d_state // 2 + 1
    if horizon is None:
        delays = max_delay + 1 if max_delay is not None else 2**21  # the longest stationary profile written
        basis = 6 * delays * DOUBLE  # Takenaka–Malmquist columns made one at a time
    else:
        delays = horizon if max_delay is None else max_delay + 1
        rank = min(d_state, horizon)
        if rank >= horizon:
            basis = int(1.25 * horizon * horizon * DOUBLE)  # the identity basis (and a quarter more measured)
        else:
            # complex for rational Arnoldi; the real Takenaka–Malmquist basis takes about 60% of it
            basis = horizon * rank * COMPLEX_DOUBLE + 3 * rank * rank * DOUBLE
    parts = (
        MemoryPart("memory-function basis", int(basis), "--d-state or --horizon"),
        MemoryPart("eigenvalues", n_sets * 8 * modes * COMPLEX_DOUBLE, "--d-state"),
        MemoryPart("memory functions and their JSON rows", n_sets * delays * 64, "--horizon or --max-delay"),
    )
    return MemoryEstimate("these memory functions", parts)
