"""Recipe files that YAML reads without complaint but that are not what the user meant."""

import pytest

from ssmem.cli import main
from ssmem.train import ConfigError, load_recipe
from ssmem.train.config import load_yaml_text


def test_an_empty_recipe_is_refused(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# only a comment\n")
    with pytest.raises(ConfigError, match=r"empty.yaml: the recipe is empty; a recipe is a mapping \(model:, task:"):
        load_recipe(path)


@pytest.mark.parametrize(
    "text, line, first",
    [
        ("model:\n  d_model: 16\n  n_layers: 2\n  d_model: 32\n", 4, 2),
        ("seed: 1\nmodel: {d_model: 8}\nseed: 2\n", 3, 1),
        ("model: {d_model: 8, d_model: 9}\n", 1, 1),  # both on one line
    ],
)
def test_a_key_given_twice_is_refused_naming_file_and_lines(tmp_path, text, line, first, capsys):
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    key = "seed" if text.startswith("seed") else "d_model"
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"ssmem validate: error: {path}, line {line}: key {key!r} is given twice in one mapping (first on line "
        f"{first}); keep one")


def test_merge_keys_and_the_same_key_in_different_mappings_are_fine():
    text = "base: &b {d_model: 8}\nmodel:\n  <<: *b\n  d_model: 16\ntask: {d_model: 1}\n"
    assert load_yaml_text(text)["model"] == {"d_model": 16}
