"""`ssmem memory --model RUN_DIR`: MF and IPC of every SSM layer of a trained run, for each layer kind."""

import json

import numpy as np
import pytest
import torch

from ssmem.cli import main
from ssmem.memory import layer_memory
from ssmem.train import load_recipe, train
from ssmem.train.trained import load_trained_model

KINDS = {"s4d": [], "s4": ["model.init=s4d-legs"], "lru": ["model.init=s4d-inv"], "s5": ["model.init=s4d-inv"],
         "mamba": ["model.init=s4d-inv"]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 2-step memory/delay run of every layer kind (H 4, N 4, one layer)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    folders = {}
    try:
        for kind, extra in KINDS.items():
            cfg = load_recipe("memory/delay", [
                "device=cpu", "seed=1", f"model.layer={kind}", "model.d_model=4", "model.n_layers=1",
                "model.d_state=4", "task.params.seq_len=16", "task.params.delays=[2]", "task.params.n_train=16",
                "task.params.n_val=8", "task.params.n_test=8", "optim.warmup_steps=1", "train.batch_size=8",
                "train.max_steps=2", "train.eval_every=2", "train.log_every=2", "train.checkpoint_every=2",
                *extra,
            ])  # fmt: skip
            folders[kind] = tmp_path_factory.mktemp("runs") / kind
            assert train(cfg, folders[kind], progress=False).status == "completed"
    finally:
        torch.set_num_threads(before)
    return folders


@pytest.mark.parametrize("kind", list(KINDS))
def test_memory_of_a_trained_run_reports_mf_and_ipc(runs, kind, tmp_path, capsys):
    out, plot = tmp_path / "m.json", tmp_path / "m.png"
    args = ["memory", "--model", str(runs[kind]), "--max-delay", "12", "--ipc-delays", "8", "--samples", "1500",
            "--json", str(out), "--plot", str(plot)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    payload = json.loads(out.read_text())
    assert plot.stat().st_size > 0 and payload["layer"] == kind
    (layer,) = payload["layers"]
    assert f"layer0  {layer['kind']}" in printed
    mf, ipc = np.array(layer["mf"]), layer["ipc"]
    assert mf.shape == (13,) and len(ipc["by_degree"]) == 2
    if kind == "mamba":
        # selective: an empirical MF, and its SiLU gating gives the outputs capacity of degree 2
        assert layer["method"] == "empirical" and ipc["by_degree"][1] > 0.05
    else:
        # the exact state MF of the checkpoint's layer, and outputs linear in the input: no degree-2 capacity
        model, _ = load_trained_model(runs[kind])
        expected = layer_memory(model.double().ssm_layers()[0], horizon=None, max_delay=12).mean_mf
        assert layer["method"] == "exact"
        np.testing.assert_allclose(mf, expected, rtol=0, atol=1e-12)
        assert ipc["by_degree"][1] == 0.0 and 0.3 < ipc["by_degree"][0] <= ipc["rank"] + 0.05
    # the MF (linear memory) is what IPC degree 1 measures; both are at most the state / output rank
    assert mf[0] <= 1.0 and ipc["total"] <= ipc["rank"] + 0.05


def test_memory_model_refuses_eigenvalue_sets_with_it(runs, capsys):
    assert main(["memory", "--model", str(runs["s4d"]), "--eigs", "lin"]) != 0
    assert "--model measures a trained run; it does not take --eigs" in capsys.readouterr().err
