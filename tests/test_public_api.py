"""The public API: every exported name resolves, and importing ssmem does not import torch."""

import subprocess
import sys

import ssmem


def test_every_exported_name_resolves():
    for name in ssmem.__all__:
        assert getattr(ssmem, name) is not None, name


def test_exports_come_from_their_modules():
    from ssmem.memory import memory_function
    from ssmem.memory.ipc import IPCResult, information_capacity
    from ssmem.ssm import LRU, S4D, S5, Mamba

    assert ssmem.S4D is S4D
    assert (ssmem.LRU, ssmem.S5, ssmem.Mamba) == (LRU, S5, Mamba)
    assert {"LRU", "S4", "S4D", "S5", "Mamba"} <= set(ssmem.__all__)
    assert ssmem.memory_function is memory_function
    assert ssmem.information_capacity is information_capacity
    assert ssmem.IPCResult is IPCResult


def test_import_is_light():
    code = "import sys, ssmem; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
