"""The allocator tuning of the ``ssmem`` command: large blocks come from the reusable heap, not from mmap."""

import os
import platform
import subprocess
import sys

import pytest

from ssmem._allocator import tune_allocator

GLIBC_LINUX = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
GLIBC_VERSION = tuple(int(part) for part in platform.libc_ver()[1].split(".")[:2] if part.isdigit())

# where a fresh process puts a 48 MiB tensor (above 32 MiB, the highest mmap threshold glibc accepts):
# glibc's mallinfo2 counts the bytes in mmapped blocks
MMAPPED_BYTES_OF_A_LARGE_TENSOR = """
import ctypes, torch
from ssmem._allocator import tune_allocator

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
tuned = tune_allocator()
before = mallinfo2().hblkhd
x = torch.ones(12 * 2**20)
print(tuned, mallinfo2().hblkhd - before)
"""


def mmapped_bytes(tuning: str) -> tuple[bool, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["SSMEM_MALLOC_TUNING"] = tuning
    command = [sys.executable, "-c", MMAPPED_BYTES_OF_A_LARGE_TENSOR]
    tuned, mapped = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.split()
    return tuned == "True", int(mapped)


def test_opt_out_and_glibc_variables_leave_the_allocator_alone():
    assert tune_allocator({"SSMEM_MALLOC_TUNING": "0"}) is False
    assert tune_allocator({"MALLOC_MMAP_THRESHOLD_": "65536"}) is False
    assert tune_allocator({"MALLOC_MMAP_MAX_": "65536"}) is False
    assert tune_allocator({"MALLOC_TRIM_THRESHOLD_": "0"}) is False


@pytest.mark.skipif(not GLIBC_LINUX or GLIBC_VERSION < (2, 33), reason="glibc >= 2.33 on Linux (mallinfo2)")
def test_tuned_allocator_serves_large_tensors_from_the_reusable_heap():
    # glibc's default maps a block this large on its own (unmapped again on free: fresh pages every step);
    # tuned, it comes from the heap, whose freed memory the next step reuses
    assert mmapped_bytes("0") == (False, pytest.approx(48 * 2**20, abs=2**16))
    assert mmapped_bytes("1") == (True, 0)


def test_the_ssmem_command_asks_for_the_tuning_and_cpu_work_applies_it(monkeypatch):
    import ssmem._allocator as allocator
    from ssmem.cli import main

    calls = []
    monkeypatch.setattr(allocator, "tune_allocator", lambda: calls.append(True) or True)
    monkeypatch.setattr(allocator, "_requested", False)
    assert main(["eigs"]) == 0
    assert calls == [] and allocator._requested  # listing eigenvalue sets allocates nothing large
    assert allocator.tune_for_device("cpu") and calls == [True]


def test_the_command_tunes_only_work_on_the_cpu(monkeypatch):
    from ssmem import _allocator

    applied = []
    monkeypatch.setattr(_allocator, "tune_allocator", lambda: applied.append(True) or True)
    monkeypatch.setattr(_allocator, "_requested", False)
    assert _allocator.tune_for_device("cpu") is False and applied == []  # a library user never asked
    _allocator.request_for_cpu_work()
    assert _allocator.tune_for_device("cuda:1") is False and applied == []  # a GPU rank keeps glibc's defaults
    assert _allocator.tune_for_device(__import__("torch").device("cpu")) is True and applied == [True]
