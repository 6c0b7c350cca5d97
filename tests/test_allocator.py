"""The allocator tuning of the ``ssmem`` command: large blocks are reused instead of re-mapped every step."""

import os
import platform
import subprocess
import sys

import pytest

from ssmem._allocator import tune_allocator

GLIBC_LINUX = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# six 4 MiB tensors alive at once and freed together, 20 times: what a training step does with its activations
FAULTS_PER_ITERATION = """
import resource, sys, torch
torch.set_num_threads(1)
from ssmem._allocator import tune_allocator
tuned = tune_allocator()
x = torch.randn(16, 256, 256)
def work():
    ys = [x * k for k in range(6)]
    return sum(float(y[0, 0, 0]) for y in ys)
for _ in range(3):
    work()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    work()
print(tuned, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def faults_per_iteration(tuning: str) -> tuple[bool, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["SSMEM_MALLOC_TUNING"] = tuning
    out = subprocess.run([sys.executable, "-c", FAULTS_PER_ITERATION], env=env, capture_output=True, text=True, check=True)
    tuned, faults = out.stdout.split()
    return tuned == "True", float(faults)


def test_opt_out_and_glibc_variables_leave_the_allocator_alone():
    assert tune_allocator({"SSMEM_MALLOC_TUNING": "0"}) is False
    assert tune_allocator({"MALLOC_MMAP_THRESHOLD_": "65536"}) is False
    assert tune_allocator({"MALLOC_TRIM_THRESHOLD_": "0"}) is False


@pytest.mark.skipif(not GLIBC_LINUX, reason="the tuning applies to glibc on Linux only")
def test_tuned_allocator_reuses_large_blocks_instead_of_faulting_in_fresh_pages():
    default_tuned, default_faults = faults_per_iteration("0")
    tuned, tuned_faults = faults_per_iteration("1")
    assert (default_tuned, tuned) == (False, True)
    # glibc's default maps each 4 MiB block afresh (1024 faults each); tuned, the freed blocks are reused
    assert default_faults > 3000
    assert tuned_faults < default_faults / 20


@pytest.mark.skipif(not GLIBC_LINUX, reason="the tuning applies to glibc on Linux only")
def test_the_ssmem_command_tunes_the_allocator(monkeypatch):
    import ssmem._allocator as allocator
    from ssmem.cli import main

    calls = []
    monkeypatch.setattr(allocator, "tune_allocator", lambda: calls.append(True) or True)
    assert main(["eigs"]) == 0
    assert calls == [True]
