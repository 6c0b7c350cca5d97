"""Linear attention: the chunked forward equals the attention written out and the step-by-step recurrence (values
and gradients), the state is the running sum of k vᵀ, causality, the train modes and the argument checks."""

import math

import pytest
import torch

from ssmem.ssm import LinearAttention
from ssmem.ssm.linear_attention import EPS, feature_map

from .freezing import assert_freezes_exactly
from .stepping import recurrent_outputs

F64 = torch.float64


def _layer(normalize=True, chunk_size=4, train="all", d_model=3, d_state=5):
    layer = LinearAttention(d_model, d_state, normalize=normalize, chunk_size=chunk_size, train=train, seed=0, dtype=F64)
    with torch.no_grad():
        layer.D.normal_(generator=torch.Generator().manual_seed(1))  # D starts at 0: give the skip a value
    return layer


def _written_out(layer: LinearAttention, x: torch.Tensor) -> torch.Tensor:
    """y_t = W_o Σ_{s≤t} (q_t·k_s) v_s / (Σ_{s≤t} q_t·k_s + ε) + D x_t (or / √N without the normaliser)."""
    q = feature_map(x @ layer.q_weight.T)
    k = feature_map(x @ layer.k_weight.T)
    v = x @ layer.v_weight.T
    outputs = []
    for t in range(x.shape[1]):
        weights = (q[:, t : t + 1] * k[:, : t + 1]).sum(-1)  # (B, t + 1): q_t·k_s
        attended = (weights[..., None] * v[:, : t + 1]).sum(1)
        attended = attended / (weights.sum(-1, keepdim=True) + EPS) if layer.normalize else attended / math.sqrt(layer.d_state)
        outputs.append(attended @ layer.out_weight.T + layer.D * x[:, t])
    return torch.stack(outputs, dim=1)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("length, chunk_size", [(11, 4), (8, 8), (3, 16), (1, 2)])
def test_chunked_forward_equals_attention_written_out_and_the_recurrence(normalize, length, chunk_size):
    layer = _layer(normalize, chunk_size)
    x = torch.randn(2, length, 3, dtype=F64, generator=torch.Generator().manual_seed(length), requires_grad=True)
    weights = torch.randn(2, length, 3, dtype=F64, generator=torch.Generator().manual_seed(99))
    fast, loop, written = layer(x), layer.reference_forward(x), _written_out(layer, x)
    torch.testing.assert_close(fast, written, rtol=0, atol=1e-12)
    torch.testing.assert_close(loop, written, rtol=0, atol=1e-12)
    torch.testing.assert_close(recurrent_outputs(layer, x), written, rtol=0, atol=1e-12)
    params = [x, *(p for p in layer.parameters())]
    for g_fast, g_loop in zip(torch.autograd.grad((fast * weights).sum(), params),
                              torch.autograd.grad((loop * weights).sum(), params)):
        torch.testing.assert_close(g_fast, g_loop, rtol=1e-10, atol=1e-12)


def test_the_state_is_the_running_sum_of_key_value_products():
    layer = _layer()
    x = torch.randn(2, 7, 3, dtype=F64, generator=torch.Generator().manual_seed(3))
    k = feature_map(x @ layer.k_weight.T)
    v = x @ layer.v_weight.T
    states = layer.states(x)  # (B, L, N·H)
    state = layer.initial_state(2)
    for t in range(7):
        _, state = layer.step(x[:, t], state)
        expected = sum(k[:, s, :, None] * v[:, s, None, :] for s in range(t + 1))  # (B, N, H)
        torch.testing.assert_close(state[0], expected, rtol=0, atol=1e-12)
        torch.testing.assert_close(states[:, t], expected.flatten(1), rtol=0, atol=1e-12)
        torch.testing.assert_close(state[1], k[:, : t + 1].sum(1), rtol=0, atol=1e-12)
    assert states.shape == (2, 7, layer.d_state * layer.d_model)


def test_an_empty_sequence_gives_an_empty_output():
    layer = _layer()
    empty = torch.zeros(2, 0, 3, dtype=F64)
    assert layer(empty).shape == (2, 0, 3) and layer.reference_forward(empty).shape == (2, 0, 3)


def test_outputs_do_not_depend_on_later_inputs():
    layer = _layer()
    x = torch.randn(1, 9, 3, dtype=F64, generator=torch.Generator().manual_seed(4))
    changed = x.clone()
    changed[:, 5:] += 10.0
    before, after = layer(x), layer(changed)
    torch.testing.assert_close(after[:, :5], before[:, :5], rtol=0, atol=0)
    assert (after[:, 5:] - before[:, 5:]).abs().min() > 0


@pytest.mark.parametrize("train, frozen", [("all", set()), ("reservoir", {"q_weight", "k_weight"}),
                                           ("readout", {"q_weight", "k_weight", "v_weight"})])
def test_train_modes_freeze_what_they_name(train, frozen):
    layer = _layer(train=train)
    assert_freezes_exactly(layer, frozen, torch.randn(2, 6, 3, dtype=F64, generator=torch.Generator().manual_seed(5)))
    assert layer.ssm_parameter_names == ()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="d_state must be a positive integer, got 0"):
        LinearAttention(4, 0)
    with pytest.raises(ValueError, match="causal: bidirectional=True is not supported"):
        LinearAttention(4, bidirectional=True)
    with pytest.raises(ValueError, match="unknown train mode 'frozen'"):
        LinearAttention(4, train="frozen")
    with pytest.raises(TypeError, match="no kernel"):
        LinearAttention(4).kernel(8)
    layer = LinearAttention(4)
    with pytest.raises(ValueError, match=r"expects a state of shapes"):
        layer.step(torch.zeros(2, 4), layer.initial_state(3))
