"""Checkpoint files: atomic, pruned, and refused (without running anything) when corrupt or booby-trapped."""

import pickle

import pytest
import torch

from ssmem.train.checkpoint import (
    FORMAT,
    CheckpointError,
    atomic_torch_save,
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)


def _state(value: float) -> dict:
    return {
        "model": {"w": torch.full((3,), value)},
        "config": {"model": {"d_model": 8}, "seed": 1},
        "rng": {"torch": torch.get_rng_state()},
        "best_metric": None,
        "elapsed": 1.5,
    }


def test_round_trip_and_pruning(tmp_path):
    for step in (10, 20, 30):
        save_checkpoint(tmp_path, step, _state(float(step)), keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [20, 30]
    assert latest_checkpoint(tmp_path) == checkpoint_path(tmp_path, 30)
    state = load_checkpoint(latest_checkpoint(tmp_path))
    assert state["format"] == FORMAT and state["step"] == 30
    assert torch.equal(state["model"]["w"], torch.full((3,), 30.0))
    assert state["config"] == {"model": {"d_model": 8}, "seed": 1} and state["best_metric"] is None
    assert torch.equal(state["rng"]["torch"], torch.get_rng_state())


def test_stray_temporary_files_are_not_checkpoints(tmp_path):
    save_checkpoint(tmp_path, 5, _state(5.0))
    (tmp_path / "checkpoints" / ".step-00000010.pt.abc.tmp").write_bytes(b"half a file")
    assert [s for s, _ in list_checkpoints(tmp_path)] == [5]


def test_a_failed_save_leaves_the_previous_checkpoint_and_no_temporary(tmp_path):
    save_checkpoint(tmp_path, 1, _state(1.0))

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(tmp_path, 2, {"model": Unpicklable()})
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000001.pt"]


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    atomic_torch_save({"format": FORMAT, **_state(3.0)}, checkpoint_path(tmp_path, 3))
    path = checkpoint_path(tmp_path, 7)
    atomic_torch_save({"format": FORMAT, **_state(7.0)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cannot load checkpoint .*step-00000007.pt: it is corrupt") as info:
        load_checkpoint(path)
    assert "Older checkpoints here: step-00000003.pt (remove step-00000007.pt to resume from them)" in str(info.value)
    path.write_bytes(b"garbage" * 100)
    with pytest.raises(CheckpointError, match="it is corrupt") as info:
        load_checkpoint(path)
    assert "weights_only" not in str(info.value)  # torch's advice to load unsafely is not passed on
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


class _Trap:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_booby_trapped_checkpoint_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = checkpoint_path(tmp_path, 3)
    path.parent.mkdir(parents=True)
    torch.save({"format": FORMAT, "model": _Trap(marker)}, path)
    with pytest.raises(CheckpointError, match="was not loaded \\(nothing in it was executed\\)"):
        load_checkpoint(path)
    assert not marker.exists()
    # a plain pickle (not a torch zip file) with the same trap
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"format": FORMAT, "model": _Trap(marker)}))
    with pytest.raises(CheckpointError):
        load_checkpoint(raw)
    assert not marker.exists()


def test_foreign_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="is not an ssmem checkpoint"):
        load_checkpoint(path)


def test_rng_state_of_more_gpus_than_visible_restores_the_visible_ones(monkeypatch):
    from ssmem.train.checkpoint import set_rng_state

    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: restored.append((int(state[0]), device)))
    saved = {"torch": torch.get_rng_state(), "cuda": [torch.tensor([7], dtype=torch.uint8), torch.tensor([9], dtype=torch.uint8)]}
    set_rng_state(saved)  # saved on two GPUs, resumed where one is visible
    assert restored == [(7, 0)]
