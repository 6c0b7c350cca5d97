"""``ssmem sweep`` / ``ssmem runs`` / ``ssmem report`` on a real (tiny) training grid."""

import json
import os
import re

import numpy as np
import yaml

from ssmem.cli import main

TINY = ["train.max_steps=6", "train.eval_every=3", "train.log_every=3", "task.params.n_train=64",
        "task.params.n_val=32", "task.params.n_test=32", "task.params.seq_len=32", "model.d_model=8"]


def test_sweep_runs_report_end_to_end(tmp_path, capsys):
    grid = tmp_path / "tiny.yaml"
    grid.write_text(yaml.safe_dump({"name": "tiny", "studies": [{
        "name": "main", "recipes": ["memory/delay"], "eigs": ["s4d-lin"], "train": ["all", "reservoir"],
        "seeds": [1], "overrides": TINY}]}))
    store, runs = tmp_path / "runs.db", tmp_path / "runs"
    assert main(["sweep", str(grid), "--list"]) == 0
    listed = capsys.readouterr().out.split("\n\n")[0].strip().splitlines()  # the runs, before the hours
    assert len(listed) == 2 and "model.train=reservoir" in listed[1]
    assert main(["sweep", str(grid), "--store", str(store), "--runs-dir", str(runs), "--no-progress"]) == 0
    assert "2 runs (pending 0, running 0, done 2, failed 0)" in capsys.readouterr().out

    assert main(["runs", "--store", str(store), "--json", "--filter", "train_mode=reservoir"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0]["status"] == "done" and rows[0]["params"]["model.train"] == "reservoir"
    result = rows[0]["result"]
    assert result["steps"] == 6 and result["task"] == "memory/delay" and result["metric"] == "r2"
    assert result["param_counts"]["frozen"] > 0
    # the endpoints of the eigenvalues: frozen for the reservoir, the same at both ends
    with np.load(runs / rows[0]["run_id"] / "memory_endpoints.npz") as ends:
        assert ends["step"].tolist() == [0, 6]
        eig = ends["layer0_eigenvalues"]
        assert eig.shape == (2, 8, 16) and np.array_equal(eig[0], eig[1])
        assert ends["layer0_capacity"].shape == (2, 8)
        np.testing.assert_allclose(ends["layer0_capacity"], 32.0 - 1.0, atol=1e-6)  # s4d-lin: one real mode
    assert main(["runs", "--store", str(store), "--filter", "model.train=all"]) == 0
    table = capsys.readouterr().out
    assert "1 runs: done 1" in table and "s4d-lin  all" in table

    # running the sweep again does nothing
    assert main(["sweep", str(grid), "--store", str(store), "--runs-dir", str(runs), "--no-progress"]) == 0
    assert "this call finished 0" in capsys.readouterr().out

    assert main(["report", str(store), "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\[(confirmed|not confirmed)\] RC leaves about 10% of the parameters untrained", out, re.M)
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| delay | s4d-lin | all | 1 |" in md and "| delay | s4d-lin | reservoir | 1 |" in md
    assert (tmp_path / "report" / "figures" / "memory_delay.png").is_file()


def test_cli_errors(tmp_path, capsys):
    assert main(["runs", "--store", str(tmp_path / "none.db")]) == 2
    assert "no results store at" in capsys.readouterr().err
    assert main(["sweep", "no-such-grid"]) == 2
    assert "valid choices: lra-cpu, lra-cpu-pathx, lra-gpu-day, lra-paper, lra-quick" in capsys.readouterr().err
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"recipes": ["memory/delay"]}))
    assert main(["sweep", str(grid), "--shard", "2/2"]) == 2
    assert "0 <= i < n" in capsys.readouterr().err


def test_sweep_runs_and_report_on_a_postgresql_store_match_the_sqlite_store(tmp_path, capsys, pg_url):
    grid = tmp_path / "tiny.yaml"
    grid.write_text(yaml.safe_dump({"name": "tiny", "recipes": ["memory/delay"], "eigs": ["s4d-lin"], "seeds": [1],
                                    "overrides": TINY}))
    results = {}
    for name, store in (("sqlite", str(tmp_path / "runs.db")), ("postgresql", pg_url)):
        args = ["sweep", str(grid), "--store", store, "--runs-dir", str(tmp_path / name), "--no-progress"]
        assert main(args) == 0
        assert "1 runs (pending 0, running 0, done 1, failed 0)" in capsys.readouterr().out
        assert main(["runs", "--store", store, "--json"]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        results[name] = row["result"]
    for key in ("test_metric", "best_val_metric", "final_val_metric", "steps", "param_counts", "task", "metric"):
        assert results["postgresql"][key] == results["sqlite"][key], key
    assert main(["report", "--store", pg_url, "--out", str(tmp_path / "report")]) == 0
    capsys.readouterr()
    md = (tmp_path / "report" / "report.md").read_text()
    assert f"Store `{pg_url}`: 1 runs (pending 0, running 0, done 1, failed 0)" in md
    assert "| tiny | memory/delay | s4d-lin |" in md


def test_workers_started_by_torchrun_train_alone(tmp_path, monkeypatch):
    """`torchrun --nproc-per-node 4 -m ssmem sweep ...` starts four workers: each trains its own runs (on GPU
    LOCAL_RANK), so none may join the data-parallel group that the torchrun variables would make train() join."""
    import ssmem.sweep
    from ssmem.sweep import SweepSummary

    seen = {}

    def fake_sweep(grid, **kwargs):
        seen.update({name: os.environ.get(name) for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK")})
        return SweepSummary(grid=grid.name, shard=(0, 1), total=0, counts={})

    monkeypatch.setattr(ssmem.sweep, "run_sweep", fake_sweep)
    for name, value in (("WORLD_SIZE", "4"), ("RANK", "2"), ("LOCAL_RANK", "2")):
        monkeypatch.setenv(name, value)
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"recipes": ["memory/delay"]}))
    assert main(["sweep", str(grid), "--store", str(tmp_path / "runs.db")]) == 0
    assert seen == {"WORLD_SIZE": None, "RANK": None, "LOCAL_RANK": "2"}
