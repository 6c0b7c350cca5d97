"""Run every benchmark and print its table: ``python benchmarks/run.py [--quick] [--only NAME ...]``.

Areas: s4d_layer (forward+backward vs the materialising reference), kernel_memory, frozen_kernels (readout /
reservoir vs all), step_mode (generation), memory_functions (exact vs empirical MF), recipes_throughput,
allocator (glibc's default vs the tuned allocator the ssmem command sets), fast_paths (the smaller accelerations
against their plain twins), selective_scan (Mamba's chunked scan vs its loop; the IPC of a 64-unit system).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_common_arguments, machine, setup  # noqa: E402

AREAS = (
    "s4d_layer", "kernel_memory", "frozen_kernels", "step_mode", "memory_functions", "recipes_throughput", "allocator",
    "fast_paths", "selective_scan",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--only", nargs="+", choices=AREAS, metavar="NAME", help=f"areas to run (of: {', '.join(AREAS)})")
    args = parser.parse_args()
    setup(args.threads)
    print(machine())
    print(f"mode: {'quick' if args.quick else 'full'}\n")
    for name in args.only or AREAS:
        start = time.perf_counter()
        module = importlib.import_module(name)
        print(module.run(args.quick))
        print(f"({name}: {time.perf_counter() - start:.0f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
