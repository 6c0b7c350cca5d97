"""The GPU-hour estimates of paper-scale runs: the work model by hand, its inverse, and the grids it sizes."""

import math

import pytest

from ssmem.sweep import load_grid
from ssmem.sweep.cost import ASSUMED_H100_RATE, STEP_OVERHEAD_S, rate_from_speed, run_cost


def test_a_listops_step_is_counted_as_the_formula_says():
    cost = run_cost("lra/listops")  # batch 50, L 2048, d_model 128, 8 layers, bidirectional, 96,000 examples, 40 epochs
    assert cost.step_work == 50 * 2048 * math.log2(4096) * 128 * 8 * 2
    assert cost.steps == 40 * math.ceil(96000 / 50)
    assert cost.hours == pytest.approx(cost.steps * (cost.step_work / ASSUMED_H100_RATE + STEP_OVERHEAD_S) / 3600)


def test_retrieval_counts_both_documents_and_overrides_count():
    one = run_cost("lra/retrieval", ["model.bidirectional=false"])
    assert run_cost("lra/retrieval").step_work == 2 * one.step_work
    assert one.step_work == 64 * 2 * 4000 * math.log2(8000) * 256 * 6


def test_a_measured_speed_gives_back_its_own_step_time():
    rate = rate_from_speed("lra/listops", 3.0)
    cost = run_cost("lra/listops", rate=rate)
    assert cost.hours == pytest.approx(cost.steps / 3.0 / 3600)
    with pytest.raises(ValueError, match="faster than the step overhead"):
        rate_from_speed("lra/listops", 1 / STEP_OVERHEAD_S)


def test_an_unsized_task_is_not_estimated():
    assert run_cost("lra/text-cpu") is None  # reads a whole corpus at CPU scale: not in the table


def grid_hours(name):
    hours = {}
    for spec in load_grid(name).runs():
        hours[spec.recipe] = hours.get(spec.recipe, 0.0) + run_cost(spec.recipe, list(spec.overrides)).hours
    return hours


def test_the_one_gpu_day_grid_fits_a_day_and_path_x_dominates_the_paper_grid():
    assert sum(grid_hours("lra-gpu-day").values()) < 24
    paper = grid_hours("lra-paper")
    assert 0.5 < paper["lra/pathx"] / sum(paper.values()) < 0.75


def test_sweep_list_prints_the_hours_it_sums(capsys):
    from ssmem.cli import main

    assert main(["sweep", "lra-gpu-day", "--list"]) == 0
    out = capsys.readouterr().out
    per_run = [float(line.rsplit("  ", 1)[1].split()[0]) for line in out.splitlines() if line.endswith(" h") and "seed=" in line]
    total = float(out.splitlines()[-1].split()[-2])
    assert len(per_run) == 54 and total == pytest.approx(sum(per_run), abs=0.1)
