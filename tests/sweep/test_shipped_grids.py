"""The grids shipped with ssmem: sizes as documented, every run's overrides valid for its recipe."""

import pytest

from ssmem.sweep import list_grids, load_grid


def test_shipped_grids_and_their_sizes():
    assert list_grids() == ["lra-cpu", "lra-cpu-pathx", "lra-gpu-day", "lra-paper", "lra-quick"]
    sizes = {name: len(load_grid(name).runs()) for name in list_grids()}
    # cpu: 5 tasks x 2 sets x 3 modes + LM and forecasting x 2 modes + ListOps: 2 sets x 2 modes, 2 x 2 (bidir),
    # 3 (freeze), x 3 seeds; Path-X on its own: 3 modes x 3 seeds
    assert sizes["lra-cpu"] == (30 + 2 + 2 + 4 + 4 + 3) * 3
    assert sizes["lra-cpu-pathx"] == 3 * 3
    # one GPU-day: 3 tasks x 3 modes + ListOps: random x 2, unidirectional x 2, half frozen + LM and forecast x 2
    assert sizes["lra-gpu-day"] == (9 + 2 + 2 + 1 + 2 + 2) * 3
    # paper: the LRA studies as on the CPU at full size, + 2 corpora and 2 series x 3 modes, x 6 seeds
    assert sizes["lra-paper"] == (36 + 20 + 8 + 10 + 6 + 6) * 6
    assert sizes["lra-quick"] == 3 * 2 * 3  # tasks × train modes × seeds
    assert sorted({r.seed for r in load_grid("lra-paper").runs()}) == list(range(1001, 1007))
    assert len({r.seed for r in load_grid("lra-cpu").runs()}) >= 3
    fractions = {r.params.get("model.freeze_fraction") for r in load_grid("lra-cpu").runs()}
    assert fractions == {None, 0.0, 0.5, 1.0}


@pytest.mark.parametrize("name", list_grids())
def test_every_run_of_a_shipped_grid_validates(name):
    from ssmem.train import load_recipe

    for spec in load_grid(name).runs():
        cfg = load_recipe(spec.recipe, list(spec.overrides))
        assert cfg.seed == spec.seed
        if spec.eigs is not None:
            assert str(cfg.model.init) == spec.eigs
        if spec.train_mode is not None:
            assert cfg.model.train == spec.train_mode
