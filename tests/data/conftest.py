"""Data tests write their caches under a temporary directory, never the user's ~/.cache."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SSMEM_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("SSMEM_DATA", raising=False)
