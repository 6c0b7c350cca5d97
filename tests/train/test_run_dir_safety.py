"""What ssmem refuses to destroy: files behind symbolic links, directories holding something it did not write for
the run; and a full disk under torch's serializer surfaces as one clear error."""

import errno
import io
import os

import pytest
import torch

from ssmem._io import StorageError, SymlinkError, append_text, atomic_open, exclusive_folder
from ssmem.cli import main
from ssmem.train import CheckpointError, config_to_yaml, list_checkpoints, load_checkpoint, train
from ssmem.train.checkpoint import atomic_torch_save, save_checkpoint


def _train_cli(recipe, run_dir, *flags):
    return main(["train", str(recipe), "--run-dir", str(run_dir), "--no-progress", *flags])


@pytest.fixture
def recipe(tmp_path, tiny_config):
    path = tmp_path / "recipe.yaml"
    path.write_text(config_to_yaml(tiny_config("train.max_steps=4", "train.eval_every=4", "train.checkpoint_every=2")))
    return path


# ----------------------------------------------------------------------------------------------- symbolic links


def test_a_symlinked_lock_is_refused_and_its_target_untouched(tmp_path, recipe, capsys):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".lock").symlink_to(target)
    assert _train_cli(recipe, run_dir) != 0
    err = capsys.readouterr().err
    assert f"{run_dir / '.lock'} is a symbolic link (to {target})" in err and "Traceback" not in err
    assert target.read_text() == "keep me\n"
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]  # nothing was written


def test_the_lock_opens_without_following_a_link_planted_after_the_check(tmp_path, monkeypatch):
    """O_NOFOLLOW: a link made between the lstat check and the open is refused too."""
    import ssmem._io as io_module

    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".lock").symlink_to(target)
    monkeypatch.setattr(io_module, "refuse_symlink", lambda path: None)  # the check comes too late
    with pytest.raises(SymlinkError, match="is a symbolic link"):
        with exclusive_folder(tmp_path / "run", "wait"):
            pass
    assert target.read_text() == "keep me\n"


def test_a_hard_linked_lock_is_refused(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (tmp_path / "run").mkdir()
    os.link(target, tmp_path / "run" / ".lock")
    with pytest.raises(OSError, match="not a lock file of its own \\(a hard link\\)"):
        with exclusive_folder(tmp_path / "run", "wait"):
            pass
    assert target.read_text() == "keep me\n"


@pytest.mark.parametrize("name", ["config.yaml", "metrics.jsonl", "result.json", "checkpoints"])
def test_run_files_behind_links_are_refused(tmp_path, tiny_config, name):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "file"
    target.write_text("keep me\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / name).symlink_to(elsewhere if name == "checkpoints" else target)
    with pytest.raises(SymlinkError, match=f"{run_dir / name} is a symbolic link"):
        train(tiny_config("train.max_steps=2"), run_dir, resume=True, progress=False)
    assert target.read_text() == "keep me\n" and os.listdir(elsewhere) == ["file"]


def test_writers_refuse_links(tmp_path):
    target = tmp_path / "target"
    target.write_text("keep me\n")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(SymlinkError):
        append_text(tmp_path / "link", "more\n")
    with pytest.raises(SymlinkError):
        with atomic_open(tmp_path / "link", "w") as handle:
            handle.write("new")
    assert target.read_text() == "keep me\n" and (tmp_path / "link").is_symlink()


# ----------------------------------------------------------------------------------------------- run directories


def test_a_finished_run_without_metrics_or_checkpoints_is_not_overwritten(tmp_path, recipe, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("seed: 1\n")
    (run_dir / "result.json").write_text('{"status": "completed"}\n')
    assert _train_cli(recipe, run_dir) == 2
    err = capsys.readouterr().err
    assert f"{run_dir} already holds a run; resume it (--resume), replace it (--overwrite)" in err
    assert "(it holds config.yaml, result.json; nothing was changed)" in err
    assert (run_dir / "result.json").read_text() == '{"status": "completed"}\n'
    assert _train_cli(recipe, run_dir, "--overwrite") == 0
    assert list_checkpoints(run_dir) and "completed" in (run_dir / "result.json").read_text()


def test_files_ssmem_did_not_write_are_refused_and_overwrite_leaves_them(tmp_path, recipe, capsys):
    run_dir = tmp_path / "home"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "thesis.tex").write_text("years of work\n")
    (run_dir / "checkpoints" / "mine.pt").write_bytes(b"x")
    (run_dir / ".lock").write_text("")  # ssmem's own, and temporaries, do not count
    (run_dir / ".config.yaml.abc.tmp").write_text("cut")
    assert _train_cli(recipe, run_dir) == 2
    err = capsys.readouterr().err
    assert "holds files ssmem did not write for a run (checkpoints/mine.pt, thesis.tex); choose an empty" in err
    assert not (run_dir / "config.yaml").exists()
    assert _train_cli(recipe, run_dir, "--overwrite") == 0
    assert (run_dir / "thesis.tex").read_text() == "years of work\n" and (run_dir / "checkpoints" / "mine.pt").exists()
    assert _train_cli(recipe, run_dir, "--resume") == 0  # a run identified by its files resumes among others


def test_resume_and_overwrite_exclude_each_other(tmp_path, recipe, tiny_config, capsys):
    assert _train_cli(recipe, tmp_path / "run", "--resume", "--overwrite") == 2
    assert "--resume continues the run in --run-dir and --overwrite replaces it: give one" in capsys.readouterr().err
    with pytest.raises(ValueError, match="resume and overwrite exclude each other"):
        train(tiny_config(), tmp_path / "run", resume=True, overwrite=True)
    assert not (tmp_path / "run").exists()


def test_overwrite_replaces_an_earlier_run(tmp_path, tiny_config):
    cfg = tiny_config("train.max_steps=4", "train.checkpoint_every=2")
    train(cfg, tmp_path, progress=False)
    first = load_checkpoint(list_checkpoints(tmp_path)[-1][1])
    again = tiny_config("train.max_steps=2", "train.checkpoint_every=2", "seed=8")
    assert train(again, tmp_path, overwrite=True, progress=False).steps == 2
    assert [s for s, _ in list_checkpoints(tmp_path)] == [2]  # step 4 of the earlier run is gone
    assert load_checkpoint(list_checkpoints(tmp_path)[-1][1])["config"]["seed"] == 8 != first["config"]["seed"]


# ----------------------------------------------------------------------------------------------- a full disk


def _full_disk_save(after_bytes=100, err_no=errno.ENOSPC):
    """torch.save whose file stops taking bytes as a full disk does: torch's own writer then raises its
    ``RuntimeError ... unexpected pos``, the OSError kept only as the exception's context."""
    real_save = torch.save

    class Full(io.RawIOBase):
        written = 0

        def writable(self):
            return True

        def write(self, data):
            if self.written + len(data) > after_bytes:
                raise OSError(err_no, os.strerror(err_no))
            self.written += len(data)
            return len(data)

    def save(obj, handle, *args, **kwargs):
        handle.write(b"partial")
        real_save(obj, io.BufferedWriter(Full(), 64), *args, **kwargs)

    return save


def test_torch_reports_a_full_disk_as_a_runtime_error_and_ssmem_as_storage_error(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, 1, {"model": {"w": torch.ones(3)}})
    monkeypatch.setattr(torch, "save", _full_disk_save())
    with pytest.raises(RuntimeError, match="unexpected pos"):  # what torch itself raises: the case to translate
        torch.save({"w": torch.zeros(1000)}, io.BytesIO())
    with pytest.raises(StorageError) as caught:
        save_checkpoint(tmp_path, 2, {"model": {"w": torch.zeros(1000)}})
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(tmp_path / "checkpoints" / "step-00000002.pt")
    assert "No space left on device" in str(caught.value) and "free space" in str(caught.value)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000001.pt"]  # no temporary left


def test_a_bare_writer_error_is_told_apart_by_the_free_space(tmp_path, monkeypatch):
    import ssmem._io as io_module

    def failing(obj, handle, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", failing)
    monkeypatch.setattr(io_module, "_nearly_full", lambda folder: True)
    with pytest.raises(StorageError, match=r"No space left on device: .*RuntimeError from the writer: \[enforce"):
        atomic_torch_save({}, tmp_path / "a.pt")
    monkeypatch.setattr(io_module, "_nearly_full", lambda folder: False)
    with pytest.raises(StorageError) as caught:
        atomic_torch_save({}, tmp_path / "a.pt")
    assert caught.value.errno == errno.EIO and "I/O error" in str(caught.value)


def test_other_errors_of_a_save_stay_what_they_are(tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "save", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        atomic_torch_save({}, tmp_path / "a.pt")


def test_ssmem_train_reports_a_full_disk_in_one_line(tmp_path, recipe, monkeypatch, capsys):
    monkeypatch.setattr(torch, "save", _full_disk_save())
    assert _train_cli(recipe, tmp_path / "run") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ssmem train: error: StorageError: [Errno 28] No space left on device: ")
    assert "step-00000002.pt" in err[-1] and not any("Traceback" in line for line in err)


# ----------------------------------------------------------------------------------------------- messages


def test_a_checkpoint_with_a_wrong_shape_names_file_tensor_and_shapes(tmp_path, tiny_config):
    cfg = tiny_config("train.max_steps=2", "train.checkpoint_every=2")
    train(cfg, tmp_path, progress=False)
    path = list_checkpoints(tmp_path)[-1][1]
    state = load_checkpoint(path)
    name = next(k for k in state["model"] if k.endswith("output_linear.weight"))
    state["model"][name] = torch.zeros(3, 5)
    atomic_torch_save(state, path)
    with pytest.raises(CheckpointError) as caught:
        train(cfg, tmp_path, resume=True, progress=False)
    assert str(caught.value) == (
        f"{path}: tensor {name!r} has shape (3, 5) in the checkpoint but (16, 8) in the model the configuration "
        "builds: the checkpoint belongs to another model, or is damaged")
