"""Task parameters are checked where they are made: a bad value names the field and what is allowed, before any
data is read or generated (so ``ssmem validate`` and recipe overrides catch it too)."""

import random

import pytest

from ssmem.data import TASKS, build_task, task_info
from ssmem.data.listops import ListOpsParams, generate, generate_tree, longest_tree
from ssmem.train import ConfigError, load_recipe

BAD_PARAMS = [
    ("memory/delay", {"seq_len": 0}, r"seq_len must be a number >= 1, got 0"),
    ("memory/delay", {"n_train": -5}, r"n_train must be a number >= 1, got -5"),
    ("memory/delay", {"delays": 5}, r"delays must be a list of delays, got 5"),
    ("memory/delay", {"delays": ()}, r"delays must name at least one delay"),
    ("memory/delay", {"delays": (1.5,)}, r"every delay must lie in \[0, seq_len\) = \[0, 256\) and be an integer"),
    ("memory/copy", {"n_symbols": 1}, r"n_symbols must be a number >= 2, got 1"),
    ("memory/adding", {"seq_len": 1}, r"seq_len must be a number >= 2, got 1"),
    ("lra/image", {"n_train": -1}, r"n_train must be a number >= 0, got -1"),
    ("lra/image", {"dataset": "svhn"}, r"dataset 'svhn' is not one of: cifar10, mnist, fashion-mnist, digits"),
    ("lra/text", {"seq_len": 0}, r"seq_len must be a number >= 1, got 0"),
    ("lra/text", {"label": "author"}, r"label 'author' is not one of: work, group"),
    ("lra/text", {"source": "web"}, r"source 'web' is not one of: corpus, imdb"),
    ("lra/retrieval", {"source": "web"}, r"source 'web' is not one of: corpus, aan"),
    ("lra/retrieval", {"data_seed": -1}, r"data_seed must be a number >= 0, got -1"),
    ("lm/bytes", {"val_fraction": -0.1}, r"val_fraction must lie in \(0, 1\) .*, got -0.1"),
    ("lm/bytes", {"val_fraction": 1.5}, r"val_fraction must lie in \(0, 1\) .*, got 1.5"),
    ("lm/bytes", {"test_fraction": 0}, r"test_fraction must lie in \(0, 1\) \(every run validates and tests on its own split\), got 0"),
    ("lm/bytes", {"val_fraction": 0.5, "test_fraction": 0.5}, r"val_fraction \+ test_fraction must be < 1"),
    ("lm/bytes", {"seq_len": 0}, r"seq_len must be a number >= 1, got 0"),
    ("forecast/series", {"horizon": 0}, r"horizon must be a number >= 1, got 0"),
    ("lra/pathfinder", {"n_distractors": -1}, r"n_distractors must be a number >= 0, got -1"),
    ("lra/pathfinder", {"contour_length": 0}, r"contour_length must be a number >= 1, got 0"),
    ("lra/pathfinder", {"max_turn_degrees": 270.0}, r"max_turn_degrees must lie in \[0, 180\], got 270.0"),
    ("lra/pathx", {"source": "web"}, r"source 'web' is not one of: generate, release"),
    ("lra/listops", {"min_length": 100, "max_length": 50}, r"max_length \(50\) must be at least min_length \+ 2 = 102"),
    ("lra/listops", {"leaf_prob": 2.0}, r"leaf_prob must lie in \[0, 1\], got 2.0"),
    ("lra/listops", {"max_args": 0}, r"max_args must be a number >= 2, got 0"),
    ("lra/listops", {"max_length": 3000}, r"max_length 3000 exceeds seq_len \+ 1 = 2049"),
    ("lra/listops", {"max_depth": 2, "max_args": 3}, r"at most 5 tokens .* none is longer than min_length=500"),
    ("lra/listops", {"leaf_prob": 1.0}, r"at most 1 tokens"),
    ("lra/listops", {"n_test": 0}, r"n_test must be >= 1 for source='generate' \(the split is drawn: 0 would leave"),
    ("lra/pathfinder", {"n_val": 0}, r"n_val must be >= 1 for source='generate'"),
    ("lra/retrieval", {"n_val": 0}, r"n_val must be >= 1 for source='corpus' \(pairs are drawn\)"),
]


@pytest.mark.parametrize("task, values, message", BAD_PARAMS, ids=[f"{t}-{'-'.join(v)}" for t, v, _ in BAD_PARAMS])
def test_bad_values_fail_when_the_params_are_made(task, values, message):
    params_cls = TASKS.get(task).params_cls
    with pytest.raises(ValueError, match=message):
        params_cls(**values)


@pytest.mark.parametrize(
    "recipe, override, message",
    [
        ("lra/listops-cpu", ["task.params.min_length=300", "task.params.max_length=100"], r"task.params: .*max_length \(100\)"),
        ("memory/delay", ["task.params.seq_len=0"], r"task.params: seq_len must be a number >= 1, got 0"),
        ("memory/delay", ["task.params.n_train=-5"], r"task.params: n_train must be a number >= 1, got -5"),
    ],
)
def test_recipe_overrides_with_bad_task_values_are_config_errors(recipe, override, message):
    with pytest.raises(ConfigError, match=message):
        load_recipe(recipe, override)


def test_fields_changed_after_construction_are_checked_by_build_and_info():
    params = ListOpsParams(n_train=2, n_val=2, n_test=2)
    params.min_length, params.max_length = 300, 100  # would leave the rejection sampler nothing to keep
    with pytest.raises(ValueError, match=r"max_length \(100\) must be at least min_length \+ 2"):
        build_task("lra/listops", params)
    with pytest.raises(ValueError, match=r"max_length \(100\)"):
        task_info("lra/listops", params)
    with pytest.raises(TypeError, match="task 'lra/listops' takes ListOpsParams parameters, got dict"):
        build_task("lra/listops", {"min_length": 3})


def test_longest_tree_is_the_generators_maximum():
    # depth ≤ 3 with 3 arguments: the full tree [OP [OP d d d ] ×3 ] has 2 + 3·(2 + 3·1) = 17 tokens
    assert longest_tree(max_depth=3, max_args=3, leaf_prob=0.0) == 17
    assert longest_tree(max_depth=1, max_args=10, leaf_prob=0.0) == 1
    rng = random.Random(0)
    lengths = [generate_tree(rng, max_depth=3, max_args=3, leaf_prob=0.0)[1] for _ in range(2000)]
    assert max(lengths) == 17  # reached (each of the 4 operators draws 3 arguments w.p. 1/2)


def test_an_out_of_reach_length_range_raises_instead_of_looping():
    # valid settings on paper, but trees longer than 60 tokens are far too rare at leaf_prob 0.99
    with pytest.raises(ValueError, match=r"no ListOps tree with 60 < length < 100 in 500 draws"):
        generate(1, random.Random(0), min_length=60, max_length=100, max_depth=10, max_args=10, leaf_prob=0.99, max_misses=500)
