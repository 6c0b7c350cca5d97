"""The further forms of a user eigenvalue file: complex text cells and a JSON object of real and imaginary parts.
Each reads to the same eigenvalues as the [re, im] table; what cannot be read is refused with every accepted form."""

import json

import numpy as np
import pytest

from ssmem.eigs import load_eigenvalues, resolve_set, set_eigenvalues
from ssmem.eigs.user import ACCEPTED_FORMS

MODES = np.array([0.5 + 0.3j, 0.9 * np.exp(1j * 2.0), 0.2 + 0j])


def _read(path):
    return set_eigenvalues(resolve_set(str(path)), 2 * MODES.size)


def _pairs_file(tmp_path):
    path = tmp_path / "pairs.csv"
    np.savetxt(path, np.stack([MODES.real, MODES.imag], axis=1), delimiter=",")
    return path


def _write(tmp_path, form):
    """A file of MODES in ``form``; repr keeps every digit, as Python prints a complex value."""
    cells = [repr(complex(z)) for z in MODES]  # "(0.5+0.3j)", "(-0.37...+0.81...j)", "(0.2+0j)"
    bare = [c.strip("()") for c in cells]
    if form == "complex.txt":
        text = "\n".join(bare) + "\n"
    elif form == "complex.csv":  # a header row, and two values in one row
        text = "eigenvalue,other\n" + f"{bare[0]},{bare[1]}\n{bare[2]}\n"
    elif form == "parens.txt":  # Python's own printing of a complex value, and a comment line
        text = "# eigenvalues\n" + "\n".join(cells) + "\n"
    elif form == "spaced.csv":  # spaces around the sign, as people type it
        text = "\n".join(f"{float(z.real)!r} {'+' if z.imag >= 0 else '-'} {float(abs(z.imag))!r}j" for z in MODES) + "\n"
    elif form == "conjugates.txt":  # all N values, conjugate-closed: reduced to the upper half like any list
        text = "\n".join(bare + [repr(complex(z.conjugate())).strip("()") for z in MODES]) + "\n"
    elif form == "real_imag.json":
        text = json.dumps({"real": MODES.real.tolist(), "imag": MODES.imag.tolist()})
    elif form == "keyed.json":
        text = json.dumps({"discrete_eigenvalues": {"real": MODES.real.tolist(), "imag": MODES.imag.tolist()}})
    else:
        raise AssertionError(form)
    path = tmp_path / form
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "form", ["complex.txt", "complex.csv", "parens.txt", "spaced.csv", "conjugates.txt", "real_imag.json", "keyed.json"]
)
def test_each_form_reads_to_the_same_eigenvalues_as_the_pairs_table(tmp_path, form):
    expected = _read(_pairs_file(tmp_path))
    got = _read(_write(tmp_path, form))
    np.testing.assert_array_equal(np.sort_complex(got), np.sort_complex(expected))
    np.testing.assert_allclose(np.sort_complex(got), np.sort_complex(MODES), rtol=1e-15)


def test_a_continuous_real_imag_object_keeps_its_domain(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"continuous_eigenvalues": {"real": [-0.5, -0.5], "imag": [1.0, 2.0]}}))
    eig_set = load_eigenvalues(path)
    assert eig_set.domain == "continuous"
    np.testing.assert_array_equal(set_eigenvalues(eig_set, 4), [-0.5 + 1j, -0.5 + 2j])


@pytest.mark.parametrize(
    "name, text, reason",
    [
        ("short.json", json.dumps({"real": [0.5, 0.6], "imag": [0.1]}), "lists of equal length; got shapes (2,) and (1,)"),
        ("keys.json", json.dumps({"re": [0.5]}), "expected keys 'real' and 'imag', or a key 'discrete_eigenvalues'"),
        ("cell.csv", "0.5+0.1j\n0.4+0.2j,half\n", "line 2: 'half' is not a number"),
        ("cell.txt", "0.5+0.1j\n0.4+0.2i\n", "line 2: '0.4+0.2i' is not a number"),
    ],
)
def test_unreadable_files_name_the_reason_and_every_accepted_form(tmp_path, name, text, reason):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        load_eigenvalues(path)
    message = str(info.value)
    assert reason in message
    assert message.endswith(ACCEPTED_FORMS)
    for form in ("a set name", ".npy", "0.9+0.1j", '{"real": [...], "imag": [...]}', "discrete_eigenvalues",
                 "ssmem memory --json", "a training run directory"):
        assert form in ACCEPTED_FORMS


def test_a_folder_is_not_taken_for_a_file(tmp_path):
    with pytest.raises(ValueError, match="is a folder, not an eigenvalue file: a training run directory"):
        load_eigenvalues(tmp_path)
