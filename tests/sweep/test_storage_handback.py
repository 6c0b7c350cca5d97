"""A run that a full or failing disk stops is handed back to the sweep (pending, resumed later), not failed,
whatever exception the writer underneath raised."""

import errno
import io
import os

import pytest
import torch
import yaml

from ssmem._io import StorageError
from ssmem.sweep import Store, run_sweep
from ssmem.train import list_checkpoints, load_recipe, train

TINY = ["device=cpu", "model.d_model=8", "model.n_layers=1", "model.d_state=8", "task.params.seq_len=16", "task.params.delays=[2]",
        "task.params.n_train=64", "task.params.n_val=16", "task.params.n_test=16", "train.batch_size=16",
        "train.max_steps=6", "train.checkpoint_every=2", "train.eval_every=6", "train.log_every=2"]


def _disk_fails_after(n_saves, err_no):
    """torch.save that works ``n_saves`` times, then writes to a file that stops taking bytes with ``err_no``: torch
    raises ``RuntimeError ... unexpected pos`` (the OSError only its context)."""
    real_save, calls = torch.save, []

    class Failing(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            raise OSError(err_no, os.strerror(err_no))

    def save(obj, handle, *args, **kwargs):
        calls.append(1)
        target = handle if len(calls) <= n_saves else io.BufferedWriter(Failing(), 64)
        real_save(obj, target, *args, **kwargs)

    return save


@pytest.mark.parametrize("err_no", [errno.ENOSPC, errno.EFBIG])
def test_a_disk_full_runtime_error_hands_the_run_back(tmp_path, monkeypatch, err_no):
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"recipes": ["a"], "seeds": [1]}))
    cfg = load_recipe("memory/delay", TINY)

    def run_fn(spec, run_dir, *, resume):
        return train(cfg, run_dir, resume=resume, progress=False).to_dict()

    messages = []
    kw = dict(store=tmp_path / "s.db", runs_dir=tmp_path / "r", progress=False, log=messages.append)
    monkeypatch.setattr(torch, "save", _disk_fails_after(1, err_no))  # the checkpoint of step 2 is saved, then not
    with pytest.raises(StorageError, match=os.strerror(err_no)):
        run_sweep(grid, run_fn=run_fn, **kw)
    assert any("the run is kept to resume from its last checkpoint" in m for m in messages)
    with Store(tmp_path / "s.db") as store:
        (run,) = store.runs()
        assert run.status == "pending"  # handed back: neither failed nor left running
    (run_dir,) = (tmp_path / "r").iterdir()
    assert [s for s, _ in list_checkpoints(run_dir)] == [2]
    monkeypatch.undo()
    assert run_sweep(grid, run_fn=run_fn, **kw).complete  # the disk has room again: it resumes and finishes
    assert [s for s, _ in list_checkpoints(run_dir)][-1] == 6
