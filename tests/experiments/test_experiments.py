"""Each experiment's quick run: its numbers and findings (the fast ones by default, the others marked slow)."""

import json

import numpy as np
import pytest

from ssmem.cli import main
from ssmem.experiments import EXPERIMENTS, ExperimentResult, run_experiment

STATUSES = {"confirmed", "not confirmed", "inconclusive"}


def check_written(result: ExperimentResult, out) -> None:
    assert result.figures and all((out / f).read_bytes()[:4] == b"\x89PNG" for f in result.figures)
    assert result.findings and all(f.status in STATUSES and f.evidence for f in result.findings)
    assert ExperimentResult.load(out) == result


def test_fig1_capacities_and_memory_lengths(tmp_path):
    assert main(["experiment", "fig1", "--quick", "--out", str(tmp_path)]) == 0
    result = ExperimentResult.load(tmp_path)
    check_written(result, tmp_path)
    sets = result.results["sets"]
    assert {n: round(s["capacity"], 6) for n, s in sets.items()} == {
        "s4d-inv": 32, "s4d-lin": 31, "random": 32, "lin": 32, "step": 32}
    assert min(sets[n]["memory_length_0.01"] for n in ("s4d-inv", "s4d-lin")) > max(
        sets[n]["memory_length_0.01"] for n in ("random", "lin", "step"))
    assert [f.status for f in result.findings] == ["confirmed", "confirmed"]
    # the values themselves, against the Gram-matrix MF in 60-digit arithmetic (an independent computation)
    from ssmem.eigs import discrete_eigenvalues

    from ..memory._mp_memory_reference import mp_memory_function

    for name, summary in sets.items():
        delays = [int(tau) for tau in summary["mf_at"]]
        reference = mp_memory_function(discrete_eigenvalues(name, 32, dt=0.01, seed=0), 1024, delays)
        np.testing.assert_allclose(list(summary["mf_at"].values()), reference, atol=1e-10, err_msg=name)


def test_equivalence_rows(tmp_path):
    result = run_experiment("equivalence", tmp_path, quick=True)
    check_written(result, tmp_path)
    for rows in result.results["rows"].values():
        for row in rows:
            if row["expected_equal"]:
                assert row["max_abs_diff"] < 1e-8
            else:
                assert row["max_abs_diff"] > 0.1
    assert [f.status for f in result.findings] == ["confirmed"] * 3
    check = result.results["empirical_check"]  # simulated readouts, no eigenvalues: sampling error only
    assert check["d_state"] == 8 and check["max_abs_diff"] < 0.02


def test_gradient_agreement_and_reservoir_r2(tmp_path):
    result = run_experiment("gradient", tmp_path, quick=True, seed=0)
    check_written(result, tmp_path)
    for numbers in result.results["agreement"].values():
        assert numbers["linear_exact_rel_error"] < 1e-10 and numbers["tanh_rel_error"] < 1e-10
        assert 1e-3 < numbers["population_rel_difference"] < 0.5
    assert result.results["max_abs_r2_minus_mf"] <= 0.02
    assert [f.status for f in result.findings] == ["confirmed"] * 3


@pytest.mark.slow
@pytest.mark.parametrize("name", ["long-memory", "designed-init", "short-memory", "nonlinear-memory"])
def test_training_experiments_run_quick(tmp_path, name):
    result = run_experiment(name, tmp_path, quick=True, seed=0)
    check_written(result, tmp_path)
    assert json.loads((tmp_path / "results.json").read_text())["name"] == name
    assert result.name in EXPERIMENTS
