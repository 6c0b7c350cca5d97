"""Safetensors export: a run's model written to one file and read back gives the same outputs, with its config."""

import json
import os
import shutil

import pytest
import torch
from torch import nn

from ssmem._io import SymlinkError
from ssmem.cli import main
from ssmem.train import export_safetensors, load_trained_model, train
from ssmem.train.export import (
    CHECKPOINT_KEY,
    CONFIG_KEY,
    EXPORT_VERSION,
    FORMAT_KEY,
    TASK_INFO_KEY,
    VERSION_KEY,
    default_export_path,
    export_tensors,
    read_export,
)
from ssmem.train.recipes import read_yaml

st = pytest.importorskip("safetensors.torch")


@pytest.fixture(scope="module")
def delay_run(tmp_path_factory, tiny_config):
    """A 3-step memory/delay run: best.pt from the evaluation at step 3 and a step checkpoint."""
    run_dir = tmp_path_factory.mktemp("export") / "run"
    cfg = tiny_config("train.max_steps=3", "train.eval_every=3", "train.log_every=3", "train.checkpoint_every=3")
    assert train(cfg, run_dir, progress=False).status == "completed"
    return run_dir


def fixed_input():
    return torch.linspace(-1.0, 1.0, 2 * 32).reshape(2, 32, 1)  # (B, L, d_input) of the delay task


def outputs(model):
    with torch.no_grad():
        return model(fixed_input())


@pytest.mark.parametrize("checkpoint", ["best", "last"])
def test_round_trip_gives_identical_outputs_without_the_run(delay_run, tmp_path, checkpoint):
    expected_model, expected_cfg = load_trained_model(delay_run, checkpoint=checkpoint)
    run_copy = tmp_path / "run"
    shutil.copytree(delay_run, run_copy)
    path = export_safetensors(run_copy, tmp_path / "model.safetensors", checkpoint=checkpoint)
    shutil.rmtree(run_copy)  # the file alone rebuilds the model: no config.yaml, no checkpoints, no task data

    model, cfg = load_trained_model(path)
    assert cfg == expected_cfg and not model.training
    assert torch.equal(outputs(model), outputs(expected_model))
    got, want = model.state_dict(), expected_model.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


def test_best_and_last_exports_hold_their_own_weights(delay_run, tmp_path):
    # the 3-step run evaluated once at step 3, so best and last agree; the checkpoint name tells them apart
    for which, name in (("best", "best.pt"), ("last", "step-00000003.pt")):
        _, metadata = read_export(export_safetensors(delay_run, tmp_path / f"{which}.safetensors", checkpoint=which))
        assert metadata[CHECKPOINT_KEY] == name


def test_metadata_holds_the_config_and_the_format_version(delay_run, tmp_path):
    tensors, metadata = read_export(export_safetensors(delay_run, tmp_path / "m.safetensors"))
    assert metadata[FORMAT_KEY] == "ssmem-model" and metadata[VERSION_KEY] == EXPORT_VERSION == "1"
    assert json.loads(metadata[CONFIG_KEY]) == read_yaml(delay_run / "config.yaml")
    info = json.loads(metadata[TASK_INFO_KEY])
    assert (info["d_input"], info["d_output"], info["seq_len"], info["per_step"]) == (1, 2, 32, True)
    assert all(isinstance(v, str) for v in metadata.values())
    # 2 blocks x (S4D 6 + norm 2 + output linear 2) + encoder 2 + final norm 2 + decoder 2
    assert len(tensors) == 26 and all(t.is_contiguous() for t in tensors.values())


def test_cli_writes_the_default_file_and_prints_its_path(delay_run, capsys):
    path = default_export_path(delay_run)
    assert path == delay_run / "model-best.safetensors"
    try:
        assert main(["export", str(delay_run), "--format", "safetensors"]) == 0
        assert capsys.readouterr().out.strip() == str(path)
        expected, _ = load_trained_model(delay_run)
        assert torch.equal(outputs(load_trained_model(path)[0]), outputs(expected))
        assert not list(delay_run.glob(".*.tmp"))  # the atomic write left no temporary behind
    finally:
        path.unlink(missing_ok=True)


def test_cli_requires_a_known_format(delay_run, capsys):
    with pytest.raises(SystemExit):
        main(["export", str(delay_run), "--format", "onnx"])
    assert "invalid choice: 'onnx'" in capsys.readouterr().err


def test_a_symlinked_output_is_refused_and_its_target_kept(delay_run, tmp_path, capsys):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "model.safetensors"
    link.symlink_to(target)
    with pytest.raises(SymlinkError):
        export_safetensors(delay_run, link)
    assert main(["export", str(delay_run), "--format", "safetensors", "--out", str(link)]) != 0
    assert "symbolic link" in capsys.readouterr().err
    assert target.read_text() == "keep me" and os.path.islink(link)


def test_shared_tensors_are_exported_as_separate_copies():
    tied = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    tied[1].weight = tied[0].weight  # tied weights: one storage under two names
    with pytest.raises(RuntimeError, match="share memory"):
        st.save(tied.state_dict())
    tensors = export_tensors(tied)
    assert tensors["0.weight"].data_ptr() != tensors["1.weight"].data_ptr()
    loaded = st.load(st.save(tensors))
    assert all(torch.equal(loaded[k], v) for k, v in tied.state_dict().items())


def test_a_file_that_is_not_safetensors_is_refused(tmp_path):
    bad = tmp_path / "notes.safetensors"
    bad.write_bytes(b"these are not tensors at all")
    with pytest.raises(ValueError, match=f"{bad} is not a safetensors file"):
        load_trained_model(bad)


def test_a_safetensors_file_without_ssmem_metadata_is_refused(tmp_path):
    plain = tmp_path / "plain.safetensors"
    plain.write_bytes(st.save({"w": torch.ones(2)}, metadata={"format": "pt"}))
    with pytest.raises(ValueError, match=f"{plain} is not an ssmem model export: .* lacks ssmem.format, "
                                         "ssmem.format_version, ssmem.config, ssmem.task_info"):
        load_trained_model(plain)


def test_another_format_version_is_refused(delay_run, tmp_path):
    tensors, metadata = read_export(export_safetensors(delay_run, tmp_path / "m.safetensors"))
    future = tmp_path / "future.safetensors"
    future.write_bytes(st.save(tensors, metadata={**metadata, VERSION_KEY: "2"}))
    with pytest.raises(ValueError, match="export format version '2'; this ssmem reads version '1'"):
        load_trained_model(future)


def test_tensors_that_do_not_fit_the_config_are_refused(delay_run, tmp_path):
    tensors, metadata = read_export(export_safetensors(delay_run, tmp_path / "m.safetensors"))
    del tensors["decoder.bias"]
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(st.save(tensors, metadata=metadata))
    with pytest.raises(ValueError, match=f"(?s)the tensors in {broken} do not fit .*decoder.bias"):
        load_trained_model(broken)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such exported model file"):
        from ssmem.train.export import load_exported_model

        load_exported_model(tmp_path / "gone.safetensors")


def test_a_byte_lm_export_loads_without_its_corpus_and_samples_the_same_bytes(tmp_path, tiny_lm_config):
    from ssmem.train import sample_bytes

    data = tmp_path / "data"
    data.mkdir()
    run_dir = tmp_path / "run"
    cfg = tiny_lm_config(data, "train.max_steps=3", "train.eval_every=3", "train.log_every=3")
    assert train(cfg, run_dir, progress=False).status == "completed"
    expected, _ = load_trained_model(run_dir)
    path = export_safetensors(run_dir, tmp_path / "lm.safetensors")
    shutil.rmtree(data)  # the file alone rebuilds the model: its task facts (vocabulary 256, ...) travel in it
    model, _ = load_trained_model(path)
    tokens = torch.tensor([list(b"line 3: the quick")])  # (1, L)
    with torch.no_grad():
        assert torch.equal(model(tokens), expected(tokens))
    assert sample_bytes(model, b"line", 16, seed=4) == sample_bytes(expected, b"line", 16, seed=4)
