"""Data-parallel training under ``torchrun``: the same command line on one process or many.

``torchrun --nproc-per-node 2 -m ssmem train RECIPE --run-dir DIR`` starts two processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address in the environment; :func:`setup` joins the process
group (gloo on CPU, nccl on CUDA, one GPU per local rank). Without those variables everything runs in one
process and the collectives below are no-ops. More machines = more ``torchrun`` nodes, with the run directory
on a file system they share (every process reads rank 0's checkpoints; checked when a run starts).

Equal to one process (to rounding) except for batch norm on CPU: torch's synchronised batch norm runs on GPUs
only, so on CPU each rank normalises with the statistics of its part of the batch (rank 0's running statistics
are the ones evaluated and saved). The last partial batch of an epoch is always dropped (every rank needs one).
"""

from __future__ import annotations

import atexit
import gc
import os
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size`` (``local_rank`` on its machine), and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    initialized_here: bool = False  # this module started the process group (and ends it after an error or at exit)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """``cpu`` | ``cuda`` | ``auto`` (cuda when available) → a torch device (cuda:LOCAL_RANK)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device=cuda was asked for but CUDA is not available; use device=cpu or device=auto")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if device == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device {device!r}; valid choices: cpu, cuda, auto")


def setup(device: str) -> DistInfo:
    """Join the ``torchrun`` process group if the environment names one; pick this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    torch_device = resolve_device(device, local_rank)
    initialized_here = False
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if torch_device.type == "cuda" else "gloo"
        if torch_device.type == "cuda":
            torch.cuda.set_device(torch_device)
        dist.init_process_group(backend=backend)
        atexit.register(_leave_at_exit)  # kept for later runs in this process: a group cannot be made twice
        initialized_here = True
    if dist.is_initialized():
        world_size, rank = dist.get_world_size(), dist.get_rank()
    return DistInfo(rank, world_size, local_rank, torch_device, initialized_here)


def teardown(info: DistInfo, *, clean: bool = True) -> None:
    """End a run in the process group this module joined.

    After a clean run every rank waits for the others (no rank goes on while another is still inside a
    collective) and collects garbage, so that the data-parallel wrapper and its pending gloo work are freed
    while the interpreter is fully alive; the group itself stays for the next run in this process (another
    ``train()`` call: torch cannot make a second one, so re-joining hung) and is left at exit. After an error
    the ranks cannot be expected to meet, so the group is destroyed at once.
    """
    if not (info.enabled and dist.is_initialized()):
        return
    if clean:
        gc.collect()
        dist.barrier()
    elif info.initialized_here:
        _destroy_group()


def _leave_at_exit() -> None:
    if dist.is_initialized():
        _destroy_group()


# Seconds the destroying thread gives up the interpreter lock first. A gloo worker thread that has just finished a
# collective still holds its tensors, and releasing a tensor Python has seen takes the interpreter lock; the
# group's destructor joins those threads while holding that lock. Under torch 2.6 a destroy right after a
# collective (e.g. after all ranks refused a run together) deadlocked in about one run in six.
DESTROY_GRACE = 0.05


def _destroy_group() -> None:
    time.sleep(DESTROY_GRACE)
    dist.destroy_process_group()


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``t`` over ranks (returns ``t`` unchanged in a single process)."""
    if not info.enabled:
        return t
    out = t.clone().to(info.device)
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(t.device)


def broadcast_flag(flag: bool, info: DistInfo) -> bool:
    """True on every rank if ``flag`` is true on any rank (e.g. a non-finite loss somewhere)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_buffers(model: torch.nn.Module, info: DistInfo) -> None:
    """Give every rank rank 0's buffers (e.g. batch-norm running statistics, which each rank updates from its
    own part of the batch), so that all ranks evaluate the model rank 0 saves."""
    if not info.enabled:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)


def gather_objects(obj: object, info: DistInfo) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``[obj]`` in a single process)."""
    if not info.enabled:
        return [obj]
    out: list = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def sync_batch_norm(model: torch.nn.Module, info: DistInfo) -> torch.nn.Module:
    """On CUDA, data-parallel batch norm takes its statistics over the global batch (as one process would);
    torch has no CPU version, so on CPU each rank normalises its own part of the batch."""
    if info.enabled and info.device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model
