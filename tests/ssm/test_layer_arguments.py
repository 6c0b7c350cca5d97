"""Both SSM layers take the same kinds of argument and reject the same mistakes, naming the bad value."""

import numpy as np
import pytest
import torch

from ssmem.eigs import discrete_eigenvalues
from ssmem.ssm import S4Dense, S4D

LAYERS = [S4D, S4Dense]


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_numpy_integers_are_sizes_and_the_layer_stores_python_ints(layer_cls):
    layer = layer_cls(np.int64(3), np.int64(6), seed=np.int64(1))
    assert (layer.d_model, layer.d_state) == (3, 6) and type(layer.d_model) is int and type(layer.d_state) is int
    reference = layer_cls(3, 6, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(layer.state_dict().values(), reference.state_dict().values()))


@pytest.mark.parametrize("layer_cls", LAYERS)
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"bidirectional": "no"}, TypeError, r"bidirectional must be True or False, got 'no'"),
        ({"seed": -1}, ValueError, r"seed must be None or an integer in 0\.\.9223372036854775807, got -1"),
        ({"seed": 1.5}, ValueError, r"seed must be None or an integer in 0\.\.\d+, got 1.5"),
        ({"seed": 2**64}, ValueError, r"seed must be None or an integer in 0\.\.\d+, got 18446744073709551616"),
        ({"dtype": torch.float16}, ValueError, r"dtype must be torch.float32 or torch.float64"),
    ],
)
def test_bad_flags_and_seeds_are_named(layer_cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        layer_cls(2, 4, **kwargs)


def test_freeze_fraction_is_a_number_not_a_flag():
    with pytest.raises(ValueError, match=r"freeze_fraction must be in \[0, 1\], got True"):
        S4D(2, 4, freeze_fraction=True)


def test_eigenvalue_sets_from_a_path_object_or_a_tensor_equal_the_array(tmp_path):
    eigenvalues = discrete_eigenvalues("s4d-lin", 8, dt=0.05)
    np.save(tmp_path / "eigs.npy", eigenvalues)
    expected = S4D(2, 8, init=eigenvalues, seed=0).discrete_eigenvalues()
    from_path = S4D(2, 8, init=tmp_path / "eigs.npy", seed=0).discrete_eigenvalues()
    from_tensor = S4D(2, 8, init=torch.from_numpy(eigenvalues), seed=0).discrete_eigenvalues()
    torch.testing.assert_close(from_path, expected, rtol=0, atol=0)
    torch.testing.assert_close(from_tensor, expected, rtol=0, atol=0)
    with pytest.raises(TypeError, match="init must be a set name, a file path, an array of eigenvalues"):
        S4D(2, 8, init=3)


def test_eigenvalue_set_seeds_are_checked():
    with pytest.raises(ValueError, match=r"seed must be None or an integer in 0\.\.\d+, got -1"):
        discrete_eigenvalues("random", 8, dt=0.1, seed=-1)


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_step_checks_shapes_of_input_and_state(layer_cls):
    layer = layer_cls(4, 8, seed=0)
    state = layer.initial_state(2)
    name = layer_cls.__name__
    with pytest.raises(ValueError, match=rf"{name}.step expects x_t of shape \(B, H=4\); got \(2, 1, 4\)"):
        layer.step(torch.randn(2, 1, 4), state)
    with pytest.raises(ValueError, match=rf"{name}.step expects x_t of shape \(B, H=4\); got \(4,\)"):
        layer.step(torch.randn(4), state)
    with pytest.raises(ValueError, match=rf"{name}.step expects x_t of shape \(B, H=4\); got \(2, 3\)"):
        layer.step(torch.randn(2, 3), state)
    with pytest.raises(ValueError, match=rf"expects a state of shape \(3, 4, {state.shape[-1]}\) \(initial_state\(3\)"):
        layer.step(torch.randn(3, 4), state)
    for batch in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match=rf"positive integer batch size, got {batch!r}"):
            layer.initial_state(batch)


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_input_dtype_must_match_the_parameters_in_forward_and_step(layer_cls):
    layer = layer_cls(3, 6, dtype=torch.float64, seed=0)
    message = rf"{layer_cls.__name__} has torch.float64 parameters but the input is torch.float32"
    with pytest.raises(ValueError, match=message):
        layer(torch.randn(1, 5, 3))
    with pytest.raises(ValueError, match=message):
        layer.step(torch.randn(1, 3), layer.initial_state(1))
    with pytest.raises(ValueError, match="but the input is torch.int64"):
        layer(torch.ones(1, 5, 3, dtype=torch.long))
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    y, _ = layer.step(x[:, 0], layer.initial_state(1))
    assert layer(x).dtype == y.dtype == torch.float64
    assert layer.to(torch.float32)(x.float()).dtype == torch.float32
