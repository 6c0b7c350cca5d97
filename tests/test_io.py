"""Atomic writes: the old file survives a failed write, and the error names the file being written."""

import errno
import os

import pytest

from ssmem._io import atomic_open, remove_leftover_temporaries


def test_a_failed_write_keeps_the_old_file_and_names_the_target(tmp_path, monkeypatch):
    target = tmp_path / "result.json"
    target.write_text("old")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")  # names no file, as the system does

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match=rf"No space left on device: '{target}'"):
        with atomic_open(target, "w") as handle:
            handle.write("new")
    assert target.read_text() == "old" and remove_leftover_temporaries(tmp_path) == []
    monkeypatch.undo()
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(OSError) as err:  # a temporary cannot even be made: the target is named, not the temporary
        with atomic_open(blocker / "x.json", "w"):
            pass
    assert err.value.filename in (str(blocker), str(blocker / "x.json"))


def test_a_temporary_that_cannot_be_made_is_reported_as_the_target(tmp_path, monkeypatch):
    import tempfile

    def refused(*args, dir=None, prefix="", suffix="", **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", os.path.join(dir, f"{prefix}x1y2{suffix}"))

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(PermissionError, match=rf"Permission denied: '{tmp_path / 'report.md'}'"):
        with atomic_open(tmp_path / "report.md", "w"):
            pass

