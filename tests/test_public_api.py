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
    from ssmem.ssm import LRU, S4D, S5, LinearAttention, Mamba

    assert ssmem.S4D is S4D
    assert (ssmem.LRU, ssmem.S5, ssmem.Mamba, ssmem.LinearAttention) == (LRU, S5, Mamba, LinearAttention)
    assert {"LRU", "S4", "S4D", "S5", "Mamba", "LinearAttention"} <= set(ssmem.__all__)
    assert ssmem.memory_function is memory_function
    assert ssmem.information_capacity is information_capacity
    assert ssmem.IPCResult is IPCResult


def test_import_is_light():
    code = "import sys, ssmem; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_two_levels_the_pure_kernels_and_a_clean_dir():
    import ssmem.harness
    from ssmem.ssm import S4Dense, kernels
    from ssmem.train import train

    assert ssmem.vandermonde_kernel is kernels.vandermonde_kernel and ssmem.ssm_convolution is kernels.ssm_convolution
    assert ssmem.S4Dense is S4Dense
    assert ssmem.harness.train is train and ssmem.load_recipe is ssmem.harness.load_recipe
    assert not {"train", "run_sweep", "write_report"} & set(ssmem.__all__)  # the harness is its own level
    assert set(dir(ssmem)) == set(ssmem.__all__)  # no typing or import helpers


def test_the_old_s4_name_warns_and_builds_the_dense_layer():
    import pytest

    from ssmem.ssm import S4, S4Dense

    with pytest.warns(DeprecationWarning, match="renamed S4Dense"):
        layer = S4(4, 4)
    assert isinstance(layer, S4Dense)
