"""Benchmark: ElmanForecaster against the usual baselines on four real series.

The development series that aeon ships offline: the monthly airline passengers,
US changes (quarterly consumption with income, production, savings and
unemployment as exogenous inputs), the monthly PBS prescriptions and the M1 yearly
panel (181 short series). For each, the last ``horizon`` values are forecast from
the rest and scored by MAE, RMSE and MASE (the mean absolute error divided by the
in-sample error of the seasonal naive forecast; averaged over the panel's
series). The baselines: the naive and seasonal naive forecasts; an
``MLPRegressor`` on the same lags, transforms and known inputs as the forecaster
(5 seeds averaged, rolled forward the same way: a fair comparison of the
networks); and, when statsforecast is installed, its ``AutoETS`` and
``AutoARIMA``.

``--validate`` scores one more horizon back (``--back 2``: two more), inside the
training part (the last horizon is then never read): settings are chosen there,
never on the scores this script prints by default. Needs aeon
(``pip install aeon``); statsforecast is optional. Prints a markdown table,
saves ``bench_forecasting.png`` and says how long it took.

    python examples/bench_forecasting.py [--validate] [--datasets airline,m1]
        [--forecaster-params '{"regressor__hidden_units": 32}'] [--direct]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.neural_network import MLPRegressor

from sklearn_elman import ElmanForecaster

# name: (season, horizon)
DATASETS = {
    "airline": (12, 24),
    "uschange": (4, 8),
    "pbs": (12, 12),
    "m1_yearly": (1, 6),
}
N_MLP_SEEDS = 5
MIN_TRAIN = 8


def load(name):
    """(series, exogenous or None, pandas frequency) of a development set."""
    from aeon import datasets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "airline":
            y = datasets.load_airline()
            index = pd.period_range("1949-01", periods=len(y), freq="M")
            return [pd.Series(y, index=index)], None
        if name == "uschange":
            data = datasets.load_uschange()
            index = pd.period_range("1970Q1", periods=data.shape[1], freq="Q")
            return [pd.Series(data[0], index=index)], [data[1:].T]
        if name == "pbs":
            y = datasets.load_PBS_dataset()
            index = pd.period_range("1991-07", periods=len(y), freq="M")
            return [pd.Series(y, index=index)], None
        frame = datasets.load_forecasting("m1_yearly_dataset")
        return [np.asarray(v, dtype=float) for v in frame.series_value], None


def split(ys, Xs, horizon, back):
    """Training parts, the held-out values and their exogenous inputs.

    The held-out values are the horizon ``back`` horizons before the last one.
    """
    cut = (back + 1) * horizon
    train, test, X_train, X_test = [], [], [], []
    for k, y in enumerate(ys):
        if len(y) - cut < MIN_TRAIN:
            continue  # too short to validate on (M1 only, with --validate)
        end = len(y) - cut + horizon
        train.append(y[: end - horizon])
        test.append(np.asarray(y[end - horizon : end], dtype=float))
        if Xs is not None:
            X_train.append(Xs[k][: end - horizon])
            X_test.append(Xs[k][end - horizon : end])
    return train, test, (X_train or None), (X_test or None)


def scores(train, test, forecasts, season):
    """MAE, RMSE and MASE, each averaged over the series."""
    mae, rmse, mase = [], [], []
    for y, truth, hat in zip(train, test, forecasts):
        y = np.asarray(y, dtype=float)
        m = season if len(y) > season else 1
        scale = np.mean(np.abs(y[m:] - y[:-m]))
        error = np.asarray(hat, dtype=float) - truth
        mae.append(np.mean(np.abs(error)))
        rmse.append(np.sqrt(np.mean(error**2)))
        mase.append(mae[-1] / scale if scale > 0 else np.nan)
    return float(np.mean(mae)), float(np.mean(rmse)), float(np.nanmean(mase))


def naive(train, horizon, season):
    out = []
    for y in train:
        y = np.asarray(y, dtype=float)
        m = season if len(y) >= season else 1
        out.append(np.resize(y[-m:], horizon) if m > 1 else np.full(horizon, y[-1]))
    return out


def mlp_on_lags(forecaster, train, X_train, X_test, horizon):
    """MLPRegressor on the forecaster's windows, transforms and known inputs."""
    L, season = forecaster.window_, forecaster.season_
    calendar = "season" in forecaster.calendar_ and season > 1
    X_all = None if X_train is None else np.concatenate(X_train)
    mean = None if X_all is None else X_all.mean(axis=0)
    spread = None if X_all is None else X_all.std(axis=0)

    def known(k, times):
        parts = [np.empty((len(times), 0))]
        if calendar:
            start = _start(train[k])
            angle = 2 * np.pi * ((start + times) % season) / season
            parts += [np.sin(angle)[:, None], np.cos(angle)[:, None]]
        if X_all is not None:
            X = np.vstack([X_train[k], X_test[k]])
            parts.append((X[np.minimum(times, len(X) - 1)] - mean) / spread)
        return np.hstack(parts)

    rows, targets, series = [], [], []
    for k, (y, t) in enumerate(zip(train, forecaster.transforms_)):
        y2 = np.asarray(y, dtype=float).reshape(len(y), -1)
        z = t.transform(y2)[:, 0]
        series.append((y2, z, t))
        times = t.lag + np.arange(len(z))
        K = known(k, times)
        for end in range(L, len(z)):
            rows.append(np.concatenate([z[end - L : end], K[end]]))
            targets.append(z[end])
    rows, targets = np.asarray(rows), np.asarray(targets)
    members = []
    for seed in range(N_MLP_SEEDS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            members.append(
                MLPRegressor(max_iter=1000, random_state=seed).fit(rows, targets)
            )
    out = []
    for k, (y2, z, t) in enumerate(series):
        path = list(z)
        n = len(y2)
        for step in range(horizon):
            K = known(k, np.array([n + step]))[0]
            x = np.concatenate([np.asarray(path[-L:]), K])[None]
            path.append(np.mean([m.predict(x)[0] for m in members]))
        out.append(t.inverse(np.asarray(path[len(z) :])[:, None], y2)[:, 0])
    return out


def _start(y):
    index = getattr(y, "index", None)
    if index is not None and hasattr(index, "month"):
        return (
            index[0].month - 1
            if index.freqstr.startswith("M")
            else index[0].quarter - 1
        )
    return 0


def statsforecast_models(train, horizon, season):
    """AutoETS and AutoARIMA forecasts, or {} without statsforecast."""
    try:
        from statsforecast.models import AutoARIMA, AutoETS
    except ImportError:
        return {}
    out = {}
    for name, make in (("AutoETS", AutoETS), ("AutoARIMA", AutoARIMA)):
        forecasts = []
        for y in train:
            y = np.asarray(y, dtype=float)
            m = season if len(y) >= 2 * season else 1
            model = make(season_length=m)
            try:
                forecasts.append(model.forecast(y=y, h=horizon)["mean"])
            except Exception:  # a fit that fails falls back to the naive forecast
                forecasts.append(np.full(horizon, y[-1]))
        out[f"statsforecast {name}"] = forecasts
    return out


def direct_head(forecaster, train, horizon):
    """The forecaster's network with a direct head: all horizon steps at once.

    Trained on the same windows of the same working series (without known
    inputs), with the next ``horizon`` values as targets; nothing is fed back.
    """
    L = forecaster.window_
    rows, targets, series = [], [], []
    for y, t in zip(train, forecaster.transforms_):
        y2 = np.asarray(y, dtype=float).reshape(len(y), -1)
        z = t.transform(y2)[:, 0]
        series.append((y2, z, t))
        for end in range(L, len(z) - horizon + 1):
            rows.append(z[end - L : end, None])
            targets.append(z[end : end + horizon])
    if not rows:
        return None
    network = ElmanForecaster.default_regressor().set_params(random_state=0)
    network.fit(np.asarray(rows), np.asarray(targets))
    last = np.asarray([z[-L:, None] for _, z, _ in series])
    paths = network.predict(last).reshape(len(series), horizon)
    return [t.inverse(p[:, None], y2)[:, 0] for (y2, _, t), p in zip(series, paths)]


def run(name, back, params, direct=False):
    season, horizon = DATASETS[name]
    ys, Xs = load(name)
    train, test, X_train, X_test = split(ys, Xs, horizon, back)
    panel = len(train) > 1 or name == "m1_yearly"
    if panel:
        print(f"{name}: {len(train)} of {len(ys)} series long enough")
    results = {}
    timings = {}
    started = time.perf_counter()
    forecaster = ElmanForecaster(
        ElmanForecaster.default_regressor(), random_state=0
    ).set_params(**params)
    forecaster.fit(
        train if panel else train[0], X_train if panel else (X_train or [None])[0]
    )
    future = None if X_test is None else (X_test if panel else X_test[0])
    hat = forecaster.predict(horizon, X_future=future)
    results["ElmanForecaster"] = hat if panel else [np.asarray(hat)]
    timings["ElmanForecaster"] = time.perf_counter() - started
    started = time.perf_counter()
    results[f"MLP on {forecaster.window_} lags, same transforms"] = mlp_on_lags(
        forecaster, train, X_train, X_test, horizon
    )
    timings["MLP"] = time.perf_counter() - started
    if direct:
        paths = direct_head(forecaster, train, horizon)
        if paths is not None:
            results["Elman, direct multi-step head"] = paths
    results["naive"] = naive(train, horizon, 1)
    if season > 1:
        results["seasonal naive"] = naive(train, horizon, season)
    started = time.perf_counter()
    results.update(statsforecast_models(train, horizon, season))
    timings["statsforecast"] = time.perf_counter() - started
    settings = {
        "season": forecaster.season_,
        "window": forecaster.window_,
        "calendar": forecaster.calendar_,
        "log": sorted({t.log for t in forecaster.transforms_}),
        "difference": sorted({t.difference for t in forecaster.transforms_}),
    }
    return (
        {
            model: scores(train, test, forecasts, season)
            for model, forecasts in results.items()
        },
        settings,
        timings,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--validate", action="store_true")
    parser.add_argument(
        "--back",
        type=int,
        default=1,
        help="with --validate, how many horizons before the last to score",
    )
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--forecaster-params", default="{}")
    parser.add_argument(
        "--direct",
        action="store_true",
        help="also score the network with a direct multi-step head",
    )
    args = parser.parse_args(argv)
    params = json.loads(args.forecaster_params)
    started = time.perf_counter()
    back = args.back if args.validate else 0
    if args.validate and back < 1:
        parser.error("--back must be at least 1")
    part = f"validation horizon {back} back" if back else "test horizon"
    print(f"Scores on the {part}; ElmanForecaster params: {params or 'defaults'}\n")
    table = {}
    for name in args.datasets.split(","):
        table[name], settings, timings = run(name, back, params, args.direct)
        seconds = {k: round(v, 1) for k, v in timings.items()}
        print(f"{name}: chosen {settings}; seconds {seconds}")
    print("\n| data | model | MAE | RMSE | MASE |\n|---|---|---|---|---|")
    for name, rows in table.items():
        for model, (mae, rmse, mase) in sorted(rows.items(), key=lambda r: r[1][2]):
            print(f"| {name} | {model} | {mae:.4g} | {rmse:.4g} | {mase:.3f} |")
    plot(table, part)
    print(f"\nTook {time.perf_counter() - started:.0f} s.")


def plot(table, part):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(table), figsize=(4 * len(table), 3.5))
    for ax, (name, rows) in zip(np.atleast_1d(axes), table.items()):
        models = sorted(rows, key=lambda m: rows[m][2])
        ax.barh(models, [rows[m][2] for m in models], color="tab:blue")
        ax.set_title(name)
        ax.set_xlabel("MASE (lower is better)")
        ax.invert_yaxis()
    fig.suptitle(f"Forecast errors on the {part}")
    fig.tight_layout()
    path = os.path.abspath("bench_forecasting.png")
    fig.savefig(path, dpi=100)
    print(f"Saved the plot to {path}")


if __name__ == "__main__":
    main()
