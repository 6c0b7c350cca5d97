"""Every ``-cpu`` recipe of a real task learns clearly above chance (or beats its baselines) in its short run.

Slow (the whole slow suite, these included, takes about 10 minutes on 2 CPU cores): run with ``pytest -m slow tests/data/test_recipes_learn.py``.
"""

import pytest

from ssmem.data import build_task
from ssmem.train import load_recipe, recipe_names, task_params, train

CPU_RECIPES = [name for name in recipe_names() if name.split("/")[0] in ("lra", "lm", "forecast") and name.endswith("-cpu")]


def test_every_real_task_family_has_a_cpu_recipe():
    assert {n for n in CPU_RECIPES if n.startswith("lra/")} == {f"lra/{t}-cpu" for t in ("listops", "text", "retrieval", "image", "pathfinder", "pathx")}
    assert any(n.startswith("lm/") for n in CPU_RECIPES) and any(n.startswith("forecast/") for n in CPU_RECIPES)


@pytest.mark.slow
@pytest.mark.parametrize("name", CPU_RECIPES)
def test_cpu_recipe_learns(name, tmp_path):
    cfg = load_recipe(name)
    info = build_task(cfg.task.name, task_params(cfg.task), seed=cfg.seed).info
    result = train(cfg, tmp_path / "run", progress=False)
    assert result.status == "completed"
    if info.objective == "classification":
        # clearly above the best constant prediction: at least a third of the way from chance to perfect
        assert result.test_metric > info.chance + (1 - info.chance) / 3
    elif info.objective == "next_token":
        assert result.test_metric < info.extra["baselines"]["ngram"] < info.extra["baselines"]["unigram"]
    else:
        assert result.test_metric < min(info.extra["naive_mse"], info.extra["seasonal_naive_mse"])
