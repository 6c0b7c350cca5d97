"""Layer and model memory: S4D channels match their eigenvalue sets, S4 channels match s4d-real (S4 ≡ S4D)."""

import numpy as np
import pytest
import torch

from ssmem.eigs import discrete_eigenvalues
from ssmem.memory import memory_function
from ssmem.memory.layers import LayerMemory, layer_memory, model_memory
from ssmem.ssm import S4Dense, S4D, SequenceClassifier


def test_s4d_layer_channels_match_their_sets():
    layer = S4D(3, 16, init="s4d-lin", dt_min=0.01, dt_max=0.1, seed=0, dtype=torch.float64)
    result = layer_memory(layer, horizon=512)
    dts = layer.ssm_parameters()["dt"].numpy()
    assert isinstance(result, LayerMemory) and result.n_channels == 3
    for h, dt in enumerate(dts):
        expected = memory_function(discrete_eigenvalues("s4d-lin", 16, dt=dt), horizon=512)
        np.testing.assert_allclose(result.profiles[h].mf, expected.mf, atol=1e-12)
        assert result.profiles[h].rank == 15
    np.testing.assert_allclose(result.mean_mf, result.mf.mean(0))
    assert result.mean_capacity == pytest.approx(15.0, abs=1e-9)
    summary = result.summary()
    lengths = [p.memory_length(0.01) for p in result.profiles]
    assert summary["memory_length"]["max"] == max(lengths) and summary["memory_length"]["min"] == min(lengths)
    assert summary["memory_length"]["median"] == float(np.median(lengths))


def test_s4d_modes_without_input_hold_no_memory():
    layer = S4D(2, 8, init="s4d-inv", seed=0, dtype=torch.float64)
    with torch.no_grad():
        layer.B[0, :2] = 0  # channel 0: two of its four modes never receive input
    result = layer_memory(layer, horizon=64)
    modes = layer.discrete_eigenvalues().numpy()
    assert result.profiles[0].rank == 4 and result.profiles[1].rank == 8  # was 8 for both
    np.testing.assert_allclose(result.profiles[0].mf, memory_function(modes[0, 2:], horizon=64).mf, atol=1e-12)
    with torch.no_grad():
        layer.B[1] = 0
    with pytest.raises(ValueError, match=r"channels \[1\] have B = 0 on every mode"):
        layer_memory(layer, horizon=64)


def test_s4_layer_channels_equal_s4d_real():
    """Each S4 channel (dense bilinear LegS at its Δ) remembers like s4d-real with N modes at that Δ."""
    layer = S4Dense(2, 8, dt_min=0.01, dt_max=0.1, seed=1, dtype=torch.float64)
    result = layer_memory(layer, horizon=400)
    dts = layer.ssm_parameters()["dt"].numpy()
    for h, dt in enumerate(dts):
        expected = memory_function(discrete_eigenvalues("s4d-real", 16, dt=dt, discretization="bilinear"), horizon=400)
        np.testing.assert_allclose(result.profiles[h].mf, expected.mf, atol=1e-9)
        assert result.profiles[h].method.startswith("dense-")


class DiagonalStandIn:
    """Anything with discrete_eigenvalues() (H, n) qualifies."""

    def discrete_eigenvalues(self):
        return torch.tensor([[0.5 + 0.0j], [0.9 + 0.0j]], dtype=torch.complex64)


def test_stand_in_layer_infinite_horizon_closed_form():
    result = layer_memory(DiagonalStandIn(), horizon=None, max_delay=50)
    tau = np.arange(51)
    for h, lam in enumerate(np.array([0.5, 0.9], dtype=np.complex64).real.astype(np.float64)):
        np.testing.assert_allclose(result.profiles[h].mf, (1 - lam**2) * lam ** (2 * tau), atol=1e-12)
    with pytest.raises(TypeError, match="neither state_matrices"):
        layer_memory(object())
    with pytest.raises(ValueError, match=r"an MF threshold must lie in \[0, 1\), got -1"):
        layer_memory(DiagonalStandIn(), threshold=-1)


def test_model_memory_over_ssm_layers():
    model = SequenceClassifier(
        d_output=2, d_input=1, d_model=2, n_layers=2, make_layer=lambda i: S4D(2, 8, init="s4d-inv", seed=i)
    )
    result = model_memory(model, horizon=256)
    assert [layer.name for layer in result.layers] == ["layer0", "layer1"]
    layers = model.ssm_layers()
    for layer, mem in zip(layers, result.layers):
        modes = layer.discrete_eigenvalues().to(torch.complex128).numpy()
        for h in range(2):
            np.testing.assert_allclose(mem.profiles[h].mf, memory_function(modes[h], horizon=256).mf, atol=1e-13)
    assert "layer1" in result.table() and len(result.summary()) == 2
    with pytest.raises(TypeError, match="no ssm_layers"):
        model_memory(torch.nn.Linear(2, 2))
