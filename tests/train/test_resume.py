"""Exact resume: a run stopped (or SIGKILLed mid-save) and resumed gives the metrics of an uninterrupted run."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from ssmem.train import Callback, CheckpointError, config_to_yaml, list_checkpoints, load_checkpoint, read_metrics, train

from .stopping import Stop, StopAt


def _final_weights(run_dir):
    step, path = list_checkpoints(run_dir)[-1]
    return step, load_checkpoint(path)["model"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_config):
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    cfg = tiny_config("train.record_eigenvalues_every=3")
    result = train(cfg, run_dir, progress=False)
    return cfg, run_dir, result


def test_stopped_and_resumed_equals_uninterrupted(uninterrupted, tmp_path, without_time):
    cfg, ref_dir, ref = uninterrupted
    with pytest.raises(Stop):
        train(cfg, tmp_path, callbacks=[StopAt(11)], progress=False)  # last checkpoint: step 8
    assert [s for s, _ in list_checkpoints(tmp_path)] == [4, 8]
    assert max(r["step"] for r in read_metrics(tmp_path)) == 10  # lines past the checkpoint, to be cut back
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, num_workers=1))  # may change on resume
    result = train(cfg, tmp_path, resume=True, progress=False)

    assert without_time(read_metrics(tmp_path)) == without_time(read_metrics(ref_dir))
    assert result.status == ref.status == "completed" and result.steps == 20
    assert result.test_metric == ref.test_metric and result.best_val_metric == ref.best_val_metric
    step, weights = _final_weights(tmp_path)
    ref_step, ref_weights = _final_weights(ref_dir)
    assert step == ref_step == 20
    for name, tensor in ref_weights.items():
        assert torch.equal(weights[name], tensor), name
    with np.load(tmp_path / "eigenvalues.npz") as got, np.load(ref_dir / "eigenvalues.npz") as want:
        assert got["step"].tolist() == want["step"].tolist() == [0, 3, 6, 9, 12, 15, 18]
        np.testing.assert_array_equal(got["layer1"], want["layer1"])
    # the metrics file holds every kind of line the harness promises
    splits = {r["split"] for r in read_metrics(ref_dir)}
    assert splits == {"train", "val", "test"}
    assert all({"step", "split", "loss", "r2", "epoch", "lr", "time"} <= set(r) for r in read_metrics(ref_dir))


def _run_in_a_child(cfg, tmp_path, body: str) -> tuple:
    """Run ``cfg`` in a fresh process whose script is ``body`` (it sees ``recipe`` and ``run_dir`` as strings):
    ``(run_dir, completed process)``."""
    recipe, run_dir = tmp_path / "recipe.yaml", tmp_path / "run"
    recipe.write_text(config_to_yaml(cfg))
    script = (f"import torch\nrecipe, run_dir = {str(recipe)!r}, {str(run_dir)!r}\n"
              f"torch.set_num_threads({torch.get_num_threads()})  # CPU reductions are bit-exact at equal counts\n"
              + textwrap.dedent(body))
    return run_dir, subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def _resumes_to_the_uninterrupted_run(uninterrupted, run_dir, without_time) -> None:
    cfg, ref_dir, ref = uninterrupted
    result = train(cfg, run_dir, resume=True, progress=False)
    assert without_time(read_metrics(run_dir)) == without_time(read_metrics(ref_dir))
    assert result.test_metric == ref.test_metric
    assert not [p.name for p in (run_dir / "checkpoints").iterdir() if p.name.endswith(".tmp")]  # cleared


def test_sigkill_mid_save_resumes_from_the_previous_checkpoint(uninterrupted, tmp_path, without_time):
    run_dir, proc = _run_in_a_child(uninterrupted[0], tmp_path, """
        import os, signal
        from ssmem.train import load_recipe, train
        real_save = torch.save
        def dying_save(obj, f, *args, **kwargs):
            if isinstance(obj, dict) and obj.get("step") == 12 and "optimizer" in obj:
                f.write(b"PK\\x03\\x04 half a checkpoint")
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            return real_save(obj, f, *args, **kwargs)
        torch.save = dying_save
        train(load_recipe(recipe), run_dir, progress=False)
        """)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    leftovers = [p.name for p in (run_dir / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".step-00000012.pt.")
    assert [s for s, _ in list_checkpoints(run_dir)] == [4, 8]
    _resumes_to_the_uninterrupted_run(uninterrupted, run_dir, without_time)


def test_sigterm_to_ssmem_train_checkpoints_the_step_and_resumes_exactly(uninterrupted, tmp_path, without_time):
    """A scheduler's SIGTERM mid-run: the step in progress ends, is checkpointed (step 6, between the regular
    checkpoints 4 and 8), the command exits 130, and --resume gives the uninterrupted run."""
    run_dir, proc = _run_in_a_child(uninterrupted[0], tmp_path, """
        import os, signal, sys
        from ssmem.cli import main
        real_step = torch.optim.AdamW.step
        def step(self, *args, **kwargs):
            out = real_step(self, *args, **kwargs)
            self._ssmem_steps = getattr(self, "_ssmem_steps", 0) + 1
            if self._ssmem_steps == 6:
                os.kill(os.getpid(), signal.SIGTERM)  # arrives inside step 6
            return out
        torch.optim.AdamW.step = step
        sys.exit(main(["train", recipe, "--run-dir", run_dir, "--no-progress"]))
        """)
    assert proc.returncode == 130 and "stopped after step 6, checkpoint written" in proc.stderr, proc.stderr
    assert [s for s, _ in list_checkpoints(run_dir)] == [4, 6]
    assert not [p.name for p in (run_dir / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    _resumes_to_the_uninterrupted_run(uninterrupted, run_dir, without_time)


@pytest.mark.parametrize("at, max_steps", [(3, 20), (4, 4)])  # mid-run; the last step (a sweep must stop too)
def test_ctrl_c_in_process_stops_after_the_step_and_restores_the_handler(tmp_path, tiny_config, at, max_steps):
    class CtrlC(Callback):
        def on_step(self, ctx):
            if ctx.step == at:
                signal.raise_signal(signal.SIGINT)

    # Python's own Ctrl-C handler, as in a terminal (a shell's background job starts with SIGINT ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            train(tiny_config(f"train.max_steps={max_steps}"), tmp_path, callbacks=[CtrlC()], progress=False)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [at] and not (tmp_path / "result.json").exists()


def test_a_run_dir_is_not_overwritten_and_resume_checks_the_config(uninterrupted, tiny_config):
    cfg, ref_dir, _ = uninterrupted
    with pytest.raises(ValueError, match="already holds a run; resume it"):
        train(cfg, ref_dir, progress=False)
    other = tiny_config("train.record_eigenvalues_every=3", "optim.lr=0.5")
    with pytest.raises(CheckpointError, match=r"configuration differs .*optim.lr: 0.01 in the checkpoint, 0.5 now"):
        train(other, ref_dir, resume=True, progress=False)


def test_a_run_saved_with_the_norm_that_auto_resolves_to_resumes(tmp_path, tiny_config, without_time):
    """Runs saved before model.norm defaulted to auto spelled the norm out; auto resolving to it is the same run."""
    cfg = tiny_config("model.norm=layer", "train.max_steps=8")
    with pytest.raises(Stop):
        train(cfg, tmp_path, callbacks=[StopAt(6)], progress=False)
    auto = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, norm="auto"))  # causal: layer norm
    assert train(auto, tmp_path, resume=True, progress=False).steps == 8
    batch = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, norm="none"))
    with pytest.raises(CheckpointError, match="model.norm: 'auto' in config.yaml|model.norm: 'auto' in the checkpoint"):
        train(batch, tmp_path, resume=True, progress=False)


def test_resuming_a_finished_run_repeats_only_the_test(uninterrupted, tmp_path, without_time):
    cfg, ref_dir, ref = uninterrupted
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(ref_dir, copy)
    result = train(cfg, copy, resume=True, progress=False)
    assert result.steps == 20 and result.test_metric == ref.test_metric
    assert result.final_val_metric == ref.final_val_metric and result.metrics == ref.metrics
    assert without_time(read_metrics(copy)) == without_time(read_metrics(ref_dir))


def test_resume_without_a_checkpoint_starts_afresh(tmp_path, tiny_config):
    """Killed before its first checkpoint, a run left its config.yaml and some metrics: resuming starts it over."""
    cfg = tiny_config("train.max_steps=3", "train.checkpoint_every=10")
    (tmp_path / "config.yaml").write_text(config_to_yaml(cfg))
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": 9.0}\n')
    result = train(cfg, tmp_path, resume=True, progress=False)
    assert result.steps == 3
    assert all(r.get("loss") != 9.0 for r in read_metrics(tmp_path))
    assert os.path.exists(tmp_path / "config.yaml") and os.path.exists(tmp_path / "result.json")


def test_a_fresh_start_drops_the_records_of_an_earlier_attempt(uninterrupted, tmp_path, tiny_config):
    """Killed before its first log line or checkpoint, an attempt leaves config.yaml and a step-0 recording;
    a run started over there (overwrite) starts its own records (it would append to the old ones) and removes
    cut temporary files; without overwrite the directory is refused untouched."""
    cfg, ref_dir, _ = uninterrupted
    import shutil

    (tmp_path / "config.yaml").write_text("old: true\n")
    shutil.copy(ref_dir / "eigenvalues.npz", tmp_path / "eigenvalues.npz")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / ".step-00000004.pt.abc123.tmp").write_bytes(b"cut")
    with pytest.raises(ValueError, match=r"already holds a run; .*\(it holds config.yaml, eigenvalues.npz; nothing"):
        train(cfg, tmp_path, progress=False)
    assert (tmp_path / "config.yaml").read_text() == "old: true\n"
    train(cfg, tmp_path, overwrite=True, progress=False)
    fresh = np.load(tmp_path / "eigenvalues.npz")
    reference = np.load(ref_dir / "eigenvalues.npz")
    assert fresh["step"].tolist() == reference["step"].tolist()
    assert not list((tmp_path / "checkpoints").glob(".*.tmp"))


def test_two_processes_cannot_train_in_one_run_directory(tmp_path, tiny_config):
    from ssmem._io import FolderBusyError, exclusive_folder

    with exclusive_folder(tmp_path, "wait"):
        with pytest.raises(FolderBusyError, match=rf"{tmp_path} is in use by another process \(.*:{os.getpid()}\)"):
            train(tiny_config("train.max_steps=2"), tmp_path, progress=False)
    assert not (tmp_path / "config.yaml").exists()  # nothing was written
    result = train(tiny_config("train.max_steps=2"), tmp_path, progress=False)  # the lock went with its holder
    assert result.steps == 2


def test_resume_without_a_checkpoint_keeps_a_finished_or_different_run(uninterrupted, tmp_path, tiny_config):
    cfg, ref_dir, _ = uninterrupted
    import shutil

    finished = tmp_path / "finished"
    shutil.copytree(ref_dir, finished)
    for _, path in list_checkpoints(finished):
        path.unlink()
    before = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()}
    with pytest.raises(CheckpointError, match="holds a finished run \\(result.json\\) but no checkpoint"):
        train(cfg, finished, resume=True, progress=False)
    assert {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()} == before  # nothing lost

    started = tmp_path / "started"  # killed before its first checkpoint: config.yaml and a few metrics rows
    started.mkdir()
    (started / "config.yaml").write_text(config_to_yaml(cfg))
    (started / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": 9.0}\n')
    other = tiny_config("train.record_eigenvalues_every=3", "model.d_model=16")
    with pytest.raises(CheckpointError, match=r"differs from config.yaml's: model.d_model: 8 in config.yaml, 16 now"):
        train(other, started, resume=True, progress=False)
    assert (started / "metrics.jsonl").read_text() == '{"step": 1, "split": "train", "loss": 9.0}\n'


def test_damaged_best_weights_stop_the_resume_and_missing_ones_fall_back_to_the_final(uninterrupted, tmp_path, capsys):
    cfg, ref_dir, ref = uninterrupted
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(ref_dir, damaged)
    list_checkpoints(damaged)[-1][1].unlink()
    saved_best = load_checkpoint(list_checkpoints(damaged)[-1][1])["best_step"]  # the resumed state's best step
    best = damaged / "checkpoints" / "best.pt"
    best.write_bytes(best.read_bytes()[:300])
    before = (damaged / "metrics.jsonl").read_text()
    with pytest.raises(CheckpointError, match=r"cannot resume .*cannot load checkpoint .*best.pt.*Remove it to resume "
                                              rf"anyway \(the test then uses the final weights unless a later evaluation "
                                              rf"beats step {saved_best}\)") as caught:
        train(cfg, damaged, resume=True, progress=False)
    assert "Older checkpoints here" not in str(caught.value)  # they would not help: best.pt is not a step checkpoint
    assert (damaged / "metrics.jsonl").read_text() == before

    best.unlink()  # as the error advises: the run finishes, and says what its test used
    result = train(cfg, damaged, resume=True, progress=False)
    assert f"best.pt (the best weights, step {saved_best}) is missing" in capsys.readouterr().err
    assert result.status == "completed" and result.steps == ref.steps and result.best_step == ref.best_step
    if ref.best_step == saved_best:  # no later evaluation rewrote best.pt: the test is the final weights'
        assert result.test_metric == result.final_test_metric and "is missing" in result.message
    else:  # a later evaluation wrote new best weights: the test is the uninterrupted run's
        assert result.test_metric == ref.test_metric and not result.message


def _copy_without_newest_checkpoint(ref_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(ref_dir, copy)
    list_checkpoints(copy)[-1][1].unlink()  # resume from the step-16 checkpoint
    return copy


def test_a_damaged_recording_stops_the_resume_before_anything_changes(uninterrupted, tmp_path):
    cfg, ref_dir, _ = uninterrupted
    copy = _copy_without_newest_checkpoint(ref_dir, tmp_path)
    recording = copy / "eigenvalues.npz"
    recording.write_bytes(recording.read_bytes()[:200])
    before = (copy / "metrics.jsonl").read_text()
    with pytest.raises(ValueError, match=r"eigenvalues.npz is not a readable recording .*remove it to resume"):
        train(cfg, copy, resume=True, progress=False)
    assert (copy / "metrics.jsonl").read_text() == before


def test_rows_lost_from_a_cut_metrics_file_are_named(uninterrupted, tmp_path, capsys, without_time):
    cfg, ref_dir, _ = uninterrupted
    copy = _copy_without_newest_checkpoint(ref_dir, tmp_path)
    lines = (copy / "metrics.jsonl").read_text().splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line)["step"] <= 6]
    (copy / "metrics.jsonl").write_text("".join(kept) + "not json\n" + '{"step": 7, "spl')
    train(cfg, copy, resume=True, progress=False)
    err = capsys.readouterr().err
    assert f"line(s) {len(kept) + 1} were not JSON and are dropped" in err  # the cut last line is not reported
    assert "stops at step 6, before the checkpoint's step 16: the training rows of steps 7-15 are lost" in err
    ref_rows = without_time(read_metrics(ref_dir))
    assert without_time(read_metrics(copy)) == [r for r in ref_rows if r["step"] <= 6 or r["step"] > 16]


def test_runs_saved_with_relative_paths_resume(tmp_path, tiny_config, monkeypatch):
    """Runs saved before paths were made absolute hold model.init as given: the same file is the same run."""
    from ssmem.train.loop import run_config_differences

    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "eigs.npy", np.array([0.9, 0.5 + 0.3j, 0.7, 0.2 + 0.1j]))
    cfg = tiny_config("model.init=eigs.npy")
    saved = dataclasses.asdict(cfg)
    saved["model"]["init"] = "eigs.npy"  # as an older ssmem wrote it
    assert run_config_differences(cfg, saved, "the checkpoint") == []
    saved["model"]["init"] = "other.npy"
    assert run_config_differences(cfg, saved, "the checkpoint") == [
        f"model.init: 'other.npy' in the checkpoint, '{tmp_path / 'eigs.npy'}' now"]


def test_a_busy_run_directory_is_one_line_and_a_file_system_without_locks_is_a_warning(tmp_path, tiny_config,
                                                                                        monkeypatch, capsys):
    import errno
    import fcntl

    from ssmem._io import exclusive_folder
    from ssmem.cli import main

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(config_to_yaml(tiny_config("train.max_steps=2")))
    with exclusive_folder(tmp_path / "run", "busy"):
        assert main(["train", str(recipe), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "is in use by another process" in err and "Traceback" not in err and err.count("\n") == 1

    def no_locks(fd, operation):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.warns(RuntimeWarning, match="the file system takes no locks"):
        assert train(tiny_config("train.max_steps=2"), tmp_path / "nolock", progress=False).steps == 2


def test_a_checkpoint_written_before_a_setting_existed_resumes_with_its_default():
    from ssmem.train import load_recipe
    from ssmem.train.config import config_to_dict
    from ssmem.train.loop import run_config_differences

    cfg = load_recipe("memory/delay")
    older = config_to_dict(cfg)
    for key in ("instance_norm", "channels", "trend_kernel"):  # a file from before these settings
        del older["model"][key]
    assert run_config_differences(cfg, older, "the checkpoint") == []
    changed = load_recipe("memory/delay", ["model.channels=mixed"])
    assert run_config_differences(changed, older, "the checkpoint") == [
        "model.channels: 'auto' in the checkpoint, 'mixed' now"]
