"""The S4D layer: views that must agree, its parameterisation, train modes, errors and seeds."""

import math

import numpy as np
import pytest
import torch

from ssmem.eigs import EIGENVALUE_SETS, continuous_eigenvalues, discrete_eigenvalues, n_modes_of
from ssmem.ssm import S4D, TRAIN_MODES
from ssmem.ssm.kernels import diagonal_scan_reference

from .counting import count_calls
from .stepping import recurrent_outputs

F64 = torch.float64


def make(**kw) -> S4D:
    args = dict(d_model=3, d_state=8, seed=0, dtype=F64, dt_min=0.01, dt_max=0.5)
    args.update(kw)
    return S4D(**args)


def reference_outputs(layer: S4D, x: torch.Tensor) -> torch.Tensor:
    """Plain-loop recurrence from the inspected parameters (numbers, not the layer's own kernel code)."""
    p = layer.ssm_parameters()
    dtA = p["mode_dt"] * p["A"]
    if layer.discretization == "zoh":
        A_bar = torch.exp(dtA)
        B_bar = (A_bar - 1) / p["A"] * p["B"]
    else:
        A_bar = (1 + dtA / 2) / (1 - dtA / 2)
        B_bar = p["mode_dt"] * p["B"] / (1 - dtA / 2)
    return diagonal_scan_reference(x.transpose(1, 2), A_bar, B_bar, p["C"], p["D"]).transpose(1, 2)


@pytest.mark.parametrize("init", ["s4d-inv", "s4d-lin", "random"])
@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_convolution_equals_recurrence_equals_loop(init, discretization, bidirectional):
    layer = make(init=init, discretization=discretization, bidirectional=bidirectional)
    x = torch.randn(2, 40, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    y = layer(x)
    assert y.shape == x.shape and y.dtype == F64
    torch.testing.assert_close(y, reference_outputs(layer, x), rtol=0, atol=1e-10)
    if not bidirectional:
        torch.testing.assert_close(y, recurrent_outputs(layer, x), rtol=0, atol=1e-10)


@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_kernel_equals_closed_form_from_inspected_parameters(discretization, bidirectional):
    layer = make(d_model=4, d_state=16, discretization=discretization, bidirectional=bidirectional)
    p = {k: v.numpy() for k, v in layer.ssm_parameters().items()}
    dt = p["dt"][:, None]
    if discretization == "zoh":
        A_bar = np.exp(dt * p["A"])
        B_bar = (A_bar - 1) / p["A"] * p["B"]
    else:
        A_bar = (1 + dt * p["A"] / 2) / (1 - dt * p["A"] / 2)
        B_bar = dt * p["B"] / (1 - dt * p["A"] / 2)
    C = p["C"] if bidirectional else p["C"][None]
    L = 50
    powers = A_bar[..., None] ** np.arange(L)  # (H, n, L)
    expected = 2 * np.real(np.einsum("khn,hn,hnl->khl", C, B_bar, powers))
    K = layer.kernel(L).detach()
    assert K.shape == ((2, 4, L) if bidirectional else (4, L))
    np.testing.assert_allclose(K.numpy(), expected if bidirectional else expected[0], rtol=0, atol=1e-12)


def test_float32_kernel_agrees_with_float64():
    l32 = S4D(8, 16, seed=5)
    l64 = S4D(8, 16, seed=5, dtype=F64)
    assert l32.log_A_real.dtype == torch.float32 and l32.kernel(10).dtype == torch.float32
    assert l32.ssm_parameters()["A"].dtype == torch.complex64
    K32, K64 = l32.kernel(2048), l64.kernel(2048)
    assert (K32.double() - K64).abs().max() < 1e-4 * K64.abs().max()


@pytest.mark.parametrize("name", EIGENVALUE_SETS.names())
def test_initialisation_follows_the_eigenvalue_set(name):
    H, d_state = 5, 8
    layer = S4D(H, d_state, init=name, seed=3, dtype=F64, dt_min=0.01, dt_max=0.2)
    p = layer.ssm_parameters()
    dt = p["dt"].numpy()
    assert np.all((dt >= 0.01) & (dt <= 0.2))
    assert np.all(p["A"].real.numpy() < 0)
    assert layer.n_modes == n_modes_of(d_state) == 4 and layer.d_state == d_state
    if EIGENVALUE_SETS.get(name).domain == "discrete":
        # per-channel conversion: the layer's Ā equals the set exactly
        expected = discrete_eigenvalues(name, d_state, dt=dt, seed=3)
        np.testing.assert_allclose(layer.discrete_eigenvalues().numpy(), expected, rtol=1e-12, atol=1e-14)
    else:
        expected = continuous_eigenvalues(name, d_state, dt=dt, seed=3)
        np.testing.assert_allclose(p["A"].numpy(), expected, rtol=1e-14, atol=0)
    if name == "s4d-real":
        assert np.all(p["A"].imag.numpy() == 0)
    np.testing.assert_array_equal(p["B"].numpy(), np.ones((H, 4)))
    assert np.all(np.abs(layer.discrete_eigenvalues().numpy()) < 1)


def test_user_array_init_and_bilinear_conversion():
    values = np.array([0.5 + 0.3j, -0.2 + 0.1j, 0.9j * 0.99])
    layer = S4D(2, 6, init=values, discretization="bilinear", seed=0, dtype=F64)
    np.testing.assert_allclose(layer.discrete_eigenvalues().numpy(), np.broadcast_to(values, (2, 3)), atol=1e-14)


def test_dt_is_log_uniform():
    layer = S4D(4000, 2, seed=0, dtype=F64, dt_min=1e-3, dt_max=1e-1)
    log_dt = torch.log(layer.ssm_parameters()["dt"]).numpy()
    u = (log_dt - math.log(1e-3)) / (math.log(1e-1) - math.log(1e-3))
    # uniform on [0, 1]: mean 1/2, variance 1/12 (standard errors 0.0046 and 0.0013)
    assert abs(u.mean() - 0.5) < 0.02 and abs(u.var() - 1 / 12) < 0.006


def test_parameters_and_buffers_by_train_mode():
    H, n = 3, 4
    names = {}
    for mode in TRAIN_MODES:
        layer = make(train=mode)
        names[mode] = (
            sorted(name for name, _ in layer.named_parameters()),
            sorted(name for name, _ in layer.named_buffers()),
        )
        for name in layer.ssm_parameter_names:
            assert dict(layer.named_parameters())[name].requires_grad
    assert names["all"] == (["A_imag", "B", "C", "D", "log_A_real", "log_dt"], [])
    assert names["reservoir"] == (["B", "C", "D"], ["A_imag", "log_A_real", "log_dt"])
    assert names["readout"] == (["D"], ["A_imag", "B", "C", "log_A_real", "log_dt"])
    assert make(train="all").ssm_parameter_names == ("log_dt", "log_A_real", "A_imag", "B")
    assert make(train="reservoir").ssm_parameter_names == ("B",)
    assert make(train="readout").ssm_parameter_names == ()
    frozen = make(train="reservoir").frozen_tensors()
    assert sum(t.numel() for t in frozen.values()) == H + 2 * H * n
    frozen = make(train="readout").frozen_tensors()
    assert sum(t.numel() for t in frozen.values()) == H + 2 * H * n + 2 * H * n + 2 * H * n
    assert make(train="all").frozen_tensors() == {}


def train_steps(layer: torch.nn.Module, steps: int = 5, length: int = 32) -> None:
    gen = torch.Generator().manual_seed(7)
    params = [p for p in layer.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.0)
    for _ in range(steps):
        x = torch.randn(4, length, layer.d_model, generator=gen, dtype=F64)
        loss = (layer(x) - x.roll(3, dims=1)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_reservoir_freezes_eigenvalues_and_steps_only():
    layer = make(train="reservoir", bidirectional=True)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    eig_before = layer.discrete_eigenvalues()
    train_steps(layer)
    after = layer.state_dict()
    for name in ("log_dt", "log_A_real", "A_imag"):
        assert torch.equal(before[name], after[name]), name
    assert torch.equal(eig_before, layer.discrete_eigenvalues())
    for name in ("B", "C", "D"):
        assert not torch.allclose(before[name], after[name]), name


def test_all_mode_moves_eigenvalues():
    layer = make(train="all")
    eig_before = layer.discrete_eigenvalues()
    train_steps(layer)
    assert torch.all(layer.discrete_eigenvalues() != eig_before)


def test_frozen_readout_kernel_is_computed_once(monkeypatch):
    import ssmem.ssm.s4d

    computed = count_calls(monkeypatch, ssmem.ssm.s4d, "vandermonde_kernel")
    layer = make(train="readout", bidirectional=True)
    frozen = layer.freeze_kernel(32)
    assert len(computed) == 1 and frozen.length == 32 and layer.frozen_kernel is frozen
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    train_steps(layer, steps=4, length=32)
    assert len(computed) == 1
    after = layer.state_dict()
    for name in ("log_dt", "log_A_real", "A_imag", "B", "C"):
        assert torch.equal(before[name], after[name]), name
    assert not torch.allclose(before["D"], after["D"])
    K = layer.kernel(32)
    assert len(computed) == 1 and not K.requires_grad
    torch.testing.assert_close(layer.kernel(16), K[..., :16], rtol=0, atol=0)  # a shorter length: the first taps
    assert len(computed) == 1
    layer.kernel(48)  # longer than frozen: computed
    assert len(computed) == 2
    # loading weights takes the frozen kernel again from them
    state = layer.state_dict()
    state["B"] = 2 * state["B"]
    layer.load_state_dict(state)
    assert len(computed) == 3
    torch.testing.assert_close(layer.kernel(16), 2 * K[..., :16], rtol=1e-12, atol=1e-12)  # K is linear in B
    layer.to(torch.float32)  # another dtype: taken again there, once
    assert layer.kernel(16).dtype == torch.float32 and layer.kernel(32).dtype == torch.float32 and len(computed) == 4
    layer.unfreeze_kernel()
    layer.kernel(16)
    assert layer.frozen_kernel is None and len(computed) == 5


def test_freeze_kernel_refuses_layers_whose_kernel_trains():
    for train in ("all", "reservoir"):
        with pytest.raises(ValueError, match=f"freeze_kernel is for train='readout'.*train='{train}'"):
            make(train=train).freeze_kernel(8)
    with pytest.raises(ValueError, match="length must be a positive integer, got 0"):
        make(train="readout").freeze_kernel(0)


def test_readout_gradient_reaches_D_only():
    layer = make(train="readout")
    x = torch.randn(2, 10, 3, dtype=F64)
    layer(x).sum().backward()
    torch.testing.assert_close(layer.D.grad, x.sum((0, 1)))


@pytest.mark.parametrize("fraction", [0.25, 0.5, 1.0])
def test_freeze_fraction_freezes_a_fixed_subset_of_modes(fraction):
    layer = make(d_model=4, d_state=16, freeze_fraction=fraction)
    mask = layer.freeze_mask
    assert mask.shape == (4, 8) and torch.all(mask.sum(-1) == round(fraction * 8))
    eig_before = layer.discrete_eigenvalues()
    train_steps(layer)
    eig_after = layer.discrete_eigenvalues()
    assert torch.equal(eig_before[mask], eig_after[mask])
    assert torch.all(eig_before[~mask] != eig_after[~mask])
    frozen = layer.frozen_tensors()
    assert frozen["log_A_real"].numel() == frozen["A_imag"].numel() == int(mask.sum())
    assert frozen["log_dt"].numel() == 4


def test_freeze_fraction_one_behaves_like_reservoir_for_the_eigenvalues():
    frozen = make(freeze_fraction=1.0)
    reservoir = make(train="reservoir")
    torch.testing.assert_close(frozen.discrete_eigenvalues(), reservoir.discrete_eigenvalues(), rtol=0, atol=0)
    train_steps(frozen)
    train_steps(reservoir)
    assert torch.equal(frozen.discrete_eigenvalues(), reservoir.discrete_eigenvalues())


def test_freeze_subset_is_seeded():
    a = make(d_model=4, d_state=16, freeze_fraction=0.5, seed=1).freeze_mask
    b = make(d_model=4, d_state=16, freeze_fraction=0.5, seed=1).freeze_mask
    c = make(d_model=4, d_state=16, freeze_fraction=0.5, seed=2).freeze_mask
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradcheck_through_the_complex_parameterisation(discretization, bidirectional):
    layer = make(d_model=2, d_state=4, discretization=discretization, bidirectional=bidirectional, freeze_fraction=0.5)
    names = [name for name, _ in layer.named_parameters()]
    x = torch.randn(1, 7, 2, dtype=F64, generator=torch.Generator().manual_seed(0))

    def output(*values):
        return torch.func.functional_call(layer, dict(zip(names, values)), (x,))

    inputs = tuple(p.detach().clone().requires_grad_() for p in layer.parameters())
    assert torch.autograd.gradcheck(output, inputs)


def test_seed_determinism_and_independence_from_global_rng():
    state = torch.get_rng_state()
    a = S4D(4, 8, init="random", seed=11)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is not touched
    b = S4D(4, 8, init="random", seed=11)
    c = S4D(4, 8, init="random", seed=12)
    for (name, t_a), t_b, t_c in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(t_a, t_b), name
        if name != "B":  # B = 1 whatever the seed
            assert not torch.equal(t_a, t_c), name
    torch.manual_seed(0)
    g1 = S4D(4, 8).state_dict()
    torch.manual_seed(0)
    g2 = S4D(4, 8).state_dict()
    assert all(torch.equal(g1[k], g2[k]) for k in g1)


def test_clear_errors_for_bad_arguments():
    with pytest.raises(ValueError, match=r"unknown eigenvalue set 'nope'.*valid choices:.*s4d-inv"):
        S4D(2, 4, init="nope")
    with pytest.raises(ValueError, match=r"unknown train mode 'frozen'; valid choices: all, reservoir, readout"):
        S4D(2, 4, train="frozen")
    with pytest.raises(ValueError, match="d_state must be an even integer"):
        S4D(2, 5)
    with pytest.raises(ValueError, match=r"dt_min must be <= dt_max.*0.5.*0.1"):
        S4D(2, 4, dt_min=0.5, dt_max=0.1)
    with pytest.raises(ValueError, match="dt_min must be positive"):
        S4D(2, 4, dt_min=0.0)
    with pytest.raises(ValueError, match=r"unknown discretization 'euler'; valid choices: zoh, bilinear"):
        S4D(2, 4, discretization="euler")
    with pytest.raises(ValueError, match=r"freeze_fraction must be in \[0, 1\], got 1.5"):
        S4D(2, 4, freeze_fraction=1.5)
    with pytest.raises(ValueError, match="freeze_fraction=0.5 needs train='all'"):
        S4D(2, 4, freeze_fraction=0.5, train="reservoir")
    with pytest.raises(ValueError, match="d_model must be a positive integer"):
        S4D(0, 4)
    with pytest.raises(ValueError, match="no recurrent"):
        S4D(2, 4, bidirectional=True).initial_state(1)
    with pytest.raises(ValueError, match=r"expects input \(B, L, H=2\)"):
        S4D(2, 4)(torch.randn(1, 5, 3))


@pytest.mark.parametrize("train, fraction", [("all", 0.0), ("all", 0.25), ("all", 1.0), ("reservoir", 0.0), ("readout", 0.0)])
def test_the_frozen_count_equals_the_frozen_tensors_entries(train, fraction):
    """Counted from the sizes (no device read) and read from the masked tensors: one number."""
    layer = S4D(6, 16, train=train, freeze_fraction=fraction, seed=3)
    assert layer.frozen_parameter_count() == sum(t.numel() for t in layer.frozen_tensors().values())
