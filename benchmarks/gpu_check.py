"""One script for a GPU machine (under 10 minutes on one GPU): ``python benchmarks/gpu_check.py [--out FILE]``.

1. the device tests (``tests/test_cuda.py``: GPU == CPU on values and gradients, no sync in a step that does not
   log, a short run that learns like the CPU's) and the layer tests of ``tests/ssm``;
2. the quick layer and model benchmarks (``benchmarks/run.py --quick --only s4d_layer frozen_kernels
   recipes_throughput``; they pick the GPU when there is one) and the selective scan at full size
   (``--only selective_scan``: B 16, E 256, N 16, L 1k-16k, the chunked scan against its loop);
3. one paper-scale recipe, ``lra/listops`` (L = 2048, 8 layers of width 128, batch 50), for ``--steps`` steps in fp32 and in
   bf16: steps per second and peak GPU memory, and the rate they imply for the GPU-hour estimates (ssmem.sweep.cost).

Everything is printed and written as one Markdown file (``--out``, default ``gpu-check.md``). Without CUDA it runs the
same parts on the CPU and says so (the device tests then skip).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def run_part(title: str, argv: list[str], timeout_s: int) -> tuple[str, str]:
    """Run one part as a subprocess; its status line and the tail of its output."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
        status = "passed" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
        output = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as err:
        status, output = f"stopped after {timeout_s} s", (err.stdout or "") if isinstance(err.stdout, str) else ""
    took = time.perf_counter() - start
    print(f"== {title}: {status} ({took:.0f} s)", flush=True)
    return f"{status} ({took:.0f} s)", output


def paper_recipe_speed(steps: int, precision: str, device: torch.device) -> dict[str, float | str]:
    """Steps per second (after 10 warm-up steps) and peak device memory of ``lra/listops`` for ``steps`` steps."""
    from ssmem.train import Callback, load_recipe, train

    class Clock(Callback):
        def on_step(self, ctx):
            if ctx.step == 10:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                self.start = time.perf_counter()

        def on_end(self, ctx):
            if device.type == "cuda":
                torch.cuda.synchronize()
            self.end = time.perf_counter()

    overrides = [f"device={device.type}", f"train.max_steps={steps}", f"train.eval_every={steps}",
                 f"train.checkpoint_every={steps}", "train.max_eval_batches=2", f"train.precision={precision}",
                 "task.params.n_train=20000", "task.params.n_val=200", "task.params.n_test=200"]
    clock = Clock()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as folder:
        result = train(load_recipe("lra/listops", overrides), Path(folder) / "run", callbacks=[clock], progress=False)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    # the clock's end includes the final evaluation (2 batches): a small share of a few hundred steps
    return {"precision": precision, "status": result.status, "steps/s": (steps - 10) / (clock.end - clock.start),
            "peak GiB": peak, "train loss": result.metrics.get("train/loss", float("nan"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("gpu-check.md"), help="the Markdown report (default gpu-check.md)")
    parser.add_argument("--steps", type=int, default=300, help="steps of the paper-scale recipe (default 300)")
    parser.add_argument("--skip-tests", action="store_true", help="only the benchmarks and the recipe")
    args = parser.parse_args()
    if args.steps < 20:
        parser.error(f"--steps must be at least 20 (10 warm-up steps are not timed); got {args.steps}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else "no CUDA device: the CPU"
    lines = [f"# GPU check: {name}", "", f"torch {torch.__version__}, python {sys.version.split()[0]}", ""]
    if not args.skip_tests:
        status, output = run_part("device and layer tests", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                  "tests/test_cuda.py", "tests/ssm"], timeout_s=240)
        lines += [f"## Tests: {status}", "", "```", *output.strip().splitlines()[-6:], "```", ""]
    status, output = run_part("benchmarks", [sys.executable, "benchmarks/run.py", "--quick", "--only", "s4d_layer",
                              "frozen_kernels", "recipes_throughput"], timeout_s=240)
    lines += [f"## Benchmarks (`run.py --quick`): {status}", "", "```", output.strip(), "```", ""]
    status, output = run_part("selective scan", [sys.executable, "benchmarks/run.py", "--only", "selective_scan"],
                              timeout_s=240)
    lines += [f"## Selective scan at full size (`run.py --only selective_scan`): {status}", "", "```", output.strip(),
              "```", ""]
    rows = [paper_recipe_speed(args.steps, precision, device) for precision in ("fp32", "bf16")]
    lines += [f"## Paper-scale recipe `lra/listops`, {args.steps} steps", "",
              "| precision | status | steps/s | peak GiB | train loss |", "|---|---|---|---|---|"]
    lines += [f"| {r['precision']} | {r['status']} | {r['steps/s']:.2f} | {r['peak GiB']:.2f} | {r['train loss']:.4f} |"
              for r in rows]
    from ssmem.sweep.cost import ASSUMED_H100_RATE, rate_from_speed

    fp32 = rows[0]
    if fp32["status"] == "completed":
        rate = rate_from_speed("lra/listops", float(fp32["steps/s"]))
        lines += ["", f"Rate of this device for the GPU-hour estimates: {rate:.3g} work units/s (assumed H100: "
                  f"{ASSUMED_H100_RATE:.3g}); `ssmem sweep lra-paper --list --rate {rate:.3g}` rescales them."]
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
