"""`ssmem validate` describes the model it would build."""


def test_validate_describes_a_linear_forecaster_without_ssm_terms(capsys):
    from ssmem.cli import main

    assert main(["validate", "forecast/ltsf-cpu", "model.layer=linear", "model.trend_kernel=25"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("model"))
    assert line == ("model  linear forecaster: lookback 96 -> horizon 96 (one map shared by the columns, trend "
                    "(moving average of 25) and remainder mapped apart)")


def test_validate_names_the_forecaster_options_around_the_ssm_model(capsys):
    from ssmem.cli import main

    assert main(["validate", "forecast/ltsf-cpu"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("model"))
    assert line.startswith("model  forecaster (revin per window, each column alone) over a classifier: 2 x s4d ")


def test_validate_names_an_eigenvalue_set_only_for_layers_that_start_from_one(capsys):
    from ssmem.cli import main

    for layer in ("lru", "s5", "mamba", "s4d"):
        assert main(["validate", "memory/delay", f"model.layer={layer}", "model.init=s4d-inv", "model.d_state=16"]) == 0
        line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("model"))
        assert line.startswith(f"model  ") and f"x {layer} (H = " in line
        assert ("init " in line) == (layer == "s4d"), line
