"""model.layer picks the SSM layer: each choice builds its class with the run's settings, and the options that
belong to S4D alone are refused or warned about, naming the option."""

import warnings

import pytest
import torch

from ssmem.data import task_info
from ssmem.ssm import LRU, S4D, S5, LinearAttention, Mamba, S4Dense
from ssmem.train import load_recipe
from ssmem.train.build import build_model, layer_seed
from ssmem.train.config import ConfigError, task_params

TINY = ["device=cpu", "model.init=s4d-inv", "model.d_model=8", "model.n_layers=2", "model.d_state=4",
        "model.norm=layer", "task.params.seq_len=16", "task.params.delays=[1, 3]"]  # fmt: skip


def _config(*extra: str):
    return load_recipe("memory/delay", TINY + list(extra))


@pytest.mark.parametrize("name, cls", [("s4d", S4D), ("s4", S4Dense), ("lru", LRU), ("s5", S5), ("mamba", Mamba),
                                       ("linear-attention", LinearAttention)])
def test_each_layer_choice_builds_its_class_seeded_per_layer(name, cls):
    cfg = _config(f"model.layer={name}", "model.train=reservoir")
    info = task_info(cfg.task.name, task_params(cfg.task))
    model = build_model(cfg.model, info, seed=3)
    layers = model.ssm_layers()
    assert [type(layer) for layer in layers] == [cls, cls]
    assert all(layer.train_mode == "reservoir" and layer.d_state == 4 for layer in layers)
    # layer i is the class built alone with layer_seed(3, i)
    kwargs = {"train": "reservoir", "seed": layer_seed(3, 1)}
    alone = cls(8, 4, **kwargs)
    assert all(torch.equal(a, b) for a, b in zip(layers[1].state_dict().values(), alone.state_dict().values()))
    x = torch.randn(2, 16, info.d_input)
    assert model(x).shape[:2] == (2, 16)


@pytest.mark.parametrize("name", ["lru", "s5", "mamba", "linear-attention"])
def test_s4d_only_options_are_refused_or_warned(name):
    only_s4d = rf"model.freeze_fraction is supported by the s4d layer only \(model.layer={name}\)"
    with pytest.raises(ConfigError, match=only_s4d):
        _config(f"model.layer={name}", "model.freeze_fraction=0.5")
    with pytest.raises(ConfigError, match=rf"model.layer={name} is causal: set model.bidirectional=false"):
        _config(f"model.layer={name}", "model.bidirectional=true", "model.architecture=classifier")
    with pytest.warns(UserWarning, match=rf"model.init='s4d-lin' is ignored with model.layer={name}"):
        _config(f"model.layer={name}", "model.init=s4d-lin")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _config(f"model.layer={name}")  # the defaults warn about nothing


def test_mamba_refuses_eigenvalue_recordings():
    with pytest.raises(ConfigError, match=r"model.layer=mamba has input-dependent eigenvalues"):
        _config("model.layer=mamba", "train.record_eigenvalues_every=5")
    with pytest.raises(ConfigError, match=r"model.layer=linear-attention has no eigenvalues"):
        _config("model.layer=linear-attention", "train.record_memory_every=5")
    _config("model.layer=lru", "train.record_eigenvalues_every=5")  # a fixed spectrum records fine


def test_an_unknown_layer_names_the_choices():
    with pytest.raises(ConfigError, match=r"model.layer.*'s4d', 's4', 'lru', 's5', 'mamba'"):
        _config("model.layer=gru")


@pytest.mark.parametrize("layer", ["s4d", "s4"])
def test_a_readout_model_is_built_with_its_kernels_frozen_at_the_task_length(tmp_path, tiny_config, layer):
    from ssmem.train import train
    from ssmem.train.trained import load_trained_model

    init = ["model.init=s4d-legs"] if layer == "s4" else []
    cfg = tiny_config(f"model.layer={layer}", "model.train=readout", "train.max_steps=4", *init)
    info = task_info(cfg.task.name, task_params(cfg.task))
    layers = build_model(cfg.model, info, seed=0).ssm_layers()
    assert layers and all(lay.frozen_kernel is not None and lay.frozen_kernel.length == info.seq_len for lay in layers)
    learnable = build_model(tiny_config(f"model.layer={layer}", *init).model, info, seed=0).ssm_layers()
    assert all(lay.frozen_kernel is None for lay in learnable)
    train(cfg, tmp_path, progress=False)
    model = load_trained_model(tmp_path)[0]  # the best weights loaded: each frozen kernel is the one of those weights
    for lay in model.ssm_layers():
        torch.testing.assert_close(lay.frozen_kernel.kernels, lay._compute_kernel(info.seq_len), rtol=0, atol=0)
