"""Shared test set-up: float64 by default where a test asks for it, deterministic seeds, CPU only."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# test directories of small float64 problems, where one thread avoids oversubscription on a shared 2-core machine
SINGLE_THREAD_DIRS = {"dynamics", "experiments"}


@pytest.fixture(autouse=True)
def single_thread_for_small_problems(request):
    if request.path.parent.name not in SINGLE_THREAD_DIRS:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
