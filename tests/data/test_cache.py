from dataclasses import dataclass

import numpy as np
import torch

from ssmem.data import build_task
from ssmem.data._cache import cache_entries, cache_key, cache_root, cached, task_cache_dir
from ssmem.data.listops import ListOpsParams


@dataclass
class P:
    size: int = 3
    cache_dir: str | None = None
    cache: bool = True


def test_entries_are_reused_and_keyed_by_params_and_seed(tmp_path):
    calls = []

    def build(n):
        calls.append(n)
        return {"x": np.arange(n)}

    params = P(cache_dir=str(tmp_path))
    first = cached("t/x", params, 0, lambda: build(3))
    again = cached("t/x", params, 0, lambda: build(99))  # served from the cache
    assert calls == [3] and np.array_equal(again["x"], first["x"])
    cached("t/x", P(size=4, cache_dir=str(tmp_path)), 0, lambda: build(4))
    cached("t/x", params, 1, lambda: build(5))
    assert calls == [3, 4, 5]
    assert len(cache_entries("t/x", tmp_path)) == 3
    assert not list((tmp_path / "t__x").glob("*.tmp"))  # atomic writes leave no temporary files
    # where to cache does not change what is cached
    assert cache_key("t/x", P(cache_dir="a"), 0) == cache_key("t/x", P(cache_dir="b"), 0)
    # no caching: nothing read or written
    cached("t/x", P(cache=False, cache_dir=str(tmp_path)), 0, lambda: build(6))
    assert calls[-1] == 6 and len(cache_entries("t/x", tmp_path)) == 3


def test_stale_or_corrupt_entries_are_rebuilt(tmp_path):
    params = P(cache_dir=str(tmp_path))
    key = cache_key("t/y", params, 0)
    path = task_cache_dir("t/y", tmp_path) / f"{key}.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, __cache_key__=np.array("another key"), x=np.zeros(2))
    assert cached("t/y", params, 0, lambda: {"x": np.ones(2)})["x"].tolist() == [1.0, 1.0]
    path.write_bytes(b"garbage")
    assert cached("t/y", params, 0, lambda: {"x": np.full(2, 7.0)})["x"].tolist() == [7.0, 7.0]
    assert cached("t/y", params, 0, lambda: {"x": np.zeros(2)})["x"].tolist() == [7.0, 7.0]
    path.write_bytes(path.read_bytes()[:200])  # a cut entry (a zip without its directory)
    assert cached("t/y", params, 0, lambda: {"x": np.full(2, 3.0)})["x"].tolist() == [3.0, 3.0]


def test_a_folder_fingerprint_follows_the_files_inside(tmp_path):
    """A changed file below a folder changes the key (a folder's own time changes only when files come or go)."""
    import os

    from ssmem.data._cache import file_fingerprint

    (tmp_path / "pos").mkdir()
    review = tmp_path / "pos" / "0_7.txt"
    review.write_text("first")
    before = file_fingerprint([tmp_path / "pos"])
    review.write_text("changed, and longer")
    os.utime(tmp_path / "pos", ns=(1, 1))
    assert file_fingerprint([tmp_path / "pos"]) != before


def test_a_same_size_copy_with_the_old_modification_time_changes_the_fingerprint(tmp_path):
    """`cp -p` of another file keeps size and mtime; the status-change time still tells them apart."""
    import os
    import time

    from ssmem.data._cache import file_fingerprint

    source = tmp_path / "basic_train.tsv"
    source.write_text("aaaa")
    before = file_fingerprint([source])
    old = source.stat()
    time.sleep(0.05)  # past the file system's timestamp granularity
    source.write_text("bbbb")
    os.utime(source, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert source.stat().st_size == old.st_size and source.stat().st_mtime_ns == old.st_mtime_ns
    assert file_fingerprint([source]) != before


def test_cache_root_follows_param_then_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SSMEM_CACHE", str(tmp_path / "env"))
    assert cache_root(None) == tmp_path / "env"
    assert cache_root(str(tmp_path / "p")) == tmp_path / "p"
    monkeypatch.delenv("SSMEM_CACHE")
    assert cache_root(None).name == "ssmem" and cache_root(None).parent.name == ".cache"


def test_a_task_build_fills_and_reuses_the_cache(tmp_path, monkeypatch):
    from ssmem.data import listops

    params = ListOpsParams(n_train=5, n_val=2, n_test=2, min_length=10, max_length=60, seq_len=64, cache_dir=str(tmp_path))
    first = build_task("lra/listops", params)

    def refuse(*args, **kwargs):
        raise AssertionError("rebuilt instead of reading the cache")

    monkeypatch.setattr(listops, "_build_arrays", refuse)
    again = build_task("lra/listops", params)
    assert all(np.array_equal(first.train[i][0], again.train[i][0]) for i in range(5))


def test_building_reports_progress_only_when_asked(tmp_path, capsys, monkeypatch):
    import sys

    from ssmem.data._progress import data_progress
    from ssmem.data.pathfinder import PathfinderParams

    def params(folder: str) -> PathfinderParams:
        return PathfinderParams(n_train=6, n_val=2, n_test=2, cache_dir=str(tmp_path / folder))

    quiet = build_task("lra/pathfinder", params("quiet"))
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # bars are drawn on terminals only
    with data_progress(True):
        shown = build_task("lra/pathfinder", params("shown"))
        again = build_task("lra/pathfinder", params("shown"))  # from the cache: nothing to report
    err = capsys.readouterr().err
    assert err.count("lra/pathfinder: building the data (first use with these parameters") == 1
    assert err.count("lra/pathfinder: built in") == 1 and "pathfinder 32px images" in err
    for data in (shown, again):
        for split in ("train", "val", "test"):
            assert torch.equal(getattr(data, split).pixels, getattr(quiet, split).pixels)


def test_entries_that_are_not_archives_or_cannot_be_written(tmp_path, capsys, monkeypatch):
    import io
    import os
    import time

    params = P(cache_dir=str(tmp_path))
    path = task_cache_dir("t/z", tmp_path) / f"{cache_key('t/z', params, 0)}.npz"
    path.parent.mkdir(parents=True)
    single = io.BytesIO()
    np.save(single, np.zeros(3))
    path.write_bytes(single.getvalue())  # one .npy array, not an archive (was a TypeError traceback)
    assert cached("t/z", params, 0, lambda: {"x": np.ones(2)})["x"].tolist() == [1.0, 1.0]
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # readable by the cache's other users
    # a killed writer's temporary file goes once it is a day old; a live writer's (fresh) one stays
    old, fresh = path.parent / ".a.npz.x1.tmp", path.parent / ".b.npz.x2.tmp"
    for leftover in (old, fresh):
        leftover.write_bytes(b"partial")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    cached("t/z", P(size=5, cache_dir=str(tmp_path)), 0, lambda: {"x": np.ones(1)})
    assert not old.exists() and fresh.exists()
    # a cache that cannot be written costs the cache, not the data just built
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    got = cached("t/w", P(cache_dir=str(blocked)), 0, lambda: {"x": np.full(2, 4.0)})
    assert got["x"].tolist() == [4.0, 4.0]
    assert f"t/w: built in 0 s; could not cache it in {blocked}/t__w" in capsys.readouterr().err


def _umask():
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_folder_fingerprint_follows_symbolic_links_without_looping(tmp_path):
    from ssmem.data._cache import file_fingerprint

    (tmp_path / "elsewhere" / "0").mkdir(parents=True)
    (tmp_path / "elsewhere" / "0" / "x.png").write_bytes(b"x")
    (tmp_path / "release" / "1").mkdir(parents=True)
    (tmp_path / "release" / "1" / "y.png").write_bytes(b"y")
    (tmp_path / "release" / "0").symlink_to(tmp_path / "elsewhere" / "0")
    (tmp_path / "release" / "1" / "up").symlink_to(tmp_path / "release")  # a loop
    names = [entry[0] for entry in file_fingerprint([tmp_path / "release"])]
    assert names == [str(tmp_path / "elsewhere" / "0" / "x.png"), str(tmp_path / "release" / "1" / "y.png")]


def test_a_file_named_relatively_or_absolutely_is_one_entry(tmp_path, monkeypatch):
    """`ssmem data -p corpus=mine.txt --prepare` and a run (whose saved corpus is absolute) share the entry."""
    from ssmem.data.lm import LMParams

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.txt").write_text("text")
    relative = LMParams(corpus="shakespeare + mine.txt")
    absolute = LMParams(corpus=f"shakespeare+{tmp_path / 'mine.txt'}")
    assert cache_key("lm/bytes", relative, 0) == cache_key("lm/bytes", absolute, 0)
    assert cache_key("lm/bytes", LMParams(corpus="bible"), 0) != cache_key("lm/bytes", absolute, 0)
