"""Grid files expand into the right run specs with stable ids."""

import hashlib
import json

import pytest
import yaml

from ssmem.sweep import load_grid, parse_grid, parse_shard, run_id_for, select_shard, shard_of
from ssmem.sweep.grid import GRIDS_DIR, format_value, list_grids, parse_override

GRID = {
    "name": "demo",
    "seeds": [1001, 1002],
    "overrides": ["train.max_steps=50"],
    "studies": [
        {"name": "main", "recipes": ["lra/listops-cpu", "lra/text-cpu"], "eigs": ["s4d-inv", "s4d-lin"],
         "train": ["all", "reservoir", "readout"]},
        {"name": "freeze", "recipes": ["lra/listops-cpu"], "eigs": ["s4d-inv"], "seeds": [7],
         "axes": {"model.freeze_fraction": [0.0, 0.5, 1.0], "model.bidirectional": [True, False]}},
    ],
}


def test_cartesian_product_counts_and_overrides():
    runs = parse_grid(GRID).runs()
    main = [r for r in runs if r.study == "main"]
    freeze = [r for r in runs if r.study == "freeze"]
    assert len(main) == 2 * 2 * 3 * 2
    assert len(freeze) == 3 * 2 * 1
    assert len({r.run_id for r in runs}) == len(runs)
    r = next(r for r in main if r.recipe == "lra/text-cpu" and r.eigs == "s4d-lin" and r.train_mode == "readout"
             and r.seed == 1002)
    assert r.overrides == ("train.max_steps=50", "model.init=s4d-lin", "model.train=readout", "seed=1002")
    assert r.params == {"train.max_steps": 50, "model.init": "s4d-lin", "model.train": "readout", "seed": 1002}
    f = [r for r in freeze if r.params["model.freeze_fraction"] == 0.5 and r.params["model.bidirectional"] is False]
    assert len(f) == 1
    assert "model.bidirectional=false" in f[0].overrides and f[0].eigs == "s4d-inv" and f[0].train_mode is None


def test_run_id_is_stable_and_hashes_sorted_overrides():
    overrides = ["train.max_steps=50", "model.init=s4d-inv", "model.train=all", "seed=1001"]
    digest = hashlib.sha256(
        json.dumps({"recipe": "lra/listops-cpu", "overrides": sorted(overrides)}, sort_keys=True).encode()
    ).hexdigest()[:10]
    expected = f"lra-listops-cpu-s4d-inv-all-s1001-{digest}"
    assert run_id_for("lra/listops-cpu", overrides, eigs="s4d-inv", train_mode="all", seed=1001) == expected
    ids = {r.run_id for r in parse_grid(GRID).runs()}
    assert expected in ids
    # any change of an override gives another id
    assert run_id_for("lra/listops-cpu", overrides[:-1] + ["seed=1002"], eigs="s4d-inv", train_mode="all",
                      seed=1001) != expected


def test_same_run_in_two_studies_runs_once_and_later_overrides_win():
    grid = parse_grid({
        "recipes": ["r"], "seeds": [1], "overrides": ["model.bidirectional=true"],
        "studies": [{"name": "a"}, {"name": "b", "overrides": ["model.bidirectional=false", "model.bidirectional=true"]}],
    })
    runs = grid.runs()
    # study b: its later override wins, so both studies are the same run
    assert len(runs) == 1 and runs[0].study == "a"
    assert runs[0].params == {"model.bidirectional": True, "seed": 1}


def test_top_level_grid_is_one_study(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({"recipes": ["memory/delay"], "eigs": ["s4d-inv"], "seeds": [1, 2, 3]}))
    grid = load_grid(path)
    assert grid.name == "g" and [s.name for s in grid.studies] == ["g"]
    assert [r.seed for r in grid.runs()] == [1, 2, 3]


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"recipes": ["r"], "seed": [1]}, "unknown key(s) 'seed'"),
        ({"seeds": [1]}, "'recipes' is required"),
        ({"recipes": ["r"], "seeds": ["x"]}, "'seeds' must be a non-empty list of integers"),
        ({"recipes": ["r"], "axes": {"model.freeze_fraction": 0.5}}, "must be a non-empty list"),
        ({"recipes": ["r"], "overrides": ["model.init"]}, "not of the form key=value"),
        ({"recipes": ["r"], "studies": [{"name": "a"}, {"name": "a"}]}, "two studies are named 'a'"),
        # what a run is labelled by has its own keys (an axis on model.init gave runs labelled with another set)
        ({"recipes": ["r"], "eigs": ["s4d-inv"], "axes": {"model.init": ["s4d-lin"]}},
         "'model.init' cannot be set in 'axes' (runs are labelled by it); list its values under the study's 'eigs'"),
        ({"recipes": ["r"], "axes": {"model.train": ["reservoir"]}}, "under the study's 'train' key"),
        ({"recipes": ["r"], "overrides": ["seed=5"]}, "'seed' cannot be set in 'overrides'"),
    ],
)
def test_bad_grids_say_what_is_wrong(bad, message):
    with pytest.raises(ValueError) as err:
        parse_grid(bad)
    assert message in str(err.value)


def test_unknown_grid_name_lists_shipped_grids():
    with pytest.raises(ValueError) as err:
        load_grid("no-such-grid")
    for name in list_grids():
        assert name in str(err.value)


def test_shards_partition_the_grid():
    runs = parse_grid(GRID).runs()
    parts = [select_shard(runs, (i, 3)) for i in range(3)]
    ids = [r.run_id for part in parts for r in part]
    assert sorted(ids) == sorted(r.run_id for r in runs)
    assert all(parts)  # 30 runs over 3 shards: none empty
    assert all(shard_of(r.run_id, 3) == i for i, part in enumerate(parts) for r in part)
    expected = int(hashlib.sha256(runs[0].run_id.encode()).hexdigest()[:12], 16) % 3
    assert shard_of(runs[0].run_id, 3) == expected


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "0/0"])
def test_bad_shard(text):
    with pytest.raises(ValueError, match="0 <= i < n"):
        parse_shard(text)
    assert parse_shard("2/4") == (2, 4)


def test_grid_lookup_names_the_shipped_grids_and_refuses_missing_files(tmp_path):
    unknown = r"unknown grid 'lra-quik'; valid choices: lra-cpu, .*Did you mean 'lra-quick'"
    with pytest.raises(ValueError, match=unknown):
        load_grid("lra-quik")
    with pytest.raises(FileNotFoundError, match="no such grid file"):
        load_grid(tmp_path / "missing.yaml")
    assert load_grid("lra-quick").runs() == load_grid(GRIDS_DIR / "lra-quick.yaml").runs()


def test_axis_values_read_back_as_the_values_given():
    grid = parse_grid({"recipes": ["r"], "axes": {"optim.lr": [1.0e-5, 0.001, 2e20], "model.dropout": [0.0]}})
    lrs = [spec.params["optim.lr"] for spec in grid.runs()]
    assert lrs == [1e-5, 0.001, 2e20] and all(isinstance(v, float) for v in lrs)  # 1e-05 came back a string
    for value in (1e-5, -3e-7, 2e20, 0.5, True, None, "s4d-lin", 3):
        assert parse_override(f"k={format_value(value)}")[1] == value
    # the override text (hashed into the run id) is what earlier versions wrote
    old_grid = parse_grid({"recipes": ["r"], "seeds": [0], "axes": {"optim.lr": [1.0e-5]}})
    assert [spec.run_id for spec in old_grid.runs()] == ["r-s0-cef8f87946"]  # the id earlier versions gave

