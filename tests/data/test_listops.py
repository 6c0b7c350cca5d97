import random
from collections import Counter

import numpy as np
import pytest
import torch

from ssmem.data import build_task
from ssmem.data._errors import DataNotFoundError, MalformedDataError
from ssmem.data.listops import VOCAB, ListOpsParams, generate_tree, to_source, to_tokens, tokenize


def evaluate_source(source: str) -> tuple[int, int]:
    """Independent evaluator of a release-format string: (value, depth), by a stack over its tokens."""
    stack: list[list] = []
    value, depth = None, 0
    for token in source.replace("(", " ").replace(")", " ").split():
        if token.startswith("["):
            stack.append([token])
            depth = max(depth, len(stack))
        elif token == "]":
            op, *args = stack.pop()
            if op == "[MIN":
                result = min(args)
            elif op == "[MAX":
                result = max(args)
            elif op == "[MED":
                ordered = sorted(args)
                n = len(ordered)
                # integer median: the middle value, or the floor of the mean of the two middle values
                result = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) // 2
            else:
                result = sum(args) % 10
            if stack:
                stack[-1].append(result)
            else:
                value = result
        else:
            digit = int(token)
            if stack:
                stack[-1].append(digit)
            else:
                value, depth = digit, max(depth, 0)
    assert not stack
    return value, depth + 1  # leaves sit one level below the deepest operator


def small_params(**kw):
    base = dict(n_train=120, n_val=20, n_test=20)
    base.update(kw)
    return ListOpsParams(**base)


def decode(x) -> str:
    return " ".join(VOCAB[i] for i in x.tolist() if i != 0)


def test_labels_agree_with_independent_evaluator_and_lengths_follow_spec():
    data = build_task("lra/listops", small_params(), seed=0)
    assert data.info.vocab_size == 16 and data.info.d_output == 10 and data.info.seq_len == 2048
    depths = []
    for split in (data.train, data.val, data.test):
        for i in range(len(split)):
            x, y = split[i]
            text = decode(x)
            value, depth = evaluate_source(text)
            assert value == int(y)
            n_tokens = int((x != 0).sum())
            assert 500 < n_tokens < 2000  # LRA keeps 500 < length < 2000
            assert depth <= 10
            depths.append(depth)
    # long trees need depth: the spec's trees of 500-2000 tokens reach depth >= 5
    assert min(depths) >= 5
    labels = np.concatenate([[int(data.train[i][1]) for i in range(len(data.train))]])
    assert len(set(labels.tolist())) >= 6  # many classes occur


def test_generator_follows_the_node_distribution():
    rng = random.Random(1)
    n_leaf_shallow = n_node = 0
    arity = Counter()
    deep_ops = 0
    for _ in range(3000):
        tree, length = generate_tree(rng)
        assert length == len(to_tokens(tree))
        stack = [(tree, 1)]
        while stack:
            node, depth = stack.pop()
            if isinstance(node, int):
                if depth < 10:
                    n_leaf_shallow += 1
                continue
            if depth >= 10:
                deep_ops += 1
            n_node += 1
            arity[len(node[1])] += 1
            stack += [(child, depth + 1) for child in node[1]]
    assert deep_ops == 0  # depth 10 is always a leaf
    p_leaf = n_leaf_shallow / (n_leaf_shallow + n_node)
    assert abs(p_leaf - 0.75) < 0.01
    freq = np.array([arity[k] for k in range(2, 11)]) / n_node
    assert set(arity) == set(range(2, 11))
    assert np.all(np.abs(freq - 1 / 9) < 0.015)


def test_release_strings_round_trip_through_the_tokenizer():
    rng = random.Random(3)
    for _ in range(50):
        tree, _ = generate_tree(rng, max_depth=5)
        source = to_source(tree)
        assert tokenize(source) == [VOCAB.index(t) for t in to_tokens(tree)]
        assert evaluate_source(source)[0] == build_value(tree)


def build_value(tree):
    from ssmem.data.listops import evaluate

    return evaluate(tree)


def write_release(folder, rows_per_split):
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in rows_per_split.items():
        lines = ["Source\tTarget"] + [f"{s}\t{t}" for s, t in rows]
        (folder / f"basic_{split}.tsv").write_text("\n".join(lines) + "\n")


def test_release_reader(tmp_path):
    rows = {
        "train": [("( ( ( [MAX 2 ) 9 ) ] )", 9), ("( ( ( [SM 5 ) 7 ) ] )", 2)],
        "val": [("( ( ( [MIN 4 ) 1 ) ] )", 1)],
        "test": [("( ( ( ( [MED 1 ) 3 ) 8 ) ] )", 3)],
    }
    write_release(tmp_path / "listops-1000", rows)
    data = build_task("lra/listops", ListOpsParams(source="release", seq_len=16, n_train=0, n_val=0, n_test=0), data_dir=tmp_path)
    assert len(data.train) == 2 and len(data.val) == 1 and len(data.test) == 1
    x, y = data.train[0]
    assert decode(x) == "[MAX 2 9 ]" and int(y) == 9
    for split in (data.train, data.val, data.test):
        for i in range(len(split)):
            x, y = split[i]
            assert evaluate_source(decode(x))[0] == int(y)


def test_release_missing_and_malformed(tmp_path):
    with pytest.raises(DataNotFoundError, match="basic_train.tsv"):
        build_task("lra/listops", ListOpsParams(source="release"), data_dir=tmp_path)
    with pytest.raises(DataNotFoundError, match=r"no folder given: set \$SSMEM_DATA .* --data-dir DIR .* release_dir=DIR"):
        build_task("lra/listops", ListOpsParams(source="release"))  # nowhere to look: say how to point at it
    write_release(tmp_path / "bad", {"train": [("( [MAX 2 [FOO ] )", 2)], "val": [], "test": []})
    with pytest.raises(MalformedDataError, match=r"basic_train.tsv.*\[FOO"):
        build_task("lra/listops", ListOpsParams(source="release", release_dir=str(tmp_path / "bad")))
    (tmp_path / "bad" / "basic_train.tsv").write_text("Source\tTarget\n( [MAX 2 3 ] )\t3\n")
    with pytest.raises(MalformedDataError, match=r"basic_val.tsv: no expressions below the header"):
        build_task("lra/listops", ListOpsParams(source="release", release_dir=str(tmp_path / "bad"), cache=False))
    (tmp_path / "bad" / "basic_train.tsv").write_text("Input\tLabel\n1\t1\n")
    with pytest.raises(MalformedDataError, match="header"):
        build_task("lra/listops", ListOpsParams(source="release", release_dir=str(tmp_path / "bad")))


def test_bad_source_is_named():
    with pytest.raises(ValueError, match="'download'.*generate, release"):
        build_task("lra/listops", ListOpsParams(source="download"))


def test_a_tree_stops_growing_at_its_budget():
    """leaf_prob = 0 grows trees of millions of tokens: with a budget the draw stops once it is exceeded."""
    tree, length = generate_tree(random.Random(0), leaf_prob=0.0, budget=100)
    assert 100 <= length < 100 + 12  # at most one more argument than the budget allows
    full, full_length = generate_tree(random.Random(3), leaf_prob=0.75)
    assert generate_tree(random.Random(3), leaf_prob=0.75, budget=10**9) == (full, full_length)
    with pytest.raises(ValueError, match=r"no ListOps tree with 10 < length < 100 in 20000 draws .*leaf_prob=0.0"):
        build_task("lra/listops", ListOpsParams(n_train=2, n_val=1, n_test=1, leaf_prob=0.0, seq_len=128, min_length=10,
                                                max_length=100, cache=False))


def test_generated_splits_are_drawn_apart():
    """Each split has its own stream (the test set does not move with n_train); sizes of 0 are refused."""
    def test_tokens(n_train):
        params = ListOpsParams(n_train=n_train, n_val=5, n_test=20, seq_len=128, min_length=10, max_length=100, cache=False)
        return build_task("lra/listops", params).test.tokens

    assert torch.equal(test_tokens(50), test_tokens(60))
    with pytest.raises(ValueError, match=r"n_val must be >= 1 for source='generate' \(the split is drawn"):
        ListOpsParams(n_val=0)
