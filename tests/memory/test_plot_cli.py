"""Fig. 1 plot and the ``ssmem memory`` command (JSON contract, table, user files, errors)."""

import json

import matplotlib.image
import numpy as np
import pytest

from ssmem.cli import main
from ssmem.eigs import conjugate_closed, discrete_eigenvalues
from ssmem.memory import memory_function
from ssmem.memory.plot import plot_memory_profiles, upper_half_modes

SETS = ["s4d-inv", "s4d-lin", "random", "lin", "step"]


def test_plot_writes_a_two_panel_png(tmp_path):
    profiles = [memory_function(discrete_eigenvalues(n, 16, dt=0.01), horizon=256) for n in SETS]
    path = plot_memory_profiles(profiles, SETS, tmp_path / "sub" / "fig1.png", title="N = 16")
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == (480, 1320)  # 11 x 4 inches at 120 dpi
    assert [p.name for p in path.parent.iterdir()] == ["fig1.png"]  # no temporary file left
    np.testing.assert_array_equal(upper_half_modes(profiles[0]), discrete_eigenvalues("s4d-inv", 16, dt=0.01))
    with pytest.raises(ValueError, match="one label per profile"):
        plot_memory_profiles(profiles, SETS[:2], tmp_path / "x.png")


def test_cli_json_contract(tmp_path, capsys):
    out, png = tmp_path / "mf.json", tmp_path / "mf.png"
    argv = ["memory", "--eigs", ",".join(SETS), "--d-state", "32", "--dt", "0.01", "--horizon", "1024", "--seed", "0"]
    assert main(argv + ["--json", str(out), "--plot", str(png)]) == 0
    assert "memory function: T = 1024" in capsys.readouterr().out  # the table is printed beside the files
    results = json.loads(out.read_text())["results"]
    assert [r["eigs"] for r in results] == SETS
    assert png.stat().st_size > 10_000
    for r in results:
        modes = discrete_eigenvalues(r["eigs"], 32, dt=0.01, seed=0)
        profile = memory_function(modes, horizon=1024)
        assert r["d_state"] == 32 and r["dt"] == 0.01 and r["horizon"] == 1024
        eigenvalues = np.array([complex(re, im) for re, im in r["discrete_eigenvalues"]])
        np.testing.assert_array_equal(eigenvalues, conjugate_closed(modes))
        assert len(r["mf"]) == 1024
        np.testing.assert_allclose(r["mf"], profile.mf, atol=0)
        assert r["capacity"] == pytest.approx(r["rank"], abs=1e-9)
        assert r["rank"] == (31 if r["eigs"] == "s4d-lin" else 32)
        assert r["memory_length"] == profile.memory_length(0.01)


def test_cli_infinite_horizon_max_delay_and_user_file(tmp_path):
    out = tmp_path / "inf.json"
    assert main(["memory", "--eigs", "s4d-inv", "--horizon", "inf", "--max-delay", "99", "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text())["results"]
    assert result["horizon"] is None and len(result["mf"]) == 100 and result["capacity"] == 32
    # the JSON is itself a valid eigenvalue file: same eigenvalues, same memory
    again = tmp_path / "again.json"
    assert main(["memory", "--eigs-file", str(out), "--horizon", "inf", "--max-delay", "99", "--json", str(again)]) == 0
    (reloaded,) = json.loads(again.read_text())["results"]
    assert reloaded["eigs"] == "inf" and reloaded["d_state"] == 32
    np.testing.assert_allclose(reloaded["mf"], result["mf"], atol=1e-15)
    # a file named by --eigs takes its own size too (it asked for the default d_state 32)
    (tmp_path / "two.txt").write_text("0.5 0.1\n0.3 0.2\n")
    third = tmp_path / "third.json"
    assert main(["memory", "--eigs", str(tmp_path / "two.txt"), "--max-delay", "9", "--json", str(third)]) == 0
    (by_name,) = json.loads(third.read_text())["results"]
    assert by_name["d_state"] == 4 and by_name["capacity"] == pytest.approx(4.0)


def test_cli_table_and_errors(capsys):
    assert main(["memory", "--eigs", "s4d-real,lin", "--d-state", "8", "--horizon", "64"]) == 0
    text = capsys.readouterr().out
    lines = [line for line in text.splitlines() if line.startswith(("s4d-real", "lin"))]
    assert len(lines) == 2 and lines[0].split()[1:3] == ["8", "4"]  # d_state 8, rank 4 (all real)
    assert main(["memory", "--eigs", "s4d-nope"]) == 2
    assert "valid choices" in capsys.readouterr().err
    assert main(["memory", "--horizon", "10", "--max-delay", "10"]) == 2
    assert "--max-delay must be < --horizon" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["memory", "--horizon", "-3"])
