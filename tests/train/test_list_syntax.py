"""A list-typed parameter given a bare value: the error shows the list syntax that works."""

import pytest

from ssmem.train import load_recipe
from ssmem.train.config import ConfigError, coerce


@pytest.mark.parametrize("value, shown", [("OT", "[OT]"), ("3", "[3]")])
def test_a_bare_value_for_a_list_parameter_shows_the_list_form(value, shown):
    with pytest.raises(ConfigError) as info:
        load_recipe("forecast/ltsf-cpu", [f"task.params.targets={value}"])
    message = str(info.value)
    assert f"task.params.targets expects a list: write task.params.targets={shown} or task.params.targets=[a,b]" in message


def test_the_list_form_is_accepted():
    cfg = load_recipe("forecast/ltsf-cpu", ["task.params.targets=[OT]"])
    assert cfg.task.params["targets"] == ["OT"]


def test_an_optional_list_keeps_the_list_syntax_in_its_error():
    assert coerce(["a", "b"], tuple[str, str] | None, "where") == ("a", "b")
    with pytest.raises(ConfigError, match=r"where expects a list: write where=\[x\] .*; expected tuple\[str, str\] \| null"):
        coerce("x", tuple[str, str] | None, "where")
