"""Configs, overrides and recipe files: values land where they should, mistakes are named."""

import math

import pytest

from ssmem.train import (
    RECIPES_DIR,
    ConfigError,
    RunConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    list_recipes,
    load_recipe,
    lr_factor,
    recipe_names,
)


def test_overrides_are_typed_and_applied():
    cfg = load_recipe(
        "memory/delay",
        [
            "model.init=s4d-lin",
            "model.train=reservoir",
            "train.max_steps=200",
            "optim.lr=3e-3",
            "optim.grad_clip=null",
            "model.bidirectional=false",
            "task.params.delays=[2, 5]",
            "seed=1001",
            "device=cpu",
        ],
    )
    assert cfg.model.init == "s4d-lin" and cfg.model.train == "reservoir"
    assert cfg.train.max_steps == 200 and cfg.seed == 1001 and cfg.device == "cpu"
    assert cfg.optim.lr == 3e-3 and isinstance(cfg.optim.lr, float) and cfg.optim.grad_clip is None
    assert cfg.task.params["delays"] == [2, 5]
    # untouched recipe values survive
    assert cfg.model.d_model == 32 and cfg.task.params["seq_len"] == 128


def test_int_is_accepted_where_a_float_is_expected_but_not_the_reverse():
    cfg = load_recipe("memory/delay", ["optim.lr=1"])
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)
    with pytest.raises(ConfigError, match=r"model.d_model: expected int, got 1.5"):
        load_recipe("memory/delay", ["model.d_model=1.5"])
    with pytest.raises(ConfigError, match=r"model.bidirectional: expected bool"):
        load_recipe("memory/delay", ["model.bidirectional=3"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.nope=1", r"unknown key 'nope' in model; valid keys: layer, d_model, n_layers"),
        ("bogus=1", r"unknown key 'bogus'; valid keys: .*model, task, optim, train"),
        ("task.params.nope=1", r"task.params: unknown key 'nope'; valid keys: seq_len, delays"),
        ("task.params.seq_len=long", r"task.params.seq_len: expected int, got 'long'"),
        ("model.train=frozen", r"'frozen' is not one of 'all', 'reservoir', 'readout'"),
        ("model.init=no-such-set", r"unknown eigenvalue set 'no-such-set'; valid choices: .*s4d-inv"),
        ("task.name=memory/dely", r"unknown task 'memory/dely'; valid choices: .*memory/delay"),
        ("model.d_state=33", r"d_state .* must be even, got 33"),
        ("train.batch_size=0", r"train.batch_size must be positive and finite, got 0"),
        ("optim.min_lr_ratio=-1", r"optim.min_lr_ratio must lie in \[0, 1\] .*got -1"),
        ("optim.min_lr_ratio=3", r"optim.min_lr_ratio must lie in \[0, 1\]"),
        ("optim.ssm_lr=.inf", r"optim.ssm_lr must be positive and finite, got inf"),
        ("optim.lr=.nan", r"optim.lr must be positive and finite, got nan"),
        ("optim.grad_clip=.nan", r"optim.grad_clip must be positive and finite, got nan"),
        ("optim.weight_decay=.inf", r"optim.weight_decay must be >= 0 and finite, got inf"),
        ("model.dt_max=1e-5", r"model.dt_max \(1e-05\) must be >= model.dt_min"),
        ("model", r"not of the form key=value"),
        ("model=3", r"name a key of section 'model'"),
        ("device=tpu", r"'tpu' is not one of 'cpu', 'cuda', 'auto'"),
        ("seed=100000000000000000", r"seed must lie in 0\.\.9223372036854774 \(layer i is seeded with seed·1000 \+ i"),
    ],
)
def test_bad_overrides_name_the_key_and_the_choices(override, message):
    with pytest.raises(ConfigError, match=message):
        load_recipe("memory/delay", [override])


def test_changing_the_task_drops_the_old_tasks_params():
    cfg = load_recipe("memory/delay", ["task.name=memory/copy", "task.params.gap=7"])
    assert cfg.task.name == "memory/copy"
    assert cfg.task.params["gap"] == 7 and "delays" not in cfg.task.params
    # in either order: the parameters given beside the new task name are kept (they were dropped before it)
    swapped = load_recipe("memory/delay", ["task.params.gap=7", "task.name=memory/copy"])
    assert swapped.task.params == cfg.task.params


def test_a_malformed_recipe_section_or_description(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: 3\ntask: {name: memory/delay}\n")
    with pytest.raises(ConfigError, match=r"override 'model.d_model=8': section 'model' must be a mapping of keys, got 3"):
        load_recipe(str(bad), ["model.d_model=8"])
    bad.write_text("task: {name: memory/delay, params: [1, 2]}\n")
    with pytest.raises(ConfigError, match=r"task.params must be a mapping of keys, got \[1, 2\]"):
        load_recipe(str(bad), ["task.params.seq_len=8"])
    empty = tmp_path / "empty_description.yaml"
    empty.write_text("description:\ntask: {name: memory/delay}\n")
    assert load_recipe(str(empty)).description == RunConfig().description


def test_round_trip_through_the_plain_form():
    cfg = load_recipe("memory/copy", ["model.freeze_fraction=0.5", "optim.grad_clip=1.0"])
    again = config_from_dict(config_to_dict(cfg))
    assert again == cfg
    assert isinstance(again, RunConfig)


def test_apply_overrides_does_not_mutate_its_input():
    data = {"model": {"d_model": 8}}
    out = apply_overrides(data, ["model.d_model=16"])
    assert data == {"model": {"d_model": 8}} and out["model"]["d_model"] == 16


def test_unsafe_yaml_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    recipe = tmp_path / "evil.yaml"
    recipe.write_text(f"model: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError, match="refused to load.*only plain YAML"):
        load_recipe(recipe)
    assert not marker.exists()


def test_recipe_files_and_names(tmp_path):
    (tmp_path / "r.yaml").write_text("task: {name: memory/adding, params: {seq_len: 30}}\nmodel: {d_model: 8}\n")
    cfg = load_recipe(tmp_path / "r.yaml", ["train.max_steps=3"])
    assert cfg.task.name == "memory/adding" and cfg.task.params["seq_len"] == 30 and cfg.model.d_model == 8
    with pytest.raises(ConfigError, match=r"unknown recipe 'memory/dely'; valid choices: .*memory/delay.*Did you mean"):
        load_recipe("memory/dely")
    (tmp_path / "bad.yaml").write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="a recipe is a mapping"):
        load_recipe(tmp_path / "list.yaml")



def test_a_folder_named_like_a_recipe_does_not_hide_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "memory" / "delay").mkdir(parents=True)  # `ssmem train memory/delay --run-dir memory/delay`
    assert load_recipe("memory/delay").task.name == "memory/delay"  # was "no such recipe file"
    (tmp_path / "mine").mkdir()
    with pytest.raises(FileNotFoundError, match="no such recipe file: mine"):
        load_recipe("mine")  # a folder that names no shipped recipe is still read as a (wrong) path


def test_recipes_are_listed_recursively_with_descriptions():
    on_disk = sorted(p.relative_to(RECIPES_DIR).with_suffix("").as_posix() for p in RECIPES_DIR.rglob("*.yaml"))
    assert recipe_names() == on_disk
    assert {"memory/delay", "memory/copy", "memory/adding"} <= set(on_disk)
    listed = {r.name: r.description for r in list_recipes()}
    assert list(listed) == on_disk
    assert all(listed[name] for name in ("memory/delay", "memory/copy", "memory/adding"))


def test_lr_schedule_closed_form():
    kw = dict(total_steps=110, warmup_steps=10, schedule="cosine", min_ratio=0.1)
    assert lr_factor(0, **kw) == pytest.approx(0.1)
    assert lr_factor(9, **kw) == pytest.approx(1.0)
    assert lr_factor(10, **kw) == pytest.approx(1.0)
    assert lr_factor(60, **kw) == pytest.approx(0.1 + 0.9 * 0.5)  # half way through the cosine
    assert lr_factor(110, **kw) == pytest.approx(0.1)
    s = 37
    assert lr_factor(s, **kw) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (s - 10) / 100)))
    assert lr_factor(50, total_steps=100, warmup_steps=0, schedule="constant", min_ratio=0.0) == 1.0


def test_relative_file_paths_are_saved_absolute(tmp_path, monkeypatch):
    """A run made in one directory is resumed, sampled and reported from another: its config must still work."""
    import numpy as np

    from ssmem.train.config import config_from_dict, config_to_dict

    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "eigs.npy", np.array([0.9, 0.5 + 0.3j]))
    (tmp_path / "releases").mkdir()
    cfg = load_recipe("memory/delay", ["model.init=eigs.npy", "model.d_state=4", "task.data_dir=releases"])
    assert cfg.model.init == str(tmp_path / "eigs.npy") and cfg.task.data_dir == str(tmp_path / "releases")
    monkeypatch.chdir("/")
    again = config_from_dict(config_to_dict(cfg))  # a saved config.yaml read elsewhere
    assert again.model.init == str(tmp_path / "eigs.npy")
    assert load_recipe("memory/delay", ["model.init=s4d-lin"]).model.init == "s4d-lin"  # names stay names
    # the data files and folders of task parameters too (a resume elsewhere trained on another mine.txt)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.txt").write_text("some text " * 50)
    (tmp_path / "series.csv").write_text("t,v\n1,2\n")
    lm = load_recipe("lm/shakespeare-cpu", ["task.params.corpus=mine.txt+shakespeare", "task.params.cache_dir=c"])
    assert lm.task.params["corpus"] == f"{tmp_path / 'mine.txt'}+shakespeare"
    spaced = load_recipe("lm/shakespeare-cpu", ["task.params.corpus=shakespeare + mine.txt"])
    assert spaced.task.params["corpus"] == f"shakespeare+{tmp_path / 'mine.txt'}"  # was 'shakespeare +/cwd/ mine.txt'
    assert lm.task.params["cache_dir"] == str(tmp_path / "c")
    text = load_recipe("lra/text-cpu", ["task.params.release_dir=releases", "task.params.corpus=bible"])
    assert text.task.params["release_dir"] == str(tmp_path / "releases") and text.task.params["corpus"] == "bible"
    forecast = load_recipe("forecast/vic_elec-cpu", ["task.params.series=series.csv"])
    assert forecast.task.params["series"] == str(tmp_path / "series.csv")
    assert load_recipe("forecast/vic_elec-cpu").task.params["series"] == "vic_elec"


def test_an_architecture_that_does_not_fit_the_task_names_the_one_that_does():
    from ssmem.data.task import task_info
    from ssmem.train import build_model, task_params

    cfg = load_recipe("lra/retrieval-cpu", ["model.architecture=classifier"])
    info = task_info(cfg.task.name, task_params(cfg.task))
    with pytest.raises(ConfigError, match=r"does not fit a task with pairs=True; use model.architecture=dual or auto"):
        build_model(cfg.model, info, seed=0)


def test_an_eigenvalue_set_with_the_s4_layer_is_named_as_ignored():
    with pytest.warns(UserWarning, match=r"model.init='s4d-lin' is ignored with model.layer=s4"):
        load_recipe("memory/delay", ["model.layer=s4", "model.init=s4d-lin"])
    for init in ("s4d-inv", "s4d-legs"):  # the default and the set the S4 layer starts from: nothing to say
        assert load_recipe("memory/delay", ["model.layer=s4", f"model.init={init}"]).model.layer == "s4"
