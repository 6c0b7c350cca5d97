"""Value checks shared by the tasks' parameter dataclasses.

Each params dataclass runs them in ``__post_init__``, so a bad value fails where the parameters are made (a
recipe, ``ssmem validate``, a ``key=value`` override, or Python), before any data is read or generated, and
the error names the field, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._values import is_real
from ._chunks import LABELS

SPLIT_SIZES = ("n_train", "n_val", "n_test")


def check_at_least(params: Any, minimum: int | float, *names: str) -> None:
    """Every field in ``names`` is a number ``>= minimum``."""
    for name in names:
        value = getattr(params, name)
        if not is_real(value) or not value >= minimum:
            raise ValueError(f"{name} must be a number >= {minimum}, got {value!r}")


def check_choice(params: Any, name: str, choices: Iterable[Any]) -> None:
    """Field ``name`` is one of ``choices``."""
    choices = tuple(choices)
    value = getattr(params, name)
    if value not in choices:
        raise ValueError(f"{name} {value!r} is not one of: {', '.join(map(str, choices))}")


def check_probability(params: Any, name: str, *, below_one: bool = False) -> None:
    """Field ``name`` lies in ``[0, 1]`` (``[0, 1)`` with ``below_one``)."""
    value = getattr(params, name)
    if not is_real(value) or not (0.0 <= value and (value < 1.0 if below_one else value <= 1.0)):
        raise ValueError(f"{name} must lie in [0, 1{')' if below_one else ']'}, got {value!r}")


def check_split_fractions(params: Any) -> None:
    """``val_fraction`` and ``test_fraction`` in ``(0, 1)`` (training validates and tests on every task) and
    leaving a part to train on."""
    for name in ("val_fraction", "test_fraction"):
        value = getattr(params, name)
        if not is_real(value) or not 0.0 < value < 1.0:
            raise ValueError(f"{name} must lie in (0, 1) (every run validates and tests on its own split), got {value!r}")
    if params.val_fraction + params.test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 (the rest is the training split), "
            f"got {params.val_fraction} + {params.test_fraction}"
        )


def check_document_chunks(params: Any, sources: Iterable[str]) -> None:
    """The fields of the tasks that classify byte chunks of documents (text, retrieval): ``source`` among
    ``sources``, the class ``label``, ``max_classes``, ``seq_len``, the split fractions and subsets."""
    check_choice(params, "source", sources)
    check_choice(params, "label", LABELS)
    check_at_least(params, 0, "max_classes")
    check_at_least(params, 1, "seq_len")
    check_split_fractions(params)
    check_subsets(params)


def check_subsets(params: Any) -> None:
    """Split sizes that subsample (``n_*`` >= 0, 0 = keep all) and the data seed (None or >= 0)."""
    check_at_least(params, 0, *SPLIT_SIZES)
    check_data_seed(params)


def check_drawn_sizes(params: Any, what: str) -> None:
    """Split sizes of data that are drawn (generated, or pairs made): each ``n_*`` >= 1, since 0 cannot mean
    "keep all" there and would leave the split empty; ``what`` names the setting in the message."""
    for name in SPLIT_SIZES:
        value = getattr(params, name)
        if is_real(value) and value < 1:
            raise ValueError(f"{name} must be >= 1 for {what} (the split is drawn: 0 would leave it empty), got {value!r}")


def check_data_seed(params: Any) -> None:
    if params.data_seed is not None:
        check_at_least(params, 0, "data_seed")
