"""YAML files shipped with ssmem (recipes, sweep grids): named by their path under a directory, without ``.yaml``.

A user may always pass their own file instead: anything that ends in ``.yaml``/``.yml`` or is a file on disk is
taken as a path (a folder only when no shipped file has that name: ``ssmem train memory/delay --run-dir
memory/delay`` must not hide the recipe).
"""

from __future__ import annotations

import difflib
from pathlib import Path


def shipped_names(directory: Path) -> list[str]:
    """Names of the YAML files under ``directory`` (sub-directories become ``group/name``), sorted."""
    return sorted(p.relative_to(directory).with_suffix("").as_posix() for p in directory.rglob("*.yaml"))


def yaml_path_or_shipped(
    source: str | Path, directory: Path, what: str, *, error: type[Exception] = ValueError
) -> Path:
    """A path to a YAML file, or the name of one shipped in ``directory`` → the file's path.

    Raises :class:`FileNotFoundError` for a path that does not exist, and ``error`` for an unknown name, with
    the shipped names and the closest one.
    """
    text = str(source)
    path = Path(text)
    shipped = directory / f"{text}.yaml"
    if text.endswith((".yaml", ".yml")) or path.is_file() or (path.exists() and not shipped.is_file()):
        if not path.is_file():
            raise FileNotFoundError(f"no such {what} file: {path}")
        return path
    if shipped.is_file():  # (a folder of the same name, such as a run directory, does not hide it)
        return shipped
    names = shipped_names(directory)
    close = difflib.get_close_matches(text, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise error(f"unknown {what} {text!r}; valid choices: {', '.join(names)} (or a path to a .yaml file).{hint}")
