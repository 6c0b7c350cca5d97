"""The benchmark scripts keep running (slow: `pytest -m slow`); values are checked, never timings."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.slow
def test_quick_benchmarks_print_every_table_and_their_paths_agree():
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--quick"], capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = proc.stdout
    assert out.startswith("machine: ") and "mode: quick" in out
    for area in ("s4d_layer", "kernel_memory", "frozen_kernels", "step_mode", "memory_functions",
                 "recipes_throughput", "allocator", "fast_paths", "selective_scan"):
        assert f"({area}: " in out, area
    assert " nan " not in out.lower()
    # the fast paths agree with their plain twins (last column of the fast-paths table)
    section = out[out.index("Smaller fast paths"):out.index("(fast_paths: ")]
    rows = [line for line in section.splitlines() if line.startswith("|") and "---" not in line][1:]
    diffs = [float(line.rstrip(" |").split("|")[-1]) for line in rows]
    assert len(diffs) == 6 and max(diffs) < 1e-5
    # the layer's outputs agree with the materialising reference to float32 rounding
    layer = out[out.index("S4D forward+backward"):]
    y_diffs = [float(re.split(r"\s*\|\s*", line.strip(" |"))[8]) for line in layer.splitlines()[4:8]]
    assert len(y_diffs) == 4 and max(y_diffs) < 1e-5
    # the chunked selective scan agrees with its loop on outputs and gradients (float32)
    scan = out[out.index("Selective scan forward+backward"):out.index("IPC of a 64-unit")]
    scan_rows = [re.split(r"\s*\|\s*", line.strip(" |")) for line in scan.splitlines()
                 if re.match(r"\|\s*\(\d", line)]
    assert len(scan_rows) == 2 and max(float(r[7]) for r in scan_rows) < 1e-5 and max(float(r[8]) for r in scan_rows) < 1e-4


def test_kernel_side_split_of_the_frozen_kernel_table():
    # the closed form behind the last two columns of the frozen-kernel table: r / (r + k) = 0.6 needs r = 1.5 k
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from frozen_kernels import kernel_side_split
    finally:
        sys.path.remove(str(BENCHMARKS))
    share, cut = kernel_side_split(20.0, 14.0, target=0.6)  # k = 6: the readout step may take 9 of its 14
    assert share == pytest.approx(0.3) and cut == pytest.approx(5 / 14)
    assert kernel_side_split(10.0, 5.0, target=0.6) == (0.5, 0.0)  # met already: nothing to cut
    assert kernel_side_split(10.0, 11.0, target=0.6) == (0.0, 1.0)  # readout measured slower: no kernel side


def test_saved_bytes_counts_what_autograd_keeps_for_the_backward_pass():
    import torch

    sys.path.insert(0, str(BENCHMARKS))
    try:
        from selective_scan import saved_bytes
    finally:
        sys.path.remove(str(BENCHMARKS))
    x, y = torch.randn(100, requires_grad=True), torch.randn(100, requires_grad=True)
    assert saved_bytes(lambda: (x * y).sum()) == 2 * 100 * 4  # a product saves both factors
    assert saved_bytes(lambda: (x + y).sum()) == 0  # a sum saves nothing
    assert saved_bytes(lambda: (x * x).sum()) == 100 * 4  # one storage counted once
