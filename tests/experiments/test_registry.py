"""The experiment registry, the results file and the CLI verb."""

import json
import math

import numpy as np
import pytest
import torch

from ssmem.cli import main
from ssmem.experiments import EXPERIMENTS, Experiment, ExperimentOutput, ExperimentResult, Finding, run_experiment
from ssmem.experiments.registry import judged, to_json_value

PINNED = {"fig1", "equivalence", "gradient", "long-memory", "designed-init", "short-memory", "nonlinear-memory",
          "selective-memory"}


def test_the_pinned_experiments_are_registered():
    assert set(EXPERIMENTS.names()) == PINNED
    for name, experiment in EXPERIMENTS.items():
        assert experiment.name == name and experiment.description


def test_json_values_are_plain_numbers():
    value = to_json_value({"a": np.float32(0.5), "b": np.arange(3), "c": [np.nan, np.inf, 1], 2: np.bool_(True)})
    assert value == {"a": 0.5, "b": [0, 1, 2], "c": [None, None, 1], "2": True}
    with pytest.raises(TypeError, match="complex"):
        to_json_value({"z": 1j})


def test_finding_status_is_checked():
    assert judged("x", True, "e").status == "confirmed"
    assert judged("x", False, "e").status == "not confirmed"
    assert judged("x", None, "e").status == "inconclusive"
    with pytest.raises(ValueError, match="valid choices: confirmed, not confirmed, inconclusive"):
        Finding("x", "maybe", "e")


def test_run_experiment_writes_the_pinned_json(tmp_path, monkeypatch):
    def run(ctx):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([0, 1], [ctx.seed, 1])
        return ExperimentOutput(
            results={"value": np.float64(2.5), "quick": ctx.quick},
            findings=[judged("claim", True, "because")],
            figures=[ctx.save_figure(fig, "sub/plot.png")],
        )

    monkeypatch.setitem(EXPERIMENTS._items, "dummy", Experiment("dummy", "a test experiment", run))
    threads = torch.get_num_threads()
    result = run_experiment("dummy", tmp_path / "out", quick=False, seed=3)
    assert torch.get_num_threads() == threads
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(data) == {"name", "description", "quick", "seed", "wall_time_s", "figures", "results", "findings"}
    assert data["name"] == "dummy" and data["quick"] is False and data["seed"] == 3
    assert data["results"] == {"value": 2.5, "quick": False}
    assert data["findings"] == [{"claim": "claim", "status": "confirmed", "evidence": "because"}]
    assert data["figures"] == ["sub/plot.png"]
    assert (tmp_path / "out" / "sub" / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert math.isfinite(data["wall_time_s"]) and data["wall_time_s"] >= 0
    assert ExperimentResult.load(tmp_path / "out") == result
    assert not [p for p in (tmp_path / "out").rglob(".*")]  # no temporary files left

    # an interrupted rerun leaves no results.json behind (the earlier one must not pass for it)
    def interrupted(ctx):
        raise KeyboardInterrupt

    monkeypatch.setitem(EXPERIMENTS._items, "dummy", Experiment("dummy", "a test experiment", interrupted))
    with pytest.raises(KeyboardInterrupt):
        run_experiment("dummy", tmp_path / "out", quick=False, seed=5)
    assert not (tmp_path / "out" / "results.json").exists()

    # a folder holding another experiment's results is refused, not overwritten
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "results.json").write_text(json.dumps({"name": "fig1"}))
    with pytest.raises(ValueError, match=r"holds the results of experiment 'fig1'; give each experiment its own"):
        run_experiment("dummy", tmp_path / "taken", quick=False, seed=5)
    assert json.loads((tmp_path / "taken" / "results.json").read_text()) == {"name": "fig1"}


def test_load_of_a_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no experiment results"):
        ExperimentResult.load(tmp_path)


def test_cli_lists_and_rejects(capsys, tmp_path):
    assert main(["experiment", "ls"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in PINNED)
    assert main(["experiment", "fig2", "--out", str(tmp_path)]) == 2
    assert "valid choices" in capsys.readouterr().err
    assert main(["experiment", "fig1"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err
    assert main(["experiment", "nope"]) == 2  # the bad name is named first, not the missing --out
    assert "unknown experiment 'nope'; valid choices:" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("")
    assert main(["experiment", "fig1", "--out", str(tmp_path / "a_file")]) == 2
    assert f"the output folder {str(tmp_path / 'a_file')!r} is a file" in capsys.readouterr().err
