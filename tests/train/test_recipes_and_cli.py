"""Every shipped recipe validates; the CLI verbs recipes / validate / train."""

import json

import pytest

from ssmem.cli import main
from ssmem.data import TASKS
from ssmem.data.task import task_info
from ssmem.ssm import count_parameters
from ssmem.train import RECIPES_DIR, build_model, load_recipe, task_params

SHIPPED = sorted(p.relative_to(RECIPES_DIR).with_suffix("").as_posix() for p in RECIPES_DIR.rglob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_recipe_validates_and_builds_its_model(name):
    cfg = load_recipe(name)
    assert cfg.description, f"recipe {name} needs a one-line description"
    spec = TASKS.get(cfg.task.name)
    assert spec.info is not None, f"task {cfg.task.name} should register info= so recipes validate without data"
    info = task_info(cfg.task.name, task_params(cfg.task))
    model = build_model(cfg.model, info, seed=cfg.seed)
    counts = count_parameters(model)
    assert counts.trainable > 0 and counts.total == counts.trainable + counts.frozen
    # any recipe runs with any train mode: reservoir freezes the eigenvalues and steps
    if cfg.model.layer == "s4d":
        frozen = count_parameters(build_model(load_recipe(name, ["model.train=reservoir", "model.freeze_fraction=0"]).model, info, seed=cfg.seed))
        n_modes = cfg.model.d_state // 2
        expected = cfg.model.n_layers * cfg.model.d_model * (1 + 2 * n_modes)  # per channel: log_dt, Re A, Im A
        assert frozen.frozen == expected
        assert frozen.trainable == counts.trainable - expected


def test_the_default_configuration_is_a_valid_run_and_auto_norm_follows_the_architecture():
    """An empty recipe (every default: the delay task, a causal model) builds; norm=auto is layer norm there,
    batch norm in a classifier; an explicit batch norm in a causal model is still refused."""
    from torch import nn

    from ssmem.train import RunConfig
    from ssmem.train.config import ConfigError, config_from_dict

    def norms(cfg):
        model = build_model(cfg.model, task_info(cfg.task.name, task_params(cfg.task)), seed=0)
        return {type(m) for m in model.modules() if isinstance(m, (nn.LayerNorm, nn.BatchNorm1d))}

    cfg = config_from_dict({})
    assert cfg.model == RunConfig().model and cfg.task.name == "memory/delay" and cfg.model.norm == "auto"
    assert norms(cfg) == {nn.LayerNorm}
    assert norms(config_from_dict({"task": {"name": "lra/listops"}})) == {nn.BatchNorm1d}
    with pytest.raises(ConfigError, match="cannot use batch norm"):
        norms(config_from_dict({"model": {"norm": "batch"}}))


def test_recipes_verb_lists_one_line_each(capsys):
    assert main(["recipes"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == SHIPPED
    assert main(["recipes", "memory", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert set(listed) == {n for n in SHIPPED if n.startswith("memory/")}


def test_validate_verb_prints_the_counts(capsys):
    assert main(["validate", "memory/delay", "--show-config", "model.train=reservoir"]) == 0
    out = capsys.readouterr().out
    assert "train: reservoir" in out  # the resolved configuration
    cfg = load_recipe("memory/delay", ["model.train=reservoir"])
    counts = count_parameters(build_model(cfg.model, task_info(cfg.task.name, task_params(cfg.task)), seed=cfg.seed))
    assert f"trainable {counts.trainable}  frozen {counts.frozen}" in out and counts.frozen > 0
    assert "train reservoir" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["validate", "memory/delay", "model.nope=1"], "unknown key 'nope' in model; valid keys:"),
        (["validate", "memory/nothing"], "unknown recipe 'memory/nothing'"),
        (["train", "memory/delay", "optim.lr=fast", "--run-dir", "RUN"], "optim.lr: expected float, got 'fast'"),
        (["train", "memory/delay", "model.d_model=8"], "--run-dir DIR is required"),
        (["train", "memory/delay", "--run-dir", "RUN", "--fast"], "unknown option '--fast'"),
        (["validate", "memory/delay", "d_model"], "'d_model' is not an override of the form key=value"),
    ],
)
def test_user_errors_exit_2_with_a_message(argv, message, tmp_path, capsys):
    argv = [str(tmp_path / "run") if a == "RUN" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith(f"ssmem {argv[0]}: error:")


def test_train_verb_runs_and_resumes(tmp_path, capsys, tiny_config):
    from ssmem.train import config_to_yaml

    recipe = tmp_path / "r.yaml"
    recipe.write_text(config_to_yaml(tiny_config("train.max_steps=3")))
    run_dir = str(tmp_path / "run")
    # overrides may come before or after the options
    assert main(["train", str(recipe), "--run-dir", run_dir, "train.max_steps=4", "--no-progress"]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["status"] == "completed" and first["steps"] == 4 and first["metric"] == "r2"
    assert main(["train", str(recipe), "train.max_steps=4", "--run-dir", run_dir, "--no-progress"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "--resume", str(recipe), "train.max_steps=4", "--run-dir", run_dir, "--no-progress"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["test"] == first["test"]
