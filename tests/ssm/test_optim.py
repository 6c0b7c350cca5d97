"""Optimizer groups and parameter counts."""

import pytest
import torch

from ssmem.ssm import S4Dense, S4D, ParameterCounts, SequenceClassifier, SSMBlock, build_optimizer, count_parameters


def classifier(train: str = "all", layer=S4D, **kw) -> SequenceClassifier:
    def make_layer(i):
        if layer is S4D:
            return S4D(8, 4, seed=i, train=train, **kw)
        return S4Dense(8, 4, seed=i, train=train, **kw)

    return SequenceClassifier(d_output=3, d_input=2, d_model=8, n_layers=2, make_layer=make_layer)


@pytest.mark.parametrize("layer", [S4D, S4Dense])
@pytest.mark.parametrize("train", ["all", "reservoir", "readout"])
def test_groups_hold_exactly_the_right_tensors(layer, train):
    model = classifier(train, layer)
    optimizer, counts = build_optimizer(model, lr=0.01, weight_decay=0.05, ssm_lr=1e-3)
    groups = {g["name"]: g for g in optimizer.param_groups}
    assert list(groups) == ["ssm", "main"]
    expected_ssm = {"all": ("log_dt", "log_A_real", "A_imag", "B") if layer is S4D else ("A", "log_dt", "B"),
                    "reservoir": ("B",), "readout": ()}[train]
    named = dict(model.named_parameters())
    ssm_names = {f"tower.blocks.{i}.layer.{n}" for i in range(2) for n in expected_ssm}
    assert {id(p) for p in groups["ssm"]["params"]} == {id(named[n]) for n in ssm_names}
    assert {id(p) for p in groups["main"]["params"]} == {id(p) for n, p in named.items() if n not in ssm_names}
    assert (groups["ssm"]["lr"], groups["ssm"]["weight_decay"]) == (1e-3, 0.0)
    assert (groups["main"]["lr"], groups["main"]["weight_decay"]) == (0.01, 0.05)
    assert counts.ssm_trainable == sum(named[n].numel() for n in ssm_names)
    assert counts == count_parameters(model)


def test_reservoir_training_moves_everything_but_eigenvalues_and_steps():
    torch.manual_seed(0)
    model = classifier("reservoir")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer, _ = build_optimizer(model, lr=0.01)
    for _ in range(3):
        x, y = torch.randn(4, 12, 2), torch.randint(0, 3, (4,))
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    after = model.state_dict()
    for name in before:
        if name.endswith(("log_dt", "log_A_real", "A_imag")):
            assert torch.equal(before[name], after[name]), name
        elif not name.endswith("num_batches_tracked"):
            assert not torch.equal(before[name], after[name]), name


def test_readout_model_trains_with_an_empty_ssm_group():
    model = classifier("readout")
    optimizer, counts = build_optimizer(model, lr=0.01)
    assert len(optimizer.param_groups[0]["params"]) == 0 and counts.ssm_trainable == 0
    decoder_before = model.decoder.weight.clone()
    model(torch.randn(2, 6, 2)).sum().backward()
    optimizer.step()
    assert not torch.equal(decoder_before, model.decoder.weight)


def lra_block(train: str, bidirectional: bool = False) -> SSMBlock:
    return SSMBlock(256, S4D(256, 64, train=train, bidirectional=bidirectional, seed=0), norm="batch")


def test_pinned_counts_for_the_lra_layer_shape():
    H, n = 256, 32  # d_state N = 64
    layer = H + 2 * H * n + 2 * H * n + 2 * H * n + H  # Δ, A (re, im), B, C (complex as 2 reals), D
    glu = H * 2 * H + 2 * H
    norm = 2 * H
    total = layer + glu + norm
    assert total == 181_760

    counts = count_parameters(lra_block("all"))
    assert counts == ParameterCounts(total, 0, H + 2 * H * n + 2 * H * n, total, 0.0)

    frozen = H + 2 * H * n  # Δ and A
    counts = count_parameters(lra_block("reservoir"))
    assert counts == ParameterCounts(total - frozen, frozen, 2 * H * n, total, frozen / total)
    assert 0.09 < counts.frozen_fraction < 0.10  # the paper's "about 10 %"
    assert str(counts) == (
        "parameters: 181,760 total, 165,120 trainable (16,384 in the SSM group), 16,640 frozen (9.2%)"
    )

    frozen_readout = frozen + 2 * H * n + 2 * H * n
    counts = count_parameters(lra_block("readout"))
    assert (counts.trainable, counts.frozen, counts.ssm_trainable) == (total - frozen_readout, frozen_readout, 0)

    # bidirectional (every LRA task): a second C
    counts = count_parameters(lra_block("reservoir", bidirectional=True))
    assert counts.total == total + 2 * H * n and counts.frozen == frozen


def test_freeze_fraction_counts_the_frozen_modes():
    block = SSMBlock(8, S4D(8, 16, freeze_fraction=0.25, seed=0))
    counts = count_parameters(block)
    assert counts.frozen == 8 * 2 * 2 + 8  # 2 modes per channel (re, im) and each channel's step
    # the frozen modes' trainable copies are unused and not counted; each channel's frozen step is a value of
    # its own (its other modes keep training theirs)
    plain = count_parameters(SSMBlock(8, S4D(8, 16, seed=0)))
    assert counts.total == plain.total + 8 and counts.trainable == plain.trainable - 8 * 2 * 2
    assert counts.ssm_trainable == plain.ssm_trainable - 8 * 2 * 2


def test_freezing_every_mode_counts_like_the_reservoir():
    everything = count_parameters(S4D(2, 8, seed=0, freeze_fraction=1.0))
    reservoir = count_parameters(S4D(2, 8, seed=0, train="reservoir"))
    assert (everything.total, everything.frozen, everything.trainable) == (reservoir.total, reservoir.frozen, reservoir.trainable)
    assert everything.total == 2 * (1 + 4 + 4 + 8 + 8 + 1)  # log_dt, Re A, Im A, B, C (re, im), D
    # parameters frozen by hand are not trainable to begin with: nothing is subtracted twice
    layer = S4D(2, 8, seed=0, freeze_fraction=1.0).requires_grad_(False)
    counts = count_parameters(layer)
    assert counts.trainable == 0 and counts.ssm_trainable == 0 and counts.total == counts.frozen == 18


def test_bad_learning_rate():
    with pytest.raises(ValueError, match="lr must be >= 0, got -1"):
        build_optimizer(classifier(), lr=-1)


def test_gradient_norm_equals_the_norm_of_all_entries():
    from ssmem.ssm.optim import gradient_norm

    grads = [torch.tensor([3.0, 0.0]), torch.tensor([[4.0], [12.0]])]
    assert float(gradient_norm(grads)) == 13.0  # sqrt(9 + 16 + 144)
    assert float(gradient_norm([torch.tensor([float("inf")])])) == float("inf")
