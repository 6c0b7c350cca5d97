"""Mamba: the chunked selective scan equals the loop (values and gradients), the block equals its reference twin,
step equals forward, causality, the initialisation, the train modes, and one training step on ListOps."""

import math

import pytest
import torch
import torch.nn.functional as F

from ssmem.ssm import Mamba, count_parameters
from ssmem.ssm.mamba import selective_scan, selective_scan_reference
from ssmem.ssm.selective_scan import linear_recurrence

from .freezing import assert_freezes_exactly
from .stepping import recurrent_outputs


def _scan_inputs(batch, length, channels, n_state, generator, dtype=torch.float64):
    def draw(*shape):
        return torch.randn(*shape, generator=generator, dtype=dtype)

    u = draw(batch, length, channels)
    delta = F.softplus(draw(batch, length, channels))  # positive steps of order one: decays far from 1 and 0
    A = -torch.exp(draw(channels, n_state) / 2)
    return [t.requires_grad_() for t in (u, delta, A, draw(batch, length, n_state), draw(batch, length, n_state),
                                          draw(channels))]


@pytest.mark.parametrize("method", ["sequential", "doubling"])
@pytest.mark.parametrize("length, chunk_size", [(13, 4), (7, None), (1, 3), (16, 16), (9, 20), (40, 7)])
def test_chunked_scan_equals_the_loop_on_values_and_gradients(length, chunk_size, method):
    generator = torch.Generator().manual_seed(length)
    inputs = _scan_inputs(2, length, 3, 5, generator)
    weights = torch.randn(2, length, 3, generator=generator, dtype=torch.float64)
    fast = selective_scan(*inputs, chunk_size=chunk_size, method=method)
    slow = selective_scan_reference(*inputs)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
    for g_fast, g_slow in zip(torch.autograd.grad((fast * weights).sum(), inputs),
                              torch.autograd.grad((slow * weights).sum(), inputs)):
        torch.testing.assert_close(g_fast, g_slow, rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("method", ["sequential", "doubling"])
@pytest.mark.parametrize("steps", [1, 2, 5, 16, 17])
def test_linear_recurrence_forwards_and_backwards_in_time(steps, method):
    generator = torch.Generator().manual_seed(steps)
    a, b = torch.rand(2, steps, 3, 4, generator=generator, dtype=torch.float64)
    h0 = torch.randn(3, 4, generator=generator, dtype=torch.float64)
    for reverse in (False, True):
        expected, h = torch.empty_like(b), h0
        for t in (reversed(range(steps)) if reverse else range(steps)):
            h = expected[t] = a[t] * h + b[t]
        a_before = a.clone()
        out = linear_recurrence(a, b.clone(), h0, method, reverse=reverse)
        torch.testing.assert_close(out, expected, rtol=1e-13, atol=0)
        assert torch.equal(a, a_before)  # the decays are read, never written


def test_the_written_backward_pass_agrees_with_finite_differences():
    inputs = _scan_inputs(2, 11, 3, 4, torch.Generator().manual_seed(3))
    for method in ("sequential", "doubling"):
        assert torch.autograd.gradcheck(lambda *x: selective_scan(*x, chunk_size=4, method=method), inputs)


def test_autograd_keeps_the_inputs_and_one_state_per_chunk():
    """Not a state per step: the chunks' states are recomputed in the backward pass."""
    batch, length, channels, n_state, chunk = 2, 30, 3, 5, 8
    inputs = _scan_inputs(batch, length, channels, n_state, torch.Generator().manual_seed(0))
    saved = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        selective_scan(*inputs, chunk_size=chunk)
    input_bytes = sum(t.numel() for t in inputs) * 8
    n_chunks = -(-length // chunk)
    assert sum(saved.values()) == input_bytes + n_chunks * batch * channels * n_state * 8


def test_scan_options_are_checked():
    inputs = _scan_inputs(1, 4, 2, 3, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="unknown scan method 'blelloch'; valid choices: auto, sequential, doubling"):
        selective_scan(*inputs, method="blelloch")
    with pytest.raises(ValueError, match="chunk_size must be a positive integer, got 0"):
        selective_scan(*inputs, chunk_size=0)


def test_one_state_one_step_closed_form():
    # L = 2, N = 1: y_1 = C_1 (e^{Δ_1 A} Δ_0 B_0 u_0 + Δ_1 B_1 u_1) + D u_1
    u, delta, B, C = (torch.tensor([[[a], [b]]], dtype=torch.float64) for a, b in
                      [(1.5, -2.0), (0.3, 0.7), (2.0, 0.5), (1.0, 3.0)])
    A, D = torch.tensor([[-0.8]], dtype=torch.float64), torch.tensor([0.25], dtype=torch.float64)
    y1 = 3.0 * (math.exp(0.7 * -0.8) * 0.3 * 2.0 * 1.5 + 0.7 * 0.5 * -2.0) + 0.25 * -2.0
    for scan in (selective_scan_reference, selective_scan):
        assert scan(u, delta, A, B[..., 0:1], C[..., 0:1], D)[0, 1, 0].item() == pytest.approx(y1, rel=1e-14)


def test_half_precision_inputs_accumulate_in_float32():
    inputs = _scan_inputs(1, 50, 2, 4, torch.Generator().manual_seed(0), dtype=torch.float32)
    inputs = [t.detach() for t in inputs]
    halves = [t.to(torch.bfloat16) for t in inputs]
    exact = selective_scan_reference(*[t.float() for t in halves])  # the same numbers, float32 throughout
    for scan in (selective_scan_reference, selective_scan):
        out = scan(*halves)
        assert out.dtype == torch.bfloat16
        # within one bfloat16 unit of the float32 result (a bfloat16 accumulation drifts much further)
        assert ((out.float() - exact).abs() <= 2**-7 * exact.abs() + 1e-6).all()


def _block(**kwargs) -> Mamba:
    return Mamba(6, 4, **{"seed": 1, "dtype": torch.float64, "chunk_size": 5, **kwargs})


def test_block_equals_its_reference_on_values_and_gradients():
    layer = _block()
    x = torch.randn(2, 23, 6, dtype=torch.float64)
    weights = torch.randn(2, 23, 6, dtype=torch.float64)
    fast, slow = layer(x), layer.reference_forward(x)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
    params = list(layer.parameters())
    for g_fast, g_slow in zip(torch.autograd.grad((fast * weights).sum(), params),
                              torch.autograd.grad((slow * weights).sum(), params)):
        torch.testing.assert_close(g_fast, g_slow, rtol=1e-10, atol=1e-11)


def test_step_equals_forward():
    layer = _block()
    x = torch.randn(2, 17, 6, dtype=torch.float64)
    torch.testing.assert_close(recurrent_outputs(layer, x), layer(x), rtol=0, atol=1e-12)


def test_outputs_do_not_see_the_future():
    layer = _block()
    x = torch.randn(1, 20, 6, dtype=torch.float64)
    changed = x.clone()
    changed[:, 9:] = torch.randn(1, 11, 6, dtype=torch.float64)
    torch.testing.assert_close(layer(changed)[:, :9], layer(x)[:, :9], rtol=0, atol=0)
    assert not torch.allclose(layer(changed)[:, 9], layer(x)[:, 9])


def test_initialisation():
    dt_min, dt_max = 2e-3, 5e-2
    layer = Mamba(32, 8, dt_min=dt_min, dt_max=dt_max, seed=0, dtype=torch.float64)
    dt = F.softplus(layer.dt_bias)
    assert dt.min() >= dt_min * (1 - 1e-12) and dt.max() <= dt_max * (1 + 1e-12)
    assert dt.min() < 2 * dt_min and dt.max() > dt_max / 2  # log-uniform over the whole range (64 draws)
    torch.testing.assert_close(layer.A_log, torch.log(torch.arange(1.0, 9.0, dtype=torch.float64)).expand(64, 8))
    assert torch.equal(layer.D, torch.ones(64, dtype=torch.float64))
    assert layer.dt_rank == 2 and layer.d_inner == 64


def test_seeded_initialisation_is_reproducible_and_leaves_the_global_rng_alone():
    rng = torch.get_rng_state()
    a, b, c = Mamba(8, 4, seed=5), Mamba(8, 4, seed=5), Mamba(8, 4, seed=6)
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.in_proj_weight, c.in_proj_weight)


@pytest.mark.parametrize(
    "train, frozen",
    [
        ("all", set()),
        ("reservoir", {"A_log", "dt_bias"}),
        ("readout", {"A_log", "dt_bias", "in_proj_weight", "x_proj_weight", "dt_proj_weight"}),
    ],
)
def test_train_modes_freeze_exactly_the_named_tensors(train, frozen):
    layer = Mamba(8, 4, seed=2, train=train)
    assert_freezes_exactly(layer, frozen, torch.randn(2, 11, 8))


def test_parameter_count_by_formula():
    H, N, E, R, K = 8, 4, 16, 1, 4  # d_model, d_state, expand·d_model, ⌈H/16⌉, d_conv
    total = H * 2 * E + (E * K + E) + E * (R + 2 * N) + (R * E + E) + E * N + E + E * H
    reservoir = E * N + E  # A_log, dt_bias
    readout = reservoir + H * 2 * E + E * (R + 2 * N) + R * E
    for train, frozen in (("all", 0), ("reservoir", reservoir), ("readout", readout)):
        counts = count_parameters(Mamba(H, N, train=train, seed=0))
        assert (counts.total, counts.frozen, counts.trainable) == (total, frozen, total - frozen)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"bidirectional": True}, ValueError, r"Mamba is a causal block: bidirectional=True is not supported"),
        ({"dt_rank": 0}, ValueError, r"dt_rank must be a positive integer or None \(⌈d_model/16⌉\), got 0"),
        ({"expand": 1.5}, ValueError, r"expand must be a positive integer, got 1.5"),
        ({"chunk_size": 0}, ValueError, r"chunk_size must be a positive integer or None"),
        ({"train": "head"}, ValueError, r"unknown train mode 'head'; valid choices: all, reservoir, readout"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        Mamba(4, 4, **kwargs)


def test_one_training_step_on_listops(tmp_path):
    from ssmem.data import task_info
    from ssmem.train import load_recipe
    from ssmem.train.config import task_params
    from ssmem.train.loop import train

    cfg = load_recipe("lra/listops-cpu", [
        "device=cpu", "model.layer=mamba", "model.bidirectional=false", "model.norm=layer", "model.d_model=8",
        "model.n_layers=1", "model.d_state=4", "task.params.seq_len=32", "task.params.max_length=30",
        "task.params.n_train=8", "task.params.n_val=4", "task.params.n_test=4", "train.batch_size=4",
        "train.max_steps=2", "train.eval_every=2", "train.log_every=1", "optim.warmup_steps=0",
    ])  # fmt: skip
    result = train(cfg, tmp_path / "run", progress=False)
    assert result.status == "completed" and result.steps == 2
    assert math.isfinite(result.metrics["train/loss"])
    # encoder (vocab → H), one block (Mamba, layer norm, H → 2H GLU mixer), decoder (H → classes), by formula
    info = task_info(cfg.task.name, task_params(cfg.task))
    H, N, E, R, K = 8, 4, 16, 1, 4
    mamba = H * 2 * E + (E * K + E) + E * (R + 2 * N) + (R * E + E) + E * N + E + E * H
    rest = info.vocab_size * H + 2 * H + (2 * H * H + 2 * H) + (H * info.d_output + info.d_output)
    assert result.param_counts["total"] == mamba + rest


def test_the_scan_accumulates_in_float32_under_autocast():
    """Mixed-precision training runs the model under autocast; the scan's contractions stay in float32 there."""
    inputs = [t.detach().float().requires_grad_() for t in _scan_inputs(2, 40, 3, 5, torch.Generator().manual_seed(2))]
    expected = selective_scan_reference(*inputs)
    expected_grads = torch.autograd.grad(expected.sum(), inputs)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the backward pass too, as a loop might call it there
        out = selective_scan(*inputs)
        grads = torch.autograd.grad(out.sum(), inputs)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    for g, g_expected in zip(grads, expected_grads):
        torch.testing.assert_close(g, g_expected, rtol=1e-5, atol=1e-5)
