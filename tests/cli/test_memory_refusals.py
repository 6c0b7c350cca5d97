"""Sizes the machine cannot hold are refused before anything is allocated: one line naming the estimate, its
largest part and the flag that overrides; what fits runs and ``validate`` prints its estimate."""

import pytest

from ssmem import resources
from ssmem.cli import main

# what a user tried: each grew to tens of GB or ended in a traceback
HUGE = [
    (["validate", "memory/delay", "model.d_model=1000000000"], "the model, gradients and optimizer state",
     "lower model.d_model, model.d_state or model.n_layers"),
    (["validate", "memory/delay", "model.d_state=1000000000"], "the SSM kernels",
     "lower model.d_model, model.d_state or task.params.seq_len"),
    (["validate", "memory/delay", "task.params.seq_len=1000000000"], "the activations",
     "lower train.batch_size, task.params.seq_len"),
    (["validate", "memory/delay", "task.params.n_train=1000000000"], "the data set", "lower task.params.n_train"),
    (["validate", "memory/delay", "model.n_layers=100000"], "the activations", "lower train.batch_size"),
    (["train", "memory/delay", "model.d_model=1000000000", "--run-dir", "RUN"],
     "the model, gradients and optimizer state", "lower model.d_model"),
    (["eigs", "s4d-lin", "--d-state", "1000000000"], "the eigenvalues", "lower --d-state"),
    (["memory", "--d-state", "1000000", "--horizon", "1000000"], "the memory-function basis",
     "lower --d-state or --horizon"),
]


@pytest.fixture
def capped_memory():
    """Cap this process's address space a few GiB above its present size while the test runs: a case the check
    lets through fails the test with an allocation error instead of filling the machine's memory."""
    import resource

    with open("/proc/self/status") as status:
        size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + 4 * 2**30
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize("argv, part, shrink", HUGE, ids=[" ".join(a[:3]) for a, _, _ in HUGE])
def test_huge_sizes_are_refused_in_one_line(argv, part, shrink, tmp_path, capsys, monkeypatch, capped_memory):
    # a machine with 8 GiB free: the same on every test machine (each case needs far more: a case let through
    # would allocate it)
    monkeypatch.setattr(resources, "available_memory", lambda: 8 * 2**30)
    argv = [str(tmp_path / "run") if a == "RUN" else a for a in argv]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(f"ssmem {argv[0]}: error: not enough memory for ")
    assert f"and 8 GiB is available; {shrink}" in err and f"({part}), or pass --ignore-memory-check" in err
    assert not (tmp_path / "run").exists()


def test_the_override_flag_runs_what_the_estimate_refuses(capsys, monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: 100)  # a machine with 100 bytes free
    assert main(["eigs", "s4d-lin", "--d-state", "4"]) == 2
    assert "100 B is available; lower --d-state" in capsys.readouterr().err
    assert main(["eigs", "s4d-lin", "--d-state", "4", "--ignore-memory-check"]) == 0
    assert "d_state = 4 (2 modes)" in capsys.readouterr().out
    assert main(["memory", "--eigs", "s4d-lin", "--d-state", "4", "--horizon", "16"]) == 2
    capsys.readouterr()
    assert main(["memory", "--eigs", "s4d-lin", "--d-state", "4", "--horizon", "16", "--ignore-memory-check"]) == 0
    assert main(["validate", "memory/delay"]) == 2
    assert main(["validate", "memory/delay", "--ignore-memory-check"]) == 0


def test_validate_prints_the_estimate_and_the_memory_available(capsys, monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: 8 * 2**30)
    assert main(["validate", "memory/delay", "device=cpu"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("memory about 106 MiB (training loop 80 MiB, activations 13.5 MiB, data set 12.6 MiB")
    assert last.endswith("at the peak of training; 8 GiB available")
