"""ElmanForecaster and its series transforms."""

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_elman import ElmanForecaster, ElmanRegressor
from sklearn_elman._transforms import (
    SeriesTransform,
    choose_difference,
    detect_season,
    grows_with_level,
    season_of_index,
)

pd = pytest.importorskip("pandas")

SEASON = 12


def trend_times_season(n, noise=0.0, seed=0, level=100.0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    y = (level + 2.0 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / SEASON))
    return y * np.exp(noise * rng.standard_normal(n))


def fast(**params):
    """A small network that fits in a fraction of a second."""
    return ElmanRegressor(
        hidden_units=8, alpha=0.1, batch_size=24, learning_rate_init=0.01,
        n_iter_no_change=5, max_iter=60, n_ensemble=2, **params,
    )  # fmt: skip


# ----------------------------------------------------------------------------
# Transforms
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("difference", ["none", "first", "seasonal"])
@pytest.mark.parametrize("scale", [False, True])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_every_transform_and_chain_inverts_to_1e10(log, difference, scale, n_targets):
    y = np.column_stack(
        [trend_times_season(120, 0.05, seed=k) for k in range(n_targets)]
    )
    transform = SeriesTransform.fit(
        y, season=SEASON, log=log, difference=difference, scale=scale
    )
    assert transform.log is log
    assert transform.difference == difference
    z = transform.transform(y)
    assert len(z) == len(y) - transform.lag
    if difference != "none" or log or scale:
        assert not np.allclose(z, y[transform.lag :])  # it did transform
    # The levels after any point come back from the working series after it.
    for cut in (transform.lag, transform.lag + 17, len(y) - 5):
        back = transform.inverse(z[cut - transform.lag :], y[:cut])
        np.testing.assert_allclose(back, y[cut:], rtol=1e-10, atol=0)


def test_rules_decide_log_season_and_difference():
    t = np.arange(144)
    season = 1 + 0.2 * np.sin(2 * np.pi * t / SEASON)
    multiplicative = 100 * np.exp(0.015 * t) * season
    linear = trend_times_season(144, 0.01)
    additive = 100 + 2.0 * t + 20 * np.sin(2 * np.pi * t / SEASON)
    assert detect_season(linear) == detect_season(multiplicative) == 12
    assert grows_with_level(multiplicative, SEASON)
    # A linear trend times a season is exactly periodic in its seasonal
    # differences, unlogged; an additive season does not grow with the level.
    assert not grows_with_level(linear, SEASON)
    assert not grows_with_level(additive, SEASON)
    noise = np.random.default_rng(1).standard_normal(200)
    assert detect_season(noise) == 1
    assert choose_difference(noise, 1) == "none"
    assert choose_difference(np.cumsum(noise), 1) == "first"
    assert choose_difference(np.log(multiplicative), 12) == "seasonal"
    # A calendar's season is taken only if the series tests seasonal at it.
    assert choose_difference(noise, 4) == "none"


@pytest.mark.parametrize(
    ("freq", "season"),
    [("M", 12), ("Q", 4), ("D", 7), ("h", 24), ("Y", 1), ("W", 52)],
)
def test_season_of_a_pandas_index(freq, season):
    assert season_of_index(pd.period_range("2000-01-01", periods=30, freq=freq)) == (
        season
    )


# ----------------------------------------------------------------------------
# Forecasts
# ----------------------------------------------------------------------------


def test_noiseless_trend_times_season_is_forecast_within_one_percent():
    y = trend_times_season(144)
    model = ElmanForecaster(random_state=0).fit(y[:120])
    assert model.season_ == 12
    assert model.transforms_[0].difference == "seasonal"
    forecast = model.predict(24)
    assert np.max(np.abs(forecast / y[120:] - 1)) < 0.01


def test_the_network_learns_the_working_series():
    # A noisy seasonal series: the forecast must beat the seasonal naive one,
    # so it is the network (not the transforms alone) that forecasts.
    y = trend_times_season(144, noise=0.03, seed=3)
    model = ElmanForecaster(random_state=0, calibration_steps=0).fit(y[:120])
    seasonal_naive = np.resize(y[108:120], 24)
    error = np.mean(np.abs(model.predict(24) - y[120:]))
    assert error < np.mean(np.abs(seasonal_naive - y[120:]))


def test_a_panel_is_one_global_model():
    panel = [trend_times_season(n, 0.02, seed=n, level=50 + n) for n in (60, 84, 100)]
    model = ElmanForecaster(fast(), season=12, random_state=0).fit(panel)
    forecasts = model.predict(6)
    assert isinstance(forecasts, list) and len(forecasts) == 3
    assert all(f.shape == (6,) for f in forecasts)
    assert len(model.transforms_) == 3
    # A series from training, given again as a new history, is forecast alike.
    again = model.predict(6, last_window=panel[1])
    np.testing.assert_allclose(again, forecasts[1], rtol=1e-10)
    # Another series, not seen in training, is forecast from its own end.
    other = trend_times_season(70, 0.02, seed=9, level=300)
    ahead = model.predict(6, last_window=other)
    assert ahead.shape == (6,) and np.all(np.abs(ahead / other[-12:-6] - 1) < 0.5)


def test_exogenous_inputs_of_the_forecast_steps_are_read():
    # y is the known input of its own step plus noise: only X_future tells the
    # future, so a forecaster that misaligned or ignored it would miss.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((240, 1))
    y = 3 * X[:, 0] + 0.1 * rng.standard_normal(240)
    model = ElmanForecaster(
        ElmanRegressor(hidden_units=8, n_ensemble=2, random_state=0),
        calibration_steps=0,
    ).fit(y[:200], X[:200])
    assert model.n_exogenous_ == 1 and model.transforms_[0].difference == "none"
    forecast = model.predict(40, X_future=X[200:])
    assert np.mean(np.abs(forecast - y[200:])) < 0.3 * np.std(y)


def test_multiple_targets_and_pandas_in_and_out():
    index = pd.period_range("1990-01", periods=120, freq="M")
    frame = pd.DataFrame(
        {"a": trend_times_season(120, 0.01), "b": trend_times_season(120, 0.01, 1)},
        index=index,
    )
    model = ElmanForecaster(fast(), random_state=0).fit(frame)
    assert model.season_ == 12 and model.n_targets_ == 2
    forecast = model.predict(5)
    assert isinstance(forecast, pd.DataFrame)
    assert list(forecast.columns) == ["a", "b"]
    assert list(forecast.index) == list(pd.period_range("2000-01", periods=5, freq="M"))
    lower, upper = model.predict_interval(5)
    assert isinstance(lower, pd.DataFrame) and (lower.values < upper.values).all()


def test_a_datetime_index_is_continued_and_gives_the_season():
    index = pd.date_range("2001-01-01", periods=100, freq="MS")
    series = pd.Series(trend_times_season(100, 0.01), index=index, name="sales")
    model = ElmanForecaster(fast(), random_state=0, calibration_steps=0).fit(series)
    forecast = model.predict(3)
    assert model.season_ == 12
    assert forecast.name == "sales"
    assert list(forecast.index) == list(
        pd.date_range("2009-05-01", periods=3, freq="MS")
    )


def test_the_default_network_is_tunable_by_name():
    model = ElmanForecaster(ElmanForecaster.default_regressor())
    model.set_params(regressor__hidden_units=5, season=4)
    copy = clone(model)
    assert copy.get_params()["regressor__hidden_units"] == 5
    assert copy.season == 4
    assert ElmanForecaster().get_params()["regressor"] is None


def test_intervals_cover_as_stated_on_simulated_series():
    # Random walks with drift: 40 series, 90% intervals 8 steps ahead. The
    # intervals are calibrated on each series' own held-back tail.
    rng = np.random.default_rng(0)
    n, horizon = 96, 8
    steps = 0.5 + rng.standard_normal((40, n + horizon))
    series = 50 + np.cumsum(steps, axis=1)
    model = ElmanForecaster(fast(), season=1, random_state=0)
    model.fit(list(series[:, :n]))
    lower, upper = model.predict_interval(horizon, coverage=0.9)
    truth = series[:, n:]
    inside = (np.asarray(lower) <= truth) & (truth <= np.asarray(upper))
    assert 0.8 <= inside.mean() <= 0.98
    # Narrower asked, narrower given.
    low50, up50 = model.predict_interval(horizon, coverage=0.5)
    assert np.all(np.asarray(up50) - np.asarray(low50) < np.asarray(upper) - lower)


# ----------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------


def test_a_forecast_beyond_the_exogenous_inputs_is_refused():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 2))
    y = X.sum(axis=1)
    model = ElmanForecaster(fast(), calibration_steps=0).fit(y, X)
    with pytest.raises(ValueError, match="X_future covers 3 step.*n_steps=5"):
        model.predict(5, X_future=X[:3])
    with pytest.raises(ValueError, match="needs their values.*X_future"):
        model.predict(5)
    with pytest.raises(ValueError, match="X_future has 1 column"):
        model.predict(2, X_future=X[:2, :1])
    plain = ElmanForecaster(fast(), calibration_steps=0).fit(y)
    with pytest.raises(ValueError, match="fitted without X"):
        plain.predict(2, X_future=X[:2])


def test_a_series_too_short_is_refused():
    y = trend_times_season(30)
    with pytest.raises(ValueError, match="too short for window=40"):
        ElmanForecaster(fast(), season=12, window=40).fit(y)
    with pytest.raises(ValueError, match="series 1 of y has 10 values, too short"):
        ElmanForecaster(fast(), season=12, difference="seasonal").fit([y, y[:10]])
    model = ElmanForecaster(fast(), season=12, calibration_steps=0).fit(y)
    with pytest.raises(ValueError, match="last_window has 20 values, too short"):
        model.predict(3, last_window=y[:20])


def test_non_positive_values_under_a_log_are_refused():
    y = trend_times_season(60)
    y[17] = -1.0
    with pytest.raises(ValueError, match="log=True needs positive values.*-1.*17"):
        ElmanForecaster(fast(), log=True).fit(y)
    # 'auto' takes no log of such a series.
    model = ElmanForecaster(fast(), calibration_steps=0).fit(y)
    assert not model.transforms_[0].log


def test_nan_inside_a_series_is_refused():
    y = trend_times_season(60)
    y[20] = np.nan
    with pytest.raises(ValueError, match="NaN or inf at position 20.*Fill"):
        ElmanForecaster(fast()).fit(y)
    with pytest.raises(ValueError, match="NaN or inf at position 20 of series 1"):
        ElmanForecaster(fast()).fit([trend_times_season(60), y])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"season": 0}, "season must be 'auto' or an int >= 1"),
        ({"window": "long"}, "window must be"),
        ({"log": "yes"}, "log must be"),
        ({"difference": "second"}, "difference must be one of"),
        ({"calendar": "holidays"}, "calendar must be one of"),
        ({"calibration_steps": -1}, "calibration_steps must be"),
        ({"regressor": "mlp"}, "regressor must be an ElmanRegressor"),
        ({"season": 1, "difference": "seasonal"}, "needs a season of at least 2"),
    ],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ElmanForecaster(**params).fit(trend_times_season(60))


def test_intervals_need_a_calibration():
    model = ElmanForecaster(fast(), calibration_steps=0).fit(trend_times_season(60))
    with pytest.raises(ValueError, match="calibration_steps=0"):
        model.predict_interval(3)
    with pytest.raises(ValueError, match="coverage must be in"):
        ElmanForecaster(fast()).fit(trend_times_season(60)).predict_interval(3, 1.5)


def test_noiseless_exponential_trend_times_season_is_forecast_on_the_log():
    t = np.arange(144)
    y = 100 * np.exp(0.015 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / SEASON))
    model = ElmanForecaster(random_state=0, calibration_steps=0).fit(y[:120])
    assert model.transforms_[0].log
    assert np.max(np.abs(model.predict(24) / y[120:] - 1)) < 0.01


@pytest.mark.parametrize("kind", ["numpy", "pandas", "panel"])
def test_skops_round_trip_trusts_only_public_classes(kind):
    sio = pytest.importorskip("skops.io")
    y = trend_times_season(80, 0.01)
    if kind == "pandas":
        y = pd.Series(y, index=pd.period_range("2001-01", periods=80, freq="M"))
    data = [y, trend_times_season(70, 0.01, seed=2)] if kind == "panel" else y
    model = ElmanForecaster(fast(), season=12, random_state=0).fit(data)
    saved = sio.dumps(model)
    public = ["sklearn_elman.ElmanForecaster", "sklearn_elman.ElmanRegressor"]
    assert sorted(sio.get_untrusted_types(data=saved)) == public
    loaded = sio.loads(saved, trusted=public)
    expected, got = model.predict(6), loaded.predict(6)
    for e, g in zip(
        expected if kind == "panel" else [expected], got if kind == "panel" else [got]
    ):
        if kind == "pandas":
            assert list(g.index) == list(e.index)
        np.testing.assert_array_equal(np.asarray(g), np.asarray(e))
    np.testing.assert_array_equal(
        np.asarray(
            loaded.predict_interval(6)[1][0 if kind == "panel" else slice(None)]
        ),
        np.asarray(model.predict_interval(6)[1][0 if kind == "panel" else slice(None)]),
    )
