"""Blocks and sequence models: the block formula, step mode, pooling, the dual head, causality."""

import re

import pytest
import torch
import torch.nn.functional as F

from ssmem.ssm import S4Dense, S4D, CausalSequenceModel, DualSequenceClassifier, SequenceClassifier, SSMBlock
from ssmem.ssm.models import pool, valid_steps

from .stepping import recurrent_outputs

F64 = torch.float64


def s4d(H: int, seed: int = 0, **kw) -> S4D:
    return S4D(H, 8, seed=seed, dtype=F64, dt_min=0.01, dt_max=0.3, **kw)


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
@pytest.mark.parametrize("prenorm", [False, True])
def test_block_follows_its_formula(norm, prenorm):
    torch.manual_seed(0)
    block = SSMBlock(4, s4d(4), norm=norm, prenorm=prenorm, dtype=F64)
    x = torch.randn(3, 10, 4, dtype=F64)
    # fresh norms have unit weight and zero bias; batch norm in training mode uses the batch statistics
    axes = {"batch": (0, 1), "layer": (-1,)}.get(norm)

    def normalise(z):
        if axes is None:
            return z
        mean, var = z.mean(axes, keepdim=True), z.var(axes, unbiased=False, keepdim=True)
        return (z - mean) / torch.sqrt(var + 1e-5)

    W, b = block.output_linear.weight, block.output_linear.bias
    mix = lambda y: F.glu(F.gelu(y) @ W.T + b)  # noqa: E731
    expected = x + mix(block.layer(normalise(x))) if prenorm else normalise(x + mix(block.layer(x)))
    torch.testing.assert_close(block(x), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("prenorm", [False, True])
@pytest.mark.parametrize("make_layer", [lambda: s4d(4), lambda: S4Dense(4, 5, seed=0, dtype=F64)])
def test_block_step_equals_forward_in_eval_mode(norm, prenorm, make_layer):
    block = SSMBlock(4, make_layer(), norm=norm, prenorm=prenorm, dropout=0.3, dtype=F64)
    block.train()
    block(torch.randn(5, 12, 4, dtype=F64))  # move the batch-norm running statistics away from (0, 1)
    block.eval()
    x = torch.randn(2, 15, 4, dtype=F64)
    torch.testing.assert_close(recurrent_outputs(block, x), block(x), rtol=0, atol=1e-10)


def test_block_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown norm 'group'; valid choices: batch, layer, none"):
        SSMBlock(4, s4d(4), norm="group")
    with pytest.raises(ValueError, match="layer has d_model=4 but the block has d_model=8"):
        SSMBlock(8, s4d(4))
    with pytest.raises(ValueError, match="dropout must be in"):
        SSMBlock(4, s4d(4), dropout=1.0)


def test_classifier_builds_blocks_with_make_layer_and_pools():
    calls = []

    def make_layer(i):
        calls.append(i)
        return s4d(6, seed=i)

    model = SequenceClassifier(d_output=3, vocab_size=11, d_model=6, n_layers=3, make_layer=make_layer,
                               norm="layer", dtype=F64)
    assert calls == [0, 1, 2]
    layers = model.ssm_layers()
    assert len(layers) == 3 and all(isinstance(l, S4D) for l in layers)
    assert [l.log_dt[0].item() for l in layers] == [s4d(6, seed=i).log_dt[0].item() for i in range(3)]
    model.eval()
    x = torch.randint(0, 11, (2, 9))
    logits = model(x)
    assert logits.shape == (2, 3)
    features = model.tower(x)
    torch.testing.assert_close(logits, model.decoder(features.mean(1)))
    model.pooling = "last"
    torch.testing.assert_close(model(x), model.decoder(features[:, -1]))


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_lengths_pool_only_the_unpadded_steps(pooling):
    # causal layers: the first `length` features of a padded sequence are those of the unpadded one
    model = SequenceClassifier(d_output=2, d_input=3, d_model=4, n_layers=2, make_layer=lambda i: s4d(4, seed=i),
                               norm="layer", pooling=pooling, dtype=F64)
    x = torch.randn(2, 10, 3, dtype=F64)
    lengths = torch.tensor([6, 10])
    padded = x.clone()
    padded[0, 6:] = 7.0
    logits = model(padded, lengths)
    torch.testing.assert_close(logits[0], model(x[:1, :6])[0])
    torch.testing.assert_close(logits[1], model(x[1:])[0])


@pytest.mark.parametrize("layer", ["s4d", "s4"])
@pytest.mark.parametrize("norm, prenorm", [("layer", True), ("batch", False), ("none", False)])
def test_lengths_keep_padding_from_bidirectional_layers(layer, norm, prenorm):
    """A bidirectional layer reads ahead: padded steps are zeroed before it, so a padded sequence gives, in eval
    mode, exactly the logits it gives alone (they were 0.01-0.27 off)."""
    def make(i):
        return s4d(4, seed=i, bidirectional=True) if layer == "s4d" else S4Dense(4, 4, seed=i, bidirectional=True,
                                                                             dtype=F64)

    model = SequenceClassifier(d_output=3, vocab_size=5, d_model=4, n_layers=2, make_layer=make, norm=norm,
                               prenorm=prenorm, dtype=F64).eval()
    x = torch.randint(0, 5, (2, 8), generator=torch.Generator().manual_seed(0))
    logits = model(x, torch.tensor([8, 3]))
    torch.testing.assert_close(logits[1], model(x[1:, :3])[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(logits[0], model(x[:1])[0], rtol=0, atol=1e-12)
    dual = DualSequenceClassifier(d_output=2, vocab_size=5, d_model=4, n_layers=1, make_layer=make, norm=norm,
                                  prenorm=prenorm, dtype=F64).eval()
    pair = dual((x[1:], x[:1]), lengths=(torch.tensor([3]), None))
    torch.testing.assert_close(pair, dual((x[1:, :3], x[:1])), rtol=0, atol=1e-12)  # unequal shapes: two passes
    with pytest.raises(ValueError, match="unknown pooling 'max'"):
        pool(torch.zeros(1, 2, 3), "max")


def test_classifier_input_checks():
    make_layer = lambda i: s4d(4)  # noqa: E731
    with pytest.raises(ValueError, match="exactly one of d_input"):
        SequenceClassifier(d_output=2, d_model=4, n_layers=1, make_layer=make_layer)
    with pytest.raises(ValueError, match="exactly one of d_input"):
        SequenceClassifier(d_output=2, d_input=3, vocab_size=5, d_model=4, n_layers=1, make_layer=make_layer)
    with pytest.raises(ValueError, match="unknown pooling 'max'; valid choices: mean, last"):
        SequenceClassifier(d_output=2, d_input=3, d_model=4, n_layers=1, make_layer=make_layer, pooling="max")
    with pytest.raises(ValueError, match="d_output must be a positive integer, got 0"):
        SequenceClassifier(d_output=0, d_input=3, d_model=4, n_layers=1, make_layer=make_layer)
    model = SequenceClassifier(d_output=2, vocab_size=5, d_model=4, n_layers=1, make_layer=make_layer, dtype=F64)
    with pytest.raises(ValueError, match="integer tokens"):
        model(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"tokens must lie in \[0, vocab_size\) = \[0, 5\); got values from 0 to 5"):
        model(torch.tensor([[0, 5, 1]]))
    tokens = torch.randint(0, 5, (2, 3))
    for pooling in ("mean", "last"):
        model.pooling = pooling
        for lengths in ([0, 3], [9, 3]):
            with pytest.raises(ValueError, match=re.escape(f"lengths must lie in 1..L = 1..3; got {lengths}")):
                model(tokens, torch.tensor(lengths))
        with pytest.raises(ValueError, match=r"lengths must be integers of shape \(B,\) = \(2,\)"):
            model(tokens, torch.tensor([3]))
        torch.testing.assert_close(model(tokens, torch.tensor([3, 3])), model(tokens))  # full lengths = no lengths
    real = SequenceClassifier(d_output=2, d_input=3, d_model=4, n_layers=1, make_layer=make_layer, dtype=F64)
    with pytest.raises(ValueError, match=r"expected inputs of shape \(B, L, d_input=3\); got \(2, 5, 2\)"):
        real(torch.randn(2, 5, 2))


def test_dual_classifier_head_on_pair_features():
    model = DualSequenceClassifier(d_output=2, vocab_size=7, d_model=4, n_layers=2,
                                   make_layer=lambda i: s4d(4, seed=i, bidirectional=True), dtype=F64)
    model.eval()
    x1, x2 = torch.randint(0, 7, (3, 8)), torch.randint(0, 7, (3, 8))
    a, b = model.tower(x1).mean(1), model.tower(x2).mean(1)
    expected = model.head(torch.cat([a, b, a - b, a * b], -1))
    torch.testing.assert_close(model((x1, x2)), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(model(x1, x2), expected, rtol=1e-12, atol=1e-12)
    # different lengths go through the tower separately
    x3 = torch.randint(0, 7, (3, 5))
    a3 = model.tower(x3).mean(1)
    torch.testing.assert_close(model(x1, x3), model.head(torch.cat([a, a3, a - a3, a * a3], -1)))
    with pytest.raises(ValueError, match="two sequences"):
        model(x1)


def test_dual_classifier_lengths_keep_the_shared_batch_statistics():
    """In training (batch norm), full lengths give the lengths-free result: both sequences share one pass."""
    model = DualSequenceClassifier(d_output=2, vocab_size=7, d_model=4, n_layers=2, norm="batch",
                                   make_layer=lambda i: s4d(4, seed=i, bidirectional=True), dtype=F64)
    model.train()
    x1, x2 = torch.randint(0, 7, (3, 8)), torch.randint(0, 7, (3, 8))
    full = torch.full((3,), 8)
    expected = model(x1, x2)
    torch.testing.assert_close(model(x1, x2, lengths=(full, full)), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(model(x1, x2, lengths=(None, full)), expected, rtol=1e-12, atol=1e-12)
    short = torch.tensor([8, 5, 2])
    valid = torch.cat([torch.ones(3, 8, dtype=torch.bool), valid_steps(short, 3, 8, short.device)])
    features = model.tower(torch.cat([x1, x2]), valid)  # one pass, the padding kept from the layers
    b = pool(features[3:], "mean", short)
    a = features[:3].mean(1)
    torch.testing.assert_close(model(x1, x2, lengths=(None, short)), model.head(torch.cat([a, b, a - b, a * b], -1)))
    with pytest.raises(ValueError, match=r"shape \(B,\) = \(3,\)"):
        model(x1, x2, lengths=(torch.tensor([8, 8]), None))


def causal_model(**kw) -> CausalSequenceModel:
    args = dict(d_output=3, d_input=2, d_model=4, n_layers=2, make_layer=lambda i: s4d(4, seed=i), dtype=F64)
    args.update(kw)
    return CausalSequenceModel(**args)


def test_causal_model_output_does_not_depend_on_the_future():
    model = causal_model()  # training mode: layer norm never mixes time steps
    x = torch.randn(2, 20, 2, dtype=F64)
    y = model(x)
    assert y.shape == (2, 20, 3)
    changed = x.clone()
    changed[:, 12:] = torch.randn(2, 8, 2, dtype=F64)
    y_changed = model(changed)
    torch.testing.assert_close(y_changed[:, :12], y[:, :12], rtol=0, atol=1e-12)
    assert (y_changed[:, 12:] - y[:, 12:]).abs().min() > 0


@pytest.mark.parametrize("vocab", [False, True])
def test_causal_model_step_equals_forward(vocab):
    if vocab:
        model = causal_model(d_input=None, vocab_size=9, make_layer=lambda i: S4Dense(4, 5, seed=i, dtype=F64))
        x = torch.randint(0, 9, (2, 16))
    else:
        model = causal_model(prenorm=False)
        x = torch.randn(2, 16, 2, dtype=F64)
    model.eval()
    torch.testing.assert_close(recurrent_outputs(model, x), model(x), rtol=0, atol=1e-10)


def test_causal_model_rejects_non_causal_parts():
    with pytest.raises(ValueError, match="unidirectional layers; the layer of block 0 is bidirectional"):
        causal_model(make_layer=lambda i: s4d(4, bidirectional=True))
    with pytest.raises(ValueError, match="norm='layer' or 'none'"):
        causal_model(norm="batch")
