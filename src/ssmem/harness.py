"""The harness: what runs experiments with ssmem's layers and measures. Tasks and their data, recipes and the
training loop, the theory experiments, sweeps over grids and their results store, the report, and ``ssmem paper``.

    from ssmem.harness import load_recipe, train
    result = train(load_recipe("lra/listops-cpu", ["train.max_steps=100"]), "runs/listops")
"""

from ._allocator import tune_allocator
from .data import TASKS, build_task
from .experiments import EXPERIMENTS, run_experiment
from .paper import run_paper
from .report import write_report
from .sweep import Grid, RunSpec, Store, load_grid, run_sweep
from .train import RunConfig, TrainResult, load_recipe, train

__all__ = ["EXPERIMENTS", "TASKS", "Grid", "RunConfig", "RunSpec", "Store", "TrainResult", "build_task",
           "load_grid", "load_recipe", "run_experiment", "run_paper", "run_sweep", "train", "tune_allocator",
           "write_report"]
