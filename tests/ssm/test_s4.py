"""The dense S4 layer: views that agree, HiPPO-LegS initialisation, train modes, S4 ≡ real diagonal S4D."""

import numpy as np
import pytest
import torch

from ssmem.eigs import hippo_legs
from ssmem.ssm import S4Dense, S4D
from ssmem.ssm.kernels import dense_scan_reference

from .counting import count_calls
from .stepping import recurrent_outputs

F64 = torch.float64


def make(**kw) -> S4Dense:
    args = dict(d_model=3, d_state=6, seed=0, dtype=F64, dt_min=0.01, dt_max=0.3)
    args.update(kw)
    return S4Dense(**args)


@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_convolution_equals_recurrence_equals_loop(discretization, bidirectional):
    layer = make(discretization=discretization, bidirectional=bidirectional)
    x = torch.randn(2, 40, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    y = layer(x)
    A_bar, B_bar, C = layer.state_matrices()
    reference = dense_scan_reference(x.transpose(1, 2), A_bar, B_bar, C, layer.D.detach()).transpose(1, 2)
    torch.testing.assert_close(y, reference, rtol=0, atol=1e-10)
    if not bidirectional:
        torch.testing.assert_close(y, recurrent_outputs(layer, x), rtol=0, atol=1e-10)


@pytest.mark.parametrize("discretization", ["zoh", "bilinear"])
def test_state_matrices_and_kernel_closed_form(discretization):
    layer = make(discretization=discretization, bidirectional=True)
    p = {k: v.numpy() for k, v in layer.ssm_parameters().items()}
    A_legs, B_legs = hippo_legs(6)
    np.testing.assert_array_equal(p["A"], A_legs)
    np.testing.assert_array_equal(p["B"], np.broadcast_to(B_legs, (3, 6)))
    A_bar, B_bar, C = (t.numpy() for t in layer.state_matrices())
    I = np.eye(6)
    for h in range(3):
        dtA = p["dt"][h] * p["A"]
        if discretization == "bilinear":
            expected_A = np.linalg.solve(I - dtA / 2, I + dtA / 2)
            expected_B = np.linalg.solve(I - dtA / 2, p["dt"][h] * p["B"][h])
        else:
            # eigendecomposition route (fine at N = 6): exp(ΔA) and A⁻¹(exp(ΔA) - I) B
            w, V = np.linalg.eig(dtA)
            expected_A = np.real(V @ np.diag(np.exp(w)) @ np.linalg.inv(V))
            expected_B = np.linalg.solve(p["A"], (expected_A - I) @ p["B"][h])
        np.testing.assert_allclose(A_bar[h], expected_A, rtol=0, atol=1e-12)
        np.testing.assert_allclose(B_bar[h], expected_B, rtol=0, atol=1e-12)
        K = layer.kernel(20).detach().numpy()
        for l in range(20):
            power = np.linalg.matrix_power(expected_A, l) @ expected_B
            np.testing.assert_allclose(K[:, h, l], p["C"][:, h] @ power, rtol=0, atol=1e-11)


def test_discrete_eigenvalues_are_those_of_legs():
    """HiPPO-LegS has eigenvalues -1..-N: Ā's are their bilinear images, and S4 ≡ a real diagonal system."""
    layer = make(d_state=4)
    dt = layer.ssm_parameters()["dt"].numpy()[:, None]
    lam = -np.arange(1, 5)
    expected = (1 + dt * lam / 2) / (1 - dt * lam / 2)
    got = np.sort(layer.discrete_eigenvalues().numpy().real, axis=-1)
    np.testing.assert_allclose(got, np.sort(expected, axis=-1), rtol=1e-8)
    np.testing.assert_allclose(layer.discrete_eigenvalues().numpy().imag, 0, atol=1e-8)
    # the same Ā spectrum as an S4D layer initialised with s4d-real at twice the state size, per channel
    s4d = S4D(3, 8, init="s4d-real", discretization="bilinear", seed=0, dtype=F64, dt_min=0.01, dt_max=0.3)
    np.testing.assert_allclose(np.sort(s4d.discrete_eigenvalues().numpy().real, -1), got, rtol=1e-12)


def test_train_modes(monkeypatch):
    names = {}
    for mode in ("all", "reservoir", "readout"):
        layer = make(train=mode)
        names[mode] = (sorted(n for n, _ in layer.named_parameters()), sorted(n for n, _ in layer.named_buffers()))
    assert names["all"] == (["A", "B", "C", "D", "log_dt"], [])
    assert names["reservoir"] == (["B", "C", "D"], ["A", "log_dt"])
    assert names["readout"] == (["D"], ["A", "B", "C", "log_dt"])
    assert make().ssm_parameter_names == ("A", "log_dt", "B")
    assert sum(t.numel() for t in make(train="reservoir").frozen_tensors().values()) == 36 + 3

    layer = make(train="reservoir")
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    optimizer = torch.optim.AdamW([p for p in layer.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        x = torch.randn(2, 16, 3, dtype=F64)
        optimizer.zero_grad()
        layer(x).pow(2).mean().backward()
        optimizer.step()
    after = layer.state_dict()
    assert torch.equal(before["A"], after["A"]) and torch.equal(before["log_dt"], after["log_dt"])
    assert all(not torch.allclose(before[k], after[k]) for k in ("B", "C", "D"))

    import ssmem.ssm.s4

    computed = count_calls(monkeypatch, ssmem.ssm.s4, "dense_kernel")
    readout = make(train="readout")
    readout.freeze_kernel(16)
    for _ in range(3):
        readout(torch.randn(2, 16, 3, dtype=F64)).sum().backward()
    assert len(computed) == 1
    readout.unfreeze_kernel()
    readout(torch.randn(2, 16, 3, dtype=F64))
    assert len(computed) == 2


def test_gradcheck_dense():
    layer = make(d_model=2, d_state=3, bidirectional=True, discretization="zoh")
    names = [n for n, _ in layer.named_parameters()]
    x = torch.randn(1, 6, 2, dtype=F64, generator=torch.Generator().manual_seed(0))

    def output(*values):
        return torch.func.functional_call(layer, dict(zip(names, values)), (x,))

    assert torch.autograd.gradcheck(output, tuple(p.detach().clone().requires_grad_() for p in layer.parameters()))


def test_errors_and_seeds():
    with pytest.raises(ValueError, match="unknown train mode 'x'; valid choices: all, reservoir, readout"):
        S4Dense(2, 4, train="x")
    with pytest.raises(ValueError, match="d_state must be a positive integer"):
        S4Dense(2, 0)
    with pytest.raises(ValueError, match="dt_min must be <= dt_max"):
        S4Dense(2, 4, dt_min=1.0, dt_max=0.1)
    with pytest.raises(ValueError, match="no recurrent"):
        S4Dense(2, 4, bidirectional=True).step(torch.zeros(1, 2), torch.zeros(1, 2, 4))
    a, b, c = S4Dense(3, 4, seed=1), S4Dense(3, 4, seed=1), S4Dense(3, 4, seed=2)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert not torch.equal(a.C, c.C) and not torch.equal(a.log_dt, c.log_dt)
