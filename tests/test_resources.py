"""Peak-memory estimates: the model's size counted from the numbers equals the built model's, and the refusal names
the estimate, its largest part, what shrinks it and the override."""

import pytest

from ssmem import resources
from ssmem.data.task import task_info
from ssmem.resources import (
    InsufficientMemoryError,
    MemoryEstimate,
    MemoryPart,
    check_memory,
    eigenvalues_estimate,
    format_bytes,
    memory_function_estimate,
    model_tensor_sizes,
    training_estimate,
)
from ssmem.train import build_model, load_recipe, task_params


@pytest.mark.parametrize(
    "recipe, overrides",
    [
        ("memory/delay", []),
        ("memory/delay", ["model.train=reservoir", "model.prenorm=false"]),
        ("memory/delay", ["model.train=readout", "model.freeze_fraction=0.0"]),
        ("memory/delay", ["model.freeze_fraction=0.5"]),
        ("memory/delay", ["model.layer=s4", "model.init=s4d-legs", "model.d_state=12"]),
        ("memory/copy", ["model.norm=none"]),
        ("memory/delay", ["model.layer=lru", "model.init=s4d-inv", "model.d_state=16"]),
        ("memory/delay", ["model.layer=lru", "model.init=s4d-inv", "model.train=readout"]),
        ("memory/delay", ["model.layer=s5", "model.init=s4d-inv", "model.d_state=16", "model.train=reservoir"]),
        ("memory/delay", ["model.layer=mamba", "model.init=s4d-inv", "model.d_state=8"]),
        ("memory/delay", ["model.layer=mamba", "model.init=s4d-inv", "model.d_state=8", "model.train=reservoir", "model.d_model=40"]),
        ("memory/delay", ["model.layer=mamba", "model.init=s4d-inv", "model.d_state=8", "model.train=readout"]),
        ("memory/delay", ["model.layer=linear-attention", "model.init=s4d-inv", "model.d_state=8"]),
        ("memory/delay", ["model.layer=linear-attention", "model.init=s4d-inv", "model.train=reservoir"]),
        ("memory/delay", ["model.layer=linear-attention", "model.init=s4d-inv", "model.train=readout"]),
        ("lra/retrieval-cpu", ["model.d_model=16", "model.n_layers=2"]),  # dual head, tokens
        ("lra/image-cpu", ["model.bidirectional=true", "model.prenorm=true", "model.norm=batch", "model.d_model=16"]),
    ],
)
def test_model_size_from_the_numbers_equals_the_built_model(recipe, overrides):
    cfg = load_recipe(recipe, overrides)
    info = task_info(cfg.task.name, task_params(cfg.task), seed=cfg.seed, data_dir=cfg.task.data_dir)
    model = build_model(cfg.model, info, seed=0)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    every = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    assert model_tensor_sizes(cfg.model, info) == (trainable, every)


def test_training_estimate_parts_follow_their_formulas():
    cfg = load_recipe("memory/delay", ["device=cpu"])  # H = 32, N = 32, one layer, L = 128, batch 32
    estimate = training_estimate(cfg)
    parts = {p.name: p.size for p in estimate.parts}
    unit = 32 * 128 * 32 * 4  # one (B, L, H) float32 tensor
    assert parts["activations"] == (resources.BLOCK_ACTIVATIONS * 1 + resources.STEP_ACTIVATIONS) * unit
    trainable, every = model_tensor_sizes(cfg.model, task_info("memory/delay", task_params(cfg.task)))
    assert parts["model, gradients and optimizer state"] == 4 * (every + 3 * trainable)
    # 4096 + 256 + 256 rows of 128 steps: a float32 input and one float32 target each, the train split twice more
    assert parts["data set"] == (128 * 8 + 8) * (4096 + 256 + 256 + 2 * 4096)
    assert estimate.total == sum(parts.values()) and estimate.unknown == ()


def test_mamba_counts_its_scan_tensors_and_lru_s5_their_per_mode_states():
    base = ["device=cpu", "model.init=s4d-inv", "model.d_state=16", "model.n_layers=2"]  # H = 32, L = 128, batch 32
    E, batch, L = 64, 32, 128
    parts = {p.name: p.size for p in training_estimate(load_recipe("memory/delay", base + ["model.layer=mamba"])).parts}
    scan = batch * L * E * (resources.MAMBA_SCAN_TENSORS * 16 + resources.MAMBA_INNER_TENSORS) * 4
    assert parts["selective scan"] == 2 * scan and "SSM kernels" not in parts
    # the scan grows with N (one (B, L, E, N) tensor per state) where an S4D kernel does not
    wider = {p.name: p.size for p in training_estimate(
        load_recipe("memory/delay", base + ["model.layer=mamba", "model.d_state=32"])).parts}
    assert wider["selective scan"] - parts["selective scan"] == 2 * batch * L * E * 16 * resources.MAMBA_SCAN_TENSORS * 4
    for layer in ("lru", "s5"):
        parts = {p.name: p.size for p in training_estimate(load_recipe("memory/delay", base + [f"model.layer={layer}"])).parts}
        assert parts["per-mode states"] == 2 * resources.MODAL_STATE_TENSORS * batch * L * 8 * 4


def test_a_data_set_read_from_files_is_named_as_not_counted():
    cfg = load_recipe("lm/shakespeare-cpu", ["device=cpu", "task.params.n_train=0"])  # every window of the corpus
    estimate = training_estimate(cfg)
    assert "data set" not in {p.name for p in estimate.parts}
    assert "not counted: the data set (its size is known once its files are read)" in estimate.summary()


def test_check_memory_refuses_in_one_line_naming_the_largest_part():
    estimate = MemoryEstimate("a job", (MemoryPart("small", 10, "x"), MemoryPart("big", 3 * 2**30, "--size")))
    check_memory(estimate, host=4 * 2**30)  # fits
    with pytest.raises(InsufficientMemoryError) as caught:
        check_memory(estimate, host=2**30, flag="--force")
    assert str(caught.value) == ("not enough memory for a job: it needs about 3 GiB (big 3 GiB, small 10 B), and 1 GiB "
                                 "is available; lower --size (the big), or pass --force to try anyway")
    fixed = MemoryEstimate("a job", (MemoryPart("runtime", 2**20, ""), MemoryPart("data", 10, "--rows")))
    with pytest.raises(InsufficientMemoryError, match=r"is available; lower --rows \(the data\), or pass"):
        check_memory(fixed, host=1000)  # the largest part that a setting shrinks is named
    with pytest.raises(InsufficientMemoryError, match=r"is available; pass --ignore-memory-check to try anyway$"):
        check_memory(MemoryEstimate("a job", (MemoryPart("runtime", 2**20, ""),)), host=1000)
    gpu = MemoryEstimate("a job", (MemoryPart("weights", 2**30, "--width", "device"),))
    check_memory(gpu, host=1, device=None)  # a GPU part is not host memory; an unknown GPU is not checked
    with pytest.raises(InsufficientMemoryError, match=r"1 GiB \(weights 1 GiB on the GPU\), and 1 KiB is free on the"):
        check_memory(gpu, host=1, device=1024)


def test_format_bytes():
    assert [format_bytes(n) for n in (0, 1023, 1536, 5 * 2**30, 2**70)] == ["0 B", "1023 B", "1.5 KiB", "5 GiB",
                                                                           "1 ZiB"]


def test_available_memory_is_read_from_the_machine():
    available = resources.available_memory()
    assert available is not None and 2**20 < available < 2**50


def test_memory_function_basis_follows_the_method_size():
    # N >= T: the identity basis T x T; N < T: a (T, N) complex basis and its (N, N) Gram matrix
    assert memory_function_estimate(64, 32).parts[0].size == int(1.25 * 32 * 32 * 8)
    assert memory_function_estimate(16, 1000).parts[0].size == 1000 * 16 * 16 + 3 * 16 * 16 * 8
    assert eigenvalues_estimate(10).total == 8 * 6 * 16 and eigenvalues_estimate(10, as_json=True).total > 8 * 6 * 16
