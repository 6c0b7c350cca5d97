"""Goal 2: peak extra memory of the S4D kernel (forward and forward+backward), blocked vs materialising reference.

Each measurement runs in a fresh subprocess: it builds the inputs, reads the peak resident set size (VmHWM in
/proc/self/status), computes the kernel (and its backward), and reads VmHWM again; the difference is the
kernel's peak extra memory. On CUDA the same is read from ``torch.cuda.max_memory_allocated``. The analytic
column counts the largest intermediates each path holds at once: the (H, n, L) exponent l·log Ā and its exp,
the Vandermonde tensor (both complex), for the reference; the (K, H, n, L/c) + (H, n, c) factors and the
(K, H, L) product for the blocked path. The child processes run with the parent's thread count and allocator
setting.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys

from _common import add_common_arguments, setup, machine, table

MiB = 2**20


def _vm_hwm() -> int:
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(impl: str, H: int, n: int, length: int, backward: bool, threads: int) -> None:
    import torch

    from ssmem.ssm.kernels import vandermonde_kernel, vandermonde_kernel_reference

    setup(threads)  # the parent's threads and allocator setting
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gen = torch.Generator().manual_seed(0)
    log_A = torch.complex(-0.01 * torch.rand(H, n, generator=gen), torch.rand(H, n, generator=gen)).to(dev)
    coeffs = torch.randn(1, H, n, dtype=torch.complex64, generator=gen).to(dev)
    log_A.requires_grad_(backward)
    coeffs.requires_grad_(backward)
    fn = vandermonde_kernel if impl == "blocked" else vandermonde_kernel_reference
    fn(coeffs[:, :1], log_A[:1], 64)  # warm up the allocator and kernels on a tiny case
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = _vm_hwm()
    kernel = fn(coeffs, log_A, length)
    if backward:
        kernel.square().sum().backward()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        peak = _vm_hwm() - before
    print(peak)


def measure(impl: str, H: int, n: int, length: int, backward: bool) -> int:
    import torch

    out = subprocess.run(
        [sys.executable, __file__, "--child", impl, str(H), str(n), str(length), str(int(backward)),
         "--threads", str(torch.get_num_threads())],
        check=True, capture_output=True, text=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


def analytic(impl: str, H: int, n: int, length: int) -> int:
    """Bytes of the largest intermediates (complex64 = 8 bytes) held at once in the forward pass."""
    if impl == "reference":  # l·log Ā and exp(l·log Ā), both (H, n, L), then the (H, L) kernel
        return 2 * H * n * length * 8 + H * length * 8
    c = math.isqrt(length - 1) + 1
    m = -(-length // c)
    return (H * n * m + H * n * c) * 8 + H * m * c * 8


def run(quick: bool) -> str:
    H, n = 256, 32
    lengths = [16384] if quick else [1024, 4096, 16384]
    rows = []
    for length in lengths:
        for backward in (False, True):
            ref = measure("reference", H, n, length, backward)
            blk = measure("blocked", H, n, length, backward)
            rows.append([
                length, "fwd+bwd" if backward else "fwd",
                analytic("reference", H, n, length) / MiB, analytic("blocked", H, n, length) / MiB,
                ref / MiB, blk / MiB, blk / max(ref, 1),
            ])
    headers = ["L", "pass", "ref analytic MiB", "blocked analytic MiB", "ref measured MiB", "blocked measured MiB", "blocked / ref"]
    import torch

    where = "peak allocated CUDA memory" if torch.cuda.is_available() else "VmHWM"
    return table(f"S4D kernel peak extra memory, H = {H}, N = {2 * n} (complex64), {where} in a fresh process", headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    parser.add_argument("--child", nargs=5, metavar=("IMPL", "H", "N", "L", "BACKWARD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        impl, H, n, length, backward = args.child
        child(impl, int(H), int(n), int(length), bool(int(backward)), args.threads)
        return
    setup(args.threads)
    print(machine())
    print(run(args.quick))


if __name__ == "__main__":
    main()
