"""User-given eigenvalues: arrays and files, conjugate-closed input, validation."""

import json

import numpy as np
import pytest

from ssmem.eigs import (
    conjugate_closed,
    continuous_eigenvalues,
    discrete_eigenvalues,
    load_eigenvalues,
    resolve_set,
    set_eigenvalues,
    upper_half,
    user_set,
)

MODES = np.array([0.5 + 0.3j, 0.9 * np.exp(1j * 2.0), 0.2 + 0j])


def test_array_is_a_discrete_set_by_default():
    got = discrete_eigenvalues(MODES, 6, dt=0.1)
    np.testing.assert_array_equal(got, MODES)
    # a layer's A discretises back to the given values
    A = continuous_eigenvalues(MODES, 6, dt=0.1)
    np.testing.assert_allclose(np.exp(0.1 * A), MODES, rtol=1e-13)


def test_conjugate_closed_input_is_reduced_to_its_upper_half():
    full = conjugate_closed(MODES)
    assert full.shape == (6,)
    reduced = upper_half(full)
    np.testing.assert_allclose(np.sort_complex(reduced), np.sort_complex(MODES))
    # not closed: unchanged
    np.testing.assert_array_equal(upper_half(MODES), MODES)


def test_wrong_size_names_both_sizes():
    with pytest.raises(ValueError, match=r"has 3 modes \(d_state = 6\).*n_modes = 4"):
        set_eigenvalues(user_set(MODES), 8)


@pytest.mark.parametrize("bad, named", [
    (np.array([0.5 + 0.1j, 1.2 + 0j]), r"0 < \|A_bar\| < 1 .*got 1\.2\+0j \(index 1\)"),
    (np.array([0.0 + 0j]), r"0 < \|A_bar\| < 1 .*continuous_eigenvalues.*got 0\+0j \(index 0\)"),
    (np.array([0.5 + 0j, np.nan + 0j]), r"must be finite numbers; got nan\+0j \(index 1\)"),
    (np.array([0.5 + 0.1j, 0.5 - 0.1j, 0.2 + 1.2j, 0.2 - 1.2j]), r"got 0\.2\+1\.2j \(index 2\)"),  # as given
    (np.array([0.5 - 0.1j, 0.2 - 1.2j, 0.5 + 0.1j, 0.2 + 1.2j]), r"got 0\.2\+1\.2j \(index 3\)"),
    (np.linspace(1.5, 2.0, 6) + 0j, r"got 1\.5\+0j \(index 0\), .* \(index 3\) and 2 more"),
])
def test_unstable_or_invalid_values_are_refused_by_value_and_index(bad, named):
    with pytest.raises(ValueError, match=named):
        user_set(bad)


def test_continuous_user_set_needs_negative_real_part():
    with pytest.raises(ValueError, match=r"Re\(A\) < 0 \(stability\); got 0\.1\+1j \(index 0\)"):
        user_set(np.array([0.1 + 1j]), domain="continuous")
    ok = user_set(np.array([-0.5 + 1j, -0.5 + 2j]), domain="continuous")
    np.testing.assert_array_equal(continuous_eigenvalues(ok, 4), [-0.5 + 1j, -0.5 + 2j])


@pytest.mark.parametrize("suffix", [".npy", ".json", ".txt", ".csv", ".memory.json", "header.csv", "header.txt"])
def test_files_round_trip(tmp_path, suffix):
    path = tmp_path / (f"eigs{suffix}" if suffix.startswith(".") else f"eigs_{suffix}")
    pairs = np.stack([MODES.real, MODES.imag], axis=1)
    if suffix == ".npy":
        np.save(path, MODES)
    elif suffix == ".json":
        path.write_text(json.dumps(pairs.tolist()))
    elif suffix == ".memory.json":  # the format `ssmem memory --json` writes: all N, conjugate-closed
        full = conjugate_closed(MODES)
        entry = {"discrete_eigenvalues": [[z.real, z.imag] for z in full]}
        path.write_text(json.dumps({"results": [entry]}))
    else:  # text tables, with a header row or without (a header was "could not convert string 're'")
        header = "re,im" if suffix == "header.csv" else "re im" if suffix == "header.txt" else ""
        np.savetxt(path, pairs, delimiter="," if suffix.endswith(".csv") else " ", header=header, comments="")
    if suffix == "header.csv":  # a spreadsheet's export starts with a byte-order mark
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    eig_set = resolve_set(str(path))
    got = set_eigenvalues(eig_set, 6)
    np.testing.assert_allclose(np.sort_complex(got), np.sort_complex(MODES), rtol=1e-15)
    assert eig_set.domain == "discrete"


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_eigenvalues(tmp_path / "nope.npy")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read eigenvalues"):
        load_eigenvalues(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"values": [1, 2]}))
    with pytest.raises(ValueError, match="discrete_eigenvalues"):
        load_eigenvalues(wrong)


def test_conjugates_that_differ_by_rounding_are_matched_and_repeats_are_named():
    upper = np.array([0.5 + 0.1j, 0.5 + 0.2j])
    lower = np.array([np.nextafter(0.5, 1) - 0.1j, np.nextafter(0.5, 0) - 0.2j])  # sorts in the other order
    closed = user_set(np.concatenate([upper, lower]))
    assert closed.n_modes == 2  # (was 4: a closed list taken for four modes)
    with pytest.warns(UserWarning, match=r"user eigenvalues repeat \(0\.5\+0\.1j; .* no memory"):
        repeated = user_set(np.array([0.5 + 0.1j, 0.5 + 0.1j, 0.3 + 0.2j]))
    assert repeated.n_modes == 3  # kept as given: the warning says what it costs


def test_a_byte_order_mark_before_the_first_value_keeps_it(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeff0.9,0.1\n0.8,0.2\n0.7,0.3\n".encode())  # the first mode was read as a header
    got = set_eigenvalues(load_eigenvalues(path), 6)
    np.testing.assert_allclose(np.sort_complex(got), np.sort_complex(np.array([0.9 + 0.1j, 0.8 + 0.2j, 0.7 + 0.3j])))
