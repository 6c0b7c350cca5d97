"""Command-line mistakes: each names the bad value (and the flag or key), exits 2, and nothing slow runs first."""

import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

from ssmem.cli import main
from ssmem.sweep import Store


@pytest.mark.parametrize(
    "argv, message",
    [
        (["experiment", "fig1", "--seed", "-1", "--out", "OUT"], "argument --seed: must be an integer in 0..9223372036854774, got -1"),
        # the experiments derive seeds from it (seed + 101·i): the top of torch's range failed inside, naming another
        (["paper", "--seed", "9223372036854775807", "--out", "OUT"],
         "argument --seed: must be an integer in 0..9223372036854774, got 9223372036854775807"),
        (["eigs", "random", "--seed", "9223372036854775808"],
         "argument --seed: must be an integer in 0..9223372036854775807, got 9223372036854775808"),
        (["memory", "--threshold", "2"], r"argument --threshold: must lie in [0, 1) (MF lies in [0, 1]), got 2"),
        (["memory", "--dt", "0"], "argument --dt: must be a positive finite number, got 0"),
        (["eigs", "random", "--seed", "x"], "argument --seed: expected an integer, got 'x'"),
        (["sweep", "lra-quick", "--max-runs", "-1"], "argument --max-runs: must be a positive integer, got -1"),
        (["memory", "--hoizon", "5"], "unrecognized arguments: --hoizon 5"),
    ],
)
def test_flag_errors_name_the_flag_with_the_verbs_usage(argv, message, tmp_path, capsys):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"ssmem {argv[0]}: error: {message}" in err
    assert err.startswith(f"usage: ssmem {argv[0]} ")  # the verb's usage, not the top-level one
    assert not (tmp_path / "out").exists()


def test_help_after_the_recipe_prints_the_verbs_help(capsys):
    for argv in (["train", "memory/delay", "--help"], ["validate", "memory/delay", "model.d_model=8", "-h"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: ssmem {argv[0]} ")


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "memory/delay", "--run-dir"], "ssmem train: error: argument --run-dir: expected one argument"),
        (["validate", "memory/delay", "seed=-1"], "seed must lie in 0..9223372036854774 (layer i is seeded with seed·1000 + i, a 64-bit torch seed), got -1"),
        (["validate", "memory/delay", "task.params.seq_len=-1"], "task.params: seq_len must be a number >= 1, got -1"),
        (["recipes", "nosuch"], "no recipe group 'nosuch'; groups: audio, forecast, lm, lra, memory"),
        (["data", "path"], "Did you mean one of 'lra/pathfinder', 'lra/pathx'?"),
        (["paper", "--quick", "--scale", "paper", "--out", "OUT"], "--scale paper picks the LRA grid without --quick"),
        (["paper", "--grid", "nosuch", "--out", "OUT"], "unknown grid 'nosuch'"),
        (["report", "STORE", "--out", "OUT", "--experiments", "NOWHERE"], "no experiments directory at"),
    ],
)
def test_value_errors_exit_2_before_any_work(argv, message, tmp_path, capsys):
    Store(tmp_path / "runs.db").close()
    paths = {"OUT": tmp_path / "out", "STORE": tmp_path / "runs.db", "NOWHERE": tmp_path / "nowhere"}
    argv = [str(paths[a]) if a in paths else a for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # paper: no experiment ran before the grid was checked


def test_a_file_that_is_not_a_store_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.db"
    bad.write_text("not a database " * 40)
    for argv in (["runs", "--store", str(bad)], ["report", str(bad), "--out", str(tmp_path / "r")]):
        assert main(argv) == 2
        assert f"{bad} is not a results store (SQLite: file is not a database)" in capsys.readouterr().err
    assert bad.read_text() == "not a database " * 40  # left as it was


def test_sweep_list_checks_every_run_of_the_grid(tmp_path, capsys):
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"name": "g", "recipes": ["memory/delay"], "eigs": ["s4d-lin", "s4d-foo"]}))
    assert main(["sweep", str(grid), "--list"]) == 2
    assert "unknown eigenvalue set 's4d-foo'" in capsys.readouterr().err
    assert main(["sweep", str(grid), "--store", str(tmp_path / "runs.db"), "--no-progress"]) == 2
    assert not (tmp_path / "runs").exists() and not (tmp_path / "runs.db").exists()


def test_runs_filter_names_unknown_keys_and_values(tmp_path, capsys):
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"name": "g", "recipes": ["memory/delay"], "eigs": ["s4d-lin", "s4d-inv"]}))
    store = Store(tmp_path / "runs.db")
    from ssmem.sweep import load_grid

    store.add_runs(load_grid(grid).runs())
    store.close()
    argv = ["runs", "--store", str(tmp_path / "runs.db")]
    assert main([*argv, "--filter", "nosuch=1"]) == 2
    assert "--filter: no run has a key 'nosuch'; keys: " in capsys.readouterr().err
    assert main([*argv, "--filter", "eigs=nosuch"]) == 2
    assert "no run has eigs = 'nosuch'; values in the store: s4d-inv, s4d-lin" in capsys.readouterr().err
    assert main([*argv, "--filter", "eigs=s4d-inv"]) == 0
    assert "1 runs: pending 1" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:  # argparse's own usage error
        main([*argv, "--status", "bogus"])
    assert stopped.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err
    # a value held only by runs of another status is no error: no run matches both
    assert main([*argv, "--status", "done", "--filter", "eigs=s4d-inv"]) == 0
    assert capsys.readouterr().out.strip().endswith("0 runs")


def test_readers_leave_an_empty_file_alone_and_stores_are_named(tmp_path, capsys):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert main(["runs", "--store", str(empty)]) == 2
    assert f"{empty} is not a results store: it holds no tables" in capsys.readouterr().err
    assert main(["report", str(empty), "--out", str(tmp_path / "report")]) == 2
    assert "is not a results store" in capsys.readouterr().err and empty.read_bytes() == b""
    assert main(["report", "--store", str(empty), "--out", str(tmp_path / "report")]) == 2  # as sweep and runs
    assert "is not a results store" in capsys.readouterr().err
    assert main(["report", "--out", str(tmp_path / "report")]) == 2
    assert "name the results store(s)" in capsys.readouterr().err
    assert main(["data", "listops", "-p", "seq_len"]) == 2
    assert "-p 'seq_len' is not of the form KEY=VALUE (e.g. -p seq_len=512)" in capsys.readouterr().err
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"name": "g", "recipes": ["memory/delay"]}))
    assert main(["sweep", str(grid), "--store", str(tmp_path), "--no-progress"]) == 1  # a folder as the store
    assert f"store {tmp_path}: unable to open database file" in capsys.readouterr().err


def test_eigs_takes_a_files_size_from_the_file(tmp_path, capsys):
    np.save(tmp_path / "e.npy", np.array([0.9, 0.5 + 0.3j]))
    assert main(["eigs", str(tmp_path / "e.npy")]) == 0
    assert "d_state = 4 (2 modes)" in capsys.readouterr().out


def test_a_closed_pipe_ends_quietly():
    # `ssmem eigs s4d-inv | head -1`: the reader goes away after one line
    command = f"{sys.executable} -m ssmem eigs s4d-inv --d-state 4096 | head -1"
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("s4d-inv:")
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr


def test_another_applications_database_is_refused_and_left_alone(tmp_path, capsys):
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    before = other.read_bytes()
    assert main(["runs", "--store", str(other)]) == 2
    assert "is not a results store: an SQLite database with other tables (t); it was left as it is" in capsys.readouterr().err
    assert other.read_bytes() == before and not (tmp_path / "other.db-wal").exists()


def test_machine_errors_are_one_line_not_a_traceback(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a run directory should go")
    argv = ["train", "memory/delay", "train.max_steps=1", "--run-dir", str(blocker / "run"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ssmem train: error: {blocker / 'run'}") and "a part of this path is a file" in err
    assert "Traceback" not in err
    assert main(["experiment", "fig1", "--quick", "--out", str(blocker / "sub")]) == 2
    assert "a part of this path is a file, not a folder" in capsys.readouterr().err
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    assert main(["train", "memory/delay", "train.max_steps=1", "--run-dir", str(dangling), "--no-progress"]) == 2
    assert f"{dangling} is a symbolic link to {tmp_path / 'nowhere'}, which does not exist" in capsys.readouterr().err


def test_memory_files_keep_their_size_even_when_named_like_a_set(tmp_path, capsys):
    lin = tmp_path / "lin.npy"
    np.save(lin, np.array([0.9, 0.8, 0.5 + 0.3j, 0.2 + 0.1j]))
    assert main(["memory", "--eigs", "lin", "--eigs-file", str(lin), "--json", str(tmp_path / "m.json")]) == 0
    import json

    rows = json.loads((tmp_path / "m.json").read_text())["results"]
    assert [(r["eigs"], r["d_state"], r["rank"]) for r in rows] == [("lin", 32, 32), ("lin", 8, 6)]
    capsys.readouterr()
    assert main(["memory", "--eigs-file", str(lin), "--d-state", "64"]) == 2  # as `ssmem eigs FILE --d-state 64`
    assert "has 4 modes (d_state = 8); asked for n_modes = 32" in capsys.readouterr().err


def test_memory_output_paths_are_checked_before_the_work(tmp_path, capsys):
    assert main(["memory", "--eigs", "lin", "--plot", str(tmp_path / "p.xyz")]) == 2
    assert "a figure file ends in .png, .pdf, .svg; got" in capsys.readouterr().err
    assert main(["memory", "--eigs", "lin", "--json", str(tmp_path)]) == 2
    assert "is a folder; name the file to write" in capsys.readouterr().err
    assert main(["memory", "--eigs", "lin", "--plot", str(tmp_path / "p.pdf"), "--max-delay", "5"]) == 0
    assert (tmp_path / "p.pdf").read_bytes()[:4] == b"%PDF"
    assert "(over the delays written, 0..5); accuracy: mean MF over delays 0..5" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.txt", b"", "the file holds no eigenvalues"),
        ("garbage.npy", b"garbage" * 20, "not a NumPy .npy array file"),
        ("emptyres.json", b'{"results": []}', "its 'results' list is empty"),
        ("c.dat", b"0.5 0.1\n", "unsupported suffix '.dat'; valid: .npy, .json, .txt, .csv"),
    ],
)
def test_eigenvalue_files_that_cannot_be_read_are_named(name, content, message, tmp_path, capsys):
    path = tmp_path / name
    path.write_bytes(content)
    import warnings

    for verb in (["eigs", str(path)], ["memory", "--eigs", str(path)]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a NumPy warning leaking out of the loader would fail the call
            assert main(verb) == 2
        assert f"cannot read eigenvalues from {str(path)!r}: {message}" in capsys.readouterr().err


def test_memory_says_when_the_written_delays_miss_part_of_the_capacity(capsys):
    # at the infinite horizon the delays written stop at 2^21: a very slow set keeps memory beyond them
    assert main(["memory", "--eigs", "s4d-inv", "--dt", "1e-6", "--horizon", "inf"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"note: s4d-inv: delays 0\.\.2097151 hold [\d.]+ of the capacity 32;", out)
    assert main(["memory", "--eigs", "s4d-inv", "--horizon", "inf"]) == 0
    assert "note:" not in capsys.readouterr().out


def test_data_ls_takes_no_task_options(capsys):
    assert main(["data", "ls", "-p", "foo=1"]) == 2
    assert "-p and --prepare apply to one task" in capsys.readouterr().err
