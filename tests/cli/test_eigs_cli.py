"""`ssmem --version`, `ssmem eigs`: output matches the library."""

import json

import numpy as np
import pytest

import ssmem
from ssmem.cli import main
from ssmem.eigs import EIGENVALUE_SETS, continuous_eigenvalues, discrete_eigenvalues


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"ssmem {ssmem.__version__}"


def test_eigs_lists_every_set(capsys):
    assert main(["eigs"]) == 0
    out = capsys.readouterr().out
    for name, eig_set in EIGENVALUE_SETS.items():
        assert name in out and eig_set.description in out


def test_eigs_json_matches_library(capsys):
    assert main(["eigs", "s4d-inv", "--d-state", "64", "--dt", "0.01", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    A = np.array([complex(*p) for p in data["continuous_eigenvalues"]])
    A_bar = np.array([complex(*p) for p in data["discrete_eigenvalues"]])
    np.testing.assert_array_equal(A, continuous_eigenvalues("s4d-inv", 64, dt=0.01))
    np.testing.assert_array_equal(A_bar, discrete_eigenvalues("s4d-inv", 64, dt=0.01))


def test_eigs_table_has_one_row_per_mode(capsys):
    assert main(["eigs", "lin", "--d-state", "8"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 4
    assert float(rows[-1].split()[3]) == pytest.approx(0.99, abs=1e-6)  # |A_bar| of the last lin mode


def test_eigs_bad_name_is_a_clear_error(capsys):
    assert main(["eigs", "s4d-foo"]) == 2
    err = capsys.readouterr().err
    assert "unknown eigenvalue set 's4d-foo'" in err and "s4d-inv" in err


def test_eigs_odd_d_state_is_a_clear_error(capsys):
    assert main(["eigs", "s4d-inv", "--d-state", "7"]) == 2
    assert "d_state must be an even integer" in capsys.readouterr().err
