"""Behaviour both estimators share through ``BaseElman``, tested once for each."""

import copy
import os
import re
import warnings

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings
from interrupts import LineInterrupter, raises_interrupt  # helpers beside the tests
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sklearn_elman import (
    ChannelFirstWarning,
    ElmanClassifier,
    ElmanRegressor,
    SequenceScaler,
    _base,
)
from sklearn_elman import _elman as E
from sklearn_elman import _sequences as sequences_module
from sklearn_elman._data import SequenceRows, StreamRows
from sklearn_elman._sequences import to_patches

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [ElmanClassifier, ElmanRegressor]


def sequences(n=40, n_steps=6, n_features=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_steps, n_features))
    X[::3, 4:] = np.nan
    y_class = (np.nansum(X[:, :, 0], axis=1) > 0).astype(int)
    y_value = np.nansum(X[:, :, 0], axis=1)
    return X, y_class, y_value


def fitted(Estimator, **params):
    X, y_class, y_value = sequences()
    y = y_class if Estimator is ElmanClassifier else y_value
    return Estimator(max_iter=5, random_state=0, **params).fit(X, y), X


def outputs_of(estimator, X):
    if isinstance(estimator, ElmanClassifier):
        return estimator.predict_proba(X)
    return estimator.predict(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_hidden_states_shape_padding_and_readout(Estimator):
    model, X = fitted(Estimator, hidden_units=5, readout="last", patch_size=1)
    states = model.hidden_states(X)
    assert states.shape == (40, 6, 5)
    padded = np.isnan(X).all(axis=2)
    assert np.isnan(states[padded]).all()
    assert np.isfinite(states[~padded]).all()
    # The output layer reads the state after each row's last real step.
    lengths = (~padded).sum(axis=1)
    last = states[np.arange(40), lengths - 1]
    logits = E.output_layer(model._fitted_params(), last)
    head = E.HEADS[model._head].output(logits)
    expected = outputs_of(model, X)
    assert_allclose(head.reshape(expected.shape), expected, rtol=1e-12)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_hidden_states_change_nothing_on_a_stateless_estimator(Estimator):
    model, X = fitted(Estimator)
    before = copy.deepcopy(model.__dict__)
    model.hidden_states(X)
    assert before.keys() == model.__dict__.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            assert_array_equal(value, model.__dict__[key])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_stateful_hidden_states_advance_the_stream_as_predict_does(Estimator):
    model, X = fitted(Estimator, stateful=True)
    model.reset_context()
    states = model.hidden_states(X[:5])
    after_states = model.context_.copy()
    model.reset_context()
    outputs_of(model, X[:5])
    assert_array_equal(model.context_, after_states)
    # The context after the stream is the last real state of the last row.
    last_row = states[4][~np.isnan(states[4]).all(axis=1)]
    assert_array_equal(last_row[-1], after_states)
    # And rows continue each other: row 1 starts where row 0 ended.
    model.reset_context()
    first = model.hidden_states(X[:1])
    second = model.hidden_states(X[1:2])
    assert_allclose(np.concatenate([first, second]), states[:2], rtol=1e-12)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_every_solver_and_mode_fits_and_predicts(Estimator, solver):
    for stateful in (False, True):
        model, X = fitted(Estimator, solver=solver, stateful=stateful)
        assert np.isfinite(model.loss_)
        assert len(outputs_of(model, X)) == len(X)
        assert hasattr(model, "context_") == stateful


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_stateless_refit_drops_the_old_stream(Estimator):
    X, y_class, y_value = sequences()
    y = y_class if Estimator is ElmanClassifier else y_value
    model = Estimator(max_iter=2, random_state=0, stateful=True).fit(X, y)
    assert hasattr(model, "context_")
    model.set_params(stateful=False).fit(X, y)
    assert not hasattr(model, "context_")


def test_grid_search_tunes_a_regressor():
    X, _, y = sequences(n=60)
    search = GridSearchCV(
        ElmanRegressor(max_iter=20, random_state=0),
        {"hidden_units": [2, 8], "alpha": [1e-4, 1.0]},
        cv=3,
    ).fit(X, y)
    assert set(search.best_params_) == {"hidden_units", "alpha"}
    assert len(search.cv_results_["mean_test_score"]) == 4


# ----------------------------------------------------------------------------------
# Streams: even mini-batches and a warm-up prefix
# ----------------------------------------------------------------------------------


def stream_data(n_rows=240, seed=0):
    rng = np.random.RandomState(seed)
    series = np.sin(np.arange(n_rows + 1) / 3.0) + rng.normal(
        scale=0.1, size=n_rows + 1
    )
    return series[:-1, None], series[1:]


def test_auto_batches_of_a_stream_leave_no_short_tail():
    X, y = stream_data(240)
    data = StreamRows(X[:, None, :], None, y[:, None])
    size = data.batch_size("auto")
    batches = list(data.batches(size, shuffle=True, random_state=None))
    assert [b.stop - b.start for b in batches] == [120, 120]
    short = StreamRows(X[:150, None, :], None, y[:150, None])
    assert short.batch_size("auto") == 150  # a short stream is one batch
    X_long, y_long = stream_data(401)
    long = StreamRows(X_long[:, None, :], None, y_long[:, None])
    assert long.batch_size("auto") == 134  # 134, 134, 133 rather than 200, 200, 1


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_auto_batch_size_of_a_stream_is_the_even_split(solver):
    X, y = stream_data(240)
    common = {"stateful": True, "solver": solver, "max_iter": 3, "random_state": 0}
    auto = ElmanRegressor(**common).fit(X, y)
    halves = ElmanRegressor(batch_size=120, **common).fit(X, y)
    assert auto.loss_curve_ == halves.loss_curve_
    assert_array_equal(auto.context_weights_, halves.context_weights_)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_warm_up_steps_carry_no_loss(solver):
    X, y = stream_data(120)
    common = {"stateful": True, "solver": solver, "max_iter": 5, "random_state": 0}
    changed = y.copy()
    changed[:10] = 100.0  # targets of the first 10 steps
    warm = ElmanRegressor(warm_up_steps=10, **common)
    assert_array_equal(
        warm.fit(X, y).output_weights_,
        clone_fit(warm, X, changed).output_weights_,
    )
    cold = ElmanRegressor(**common)
    assert not np.allclose(
        cold.fit(X, y).output_weights_, clone_fit(cold, X, changed).output_weights_
    )
    # The warm-up rows are still read: they build the context of the next rows.
    assert warm.t_ == 120 * warm.n_iter_


def test_warm_up_loss_is_the_mean_over_the_rows_after_it():
    X, y = stream_data(60)
    model = ElmanRegressor(
        stateful=True, solver="lbfgs", alpha=0.0, max_iter=3, warm_up_steps=20
    ).fit(X, y)
    model.reset_context()
    residual = model.predict(X) - y
    assert model.loss_ == pytest.approx(0.5 * np.mean(residual[20:] ** 2))


def test_warm_up_counts_steps_not_rows_and_is_checked():
    X, y = stream_data(60)
    chunks = X.reshape(20, 3, 1)  # rows of 3 steps
    data = StreamRows(chunks, None, y[2::3, None], warm_up_steps=7)
    assert data.n_warm_up_rows == 2  # rows ending at steps 2 and 5; 8 is past it
    assert [b.start for b in data.batches(5, False, None)] == [0, 7, 12, 17]
    with pytest.raises(ValueError, match="covers the whole stream"):
        ElmanRegressor(stateful=True, warm_up_steps=60).fit(X, y)
    with pytest.raises(ValueError, match="only applies with stateful=True"):
        ElmanRegressor(warm_up_steps=3).fit(X.reshape(6, 10), y[:6])


def clone_fit(estimator, X, y):
    return clone(estimator).fit(X, y)


# ----------------------------------------------------------------------------------
# Readouts
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("readout", ["mean", "max"])
def test_pooled_readout_reads_the_real_states(Estimator, readout):
    model, X = fitted(Estimator, readout=readout, hidden_units=5)
    states = model.hidden_states(X)
    pool = np.nanmean if readout == "mean" else np.nanmax
    pooled = pool(states, axis=1)  # NaN at padded steps: excluded
    logits = E.output_layer(model._fitted_params(), pooled)
    expected = outputs_of(model, X)
    head = E.HEADS[model._head].output(logits)
    assert_allclose(head.reshape(expected.shape), expected, rtol=1e-12)


@pytest.mark.parametrize("readout", ["mean", "max"])
def test_stream_readout_pools_over_each_row(readout):
    model, X = fitted(ElmanRegressor, readout=readout, stateful=True)
    model.reset_context()
    states = model.hidden_states(X[:6])
    model.reset_context()
    predicted = model.predict(X[:6])
    pool = np.nanmean if readout == "mean" else np.nanmax
    expected = E.output_layer(model._fitted_params(), pool(states, axis=1))
    assert_allclose(predicted, expected[:, 0], rtol=1e-12)


@pytest.mark.parametrize("readout", ["mean", "max"])
def test_forecast_with_a_pooled_readout_pools_history_and_forecasts(readout):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 8))
    reg = ElmanRegressor(readout=readout, max_iter=5, random_state=0)
    reg.fit(X, X[:, -1] * 0.5)
    history = X[:3, :5]
    forecast = reg.forecast(history, n_steps=4)
    extended = history.copy()
    for step in range(4):
        value = reg.predict(extended[:, :, None])
        assert_allclose(forecast[:, step], value, rtol=1e-10, atol=1e-12)
        extended = np.c_[extended, value]
    windowed = reg.forecast(history, n_steps=2, window=3)
    assert_allclose(windowed[:, 0], reg.predict(history[:, -3:, None]), rtol=1e-12)


# ----------------------------------------------------------------------------------
# Sample weights and class weights
# ----------------------------------------------------------------------------------


def targets_for(Estimator, y_class, y_value):
    return y_class if Estimator is ElmanClassifier else y_value


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_integer_weights_equal_repeated_rows(Estimator, solver):
    X, y_class, y_value = sequences(n=30)
    y = targets_for(Estimator, y_class, y_value)
    weights = np.random.RandomState(1).randint(0, 4, size=30)
    # Repeated rows are equivalent to weights in one full batch; batches of
    # rows would split the repeated and the weighted data differently.
    common = {"solver": solver, "max_iter": 20, "random_state": 0}
    weighted, repeated = Estimator(**common), Estimator(**common)
    if solver != "lbfgs":  # rows of weight 0 are left out of training
        weighted.set_params(batch_size=int(np.count_nonzero(weights)))
        repeated.set_params(batch_size=int(weights.sum()))
    weighted.fit(X, y, sample_weight=weights)
    repeated.fit(X.repeat(weights, axis=0), y.repeat(weights))
    assert_allclose(outputs_of(weighted, X), outputs_of(repeated, X), rtol=1e-9)
    assert weighted.loss_ == pytest.approx(repeated.loss_, rel=1e-9)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_weighted_loss_is_normalised_by_the_sum_of_weights(Estimator):
    X, y_class, y_value = sequences(n=30)
    y = targets_for(Estimator, y_class, y_value)
    weights = np.linspace(0.5, 3, 30)
    model = Estimator(solver="lbfgs", alpha=0.0, max_iter=5, random_state=0)
    model.fit(X, y, sample_weight=weights)
    outputs = outputs_of(model, X)
    if Estimator is ElmanClassifier:
        per_row = -np.log(outputs[np.arange(30), y])
    else:
        per_row = 0.5 * (outputs - y) ** 2
    assert model.loss_ == pytest.approx(np.sum(weights * per_row) / weights.sum())


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs", "echo_state"])
@pytest.mark.parametrize(
    "case, message",
    [
        ("class_weight zero", "every row's weight is zero in float64"),
        ("float32 underflow", "every row's weight is zero in float32"),
        ("overflowing sum", "sum to more than the floating-point range"),
    ],
)
def test_weights_that_vanish_or_overflow_in_training_are_clear_errors(
    solver, case, message
):
    X, y, _ = sequences(n=20)
    model = ElmanClassifier(solver=solver, max_iter=2)
    weights = None
    if case == "class_weight zero":
        model.set_params(class_weight={0: 0.0, 1: 0.0})
    elif case == "float32 underflow":
        X, weights = X.astype(np.float32), np.full(20, 1e-300)  # 0 in float32
    else:
        weights = np.full(20, 1e308)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y, sample_weight=weights)
    assert not hasattr(model, "input_weights_")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_bad_sample_weights_are_clear_errors(Estimator):
    X, y_class, y_value = sequences(n=10)
    y = targets_for(Estimator, y_class, y_value)
    # (scikit-learn >= 1.8 says so itself, in its own words.)
    with pytest.raises(ValueError, match="sums to zero|at least one non-zero"):
        Estimator().fit(X, y, sample_weight=np.zeros(10))
    with pytest.raises(ValueError, match="[Nn]egative"):
        Estimator().fit(X, y, sample_weight=-np.ones(10))
    with pytest.raises(ValueError, match="sample_weight"):
        Estimator().fit(X, y, sample_weight=np.ones(9))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_stream_rows_of_zero_weight_carry_no_loss(Estimator):
    X, y = stream_data(100)
    if Estimator is ElmanClassifier:
        y = (y > 0).astype(int)
    weights = np.ones(100)
    weights[40:60] = 0
    changed = y.copy()
    changed[40:60] = changed[40:60][::-1]
    common = {"stateful": True, "max_iter": 3, "batch_size": 20, "random_state": 0}
    a = Estimator(**common).fit(X, y, sample_weight=weights)
    b = Estimator(**common).fit(X, changed, sample_weight=weights)
    assert_array_equal(a.output_weights_, b.output_weights_)
    c = Estimator(**common).fit(X, changed)
    assert not np.allclose(a.output_weights_, c.output_weights_)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_partial_fit_takes_sample_weight(Estimator):
    X, y_class, y_value = sequences(n=30)
    y = targets_for(Estimator, y_class, y_value)
    options = {"classes": [0, 1]} if Estimator is ElmanClassifier else {}
    weights = np.r_[np.ones(15), np.zeros(15)]
    half = Estimator(random_state=0, shuffle=False)
    half.partial_fit(X, y, sample_weight=weights, **options)
    first = Estimator(random_state=0, shuffle=False).partial_fit(
        X[:15], y[:15], **options
    )
    assert_allclose(half.output_weights_, first.output_weights_, rtol=1e-12)


def test_early_stopping_scores_validation_with_the_weights():
    X, y_class, _ = sequences(n=80)
    weights = np.where(np.arange(80) % 2, 2.0, 0.5)
    model = ElmanClassifier(early_stopping=True, max_iter=5, random_state=0)
    model.fit(X, y_class, sample_weight=weights)
    # Validation accuracies are weighted means: multiples of 0.5 / total weight.
    assert all(0 <= score <= 1 for score in model.validation_scores_)
    assert model.best_validation_score_ == max(model.validation_scores_)


def test_class_weight_balanced_and_dict_are_sample_weights():
    X, y_class, _ = sequences(n=40)
    y = np.where(np.arange(40) < 30, 0, 1)
    balanced = ElmanClassifier(class_weight="balanced", max_iter=5, random_state=0)
    balanced.fit(X, y)
    explicit = ElmanClassifier(max_iter=5, random_state=0)
    explicit.fit(X, y, sample_weight=np.where(y == 0, 40 / 60, 40 / 20))
    assert_allclose(balanced.predict_proba(X), explicit.predict_proba(X), rtol=1e-12)
    as_dict = ElmanClassifier(class_weight={1: 3.0}, max_iter=5, random_state=0)
    as_dict.fit(X, y, sample_weight=np.full(40, 2.0))
    manual = ElmanClassifier(max_iter=5, random_state=0)
    manual.fit(X, y, sample_weight=np.where(y == 1, 6.0, 2.0))
    assert_allclose(as_dict.predict_proba(X), manual.predict_proba(X), rtol=1e-12)


def test_class_weight_errors_name_the_problem():
    X, y_class, _ = sequences(n=20)
    with pytest.raises(ValueError, match="not supported by partial_fit"):
        ElmanClassifier(class_weight="balanced").partial_fit(X, y_class, [0, 1])
    with pytest.raises(ValueError, match=r"weights for \[7\]"):
        ElmanClassifier(class_weight={7: 2.0}).fit(X, y_class)
    with pytest.raises(ValueError, match="finite and non-negative"):
        ElmanClassifier(class_weight={0: -1.0}).fit(X, y_class)
    assert "class_weight" not in ElmanRegressor().get_params()


# ----------------------------------------------------------------------------------
# The weights a fit keeps
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_fit_keeps_the_weights_of_its_lowest_loss_epoch(Estimator):
    X, y_class, y_value = sequences(n=60)
    y = targets_for(Estimator, y_class, y_value)
    # A step size large enough for the training loss to jump back up.
    step = 1.0 if Estimator is ElmanClassifier else 0.5
    common = {
        "solver": "sgd",
        "learning_rate_init": step,
        "batch_size": 60,
        "random_state": 0,
    }
    spiky = Estimator(max_iter=40, n_iter_no_change=40, **common).fit(X, y)
    best = spiky.best_epoch_
    curve = spiky.loss_curve_
    assert 1 <= best < spiky.n_iter_ == 40
    assert curve[best - 1] == min(curve) < curve[-1]
    # One mini-batch an epoch: the loss of the best epoch is that of the weights
    # before its update, which are kept (recomputed, so equal up to rounding).
    assert spiky.loss_ == spiky.best_loss_
    assert_allclose(spiky.loss_, min(curve), rtol=1e-12)
    # A fit of best_epoch epochs replays the same updates and keeps the same.
    replay = Estimator(max_iter=best, n_iter_no_change=40, **common).fit(X, y)
    assert replay.loss_curve_ == curve[:best]
    for name in E.ElmanParams._fields:
        assert_array_equal(getattr(spiky, name + "_"), getattr(replay, name + "_"))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_switching_early_stopping_between_fits_continues_the_records(Estimator):
    X, y_class, y_value = sequences(n=60)
    y = targets_for(Estimator, y_class, y_value)
    model = Estimator(early_stopping=True, max_iter=3, random_state=0).fit(X, y)
    model.set_params(early_stopping=False).partial_fit(X, y)
    assert model.best_loss_ == model.loss_ and model.n_iter_ == 1
    model.set_params(warm_start=True).fit(X, y)
    assert np.isfinite(model.best_loss_)
    model.set_params(early_stopping=True).fit(X, y)
    # The validation records go on across warm starts, as the loss curve does.
    assert len(model.validation_scores_) == 6 and model.best_loss_ is None


def test_early_stopping_records_the_validation_loss_curve():
    X, y_class, y_value = sequences(n=80)
    for Estimator, y in ((ElmanClassifier, y_class), (ElmanRegressor, y_value)):
        model = Estimator(early_stopping=True, max_iter=8, random_state=0).fit(X, y)
        assert len(model.validation_loss_curve_) == len(model.validation_scores_)
        assert len(model.validation_loss_curve_) == model.n_iter_
        assert all(np.isfinite(model.validation_loss_curve_))
        assert model.validation_scores_[model.best_epoch_ - 1] == max(
            model.validation_scores_
        )
        assert Estimator(max_iter=2).fit(X, y).validation_loss_curve_ is None


def test_validation_loss_is_the_mean_loss_of_the_held_out_rows():
    X, _, y = sequences(n=40)
    model = ElmanRegressor(
        early_stopping=True,
        validation_fraction=0.25,
        max_iter=1,
        shuffle=False,
        random_state=0,
    ).fit(X, y)
    # The split is scikit-learn's train_test_split of the row indices.
    from sklearn.model_selection import train_test_split

    _, held_out = train_test_split(np.arange(40), test_size=10, random_state=0)
    # With max_iter=1 the kept weights are those the validation saw.
    residual = model.predict(X[held_out]) - y[held_out]
    assert model.validation_loss_curve_[0] == pytest.approx(np.mean(residual**2) / 2)


# ----------------------------------------------------------------------------------
# Patches of steps
# ----------------------------------------------------------------------------------


def test_to_patches_fills_a_partial_last_patch_with_the_last_real_step():
    X = np.arange(1.0, 8.0)[None, :, None].repeat(2, axis=0)  # 7 steps
    X[1, 5:] = np.nan  # the second sequence has 5 real steps
    patches, mask = to_patches(X, ~np.isnan(X).all(axis=2), 3)
    assert patches.shape == (2, 3, 3)
    assert_array_equal(patches[0], [[1, 2, 3], [4, 5, 6], [7, 7, 7]])
    assert_array_equal(patches[1, :2], [[1, 2, 3], [4, 5, 5]])
    assert np.isnan(patches[1, 2]).all()
    assert_array_equal(mask, [[True, True, True], [True, True, False]])
    # More end padding changes nothing.
    longer = np.concatenate([X, np.full((2, 5, 1), np.nan)], axis=1)
    more, _ = to_patches(longer, ~np.isnan(longer).all(axis=2), 3)
    assert_array_equal(more[:, :3], patches)
    assert np.isnan(more[:, 3:]).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_patches_of_a_2d_row_equal_wider_steps(Estimator):
    X, y_class, y_value = sequences(n=40, n_steps=12, n_features=1)
    y = targets_for(Estimator, y_class, y_value)
    X2 = X[:, :, 0]
    X2[np.isnan(X2)] = 0.5  # equal lengths: patches are plain reshapes
    patched = Estimator(patch_size=4, max_iter=3, random_state=0).fit(X2, y)
    wide = Estimator(n_features_per_step=4, patch_size=1, max_iter=3, random_state=0)
    wide.fit(X2, y)
    assert patched.input_weights_.shape == (4, 64)
    assert_array_equal(outputs_of(patched, X2), outputs_of(wide, X2))
    # 3D input: (n, 12, 1) in patches of 4 reads as (n, 3, 4).
    assert_array_equal(outputs_of(patched, X2[:, :, None]), outputs_of(wide, X2))
    assert patched.hidden_states(X2).shape == (40, 3, 64)


def test_patches_keep_padding_invariance_for_the_sequence_the_user_sees():
    X, y, _ = sequences(n=40, n_steps=10, n_features=2)
    model = ElmanClassifier(patch_size=3, max_iter=3, random_state=0).fit(X, y)
    padded_row = X[0:1]  # 4 real steps of 10: patches [0-2], [3, 3, 3]
    assert np.isnan(padded_row[0, 4:]).all()
    alone = X[0:1, :4]
    assert_allclose(
        model.predict_proba(padded_row), model.predict_proba(alone), rtol=1e-12
    )
    more = np.concatenate([padded_row, np.full((1, 7, 2), np.nan)], axis=1)
    assert_allclose(model.predict_proba(more), model.predict_proba(alone), rtol=1e-12)


def test_patch_size_errors_are_clear():
    X, y, _ = sequences(n=20, n_steps=8)
    with pytest.raises(ValueError, match="patch_size=2 needs independent sequences"):
        ElmanClassifier(patch_size=2, stateful=True).fit(X, y)
    model = ElmanClassifier(patch_size=2, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="read patches of 2 steps"):
        model.set_params(patch_size=3, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="read patches of 2 steps"):
        model.partial_fit(X, y)
    reg = ElmanRegressor(patch_size=2, max_iter=1).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="Train the forecaster with patch_size=1"):
        reg.forecast(X, 2)


@pytest.mark.parametrize(
    "n_rows, expected",
    # 8 equal batches of at least 16 rows and at most 200 rows each.
    [(1, 1), (31, 31), (32, 16), (66, 17), (100, 17), (128, 16), (358, 45)]
    + [(1600, 200), (1601, 178), (5000, 200), (5001, 193)],
)
def test_auto_batch_size_cuts_an_epoch_into_eight_batches_of_16_to_200_rows(
    n_rows, expected
):
    rows = SequenceRows(np.zeros((n_rows, 2, 1)), None, np.zeros((n_rows, 1)))
    assert rows.batch_size("auto") == expected
    sizes = [len(range(n_rows)[b]) for b in rows.batches(expected, False, None)]
    assert sum(sizes) == n_rows and max(sizes) <= 200
    # (Nearly) equal: only the last is shorter, by less than one row a batch.
    assert set(sizes[:-1]) <= {expected} and expected - sizes[-1] < len(sizes)
    assert n_rows / len(sizes) >= min(16, n_rows)
    assert len(sizes) >= 8 or n_rows < 128


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "n_steps, longest, expected", [(70, 70, 16), (70, 64, 16), (70, 63, 1), (8, 8, 1)]
)
def test_auto_patch_size_patches_sequences_of_64_steps_or_more(
    Estimator, n_steps, longest, expected
):
    X, y_class, y_value = sequences(n=30, n_steps=n_steps, n_features=2)
    X[:, longest:] = np.nan  # extra end padding does not count
    X[::3, 4:] = np.nan
    y = targets_for(Estimator, y_class, y_value)
    model = Estimator(patch_size="auto", max_iter=2, random_state=0).fit(X, y)
    assert model.patch_size_ == expected
    assert model.input_weights_.shape[0] == 2 * expected
    same = Estimator(patch_size=expected, max_iter=2, random_state=0).fit(X, y)
    assert_array_equal(outputs_of(model, X), outputs_of(same, X))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_auto_patch_size_is_one_step_in_a_stream(Estimator):
    X, y_class, y_value = sequences(n=30, n_steps=70)
    y = targets_for(Estimator, y_class, y_value)
    model = Estimator(patch_size="auto", stateful=True, max_iter=2).fit(X, y)
    assert model.patch_size_ == 1
    assert model.input_weights_.shape[0] == 2


def test_predict_reads_the_patches_fit_chose():
    X, y, _ = sequences(n=30, n_steps=70)
    model = ElmanClassifier(patch_size="auto", max_iter=2, random_state=0).fit(X, y)
    proba = model.predict_proba(X)
    # Like every hyper-parameter, a new patch_size applies from the next fit.
    assert_array_equal(model.set_params(patch_size=2).predict_proba(X), proba)
    model.set_params(warm_start=True, patch_size="auto").fit(X, y)
    assert model.patch_size_ == 16


def test_bagging_without_bootstrap_is_a_seed_ensemble():
    from sklearn.ensemble import BaggingClassifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 10))
    y = (X[:, 0] + X[:, 5] > 0).astype(int)
    member = ElmanClassifier(hidden_units=8, max_iter=20)
    bag = BaggingClassifier(member, n_estimators=5, bootstrap=False, random_state=0)
    bag.fit(X, y)
    seeds = [estimator.random_state for estimator in bag.estimators_]
    assert len(set(seeds)) == 5
    # Every member sees every row and every column, in order: only its seed differs.
    for features in bag.estimators_features_:
        assert_array_equal(features, np.arange(10))
    probas = []
    for seed, estimator in zip(seeds, bag.estimators_):
        alone = ElmanClassifier(hidden_units=8, max_iter=20, random_state=seed)
        alone.fit(X, y)
        assert_allclose(estimator.predict_proba(X), alone.predict_proba(X), rtol=1e-8)
        probas.append(alone.predict_proba(X))
    assert_allclose(bag.predict_proba(X), np.mean(probas, axis=0), rtol=1e-8)


def test_channel_first_3d_input_is_warned_about_with_the_transpose(monkeypatch):
    monkeypatch.setattr(sequences_module, "_WARNED_LAYOUTS", set())
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 3, 50))  # (n, channels, timepoints), as aeon holds it
    y = np.arange(20) % 2
    for model in (ElmanClassifier(max_iter=1), SequenceScaler()):
        with pytest.warns(ChannelFirstWarning, match=r"X.transpose\(0, 2, 1\)"):
            model.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        ElmanClassifier(max_iter=1).fit(X.transpose(0, 2, 1), y)


def test_package_warnings_point_at_the_callers_line(monkeypatch):
    from sklearn.pipeline import make_pipeline

    monkeypatch.setattr(sequences_module, "_WARNED_LAYOUTS", set())
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(20, 2, 60)), np.arange(20) % 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ElmanClassifier(max_iter=1).fit(X, y)
        make_pipeline(SequenceScaler(), ElmanRegressor(max_iter=1)).fit(X, 100 + y)
    ours = [w for w in caught if not issubclass(w.category, ConvergenceWarning)]
    assert len(ours) == 4  # channel-first three times, the target scale once
    assert {w.filename for w in ours} == {__file__}


@pytest.mark.parametrize(
    "shape, stateful",
    [((20, 5, 20), False), ((20, 8, 8), False), ((20, 1, 30), True)],
)
def test_legitimate_short_or_streamed_3d_input_is_not_warned_about(shape, stateful):
    # Short sequences of many features, and rows of one step in a stream.
    X = np.random.RandomState(0).normal(size=shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        ElmanClassifier(stateful=stateful, max_iter=1).fit(X, np.arange(20) % 2)


def test_the_channel_first_warning_is_shown_once_across_folds_and_can_be_silenced(
    monkeypatch,
):
    from sklearn.model_selection import cross_val_score

    monkeypatch.setattr(sequences_module, "_WARNED_LAYOUTS", set())
    X = np.random.RandomState(0).normal(size=(30, 2, 60))
    y = np.arange(30) % 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # Python's own: once per message
        warnings.simplefilter("ignore", ConvergenceWarning)
        cross_val_score(ElmanClassifier(max_iter=1), X, y, cv=3)
    assert sum(issubclass(w.category, ChannelFirstWarning) for w in caught) == 1
    monkeypatch.setattr(sequences_module, "_WARNED_LAYOUTS", set())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=ChannelFirstWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        ElmanClassifier(max_iter=1).fit(X, y)


def test_feature_count_errors_use_the_singular():
    X, y, _ = sequences(n=20, n_features=2)
    model = ElmanClassifier(max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 1 feature per time step"):
        model.predict(X[:, :, :1])


# ----------------------------------------------------------------------------------
# Divergence and the stream's context
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stateful", [False, True])
def test_divergence_is_an_error_or_a_warning_never_a_nan_model(stateful):
    X, y, _ = sequences(n=60)
    Xs = np.nan_to_num(X, nan=0.0) * 50
    model = ElmanClassifier(
        solver="sgd",
        learning_rate_init=1e6,
        max_grad_norm=None,
        activation="identity",
        stateful=stateful,
        batch_size=60,  # one mini-batch an epoch: loss_ is the best epoch's loss
        max_iter=30,
        random_state=0,
    )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(Xs, y)
    except ValueError as error:
        assert "diverged" in str(error) and "learning_rate_init" in str(error)
        assert not hasattr(model, "input_weights_")  # left as it was
        return
    assert any("diverged" in str(w.message) for w in caught)
    assert np.isfinite(model.loss_)
    assert model.loss_ == pytest.approx(min(model.loss_curve_), rel=1e-12)
    for name in E.ElmanParams._fields:
        assert np.isfinite(getattr(model, name + "_")).all()
    if stateful:
        assert np.isfinite(model.context_).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_loss_that_explodes_without_overflowing_is_warned_about(Estimator):
    X, y_class, y_value = sequences(n=60)
    y = targets_for(Estimator, y_class, y_value)
    model = Estimator(
        solver="sgd", learning_rate_init=10, activation="identity", max_iter=30,
        random_state=0,
    )  # fmt: skip
    with pytest.warns(ConvergenceWarning, match="Training loss exploded") as caught:
        model.fit(X, y)
    message = next(str(w.message) for w in caught if "exploded" in str(w.message))
    assert f"weights of epoch {model.best_epoch_} are kept" in message
    assert "learning_rate_init (now 10)" in message
    assert max(model.loss_curve_) >= 100 * model.loss_curve_[0]


def test_a_steady_fit_is_not_warned_about_an_explosion():
    X, y, _ = sequences(n=60)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ElmanClassifier(max_iter=30, random_state=0).fit(X, y)
    assert not any("exploded" in str(w.message) for w in caught)


def test_lbfgs_on_huge_input_raises_and_leaves_the_estimator():
    X, y, _ = sequences(n=30)
    model = ElmanRegressor(solver="lbfgs", activation="identity", max_iter=20)
    with pytest.raises(ValueError, match="diverged"):
        model.fit(np.nan_to_num(X, nan=1.0) * 1e300, y)
    assert not hasattr(model, "input_weights_")


def test_context_is_validated_like_the_weights():
    model, X = fitted(ElmanClassifier, stateful=True, hidden_units=5)
    saved = model.context_.copy()
    model.context_ = saved[None]
    with pytest.raises(ValueError, match=r"context_ has shape \(1, 5\)"):
        model.predict(X)
    model.context_ = np.full(5, np.nan)
    with pytest.raises(ValueError, match="context_ contains NaN"):
        model.predict_proba(X)
    model.context_ = saved
    model.predict(X)


# Finite input, finite output: models fitted once, then read at extreme magnitudes.
_EXTREME_MODELS = {}


def extreme_model(Estimator, activation, dtype, stateful, readout):
    key = (Estimator, activation, dtype, stateful, readout)
    if key not in _EXTREME_MODELS:
        rng = np.random.RandomState(0)
        X = rng.normal(size=(30, 4, 3)).astype(dtype)
        y = np.arange(30) % 3 if Estimator is ElmanClassifier else X[:, -1, 0]
        if stateful:
            X, y = X[:, 0], y  # a stream of 30 steps
        model = Estimator(
            activation=activation, stateful=stateful, hidden_units=4, max_iter=3,
            patch_size=1, readout=readout, random_state=0,
        )  # fmt: skip
        _EXTREME_MODELS[key] = model.fit(X, y)
    return copy.deepcopy(_EXTREME_MODELS[key])


@settings(max_examples=150)
@given(
    Estimator=st.sampled_from(ESTIMATORS),
    activation=st.sampled_from(list(E.ACTIVATIONS)),
    dtype=st.sampled_from([np.float32, np.float64]),
    stateful=st.booleans(),
    readout=st.sampled_from(list(E.READOUTS)),
    data=st.data(),
)
def test_finite_input_gives_finite_output_at_any_magnitude(
    Estimator, activation, dtype, stateful, readout, data
):
    model = extreme_model(Estimator, activation, dtype, stateful, readout)
    big = float(np.finfo(dtype).max)
    # Magnitudes from ordinary to the end of the range, with mixed signs, so
    # that sums can overflow both ways; a stream long enough to grow.
    n_rows = data.draw(st.integers(1, 4)) if not stateful else data.draw(
        st.integers(1, 300)
    )  # fmt: skip
    n_steps = 1 if stateful else data.draw(st.integers(1, 5))
    values = st.floats(
        -big, big, allow_nan=False, width=32 if dtype is np.float32 else 64
    )
    X = np.array(
        data.draw(
            st.lists(
                values, min_size=n_rows * n_steps * 3, max_size=n_rows * n_steps * 3
            )
        ),
        dtype=dtype,
    ).reshape(n_rows, n_steps, 3)
    X *= data.draw(st.sampled_from([1.0, 1e-30, 1e-10]))  # big and ordinary values
    if stateful:
        X = X[:, 0]
    # A user-set recurrence that grows along the stream.
    gain = data.draw(st.sampled_from([1.0, 3.0, 1e3]))
    model.context_weights_ = model.context_weights_ * dtype(gain)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning reaches the user
        if Estimator is ElmanClassifier:
            proba = model.predict_proba(X)
            assert np.isfinite(proba).all() and (proba >= 0).all()
            assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
            assert np.isfinite(model.predict_log_proba(X)).all()
        else:
            try:
                assert np.isfinite(model.predict(X)).all()
            except ValueError as error:
                assert "overflows" in str(error)
        states = model.hidden_states(X)
        real = ~np.isnan(X).any(axis=-1) if not stateful else np.ones(len(X), bool)
        assert np.isfinite(states[real]).all()
    if stateful:
        assert np.isfinite(model.context_).all()


@pytest.mark.parametrize("readout", list(E.READOUTS))
@pytest.mark.parametrize("stateful", [False, True])
def test_pooled_readouts_of_huge_states_stay_finite(readout, stateful):
    # relu states near the end of the float32 range: their sum overflows, and the
    # output layer once turned the inf into NaN ('mean', found by hypothesis).
    model = extreme_model(ElmanClassifier, "relu", np.float32, stateful, readout)
    row = np.array([[0.0, 0.0, 2.6e38]] * 3, dtype=np.float32)
    X = row if stateful else row[None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = model.predict_proba(X)
    assert np.isfinite(proba).all()
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)


def test_ragged_lists_of_sequences_are_padded():
    from sklearn_elman import pad_sequences

    ragged = [[1.0, 2.0, 3.0], [4.0, 5.0], [6.0]]
    X = pad_sequences(ragged)
    assert X.shape == (3, 3, 1)
    assert_array_equal(X[1, :, 0], [4, 5, np.nan])
    y = [0, 1, 0]
    a = ElmanClassifier(max_iter=2, random_state=0).fit(ragged, y)
    b = ElmanClassifier(max_iter=2, random_state=0).fit(X, y)
    assert_array_equal(a.predict_proba(ragged), b.predict_proba(X))
    multi = pad_sequences([np.ones((4, 2)), np.zeros((2, 2))])
    assert multi.shape == (2, 4, 2) and np.isnan(multi[1, 2:]).all()
    with pytest.raises(ValueError, match="different numbers of features"):
        pad_sequences([np.ones((4, 2)), np.ones((2, 3))])


def test_a_2d_model_asked_for_other_row_lengths_names_the_way_out():
    X, y, _ = sequences(n=20, n_steps=5, n_features=1)
    model = ElmanClassifier(max_iter=1).fit(np.nan_to_num(X[:, :, 0], nan=0.0), y)
    with pytest.raises(ValueError, match="pad them at the end with NaN to 5 columns"):
        model.predict(np.zeros((2, 4)))


# ----------------------------------------------------------------------------------
# Interrupted training: raise and restore, or stop on a consistent model
# ----------------------------------------------------------------------------------


def all_state(model):
    return {k: copy.deepcopy(v) for k, v in vars(model).items()}


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("stateful", [False, True])
def test_an_interrupt_anywhere_in_training_raises_or_stops_consistently(
    solver, stateful
):
    X, y, _ = sequences(n=24, n_steps=4)
    params = {
        "solver": solver,
        "stateful": stateful,
        "max_iter": 3,
        "hidden_units": 3,
        "batch_size": 8,
        "random_state": 0,
    }
    if solver != "lbfgs":
        params["early_stopping"] = not stateful  # both validation paths
        params["validation_fraction"] = 0.25
    outcomes = set()
    n = 1
    while True:
        model = ElmanClassifier(**params).fit(X, y)  # a fitted model to refit
        before = all_state(model)
        interrupter = LineInterrupter(
            n, lambda code: code.co_filename == _base.__file__
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raised = raises_interrupt(lambda: model.fit(X, y), interrupter)
        if not interrupter.fired:
            break
        stopped = any("interrupted by user" in str(w.message) for w in caught)
        if raised:
            outcomes.add("raised")
            _same_state(all_state(model), before)
        else:
            assert stopped, f"line event {n}: the interrupt vanished"
            outcomes.add("stopped")
            assert solver != "lbfgs"
            assert model.n_iter_ == len(model.loss_curve_) >= model.best_epoch_ >= 1
            replay = ElmanClassifier(**{**params, "max_iter": model.best_epoch_})
            replay.fit(X, y)
            assert model.loss_ == replay.loss_
            for name in E.ElmanParams._fields:
                assert_array_equal(
                    getattr(model, name + "_"), getattr(replay, name + "_")
                )
            if stateful:
                assert_array_equal(model.context_, replay.context_)
        n += 1
    assert n > 50  # the training code was reached
    assert "raised" in outcomes
    if solver != "lbfgs":
        assert "stopped" in outcomes


def _interrupt_at_every_line(call, model, traced_files):
    """Run ``call(model)`` once per line event of the package, interrupted there.

    Yields (model before, model after, raised) for every line event.
    """
    n = 1
    while True:
        trial = copy.deepcopy(model)
        before = all_state(trial)
        interrupter = LineInterrupter(n, lambda code: code.co_filename in traced_files)
        raised = raises_interrupt(lambda: call(trial), interrupter)
        if not interrupter.fired:
            return
        yield before, all_state(trial), raised
        n += 1


def _same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert_array_equal(a[key], b[key], err_msg=key)
        elif isinstance(a[key], list | float | int):
            assert a[key] == b[key], key


@pytest.mark.parametrize("stateful", [False, True])
def test_a_call_that_an_interrupt_makes_raise_has_changed_nothing(stateful):
    """A call either completes, its work kept, or raises with nothing changed:
    never both (a partial_fit that raised having learnt its chunk)."""
    import sklearn_elman

    X, y, _ = sequences(n=12, n_steps=3)
    if stateful:
        X = X[:, :2]  # chunks of one stream, every step real
    model = ElmanClassifier(
        stateful=stateful, hidden_units=3, batch_size=6, random_state=0
    ).partial_fit(X, y, classes=[0, 1])
    package = os.path.dirname(sklearn_elman.__file__)
    files = {os.path.join(package, name) for name in os.listdir(package)}
    done = copy.deepcopy(model)
    done.partial_fit(X, y)
    calls = [(lambda m: m.partial_fit(X, y), all_state(done))]
    if stateful:
        streamed = copy.deepcopy(model)
        streamed.predict_proba(X)
        calls.append((lambda m: m.predict_proba(X), all_state(streamed)))
    for call, completed in calls:
        n_raised = 0
        for before, after, raised in _interrupt_at_every_line(call, model, files):
            # Raised: as before the call. Not raised: the call's whole work.
            _same_state(after, before if raised else completed)
            n_raised += raised
        assert n_raised > 20  # the package's lines were reached


# ----------------------------------------------------------------------------------
# What a fit reports describes the weights it keeps
# ----------------------------------------------------------------------------------


def training_loss(model, X, y, sample_weight=None):
    """The full-batch training objective of a fitted model, from public outputs.

    The weighted mean of the head's per-row loss plus ``0.5 * alpha * ||W||^2``
    over the total weight, as ``loss_`` is defined; a stream is read from a zero
    context, as ``fit`` reads it.
    """
    model = copy.deepcopy(model).reset_context()
    if isinstance(model, ElmanClassifier):
        log_proba = model.predict_log_proba(X)
        per_row = -log_proba[np.arange(len(y)), np.searchsorted(model.classes_, y)]
    else:
        per_row = 0.5 * (model.predict(X) - y) ** 2
    weights = np.ones(len(y)) if sample_weight is None else sample_weight
    penalty = 0.5 * sum(
        np.vdot(w, w)
        for w in (model.input_weights_, model.context_weights_, model.output_weights_)
    )
    return (per_row @ weights + model.alpha * penalty) / weights.sum()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("stateful", [False, True])
@pytest.mark.parametrize("batch_size", [60, 16])
def test_reported_loss_is_the_training_loss_of_the_kept_weights(
    Estimator, stateful, batch_size
):
    X, y_class, y_value = sequences(n=60)
    if stateful:
        X = X[:, :3]  # chunks of one stream, every step real
    y = targets_for(Estimator, y_class, y_value)
    # Steps large enough for the loss to jump back up right after its best epoch:
    # with one mini-batch an epoch (batch_size=60 on 60 rows) the weights
    # after the epoch's update are then much worse than those its loss was
    # computed on.
    step = 1.0 if Estimator is ElmanClassifier else 0.5
    weights = np.random.RandomState(1).uniform(0.5, 2.0, size=len(y))
    model = Estimator(
        solver="sgd",
        learning_rate_init=step,
        max_iter=30,
        n_iter_no_change=30,
        batch_size=batch_size,
        stateful=stateful,
        alpha=0.01,
        random_state=0,
    ).fit(X, y, sample_weight=weights)
    assert model.best_epoch_ < model.n_iter_
    exact = training_loss(model, X, y, weights)
    assert_allclose(model.loss_, exact, rtol=1e-10)
    assert_allclose(model.best_loss_, exact, rtol=1e-10)
    if batch_size == 60:
        # One mini-batch an epoch: an epoch's loss is that of the weights it
        # started from, and those are the weights kept.
        assert_allclose(model.loss_curve_[model.best_epoch_ - 1], exact, rtol=1e-10)
        assert_allclose(min(model.loss_curve_), exact, rtol=1e-10)


def test_verbose_names_the_loss_of_the_kept_weights(capsys):
    X, y, _ = sequences(n=60)
    model = ElmanClassifier(
        solver="sgd",
        learning_rate_init=1.0,
        max_iter=20,
        verbose=True,
        random_state=0,
    ).fit(X, y)
    last = capsys.readouterr().out.splitlines()[-1]
    match = re.fullmatch(
        r"Kept the weights of epoch (\d+) of (\d+) \(training loss (\d+\.\d+)\)\.",
        last,
    )
    assert match, last
    assert (int(match[1]), int(match[2])) == (model.best_epoch_, model.n_iter_)
    assert_allclose(float(match[3]), training_loss(model, X, y), atol=1e-8)


def test_early_stopping_breaks_a_tie_in_score_by_the_validation_loss():
    X, y_class, _ = sequences(n=200, seed=3)
    model = ElmanClassifier(
        early_stopping=True,
        validation_fraction=0.1,
        learning_rate_init=3e-4,
        max_iter=40,
        n_iter_no_change=40,
        random_state=0,
    ).fit(X, y_class)
    scores = np.array(model.validation_scores_)
    losses = np.array(model.validation_loss_curve_)
    best = scores == scores.max()
    assert best.sum() > 1, "the test needs a tie in the best validation score"
    kept = model.best_epoch_ - 1
    assert scores[kept] == scores.max() == model.best_validation_score_
    assert losses[kept] == losses[best].min()
    # The reported training loss is that of the kept weights, on the rows that
    # were not held out (scikit-learn's stratified split of the row indices).
    from sklearn.model_selection import train_test_split

    train, _ = train_test_split(
        np.arange(200), test_size=20, random_state=0, stratify=y_class
    )
    assert_allclose(model.loss_, training_loss(model, X[train], y_class[train]))
