import numpy as np
import pytest

from ssmem.data import build_task
from ssmem.data._errors import DataNotFoundError, MalformedDataError
from ssmem.data.forecast import ForecastParams


def write_csv(path, columns: dict[str, np.ndarray], time="t"):
    n = len(next(iter(columns.values())))
    lines = [",".join([time, *columns])]
    for i in range(n):
        lines.append(",".join([str(i), *(str(v[i]) for v in columns.values())]))
    path.write_text("\n".join(lines) + "\n")


def test_normalisation_uses_the_training_rows_only(tmp_path, rng):
    a, b = rng.normal(size=100), rng.normal(size=100) * 3 + 5
    write_csv(tmp_path / "s.csv", {"a": a, "b": b})
    params = ForecastParams(series=str(tmp_path / "s.csv"), lookback=8, horizon=2, val_fraction=0.1, test_fraction=0.2)
    data = build_task("forecast/series", params)
    assert data.info.extra["mean"] == pytest.approx([a[:70].mean(), b[:70].mean()], rel=1e-12)
    assert data.info.extra["std"] == pytest.approx([a[:70].std(), b[:70].std()], rel=1e-12)
    # change the val/test rows wildly: the training windows and statistics stay the same
    a2, b2 = a.copy(), b.copy()
    a2[70:] += 1000
    b2[70:] *= -50
    write_csv(tmp_path / "s2.csv", {"a": a2, "b": b2})
    other = build_task("forecast/series", ForecastParams(series=str(tmp_path / "s2.csv"), lookback=8, horizon=2))
    assert other.info.extra["mean"] == data.info.extra["mean"]
    assert all(np.array_equal(data.train[i][0], other.train[i][0]) for i in range(len(data.train)))
    # items: x = normalised inputs, y = next horizon steps of the targets (all columns)
    x, y = data.test[0]
    t = 80  # the first test window forecasts the first test row
    z = (np.stack([a, b], 1) - [a[:70].mean(), b[:70].mean()]) / [a[:70].std(), b[:70].std()]
    assert np.allclose(x.numpy(), z[t - 8 : t], atol=1e-6)
    assert np.allclose(y.numpy(), z[t : t + 2].reshape(-1), atol=1e-6)
    assert data.info.d_input == 2 and data.info.d_output == 4


def test_naive_baselines_on_known_series(tmp_path):
    season = np.tile([0.0, 1.0, 2.0, 3.0], 30)  # period 4
    write_csv(tmp_path / "p.csv", {"v": season})
    params = ForecastParams(series=str(tmp_path / "p.csv"), lookback=8, horizon=3, season=4)
    extra = build_task("forecast/series", params).info.extra
    assert extra["seasonal_naive_mse"] == pytest.approx(0.0, abs=1e-24)
    # last-value forecast of the period-4 ramp, in units of the training std
    std = season[: 120 - 12 - 24].std()
    test_ends = np.arange(96, 120 - 3 + 1)
    errors = [(season[t + h] - season[t - 1]) / std for t in test_ends for h in range(3)]
    assert extra["naive_mse"] == pytest.approx(np.mean(np.square(errors)), rel=1e-12)
    assert extra["naive_mae"] == pytest.approx(np.mean(np.abs(errors)), rel=1e-12)
    # a straight line: the last value is off by (h + 1) slope
    line = np.arange(200) * 0.5
    write_csv(tmp_path / "l.csv", {"v": line})
    info = build_task("forecast/series", ForecastParams(series=str(tmp_path / "l.csv"), lookback=4, horizon=2)).info
    std = line[:140].std()
    assert info.extra["naive_mse"] == pytest.approx(((0.5 / std) ** 2 + (1.0 / std) ** 2) / 2, rel=1e-12)
    assert info.chance == info.extra["naive_mse"]


def test_missing_values_targets_and_errors(tmp_path):
    (tmp_path / "m.csv").write_text("t,x,y\n0,1,5\n1,NA,6\n2,3,\n3,4,8\n" + "".join(f"{i},{i},{i}\n" for i in range(4, 60)))
    data = build_task("forecast/series", ForecastParams(series=str(tmp_path / "m.csv"), targets=("y",), lookback=4, horizon=1))
    assert data.info.extra["n_missing_filled"] == 2 and data.info.d_output == 1 and data.info.d_input == 2
    assert data.info.extra["targets"] == ["y"]
    (tmp_path / "bad.csv").write_text("t,x\n0,1\n1,abc\n")
    with pytest.raises(MalformedDataError, match="row 2, column 'x': 'abc'"):
        build_task("forecast/series", ForecastParams(series=str(tmp_path / "bad.csv"), lookback=1, horizon=1))
    with pytest.raises(DataNotFoundError, match="vic_elec"):
        build_task("forecast/series", ForecastParams(series=str(tmp_path / "none.csv")))
    with pytest.raises(ValueError, match="'z'.*columns: t, x, y"):
        build_task("forecast/series", ForecastParams(series=str(tmp_path / "m.csv"), columns=("z",), lookback=4, horizon=1))
    with pytest.raises(ValueError, match="unknown series 'weather'.*vic_elec"):
        build_task("forecast/series", ForecastParams(series="weather"))


def test_availability_checks_the_named_columns_against_the_header(tmp_path):
    from ssmem.data._sources import availability

    write_csv(tmp_path / "s.csv", {"x": np.arange(30.0), "y": np.arange(30.0)})
    path = str(tmp_path / "s.csv")
    assert availability("forecast/series", ForecastParams(series=path)).ready
    assert availability("forecast/series", ForecastParams(series=path, columns=("x",), targets=("x",))).ready
    cases = [
        (ForecastParams(series=path, columns=("z",)), "no column(s) 'z'; columns: t, x, y"),
        (ForecastParams(series=path, targets=("w",)), "no column(s) 'w'"),
        (ForecastParams(series=path, time_column="when"), "no column(s) 'when'"),
        (ForecastParams(series=path, columns=("x",), targets=("y",)), "target column(s) 'y' are not among the input columns x"),
    ]
    for params, reason in cases:
        state = availability("forecast/series", params)
        assert not state.ready and reason in state.detail, (params, state)
        with pytest.raises((ValueError, MalformedDataError), match=r"'z'|'w'|'when'|'y'"):
            build_task("forecast/series", params)


def test_availability_reads_the_first_data_row_too(tmp_path):
    """A semicolon-separated file has one header "column" and no numeric ones: MISSING, as building says."""
    from ssmem.data._sources import availability

    cases = {
        "semicolons.csv": ("t;x;y\n0;1.5;2\n1;2.5;3\n", "no numeric value columns besides the time column 't;x;y'"),
        "short_row.csv": ("t,x,y\n0,1.5\n1,2.5,3\n", "data row 1 has 2 fields, the header 3"),
        "header_only.csv": ("t,x,y\n", "at least one data row"),
    }
    (tmp_path / "na_first.csv").write_text("t,y\n0,NA\n" + "".join(f"{i},{i}\n" for i in range(1, 60)))
    assert availability("forecast/series", ForecastParams(series=str(tmp_path / "na_first.csv"))).ready  # as building
    for name, (text, reason) in cases.items():
        (tmp_path / name).write_text(text)
        state = availability("forecast/series", ForecastParams(series=str(tmp_path / name)))
        assert not state.ready and reason in state.detail, (name, state)
        with pytest.raises(MalformedDataError, match=reason.split(" (")[0].replace("'t;x;y'", "")):
            build_task("forecast/series", ForecastParams(series=str(tmp_path / name), cache=False))


def test_csv_files_that_would_give_wrong_series_are_refused_or_read_right(tmp_path):
    rows = "".join(f"{i},{i},{2 * i}\n" for i in range(1, 60))
    cases = {
        "inf.csv": ("t,a,b\n0,1,inf\n" + rows, r"data row 1, column 'b': 'inf' is not a finite number"),
        "twice.csv": ("t,a,a\n0,1,2\n" + rows, r"column name\(s\) 'a' appear more than once"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(MalformedDataError, match=message):
            build_task("forecast/series", ForecastParams(series=str(tmp_path / name), lookback=4, horizon=1, cache=False))
    (tmp_path / "latin.csv").write_bytes("t,caf\xe9\n0,1\n".encode("latin-1") + rows.encode())
    with pytest.raises(MalformedDataError, match=r"latin.csv.*not UTF-8 text"):
        build_task("forecast/series", ForecastParams(series=str(tmp_path / "latin.csv"), lookback=4, horizon=1, cache=False))
    # a value column whose first cell is missing is still a value column; a byte-order mark is not part of a name
    (tmp_path / "gap.csv").write_text("\ufefftime,a,b\n0,1,NA\n" + rows, encoding="utf-8")
    params = ForecastParams(series=str(tmp_path / "gap.csv"), time_column="time", lookback=4, horizon=1, cache=False)
    data = build_task("forecast/series", params)
    assert data.info.extra["columns"] == ["a", "b"] and data.info.extra["n_missing_filled"] == 1
    from ssmem.data.task import task_info

    assert task_info("forecast/series", params).d_input == 2


def test_missing_values_are_filled_from_the_past_only(tmp_path):
    """A gap just before a jump must not take half the jump (it is the next window's target)."""
    from ssmem.data.forecast import read_csv_series

    y = np.zeros(120)
    y[100] = 50.0
    lines = ["t,y", "0,"] + [f"{i},{'' if i == 99 else y[i]}" for i in range(1, 120)]
    (tmp_path / "gap.csv").write_text("\n".join(lines) + "\n")
    _, values, _, n_missing = read_csv_series(tmp_path / "gap.csv")
    assert n_missing == 2 and values[99, 0] == 0.0 and values[0, 0] == 0.0  # last value before; the first present
    data = build_task("forecast/series", ForecastParams(series=str(tmp_path / "gap.csv"), lookback=10, horizon=1, stride=1,
                                                        val_fraction=0.1, test_fraction=0.1, cache=False))
    std = data.info.extra["std"][0]
    x, target = next((x, t) for x, t in (data.val[i] for i in range(len(data.val))) if float(t.max()) * std > 40)
    assert float(x[-1, 0]) == pytest.approx(float(data.train[0][0][0, 0]))  # the gap holds the level before it


def test_time_column_order_gaps_and_the_seasonal_baseline_rule(tmp_path):
    days = [f"2020-01-{d:02d}" for d in range(1, 31)]
    values = np.sin(np.arange(30.0))
    (tmp_path / "back.csv").write_text("day,v\n" + "".join(f"{d},{v}\n" for d, v in zip(days[::-1], values)))
    with pytest.raises(MalformedDataError, match=r"data row 2 \('2020-01-29'\) does not come after row 1 \('2020-01-30'\)"):
        build_task("forecast/series", ForecastParams(series=str(tmp_path / "back.csv"), lookback=3, horizon=1))
    (tmp_path / "stacked.csv").write_text("t,v\n" + "".join(f"{i % 15},{v}\n" for i, v in enumerate(values)))
    with pytest.raises(MalformedDataError, match=r"data row 16 \('0'\) does not come after row 15 \('14'\)"):
        build_task("forecast/series", ForecastParams(series=str(tmp_path / "stacked.csv"), lookback=3, horizon=1))
    hours = [f"2020-01-01T{h:02d}:00:00Z" for h in range(24) if h not in (5, 6, 17)]  # two holes
    (tmp_path / "hours.csv").write_text("when,v\n" + "".join(f"{h},{k}\n" for k, h in enumerate(hours)))
    data = build_task("forecast/series", ForecastParams(series=str(tmp_path / "hours.csv"), lookback=4, horizon=1, season=6,
                                                        val_fraction=0.2, test_fraction=0.2))
    assert data.info.extra["n_time_gaps"] == 2 and "seasonal_naive_mse" not in data.info.extra
    assert data.info.extra["seasonal_naive_skipped"] == "lookback 4 < season 6: the window does not hold a full season"


def test_task_info_of_a_bad_csv_names_the_file(tmp_path):
    from ssmem.data.task import task_info

    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("t,x\n")
    (tmp_path / "latin1.csv").write_bytes(b"t,x\n0,1\n1,caf\xe9\n")
    for name, reason in (("empty", "at least one data row"), ("header", "at least one data row"), ("latin1", "not UTF-8")):
        with pytest.raises(MalformedDataError, match=f"{name}.csv: .*{reason}"):
            task_info("forecast/series", ForecastParams(series=str(tmp_path / f"{name}.csv")))


def test_splits_by_row_counts_and_fractions_match_hand_computed_ranges(tmp_path, rng):
    values = rng.normal(size=100).cumsum()
    write_csv(tmp_path / "s.csv", {"v": values})
    path = str(tmp_path / "s.csv")
    # row counts: train rows 0..49, val 50..69, test 70..89, rows 90..99 unused; stride 4 thins training only
    data = build_task("forecast/series", ForecastParams(series=path, lookback=8, horizon=3, stride=4, split_rows=(50, 20, 20)))
    assert data.train.ends.tolist() == list(range(8, 48, 4))  # last end 44: rows 44..46 < 50
    assert data.val.ends.tolist() == list(range(50, 68))  # last end 67: rows 67..69
    assert data.test.ends.tolist() == list(range(70, 88))
    assert data.info.extra["mean"] == pytest.approx([values[:50].mean()], rel=1e-12)
    changed = values.copy()
    changed[90:] = 1e6  # the unused rows change nothing
    write_csv(tmp_path / "t.csv", {"v": changed})
    other = build_task("forecast/series", ForecastParams(series=str(tmp_path / "t.csv"), lookback=8, horizon=3, stride=4, split_rows=(50, 20, 20)))
    assert other.info.extra["baselines"] == data.info.extra["baselines"]
    # fractions: test = last 20 rows, val = the 10 before, train = the first 70; stride 3
    data = build_task("forecast/series", ForecastParams(series=path, lookback=8, horizon=3, stride=3, val_fraction=0.1, test_fraction=0.2))
    assert data.train.ends.tolist() == list(range(8, 68, 3))
    assert data.val.ends.tolist() == list(range(70, 78))
    assert data.test.ends.tolist() == list(range(80, 98))
    with pytest.raises(ValueError, match=r"split_rows \[80, 20, 20\] asks for 120 rows; .* has 100"):
        build_task("forecast/series", ForecastParams(series=path, lookback=8, horizon=3, split_rows=(80, 20, 20)))
    for bad in ((50, 20), (50, 0, 20), (50.5, 20, 20)):
        with pytest.raises(ValueError, match="split_rows must be three positive row counts"):
            ForecastParams(series=path, split_rows=bad)


def test_linear_baseline_is_the_least_squares_fit_of_the_training_windows(tmp_path, rng):
    from ssmem.data.forecast import fit_linear_forecast

    series = rng.normal(size=(60, 2)).cumsum(axis=0)
    lookback, horizon, ends = 5, 3, np.arange(5, 58)
    # the same fit, written out: one row per (window, column), centred by the window's mean, plus a bias column
    rows, targets = [], []
    for column in range(2):
        for t in ends:
            x = series[t - lookback : t, column]
            rows.append([*(x - x.mean()), 1.0])
            targets.append(series[t : t + horizon, column] - x.mean())
    solution, *_ = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)
    fit = fit_linear_forecast(series, ends, lookback, horizon, np.array([0, 1]), ridge=1e-12)
    level = np.array([[series[t - lookback : t, c].mean() for t in ends] for c in range(2)])  # (2, n)
    expected = (np.array(rows) @ solution).reshape(2, len(ends), horizon) + level[..., None]
    assert np.allclose(fit.predict(series, ends, np.array([0, 1])), expected.transpose(1, 2, 0), atol=1e-8)


def test_baselines_of_the_task_are_on_the_test_windows_and_in_original_units(tmp_path, rng):
    from ssmem.data.forecast import fit_linear_forecast, naive_forecasts

    t = np.arange(400)
    values = 10 + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(size=400) * 0.5
    write_csv(tmp_path / "s.csv", {"v": values})
    params = ForecastParams(series=str(tmp_path / "s.csv"), lookback=24, horizon=6, season=12, stride=5, split_rows=(250, 60, 60))
    data = build_task("forecast/series", params)
    extra = data.info.extra
    assert set(extra["baselines"]) == {"naive", "seasonal_naive", "linear"}
    assert all(extra["baselines"][k] == extra[f"{k}_mse"] for k in extra["baselines"])
    series = (values[:, None] - extra["mean"][0]) / extra["std"][0]
    truth = np.stack([data.test[i][1].numpy() for i in range(len(data.test))])  # (n, horizon), float32 copy
    fit = fit_linear_forecast(series, np.arange(24, 250 - 6 + 1), 24, 6, np.array([0]), ridge=extra["linear_ridge"])
    linear = fit.predict(series, data.test.ends, np.array([0]))[..., 0]
    assert extra["linear_mse"] == pytest.approx(np.mean((linear - truth) ** 2), rel=1e-5)
    seasonal = naive_forecasts(series, data.test.ends, 6, np.array([0]), 12)["seasonal_naive"][..., 0]
    assert extra["seasonal_naive_mse"] == pytest.approx(np.mean((seasonal - truth) ** 2), rel=1e-5)
    # a periodic series: the linear map and the seasonal repeat beat the last value clearly
    assert extra["linear_mse"] < 0.5 * extra["naive_mse"] and extra["seasonal_naive_mse"] < 0.5 * extra["naive_mse"]
    for name in ("naive", "seasonal_naive", "linear"):
        assert extra[f"{name}_mse_original"] == pytest.approx(extra[f"{name}_mse"] * extra["std"][0] ** 2, rel=1e-12)
        assert extra[f"{name}_mae_original"] == pytest.approx(extra[f"{name}_mae"] * extra["std"][0], rel=1e-12)


@pytest.mark.parametrize("lookback, horizon", [(96, 96), (96, 192), (336, 336), (720, 720)])
def test_the_standard_lookbacks_and_horizons_build(tmp_path, rng, lookback, horizon):
    t = np.arange(4000)
    write_csv(tmp_path / "h.csv", {"a": np.sin(2 * np.pi * t / 24) + rng.normal(size=4000) * 0.1, "b": rng.normal(size=4000).cumsum()})
    params = ForecastParams(series=str(tmp_path / "h.csv"), lookback=lookback, horizon=horizon, season=24, split_rows=(2400, 800, 800), cache=False)
    data = build_task("forecast/series", params)
    assert len(data.test) == 800 - horizon + 1 and len(data.val) == 800 - horizon + 1
    assert len(data.train) == 2400 - lookback - horizon + 1
    x, y = data.test[len(data.test) - 1]
    assert x.shape == (lookback, 2) and y.shape == (horizon * 2,)
    assert set(data.info.extra["baselines"]) == {"naive", "seasonal_naive", "linear"}
