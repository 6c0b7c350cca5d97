"""The main job: the theory experiments, then the LRA grid, then the report, all inside one folder.

    out/experiments/<name>/   each experiment's figures and results.json
    out/runs.db               the sweep's results store
    out/runs/<run_id>/        each LRA run's directory
    out/report/               index.html and report.md

Running it again resumes: experiments whose ``results.json`` exists at the same size are kept, finished
runs are skipped, an interrupted run continues from its checkpoint, and the report is rewritten.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# registered experiments the quick main job leaves out: selective-memory's quick size takes about 70 s of one core
# (122 s on a shared two-core machine), too much for the quick chain's budget of about 4 minutes; the full job runs
# it (about an hour of one core), as does `ssmem experiment selective-memory [--quick]`
NOT_IN_QUICK_PAPER = ("selective-memory",)
SCALES = ("cpu", "paper")
ExperimentFn = Callable[..., Any]  # (name, out_dir, *, quick, seed, progress) -> anything; writes results.json


def grid_for(*, quick: bool, scale: str) -> str:
    """The shipped grid the main job runs: ``lra-quick`` with ``quick``, else ``lra-<scale>``."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid choices: {', '.join(SCALES)}")
    return "lra-quick" if quick else f"lra-{scale}"


@dataclass
class PaperResult:
    """What the main job did."""

    out_dir: Path
    report_html: Path
    report_md: Path
    experiments_run: list[str] = field(default_factory=list)
    experiments_kept: list[str] = field(default_factory=list)
    experiments_failed: list[str] = field(default_factory=list)
    sweep_counts: dict[str, int] = field(default_factory=dict)
    runs_trained: int = 0  # LRA runs this call trained (the others were done before)
    findings: list[Any] = field(default_factory=list)
    wall_time_s: float = 0.0


def run_paper(
    out_dir: str | Path,
    *,
    quick: bool = False,
    scale: str = "cpu",
    seed: int = 0,
    grid: str | Path | None = None,
    experiments: Sequence[str] | None = None,
    experiment_fn: ExperimentFn | None = None,
    run_fn: Any = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> PaperResult:
    """Run the chain into ``out_dir`` (see the module docstring); returns a :class:`PaperResult`.

    ``grid`` replaces the scale's shipped grid; ``experiments`` limits the theory experiments (names);
    ``progress`` draws bars for the experiments' training loops and the sweep's runs;
    ``experiment_fn`` / ``run_fn`` replace :func:`ssmem.experiments.run_experiment` /
    :func:`ssmem.sweep.train_run` (tests use small stand-ins).
    """
    from .report import write_report
    from .sweep import check_runs, load_grid, run_sweep

    started = time.time()
    say = log or (lambda text: print(text, file=sys.stderr, flush=True))
    # the grid is read and (for the real trainer) every run checked before anything slow starts
    grid = load_grid(grid if grid is not None else grid_for(quick=quick, scale=scale))
    if run_fn is None:
        check_runs(grid.runs())
    out_dir = Path(out_dir)
    (out_dir / "experiments").mkdir(parents=True, exist_ok=True)
    result = PaperResult(out_dir, out_dir / "report" / "index.html", out_dir / "report" / "report.md")

    # 1. theory experiments
    if experiment_fn is None:
        from .experiments import run_experiment as experiment_fn
    names = list(experiments) if experiments is not None else _experiment_names(quick=quick)
    say(f"== ssmem paper: {len(names)} theory experiments ({'quick' if quick else 'full'} size) -> "
        f"{out_dir / 'experiments'}")
    for i, name in enumerate(names, 1):
        exp_dir = out_dir / "experiments" / name
        if _experiment_done(exp_dir, quick=quick, seed=seed):
            say(f"[{i}/{len(names)}] {name}: done before, kept")
            result.experiments_kept.append(name)
            continue
        say(f"[{i}/{len(names)}] {name} ...")
        t0 = time.time()
        try:
            experiment_fn(name, exp_dir, quick=quick, seed=seed, progress=progress)
        except Exception as err:  # one broken experiment does not stop the chain; the report shows what ran
            say(f"[{i}/{len(names)}] {name} FAILED: {type(err).__name__}: {err}\n{traceback.format_exc()}")
            result.experiments_failed.append(name)
            continue
        say(f"[{i}/{len(names)}] {name}: {time.time() - t0:.0f} s")
        result.experiments_run.append(name)

    # 2. the LRA grid
    say(f"== ssmem paper: LRA grid {grid.name} -> {out_dir / 'runs.db'}")
    summary = run_sweep(grid, store=out_dir / "runs.db", runs_dir=out_dir / "runs", run_fn=run_fn,
                        progress=progress, log=say)
    result.sweep_counts = summary.counts
    result.runs_trained = len(summary.ran)

    # 3. the report
    say(f"== ssmem paper: report -> {out_dir / 'report'}")
    report = write_report(out_dir / "runs.db", out_dir / "report", experiments_dir=out_dir / "experiments")
    result.findings = report.findings
    result.wall_time_s = time.time() - started
    return result


def _experiment_names(*, quick: bool) -> list[str]:
    from .experiments import EXPERIMENTS
    from .experiments.registry import EXPERIMENT_ORDER

    registered = [n for n in EXPERIMENTS.names() if not (quick and n in NOT_IN_QUICK_PAPER)]
    return [n for n in EXPERIMENT_ORDER if n in registered] + [n for n in registered if n not in EXPERIMENT_ORDER]


def _experiment_done(exp_dir: Path, *, quick: bool, seed: int) -> bool:
    path = exp_dir / "results.json"
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return bool(data.get("quick")) == quick and data.get("seed") == seed
