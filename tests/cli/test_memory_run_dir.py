"""`ssmem memory --eigs RUN_DIR`: the trained model's eigenvalues, one set per channel of every SSM layer."""

import json

import numpy as np
import pytest
import torch

from ssmem.cli import main
from ssmem.eigs import set_eigenvalues
from ssmem.eigs.user import ACCEPTED_FORMS
from ssmem.train import load_recipe, train
from ssmem.train.trained import load_trained_model, run_eigenvalue_sets

D_MODEL, N_LAYERS, D_STATE = 4, 2, 6


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 3-step memory/delay run (an evaluation at step 3: both best.pt and a step checkpoint)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    cfg = load_recipe("memory/delay", [
        "device=cpu", "seed=3", f"model.d_model={D_MODEL}", f"model.n_layers={N_LAYERS}", f"model.d_state={D_STATE}",
        "task.params.seq_len=16", "task.params.delays=[2]", "task.params.n_train=32", "task.params.n_val=16",
        "task.params.n_test=16", "optim.warmup_steps=1", "train.batch_size=8", "train.max_steps=3",
        "train.eval_every=3", "train.log_every=3", "train.checkpoint_every=3", "train.eval_batch_size=16",
    ])  # fmt: skip
    folder = tmp_path_factory.mktemp("memory") / "run"
    try:
        assert train(cfg, folder, progress=False).status == "completed"
    finally:
        torch.set_num_threads(before)
    return folder


def _layer_eigenvalues(run_dir, checkpoint):
    """Every SSM layer's discrete eigenvalues, ``(n_layers, H, n_modes)``, read straight from the model."""
    model, _ = load_trained_model(run_dir, checkpoint=checkpoint)
    layers = [m for m in model.modules() if callable(getattr(m, "discrete_eigenvalues", None))]
    return np.stack([layer.discrete_eigenvalues().numpy() for layer in layers])


@pytest.mark.parametrize("checkpoint", ["best", "last"])
def test_one_set_per_channel_of_every_layer_holds_that_channels_modes(run_dir, checkpoint):
    expected = _layer_eigenvalues(run_dir, checkpoint)
    assert expected.shape == (N_LAYERS, D_MODEL, D_STATE // 2)
    sets = run_eigenvalue_sets(run_dir, checkpoint=checkpoint)
    assert [s.name for s in sets] == [f"run:L{l}c{h}" for l in range(N_LAYERS) for h in range(D_MODEL)]
    for eig_set, modes in zip(sets, expected.reshape(-1, D_STATE // 2)):
        assert eig_set.domain == "discrete"
        np.testing.assert_array_equal(set_eigenvalues(eig_set, D_STATE), modes.astype(np.complex128))


def test_the_cli_reads_a_run_directory_like_a_file_of_the_same_eigenvalues(run_dir, tmp_path, capsys):
    modes = _layer_eigenvalues(run_dir, "last")[1, 2].astype(np.complex128)  # layer 1, channel 2
    same = tmp_path / "same.json"
    same.write_text(json.dumps({"real": modes.real.tolist(), "imag": modes.imag.tolist()}))
    out = tmp_path / "mf.json"
    argv = ["memory", "--eigs", f"{run_dir},{same}", "--checkpoint", "last", "--horizon", "64", "--json", str(out)]
    assert main(argv) == 0
    results = json.loads(out.read_text())["results"]
    assert [r["eigs"] for r in results] == [f"run:L{l}c{h}" for l in range(N_LAYERS) for h in range(D_MODEL)] + ["same"]
    by_name = {r["eigs"]: r for r in results}
    assert by_name["run:L1c2"]["mf"] == by_name["same"]["mf"]
    assert by_name["run:L1c2"]["d_state"] == D_STATE
    assert "run:L0c0" in capsys.readouterr().out


def test_a_folder_that_is_no_run_lists_every_accepted_form(tmp_path, capsys):
    assert main(["memory", "--eigs", str(tmp_path), "--horizon", "8"]) == 2
    err = capsys.readouterr().err
    assert "is not a training run directory: it has no config.yaml" in err and ACCEPTED_FORMS in err


def test_an_unknown_name_lists_every_accepted_form(capsys):
    assert main(["memory", "--eigs", "s4d-foo", "--horizon", "8"]) == 2
    err = capsys.readouterr().err
    assert "unknown eigenvalue set 's4d-foo'" in err and "s4d-inv" in err and ACCEPTED_FORMS in err
