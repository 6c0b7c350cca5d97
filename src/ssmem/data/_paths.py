"""Task parameters that name files or folders, made absolute: a configuration saved by one run works from any
directory, and the cache keys one data set by one name however it was given."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

FOLDER_PARAMS = ("release_dir", "cache_dir")  # always paths when set
# the data sets shipped with ssmem, by parameter: a value that names one is a name, not a path (the readers
# register theirs where they define them)
SHIPPED: dict[str, set[str]] = {"corpus": set(), "series": set()}


def register_shipped(param: str, names) -> None:
    """Declare ``names`` shipped values of the task parameter ``param`` (``"corpus"`` or ``"series"``)."""
    SHIPPED[param].update(names)


def absolute(path: str) -> str:
    """``path`` with ``~`` expanded, made absolute and resolved."""
    return str(Path(path).expanduser().resolve())


def with_absolute_data_paths(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` (a task's parameters, plain) with ``release_dir`` and ``cache_dir`` absolute, and a ``corpus``
    (each ``+``-joined part) or ``series`` that names an existing file or folder rather than a shipped data set
    (the readers take a shipped name first)."""
    def on_disk(value: str, shipped) -> bool:
        return value not in shipped and os.path.exists(os.path.expanduser(value))

    out = dict(params)
    for key in FOLDER_PARAMS:
        if isinstance(out.get(key), str) and out[key]:
            out[key] = absolute(out[key])
    corpus = out.get("corpus")
    if isinstance(corpus, str) and corpus:
        if on_disk(corpus, SHIPPED["corpus"]):  # an existing path is one corpus, '+' or not
            out["corpus"] = absolute(corpus)
        else:
            parts = [part.strip() for part in corpus.split("+")]
            out["corpus"] = "+".join(absolute(p) if p and on_disk(p, SHIPPED["corpus"]) else p for p in parts)
    series = out.get("series")
    if isinstance(series, str) and series and on_disk(series, SHIPPED["series"]):
        out["series"] = absolute(series)
    return out
