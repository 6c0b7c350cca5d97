"""``ssmem paper`` chain with stand-in experiment and run functions: order, resume, the report."""

import json

import pytest
import yaml

from ssmem.paper import grid_for, run_paper


def fake_experiment(calls):
    def run(name, out_dir, *, quick, seed, progress):
        calls.append(name)
        if name == "broken":
            raise RuntimeError("no figure today")
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps({
            "name": name, "description": f"{name} check", "quick": quick, "seed": seed, "wall_time_s": 0.1,
            "figures": [], "results": {"value": 1.5},
            "findings": [{"claim": f"{name} holds", "status": "confirmed", "evidence": "1.5 > 1"}],
        }))
    return run


def fake_run(calls):
    def run(spec, run_dir, *, resume):
        calls.append(spec.run_id)
        acc = 0.5 + 0.01 * spec.seed
        rows = [{"step": s, "split": sp, "loss": 1.0 / s, "accuracy": acc * s / 30}
                for s in (10, 20, 30) for sp in ("train", "val")]
        (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return {"status": "completed", "metric": "accuracy", "higher_is_better": True, "test_metric": acc,
                "best_val_metric": acc, "steps": 30, "task": spec.recipe,
                "param_counts": {"trainable": 90, "frozen": 10 if spec.train_mode == "reservoir" else 0}}
    return run


def test_chain_resumes_and_writes_the_report(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"name": "g", "studies": [{"name": "main", "recipes": ["lra/listops"],
                                    "train": ["all", "reservoir"], "seeds": [1, 2]}]}))
    exp_calls, run_calls, lines = [], [], []
    kw = dict(quick=True, grid=grid, experiments=["fig1", "broken", "gradient"], progress=False, log=lines.append)
    result = run_paper(tmp_path / "out", experiment_fn=fake_experiment(exp_calls), run_fn=fake_run(run_calls), **kw)
    assert exp_calls == ["fig1", "broken", "gradient"]
    assert result.experiments_run == ["fig1", "gradient"] and result.experiments_failed == ["broken"]
    assert len(run_calls) == 4 and result.sweep_counts["done"] == 4
    md = result.report_md.read_text()
    assert "| confirmed | gradient holds | 1.5 > 1 | experiment gradient |" in md
    assert "| listops | recipe | all | stand-in | 2 | accuracy (%) | 51.50 ± 0.71 |" in md  # seeds 1, 2: 0.51, 0.52
    assert result.report_html.is_file()
    assert any("[2/3] broken FAILED: RuntimeError: no figure today" in line for line in lines)
    # again: finished experiments and runs are kept, only the broken experiment is retried
    exp_calls.clear(), run_calls.clear()
    again = run_paper(tmp_path / "out", experiment_fn=fake_experiment(exp_calls), run_fn=fake_run(run_calls), **kw)
    assert exp_calls == ["broken"] and run_calls == []
    assert again.experiments_kept == ["fig1", "gradient"]
    assert (result.runs_trained, again.runs_trained) == (4, 0) and again.sweep_counts["done"] == 4
    # a full-size run does not reuse quick-size experiment results
    exp_calls.clear()
    run_paper(tmp_path / "out", experiment_fn=fake_experiment(exp_calls), run_fn=fake_run(run_calls),
              **{**kw, "quick": False})
    assert exp_calls == ["fig1", "broken", "gradient"]


def test_grid_for_scale():
    assert grid_for(quick=True, scale="paper") == "lra-quick"
    assert grid_for(quick=False, scale="paper") == "lra-paper"
    with pytest.raises(ValueError, match="valid choices: cpu, paper"):
        grid_for(quick=False, scale="gpu")


def test_the_main_job_runs_every_registered_experiment_the_quick_one_all_but_those_left_out():
    from ssmem.experiments import EXPERIMENTS
    from ssmem.experiments.registry import EXPERIMENT_ORDER
    from ssmem.paper import NOT_IN_QUICK_PAPER, _experiment_names

    quick, full = _experiment_names(quick=True), _experiment_names(quick=False)
    assert "selective-memory" in NOT_IN_QUICK_PAPER and "selective-memory" not in quick and "selective-memory" in full
    assert set(quick) == set(EXPERIMENTS.names()) - set(NOT_IN_QUICK_PAPER) and set(full) == set(EXPERIMENTS.names())
    assert quick[: len(EXPERIMENT_ORDER)] == full[: len(EXPERIMENT_ORDER)] == list(EXPERIMENT_ORDER)
