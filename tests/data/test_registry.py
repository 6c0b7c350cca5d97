import dataclasses

import pytest

from ssmem.data import TASKS, build_task, task_info
from ssmem.data._sources import AVAILABILITY, availability
from ssmem.data.forecast import ForecastParams
from ssmem.data.image import ImageParams
from ssmem.data.listops import ListOpsParams
from ssmem.data.pathfinder import PathfinderParams, PathXParams

REAL_TASKS = ["forecast/series", "lm/bytes", "lra/image", "lra/listops", "lra/pathfinder", "lra/pathx", "lra/retrieval", "lra/text"]


def test_every_real_task_is_registered_with_checks_and_cheap_info():
    for name in REAL_TASKS:
        spec = TASKS.get(name)
        assert name in AVAILABILITY and spec.info is not None
        fields = {f.name for f in dataclasses.fields(spec.params_cls)}
        assert {"data_seed", "cache_dir", "cache"} <= fields


def small_cases(tmp_path):
    csv = tmp_path / "s.csv"
    csv.write_text("t,a,b\n" + "".join(f"{i},{i % 7},{i % 5}\n" for i in range(80)))
    return [
        ("lra/listops", ListOpsParams(n_train=4, n_val=2, n_test=2, seq_len=100, min_length=10, max_length=90)),
        ("lra/pathfinder", PathfinderParams(n_train=2, n_val=2, n_test=2, n_distractors=1)),
        ("lra/pathx", PathXParams(n_train=2, n_val=2, n_test=2, n_distractors=1)),
        ("lra/image", ImageParams(dataset="digits")),
        ("forecast/series", ForecastParams(series=str(csv), lookback=6, horizon=3, targets=("b",))),
    ]


def test_cheap_info_agrees_with_the_built_task(tmp_path):
    for name, params in small_cases(tmp_path):
        cheap = task_info(name, params)
        built = build_task(name, params).info
        for field in ("objective", "seq_len", "d_output", "d_input", "vocab_size", "per_step", "pairs", "metric"):
            assert getattr(cheap, field) == getattr(built, field), (name, field)
        assert availability(name, params).ready


def test_pathx_is_pathfinder_at_128():
    assert task_info("lra/pathx").seq_len == 128 * 128
    assert task_info("lra/pathfinder").seq_len == 32 * 32


def test_availability_reports_missing_release(tmp_path):
    state = availability("lra/listops", ListOpsParams(source="release"), tmp_path)
    assert not state.ready and "generate" in state.detail
    assert availability("lra/listops").ready
    with pytest.raises(ValueError, match="unknown task"):
        availability("lra/nothing")
