"""Tests of ``ElmanRegressor``: targets, solvers, streams and ``forecast``."""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_elman import ElmanClassifier, ElmanRegressor, pad_sequences
from sklearn_elman import _elman as E

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SOLVERS = ["adam", "sgd", "lbfgs"]


def delayed_sum_task(n=300, n_steps=8, seed=0):
    """y is a weighted sum of two early steps: it must be carried to the end."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, n_steps))
    y = X[:, 1] - 0.5 * X[:, 3]
    return X, y


def sine_windows(n_windows=200, window=12, seed=0):
    """Windows of a noisy two-frequency series; target: the next value."""
    rng = np.random.RandomState(seed)
    t = np.arange(n_windows + window + 40)
    series = np.sin(2 * np.pi * t / 12) + 0.3 * np.sin(2 * np.pi * t / 5)
    series += rng.normal(scale=0.02, size=series.shape)
    X = np.stack([series[i : i + window] for i in range(n_windows)])
    y = series[window : window + n_windows]
    return X, y, series


def with_weights_of(fitted, model):
    """``model`` given the weights and fitted shape of ``fitted`` (2D input)."""
    for name in [n + "_" for n in E.ElmanParams._fields] + [
        "n_outputs_",
        "n_features_in_",
        "_y_ndim",
    ]:
        setattr(model, name, getattr(fitted, name))
    model._fitted_ndim = 2
    return model


@pytest.mark.parametrize("solver", SOLVERS)
def test_learns_a_value_that_needs_memory(solver):
    X, y = delayed_sum_task()
    reg = ElmanRegressor(
        solver=solver,
        hidden_units=16,
        max_iter=300,
        learning_rate_init=0.01,
        random_state=0,
    ).fit(X[:200], y[:200])
    assert reg.loss_curve_[-1] < 0.1 * reg.loss_curve_[0]
    assert reg.score(X[200:], y[200:]) > 0.9


def test_loss_is_half_the_squared_error_as_mlp_regressor_follows():
    """loss_ of lbfgs = 0.5 * mean over rows of sum over targets + the L2 term."""
    X, y = delayed_sum_task(n=60)
    Y = np.c_[y, -2 * y]
    reg = ElmanRegressor(solver="lbfgs", alpha=0.0, max_iter=5, random_state=0)
    reg.fit(X, Y)
    residual = reg.predict(X) - Y
    assert reg.loss_ == pytest.approx(0.5 * np.mean(np.sum(residual**2, axis=1)))


def test_prediction_shape_follows_y():
    X, y = delayed_sum_task(n=50)
    one = ElmanRegressor(max_iter=2, random_state=0).fit(X, y)
    assert one.predict(X).shape == (50,)
    assert one.n_outputs_ == 1
    column = ElmanRegressor(max_iter=2, random_state=0).fit(X, y[:, None])
    assert column.predict(X).shape == (50, 1)
    assert_allclose(column.predict(X)[:, 0], one.predict(X))
    two = ElmanRegressor(max_iter=2, random_state=0).fit(X, np.c_[y, y**2])
    assert two.predict(X).shape == (50, 2)
    assert two.output_weights_.shape == (64, 2)


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_prediction_shape_follows_the_latest_fit(how):
    X, y = delayed_sum_task(n=50)
    model = ElmanRegressor(max_iter=2, random_state=0).fit(X, y)
    for target, shape in ((y[:, None], (50, 1)), (y, (50,))):
        if how == "warm_start":
            model.set_params(warm_start=True).fit(X, target)
        else:
            model.partial_fit(X, target)
        assert model.predict(X).shape == shape


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("stateful", [False, True])
def test_k_partial_fits_equal_fit_with_max_iter_k(solver, stateful):
    X, y = delayed_sum_task(n=48)
    params = {
        "solver": solver,
        "shuffle": False,
        "batch_size": 16,
        "random_state": 0,
        "hidden_units": 6,
        "stateful": stateful,
    }
    full = ElmanRegressor(max_iter=3, **params).fit(X, y)
    incremental = ElmanRegressor(**params)
    for _ in range(3):
        incremental.partial_fit(X, y).reset_context()
    for name in E.ElmanParams._fields:
        assert_array_equal(getattr(incremental, name + "_"), getattr(full, name + "_"))
    assert incremental.loss_curve_ == full.loss_curve_


def test_partial_fit_exists_only_for_stochastic_solvers():
    assert hasattr(ElmanRegressor(solver="adam"), "partial_fit")
    assert hasattr(ElmanRegressor(solver="sgd"), "partial_fit")
    assert not hasattr(ElmanRegressor(solver="lbfgs"), "partial_fit")


def test_partial_fit_with_another_number_of_targets_is_an_error():
    X, y = delayed_sum_task(n=40)
    reg = ElmanRegressor(random_state=0).partial_fit(X, y)
    with pytest.raises(ValueError, match=re.escape("y has 2 target(s)")):
        reg.partial_fit(X, np.c_[y, y])


def test_early_stopping_scores_r2_on_held_out_rows():
    X, y = delayed_sum_task(n=200)
    reg = ElmanRegressor(
        early_stopping=True, max_iter=30, random_state=0, n_iter_no_change=30
    ).fit(X, y)
    assert len(reg.validation_scores_) == reg.n_iter_ == 30
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.best_validation_score_ > 0.5


def test_stateful_regressor_streams_like_the_whole_sequence():
    X, y = delayed_sum_task(n=80)
    stateless = ElmanRegressor(max_iter=5, random_state=0).fit(X, y)
    stream = with_weights_of(stateless, clone(stateless).set_params(stateful=True))
    sequence = X[5]
    stream.n_features_in_ = 1
    steps = stream.predict(sequence[:, None])  # one row per step
    assert_allclose(steps[-1], stateless.predict(X[5:6])[0], rtol=1e-12)
    assert_allclose(steps[3], stateless.predict(X[5:6, :4, None])[0], rtol=1e-12)


def test_target_scaling_composes_with_transformed_target_regressor():
    X, y = delayed_sum_task(n=200)
    model = TransformedTargetRegressor(
        regressor=ElmanRegressor(max_iter=100, random_state=0),
        transformer=StandardScaler(),
    ).fit(X[:150], 1000 * y[:150] + 5000)
    assert model.score(X[150:], 1000 * y[150:] + 5000) > 0.8


def test_float32_stays_float32():
    X, y = delayed_sum_task(n=40)
    reg = ElmanRegressor(max_iter=2, random_state=0).fit(X.astype(np.float32), y)
    assert reg.input_weights_.dtype == np.float32
    assert reg.predict(X.astype(np.float32)).dtype == np.float32
    assert reg.forecast(X[:3].astype(np.float32), 4).dtype == np.float32


# ----------------------------------------------------------------------------------
# forecast
# ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def next_value_model():
    X, y, series = sine_windows()
    reg = ElmanRegressor(hidden_units=16, max_iter=150, random_state=0).fit(X, y)
    return reg, X, series


def test_forecast_feeds_each_prediction_back(next_value_model):
    reg, X, _ = next_value_model
    history = X[:4]
    forecast = reg.forecast(history, n_steps=5)
    assert forecast.shape == (4, 5)
    # The same roll done by hand with predict on ever longer sequences.
    extended = history.copy()
    for step in range(5):
        value = reg.predict(extended[:, :, None])
        assert_allclose(forecast[:, step], value, rtol=1e-10, atol=1e-12)
        extended = np.c_[extended, value]


def test_forecast_with_a_window_reads_only_the_last_steps(next_value_model):
    reg, X, _ = next_value_model
    history = np.c_[X[:3], X[3:6]]  # 24 steps of history
    forecast = reg.forecast(history, n_steps=4, window=12)
    extended = history.copy()
    for step in range(4):
        value = reg.predict(extended[:, -12:, None])
        assert_allclose(forecast[:, step], value, rtol=1e-10, atol=1e-12)
        extended = np.c_[extended, value]
    assert not np.allclose(forecast, reg.forecast(history, n_steps=4))


def test_forecast_reads_nan_padded_histories_of_any_length(next_value_model):
    reg, X, _ = next_value_model
    padded = np.c_[X[:2], np.full((2, 3), np.nan)]
    padded[1, 12:] = X[2, :3]  # the second history is 15 steps long
    forecast = reg.forecast(padded, n_steps=3)
    assert_allclose(forecast[0], reg.forecast(X[:1], 3)[0], rtol=1e-12)
    assert_allclose(forecast[1], reg.forecast(np.c_[X[1:2], X[2:3, :3]], 3)[0])
    windowed = reg.forecast(padded, n_steps=3, window=12)
    assert_allclose(windowed[1], reg.forecast(padded[1:2, 3:], 3, window=12)[0])


def test_forecast_tracks_a_periodic_series(next_value_model):
    reg, X, series = next_value_model
    truth = series[200 + 12 : 200 + 12 + 12]
    forecast = reg.forecast(series[None, 200 : 200 + 12], n_steps=12)[0]
    naive = np.mean(np.abs(series[200 : 200 + 12] - truth))  # a year-ago copy
    assert np.mean(np.abs(forecast - truth)) < 0.5 * naive + 0.05


def test_forecast_with_exogenous_features_and_several_targets():
    rng = np.random.RandomState(0)
    # Two target features and one exogenous feature per step.
    X = rng.normal(size=(60, 5, 3))
    Y = rng.normal(size=(60, 2))
    reg = ElmanRegressor(max_iter=3, random_state=0).fit(X, Y)
    future = rng.normal(size=(4, 6, 1))
    forecast = reg.forecast(X[:4], n_steps=6, X_future=future)
    assert forecast.shape == (4, 6, 2)
    extended = X[:4]
    for step in range(6):
        value = reg.predict(extended)
        assert_allclose(forecast[:, step], value, rtol=1e-10, atol=1e-12)
        next_step = np.concatenate([value, future[:, step]], axis=1)[:, None]
        extended = np.concatenate([extended, next_step], axis=1)
    # A 2D X_future is one exogenous feature per step.
    assert_array_equal(reg.forecast(X[:4], 6, X_future=future[:, :, 0]), forecast)


def predict_from_zero_context(reg, X):
    """``predict`` of ``X`` as a fresh stream (or independent rows) would read it."""
    if reg.stateful:
        reg.reset_context()
    return reg.predict(X)


# forecast takes every readout (it refuses only the reversed pass).
@pytest.mark.parametrize("readout", sorted(E.READOUTS))
@pytest.mark.parametrize("stateful", [False, True])
@pytest.mark.parametrize("window", [None, 3])
def test_forecast_is_predict_on_the_history_rolled_forward(readout, stateful, window):
    # One target fed back and one exogenous feature per step: the first
    # forecast step is predict on the history, the second predict on the
    # history extended by the first and its exogenous value. The two methods
    # share one path: no readout, mode or window may make them differ.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 5, 2))
    small = {"hidden_units": 8, "max_iter": 2, "random_state": 0}
    reg = ElmanRegressor(readout=readout, stateful=stateful, **small)
    reg.fit(X, X[:, -1, 0])
    history = rng.normal(size=(4, 5, 2))
    n_series = 1 if stateful else len(history)
    future = rng.normal(size=(n_series, 2, 1))
    context = getattr(reg, "context_", None)
    forecast = reg.forecast(history, 2, X_future=future, window=window)
    assert forecast.shape == (n_series, 2)
    if stateful:
        assert_array_equal(reg.context_, context)  # a forecast is a what-if
    if window is not None:
        # Every prediction reads the last `window` steps from a zero context
        # (a stream's rows read as one history).
        series = history.reshape(n_series, -1, 2)
        first = predict_from_zero_context(reg, series[:, -window:])
        extended = np.concatenate([series, np.c_[first, future[:, 0]][:, None]], axis=1)
        second = predict_from_zero_context(reg, extended[:, -window:])
    elif stateful:
        # The rows continue the stream from context_; every forecast step is
        # a row of its own, continuing from the rows.
        first = reg.predict(history)[-1:]
        second = reg.predict(np.c_[first, future[:, 0]][:, None])
    else:
        first = reg.predict(history)
        extended = np.concatenate(
            [history, np.c_[first, future[:, 0]][:, None]], axis=1
        )
        second = reg.predict(extended)
    assert_allclose(forecast[:, 0], first, rtol=1e-12, atol=1e-14)
    assert_allclose(forecast[:, 1], second, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_steps": 0}, "n_steps must be at least 1"),
        ({"n_steps": 2.5}, "n_steps must be an int"),
        ({"n_steps": 2, "window": 0}, "window must be None or an int >= 1"),
        ({"n_steps": 2}, "needs the 1 exogenous feature(s) of the next steps"),
        ({"n_steps": 2, "X_future": np.zeros((4, 3, 1))}, "X_future has shape"),
        ({"n_steps": 2, "X_future": np.full((4, 2, 1), np.nan)}, "X_future contains"),
    ],
)
def test_forecast_errors_are_clear(kwargs, message):
    rng = np.random.RandomState(0)
    reg = ElmanRegressor(max_iter=1, random_state=0)
    reg.fit(rng.normal(size=(20, 5, 2)), rng.normal(size=20))
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        reg.forecast(rng.normal(size=(4, 5, 2)), **kwargs)


def test_forecast_refuses_targets_it_cannot_feed_back():
    rng = np.random.RandomState(0)
    reg = ElmanRegressor(max_iter=1, random_state=0)
    reg.fit(rng.normal(size=(20, 5)), rng.normal(size=(20, 2)))
    with pytest.raises(ValueError, match="cannot be fed back"):
        reg.forecast(rng.normal(size=(2, 5)), 3)
    univariate = ElmanRegressor(max_iter=1).fit(rng.normal(size=(20, 5)), np.ones(20))
    with pytest.raises(ValueError, match="no exogenous features"):
        univariate.forecast(rng.normal(size=(2, 5)), 3, X_future=np.zeros((2, 3)))


def test_a_classifier_has_no_forecast():
    assert not hasattr(ElmanClassifier(), "forecast")


def test_stateful_forecast_starts_from_the_stream_and_does_not_consume_it():
    X, y, series = sine_windows()
    stream = series[:-1, None]  # one step per row, target: the next value
    reg = ElmanRegressor(
        stateful=True, hidden_units=8, max_iter=20, random_state=0
    ).fit(stream[:150], series[1:151])
    context = reg.context_.copy()
    from_context = reg.forecast(None, n_steps=5)
    assert_array_equal(reg.context_, context)
    assert from_context.shape == (1, 5)
    stateless = with_weights_of(reg, clone(reg).set_params(stateful=False))
    # Forecasting from context_ equals forecasting from the whole stream read.
    assert_allclose(
        from_context[0], stateless.forecast(series[None, :150], 5)[0], rtol=1e-10
    )
    # Given rows, the forecast continues the stream from context_ through them.
    more = reg.forecast(stream[150:160], n_steps=3)
    assert_allclose(more[0], stateless.forecast(series[None, :160], 3)[0], rtol=1e-10)
    assert_array_equal(reg.context_, context)
    with pytest.raises(ValueError, match="window needs the history"):
        reg.forecast(None, 3, window=5)
    with pytest.raises(ValueError, match="stateless model has no history"):
        stateless.forecast(None, 3)


@pytest.mark.parametrize("level, spread", [(100.0, 10.0), (0.0, 50.0), (0.0, 1e-3)])
def test_targets_far_from_unit_scale_get_a_warning_that_names_the_fix(level, spread):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(60, 8))
    y = level + spread * (X[:, 2] - 0.5 * X[:, 5])
    with pytest.warns(UserWarning, match="far from unit scale.*TransformedTarget"):
        ElmanRegressor(max_iter=2).fit(X, y)


def test_targets_at_unit_scale_get_no_scale_warning():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(60, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # after 2 epochs
        model = ElmanRegressor(max_iter=2).fit(X, 3 * X[:, 2] - 0.5)
        # A warm start continues the same targets: it does not warn again.
        model.set_params(warm_start=True).fit(X, 100 + X[:, 2])


def test_a_1d_series_gets_sequence_advice_from_forecast_and_predict():
    X, y = delayed_sum_task(n=30)
    model = ElmanRegressor(max_iter=2, random_state=0).fit(X, y)
    for call in (lambda: model.forecast(X[0], 3), lambda: model.predict(X[0])):
        with pytest.raises(ValueError, match=r"reshape\(1, -1\) if it is one") as error:
            call()
        assert "Reshape your data" in str(error.value)  # scikit-learn's check


def test_forecast_validates_its_history_and_x_future_as_predict_validates_x():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 6))
    names = [f"t{i}" for i in range(6)]
    model = ElmanRegressor(max_iter=2, random_state=0)
    model.fit(pd.DataFrame(X, columns=names), 0.5 * X[:, -1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        ahead = model.forecast(pd.DataFrame(X[:2], columns=names), 3)
    assert_allclose(ahead, model.forecast(X[:2], 3))
    with pytest.raises(ValueError, match="feature names should match"):
        model.forecast(pd.DataFrame(X[:2], columns=[n + "x" for n in names]), 3)
    # Exogenous inputs: complex values are refused, not silently made real.
    X3 = rng.normal(size=(40, 6, 2))
    model = ElmanRegressor(max_iter=2, random_state=0).fit(X3, X3[:, -1, 0])
    with pytest.raises(ValueError, match="Complex data not supported"):
        model.forecast(X3[:2], 3, X_future=np.full((2, 3), 1 + 1j))


def test_forecast_takes_the_ragged_lists_that_predict_takes():
    rng = np.random.RandomState(0)
    X3 = rng.normal(size=(40, 6, 2))
    model = ElmanRegressor(max_iter=2, random_state=0).fit(X3, X3[:, -1, 0])
    ragged = [X3[0], X3[1, :3]]
    future = np.ones((2, 4))
    assert_array_equal(
        model.forecast(ragged, 4, X_future=future),
        model.forecast(pad_sequences(ragged), 4, X_future=future),
    )


def test_forecast_names_the_input_that_is_not_numbers():
    rng = np.random.RandomState(0)
    X3 = rng.normal(size=(20, 4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ElmanRegressor(max_iter=1, random_state=0).fit(X3, X3[:, -1, 0])
    with pytest.raises(ValueError, match=re.escape("X must be an array of numbers")):
        model.forecast(
            ("array-5f87dd59601dd8d0c07b78f70f2434c0", 0, 0),
            2,
            X_future=np.ones((2, 2)),
        )
    future = re.escape("X_future must be an array of numbers") + ".*item 1 holds"
    with pytest.raises(ValueError, match=future):
        model.forecast(X3[:2], 2, X_future=[[1.0, 2.0], ["a", "b"]])


@pytest.mark.parametrize("solver", ["adam", "lbfgs", "echo_state"])
def test_targets_that_no_training_can_fit_are_named(solver):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 5))
    with_none = np.array([1.0] * 19 + [None], dtype=object)
    with pytest.raises(ValueError, match=r"y is NaN or infinite in row\(s\) \[19\]"):
        ElmanRegressor(solver=solver, max_iter=3).fit(X, with_none)
    with pytest.raises(ValueError, match="y reaches 1e\\+307.*Scale the targets"):
        ElmanRegressor(solver=solver, max_iter=3).fit(X, np.full(20, 1e307))


def record_run_hidden(monkeypatch):
    """The shapes of the sequences every later run_hidden call reads."""
    shapes = []
    run_hidden = E.run_hidden

    def recording(params, X3, *args, **kwargs):
        shapes.append(X3.shape)
        return run_hidden(params, X3, *args, **kwargs)

    monkeypatch.setattr(E, "run_hidden", recording)
    return shapes


def test_forecast_in_chunks_of_rows_equals_one_pass(monkeypatch):
    from sklearn_elman import _data

    X, y = delayed_sum_task(n=30)
    model = ElmanRegressor(max_iter=2, random_state=0).fit(X, X[:, -1])
    whole = model.forecast(X, 4)
    windowed = model.forecast(X, 4, window=6)
    shapes = record_run_hidden(monkeypatch)
    monkeypatch.setattr(_data, "PREDICT_CHUNK_BYTES", 1)  # one row a chunk
    assert_allclose(model.forecast(X, 4), whole, rtol=1e-12)
    assert_allclose(model.forecast(X, 4, window=6), windowed, rtol=1e-12)
    assert {shape[0] for shape in shapes} == {1}


def test_a_window_beyond_the_history_runs_no_steps_of_padding(monkeypatch):
    X, y = delayed_sum_task(n=30)
    model = ElmanRegressor(max_iter=2, random_state=0).fit(X, X[:, -1])
    history = X[:3, :5]
    expected = model.forecast(history, 3, window=8)  # 8: every step of it
    shapes = record_run_hidden(monkeypatch)
    assert_allclose(model.forecast(history, 3, window=10_000), expected, rtol=1e-12)
    assert max(shape[1] for shape in shapes) <= 5 + 2  # history and forecasts
