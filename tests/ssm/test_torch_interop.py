"""The layers under what PyTorch code does to modules: optimizers that write parameters in place without the
version counter, flat parameter buffers, saving whole modules, default-device contexts, autocast, empty batches."""

import io

import pytest
import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from ssmem.ssm import S4Dense, S4D, SequenceClassifier

LAYERS = [S4D, S4Dense]


def generate(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Step mode over ``x (B, L, H)`` without autograd (the cached path)."""
    with torch.no_grad():
        state, outputs = layer.initial_state(x.shape[0]), []
        for t in range(x.shape[1]):
            y_t, state = layer.step(x[:, t], state)
            outputs.append(y_t)
    return torch.stack(outputs, 1)


def test_generation_after_a_fused_optimizer_step_uses_the_new_parameters():
    """Fused AdamW writes the parameters without bumping their version: a new generation still sees them."""
    layer = S4D(3, 4, seed=0, dtype=torch.float64)
    x = torch.randn(2, 6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.AdamW(layer.parameters(), lr=0.1, fused=True)
    generate(layer, x)  # fills the step cache
    layer(x).pow(2).sum().backward()
    optimizer.step()
    with torch.no_grad():
        torch.testing.assert_close(generate(layer, x), layer(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("layer_cls", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_frozen_kernel_is_a_snapshot_and_kernel_returns_a_copy(layer_cls, bidirectional):
    layer = layer_cls(3, 4, seed=0, train="readout", bidirectional=bidirectional, dtype=torch.float64)
    x = torch.randn(2, 6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    layer.freeze_kernel(6)
    before = layer(x)
    layer.kernel(6).mul_(0)  # the caller's copy: the frozen kernel is untouched
    torch.testing.assert_close(layer(x), before, rtol=0, atol=0)
    with torch.no_grad():
        layer.C.mul_(2)
    torch.testing.assert_close(layer(x), before, rtol=0, atol=0)  # a snapshot: the write is not seen ...
    layer.freeze_kernel(6)  # ... until the kernel is frozen again
    expected = layer_cls(3, 4, seed=0, train="readout", bidirectional=bidirectional, dtype=torch.float64)
    expected.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer(x), expected(x), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(layer(x), before)


def test_whole_modules_save_after_generation_and_freezing():
    layer = S4D(3, 4, seed=0)
    generate(layer, torch.randn(1, 2, 3))
    readout = S4D(64, 4, seed=0, train="readout")
    readout.freeze_kernel(64)
    for module in (layer, readout):
        buffer = io.BytesIO()
        torch.save(module, buffer)
        buffer.seek(0)
        loaded = torch.load(buffer, weights_only=False)
        x = torch.randn(2, 5, module.d_model)
        torch.testing.assert_close(loaded(x), module(x), rtol=0, atol=0)
    assert loaded.frozen_kernel is not None and loaded.frozen_kernel.length == 64


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_a_default_device_context_places_every_tensor(layer_cls):
    with torch.device("meta"):
        layer = layer_cls(3, 4, seed=0)
    devices = {t.device.type for t in [*layer.parameters(), *layer.buffers()]}
    assert devices == {"meta"}
    with torch.device("meta"):
        partly_frozen = S4D(3, 4, seed=0, freeze_fraction=0.5)
    assert {t.device.type for t in partly_frozen.buffers()} == {"meta"}
    # the draws do not depend on the context: moved to the CPU and filled, the layer is the seeded one
    cpu = layer_cls(3, 4, seed=0)
    layer.to_empty(device="cpu").load_state_dict(cpu.state_dict())
    x = torch.randn(1, 5, 3)
    torch.testing.assert_close(layer(x), cpu(x), rtol=0, atol=0)


def test_parameters_in_a_flat_buffer_at_odd_offsets():
    layer = S4D(3, 4, seed=0, dtype=torch.float64)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    before = layer(x)
    vector_to_parameters(parameters_to_vector(layer.parameters()).detach(), layer.parameters())  # B at offset 15
    assert any(p.storage_offset() % 2 for p in (layer.B, layer.C))
    torch.testing.assert_close(layer(x), before, rtol=1e-12, atol=1e-12)
    layer(x).sum().backward()
    assert layer.B.grad is not None and layer.C.grad is not None


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_half_precision_parameters_are_refused_by_name(layer_cls):
    layer = layer_cls(3, 4, seed=0).half()
    with pytest.raises(ValueError, match=r"computes in float32 or float64 but its parameters are torch.float16"):
        layer(torch.randn(1, 5, 3).half())


@pytest.mark.parametrize("layer_cls", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_under_autocast_a_layer_computes_exactly_as_in_float32(layer_cls, bidirectional):
    """S4's dense kernel matmuls would drop to bfloat16 under autocast; the layers switch it off."""
    layer = layer_cls(4, 8, seed=0, bidirectional=bidirectional)
    x = torch.randn(2, 64, 4).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low, kernel = layer(x), layer.kernel(64)
    assert low.dtype == kernel.dtype == torch.float32
    assert torch.equal(low, layer(x.float())) and torch.equal(kernel, layer.kernel(64))
    if not bidirectional:
        state = layer.initial_state(2)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y_t, _ = layer.step(x[:, 0], state)
        assert torch.equal(y_t, layer.step(x[:, 0].float(), state)[0])


def test_autocast_runs_the_layers_in_float32():
    model = SequenceClassifier(d_output=2, d_input=3, d_model=8, n_layers=2, make_layer=lambda i: S4D(8, 4, seed=i))
    model.eval()
    x = torch.randn(4, 16, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(x)
    torch.testing.assert_close(low.float(), model(x), rtol=0.05, atol=0.05)
    layer = next(m for m in model.modules() if isinstance(m, S4D))
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        y_t, _ = layer.step(torch.randn(4, 8).bfloat16(), layer.initial_state(4))
    assert y_t.dtype == torch.float32


@pytest.mark.parametrize("layer_cls", LAYERS)
@pytest.mark.parametrize("shape", [(0, 6, 3), (2, 0, 3)])
def test_empty_batches_and_sequences_give_empty_outputs(layer_cls, shape):
    layer = layer_cls(3, 4, seed=0, bidirectional=True)
    x = torch.randn(*shape, requires_grad=True)
    y = layer(x)
    assert y.shape == shape
    y.sum().backward()
    assert x.grad.shape == shape


@pytest.mark.parametrize("layer_cls", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_torch_func_transforms_agree_with_autograd(layer_cls, bidirectional):
    """Under torch.func the layer takes the reference convolution (the fused one has a hand-written backward)."""
    layer = layer_cls(3, 4, seed=0, bidirectional=bidirectional, dtype=torch.float64)
    x = torch.randn(2, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    inputs = x.clone().requires_grad_(True)
    loss = layer(inputs).pow(2).sum()
    expected = torch.autograd.grad(loss, [inputs, *layer.parameters()])
    grad_x = torch.func.grad(lambda u: layer(u).pow(2).sum())(x)
    params = dict(layer.named_parameters())
    grad_p = torch.func.grad(lambda p: torch.func.functional_call(layer, p, (x,)).pow(2).sum())(params)
    for got, want in zip([grad_x, *grad_p.values()], expected):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    per_sequence = torch.func.vmap(lambda u: layer(u[None])[0])(x)
    torch.testing.assert_close(per_sequence, layer(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_an_ensemble_of_readout_layers_under_vmap(layer_cls):
    """vmap over stacked states batches the frozen tensors too: the kernel is then computed, even when frozen."""
    layers = [layer_cls(3, 4, seed=s, train="readout", dtype=torch.float64) for s in range(3)]
    layers[0].freeze_kernel(5)
    params, buffers = torch.func.stack_module_state(layers)
    x = torch.randn(2, 5, 3, dtype=torch.float64)

    def one(p, b):
        return torch.func.functional_call(layers[0], {**p, **b}, (x,))

    outputs = torch.func.vmap(one)(params, buffers)
    for k, layer in enumerate(layers):
        torch.testing.assert_close(outputs[k], layer(x), rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's own, raised while dynamo traces autograd.Function
def test_a_compiled_layer_copies_and_pickles_as_itself():
    import copy
    import pickle

    layer = S4D(4, 8, seed=0)
    layer.compile(backend="eager")
    x = torch.randn(1, 6, 4)
    twin = copy.deepcopy(layer)
    with torch.no_grad():
        twin.D.add_(100.0)
    assert not torch.allclose(twin(x), layer(x))  # the copy runs its own parameters
    torch.testing.assert_close(pickle.loads(pickle.dumps(layer))(x), layer(x))
