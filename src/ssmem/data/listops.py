"""ListOps (Nangia & Bowman 2018, as used by the Long Range Arena): generator, tokenizer, release reader.

An expression is a tree whose leaves are digits 0-9 and whose nodes apply MIN, MAX, MED (integer median)
or SM (sum mod 10) to 2-``max_args`` arguments. Generation follows the LRA specification: starting at
depth 1, a node is a leaf with probability ``leaf_prob`` (always at ``max_depth``), otherwise an operator
with a uniform number of arguments in [2, max_args]; a tree's length counts its operator, digit and ``]``
tokens, and only trees with ``min_length < length < max_length`` are kept. The label is the value of the
tree (10 classes).

Release format (``listops-1000/basic_{train,val,test}.tsv``, header ``Source\\tTarget``): the source
string brackets every application in parentheses, e.g. ``( ( ( [MAX 2 ) 9 ) ] )``; the tokenizer drops
the parentheses. Token ids: 0 = padding, 1-10 = digits 0-9, then ``[MIN [MAX [MED [SM ]``.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._cache import cached, file_fingerprint
from ._checks import check_at_least, check_choice, check_drawn_sizes, check_probability, check_subsets
from ._datasets import TokenDataset, majority_chance
from ._params import CacheParams, ReleaseParams, SplitSizeParams
from ._progress import item_bar
from ._errors import DataNotFoundError, MalformedDataError
from ._sources import Availability, candidate_dirs, data_seed_of, first_dir_with, register_availability
from .task import SPLITS, TaskData, TaskInfo, register_task

OPERATORS = ("[MIN", "[MAX", "[MED", "[SM")
END = "]"
PAD = 0
VOCAB: tuple[str, ...] = ("<pad>", *(str(d) for d in range(10)), *OPERATORS, END)
TOKEN_IDS = {token: i for i, token in enumerate(VOCAB)}
SOURCES = ("generate", "release")

Tree = int | tuple[str, list["Tree"]]


def generate_tree(rng: random.Random, *, max_depth: int = 10, max_args: int = 10, leaf_prob: float = 0.75, depth: int = 1,
                  budget: int | None = None) -> tuple[Tree, int]:
    """A random expression tree and its length in tokens (operators, digits and ``]``).

    With ``budget``, drawing stops as soon as the length reaches it (the tree is then incomplete and its length
    ≥ ``budget``: a caller rejecting such trees never builds them whole; a small ``leaf_prob`` would otherwise
    grow trees of millions of tokens)."""
    if depth >= max_depth or rng.random() < leaf_prob:
        return rng.randrange(10), 1
    n_args = rng.randint(2, max_args)
    op = OPERATORS[rng.randrange(len(OPERATORS))]
    args, length = [], 2
    for _ in range(n_args):
        if budget is not None and length >= budget:
            break
        child, child_len = generate_tree(rng, max_depth=max_depth, max_args=max_args, leaf_prob=leaf_prob,
                                         depth=depth + 1, budget=None if budget is None else budget - length)
        args.append(child)
        length += child_len
    return (op, args), length


def evaluate(tree: Tree) -> int:
    """The value of an expression tree (0-9)."""
    if isinstance(tree, int):
        return tree
    op, args = tree
    values = [evaluate(a) for a in args]
    if op == "[MIN":
        return min(values)
    if op == "[MAX":
        return max(values)
    if op == "[MED":
        return int(np.median(values))
    return sum(values) % 10


def to_tokens(tree: Tree) -> list[str]:
    """The token sequence of a tree (no parentheses): ``[MAX 2 9 ]``."""
    if isinstance(tree, int):
        return [str(tree)]
    op, args = tree
    out = [op]
    for arg in args:
        out += to_tokens(arg)
    out.append(END)
    return out


def to_source(tree: Tree) -> str:
    """The release-format string of a tree: ``( ( ( [MAX 2 ) 9 ) ] )``."""
    if isinstance(tree, int):
        return str(tree)
    op, args = tree
    text = f"( {op} {to_source(args[0])} )"
    for arg in args[1:]:
        text = f"( {text} {to_source(arg)} )"
    return f"( {text} {END} )"


def depth_of(tree: Tree) -> int:
    """Depth of a tree (a leaf alone has depth 1)."""
    if isinstance(tree, int):
        return 1
    return 1 + max(depth_of(a) for a in tree[1])


def tokenize(source: str) -> list[int]:
    """Token ids of a release-format (or plain token) string; parentheses are dropped."""
    ids = []
    for token in source.replace("(", " ").replace(")", " ").split():
        if token not in TOKEN_IDS or token == VOCAB[PAD]:
            raise ValueError(f"unknown ListOps token {token!r}; valid tokens: {' '.join(VOCAB[1:])}")
        ids.append(TOKEN_IDS[token])
    return ids


def encode(sequences: list[list[int]], seq_len: int) -> np.ndarray:
    """Pad token-id lists with 0 (or truncate) to ``seq_len``: uint8 ``(n, seq_len)``."""
    out = np.full((len(sequences), seq_len), PAD, dtype=np.uint8)
    for i, ids in enumerate(sequences):
        ids = ids[:seq_len]
        out[i, : len(ids)] = ids
    return out


def longest_tree(*, max_depth: int, max_args: int, leaf_prob: float) -> int:
    """The most tokens a generated tree can have (every node above ``max_depth`` an operator with ``max_args``)."""
    if leaf_prob >= 1.0:
        return 1
    length = 1
    for _ in range(max_depth - 1):
        length = 2 + max_args * length
    return length


def generate(
    n: int, rng: random.Random, *, min_length: int, max_length: int, max_depth: int, max_args: int, leaf_prob: float,
    max_misses: int = 20_000,
) -> list[Tree]:
    """``n`` trees with ``min_length < length < max_length``, by rejection.

    Raises ``ValueError`` after ``max_misses`` draws in a row outside the range (at the LRA settings about 8% of
    the draws are kept, so 20,000 misses in a row mean a chance below 1e-700 there: the range is out of the
    generator's reach). Draws stop growing a tree once it reaches ``max_length`` (rejected anyway)."""
    trees: list[Tree] = []
    misses = 0
    with item_bar(n, "listops trees", "tree") as bar:
        while len(trees) < n:
            tree, length = generate_tree(rng, max_depth=max_depth, max_args=max_args, leaf_prob=leaf_prob,
                                         budget=max_length)
            if min_length < length < max_length:
                trees.append(tree)
                bar.update(1)
                misses = 0
                continue
            misses += 1
            if misses >= max_misses:
                raise ValueError(
                    f"no ListOps tree with {min_length} < length < {max_length} in {max_misses} draws "
                    f"(max_depth={max_depth}, max_args={max_args}, leaf_prob={leaf_prob}); widen the length range, "
                    "or change the depth, arguments or leaf probability"
                )
    return trees


@dataclass
class ListOpsParams(SplitSizeParams, ReleaseParams, CacheParams):
    """ListOps: sizes, the generator's specification, and where a release lives.

    ``source``: "generate" (ssmem's generator) or "release" (``basic_{train,val,test}.tsv`` under
    ``release_dir``, else ``<data_dir>/listops-1000``, else ``$SSMEM_DATA/listops-1000``). For a release,
    ``n_*`` = 0 keeps every row, otherwise the first ``n_*`` rows. Sequences are padded/truncated to ``seq_len``.
    """

    source: str = "generate"
    seq_len: int = 2048
    n_train: int = 96000
    n_val: int = 2000
    n_test: int = 2000
    min_length: int = 500
    max_length: int = 2000
    max_depth: int = 10
    max_args: int = 10
    leaf_prob: float = 0.75

    def __post_init__(self) -> None:
        check_choice(self, "source", SOURCES)
        check_at_least(self, 1, "seq_len", "max_depth")
        check_at_least(self, 0, "min_length")
        check_at_least(self, 2, "max_args")
        check_probability(self, "leaf_prob")
        check_subsets(self)
        if self.source != "generate":
            return
        check_drawn_sizes(self, "source='generate'")
        if self.max_length < self.min_length + 2:
            raise ValueError(
                f"ListOps keeps trees with min_length < length < max_length: max_length ({self.max_length}) must be "
                f"at least min_length + 2 = {self.min_length + 2}"
            )
        if self.max_length > self.seq_len + 1:
            raise ValueError(f"ListOps max_length {self.max_length} exceeds seq_len + 1 = {self.seq_len + 1}")
        longest = longest_tree(max_depth=self.max_depth, max_args=self.max_args, leaf_prob=self.leaf_prob)
        if longest <= self.min_length:
            raise ValueError(
                f"ListOps trees have at most {longest} tokens at max_depth={self.max_depth}, max_args={self.max_args}, "
                f"leaf_prob={self.leaf_prob}: none is longer than min_length={self.min_length}"
            )


_LAYOUT = "  <dir>/basic_train.tsv, basic_val.tsv, basic_test.tsv  (tab-separated, header 'Source<TAB>Target')"
_OBTAIN = (
    "the Long Range Arena release (lra_release/listops-1000); or use source='generate', which builds "
    "ListOps with ssmem's generator."
)


def _release_dir(params: ListOpsParams, data_dir: Path | None) -> Path:
    candidates = candidate_dirs(params.release_dir, data_dir, "listops-1000")
    found = first_dir_with(candidates, lambda d: all((d / f"basic_{s}.tsv").is_file() for s in SPLITS))
    if found is None:
        raise DataNotFoundError("ListOps release", candidates, _LAYOUT, _OBTAIN)
    return found


def read_release_tsv(path: Path, limit: int = 0) -> tuple[list[list[int]], np.ndarray]:
    """Token-id lists and labels from one release TSV (``limit`` > 0 keeps the first rows)."""
    sequences, labels = [], []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != ["Source", "Target"]:
            raise MalformedDataError(path, f"expected the header 'Source<TAB>Target', found {header!r}")
        for line, row in enumerate(reader, start=2):
            if limit and len(labels) >= limit:
                break
            if len(row) < 2:
                raise MalformedDataError(path, f"line {line} has {len(row)} column(s), expected 2")
            try:
                sequences.append(tokenize(row[0]))
                label = int(row[1])
            except ValueError as err:
                raise MalformedDataError(path, f"line {line}: {err}") from None
            if not 0 <= label <= 9:
                raise MalformedDataError(path, f"line {line}: label {label} is not a digit 0-9")
            labels.append(label)
    if not labels:
        raise MalformedDataError(path, "no expressions below the header")
    return sequences, np.asarray(labels, dtype=np.int64)


def _build_arrays(params: ListOpsParams, data_seed: int, data_dir: Path | None) -> dict[str, np.ndarray]:
    arrays = {}
    if params.source == "release":
        folder = _release_dir(params, data_dir)
        for split in SPLITS:
            seqs, labels = read_release_tsv(folder / f"basic_{split}.tsv", getattr(params, f"n_{split}"))
            arrays[f"{split}_x"], arrays[f"{split}_y"] = encode(seqs, params.seq_len), labels
        return arrays
    for split in SPLITS:
        trees = generate(
            getattr(params, f"n_{split}"),
            random.Random(f"listops:{data_seed}:{split}"),  # a stream per split: the test set does not move with n_train
            min_length=params.min_length,
            max_length=params.max_length,
            max_depth=params.max_depth,
            max_args=params.max_args,
            leaf_prob=params.leaf_prob,
        )
        arrays[f"{split}_x"] = encode([[TOKEN_IDS[t] for t in to_tokens(tree)] for tree in trees], params.seq_len)
        arrays[f"{split}_y"] = np.asarray([evaluate(t) for t in trees], dtype=np.int64)
    return arrays


def listops_info(params: ListOpsParams) -> TaskInfo:
    """What a model needs to know, without generating or reading data (``chance`` unknown: None)."""
    return TaskInfo(
        objective="classification",
        seq_len=params.seq_len,
        d_output=10,
        vocab_size=len(VOCAB),
        extra={"vocab": list(VOCAB), "pad_index": PAD, "source": params.source},
    )


@register_task("lra/listops", ListOpsParams, "ListOps: value of a nested MIN/MAX/MED/SM expression (10 classes, L = 2048)", info=listops_info)
def build_listops(params: ListOpsParams, *, seed: int, data_dir: Path | None) -> TaskData:
    data_seed = data_seed_of(params, seed)
    extra = None
    if params.source == "release":
        folder = _release_dir(params, data_dir)
        extra = file_fingerprint(folder / f"basic_{s}.tsv" for s in SPLITS)
    arrays = cached("lra/listops", params, data_seed, lambda: _build_arrays(params, data_seed, data_dir), extra=extra)
    splits = {s: TokenDataset(arrays[f"{s}_x"], arrays[f"{s}_y"]) for s in SPLITS}
    info = TaskInfo(
        objective="classification",
        seq_len=params.seq_len,
        d_output=10,
        vocab_size=len(VOCAB),
        chance=majority_chance(arrays["train_y"], arrays["test_y"]),
        extra={"vocab": list(VOCAB), "pad_index": PAD, "source": params.source},
    )
    return TaskData(info=info, **splits)


@register_availability("lra/listops")
def _available(params: ListOpsParams, data_dir: Path | None) -> Availability:
    if params.source != "release":
        return Availability(True, "generated by ssmem")
    try:
        return Availability(True, f"release at {_release_dir(params, data_dir)}")
    except DataNotFoundError:
        return Availability(False, "release not found (see `ssmem data lra/listops`); source='generate' needs no files")
