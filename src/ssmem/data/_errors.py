"""Errors raised when a data set's files are missing or malformed, with messages written for the user."""

from __future__ import annotations

from pathlib import Path


class DataNotFoundError(FileNotFoundError):
    """A data set's files are not where ssmem looked; the message gives the expected layout and a remedy."""

    def __init__(self, what: str, searched: list[Path] | Path, layout: str, obtain: str) -> None:
        places = [searched] if isinstance(searched, Path) else list(searched)
        where = ", ".join(str(p) for p in places) if places else (
            "no folder given: set $SSMEM_DATA (its sub-folder named in the layout is searched), pass --data-dir DIR "
            "or task.data_dir=DIR, or set the task's release_dir=DIR")
        expected = f"Expected layout:\n{layout.rstrip()}\n" if layout.strip() else ""  # no heading over nothing
        message = f"{what}: files not found (looked in: {where}).\n{expected}How to obtain: {obtain}"
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class MalformedDataError(ValueError):
    """A data file exists but does not have the format ssmem expects; the message names the file and the fault."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"malformed data file {path}: {problem}")
