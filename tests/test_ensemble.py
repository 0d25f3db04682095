"""Tests of ``n_ensemble``: several networks trained side by side and averaged."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from sklearn_elman import ElmanClassifier, ElmanRegressor
from sklearn_elman import _elman as E

MEMBERS = 3


def motif_data(n=60, n_steps=12, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_steps, 2))
    y = (X[:, :4, 0].sum(axis=1) > 0).astype(int)
    return X, y


def members_of(model):
    """Each member's weights as the ElmanParams of a network of its own."""
    params = model._fitted_params()
    shapes = E.shapes_of(params)
    n_members = model._n_members()
    ids = E.member_of_each_param(shapes, n_members)
    theta = E.pack(params)
    n_features, width = params.input_weights.shape
    n_outputs = params.output_bias.shape[0] // n_members
    member_shapes = E.param_shapes(
        n_features, width // n_members, n_outputs, model.readout
    )
    return [E.unpack(theta[ids == m].copy(), member_shapes) for m in range(n_members)]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_no_member_reads_another(solver):
    X, y = motif_data()
    clf = ElmanClassifier(
        n_ensemble=MEMBERS, hidden_units=4, solver=solver, max_iter=15, random_state=0
    ).fit(X, y)
    params = clf._fitted_params()
    between = E.member_of_each_param(E.shapes_of(params), MEMBERS) < 0
    assert between.any()
    assert_array_equal(E.pack(params)[between], 0)
    assert clf.input_weights_.shape == (2, MEMBERS * 4)
    assert clf.output_bias_.shape == (MEMBERS * 2,)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("max_grad_norm", [None, 0.05])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_the_first_member_trains_as_a_single_network(solver, max_grad_norm):
    """Its own gradient, clipped on its own, on the same mini-batches."""
    X, y = motif_data()
    options = {
        "hidden_units": 5,
        "solver": solver,
        "batch_size": 20,
        "learning_rate_init": 0.01,
        "max_grad_norm": max_grad_norm,
        "random_state": 0,
    }
    # partial_fit keeps the weights after its updates (fit keeps the epoch that
    # is best for the whole ensemble, which may not be the member's best).
    single = ElmanClassifier(**options)
    ensemble = ElmanClassifier(n_ensemble=MEMBERS, **options)
    for _ in range(6):
        single.partial_fit(X, y, classes=[0, 1])
        ensemble.partial_fit(X, y, classes=[0, 1])
    first = members_of(ensemble)[0]
    for name, array in zip(E.ElmanParams._fields, first):
        assert_allclose(array, getattr(single, name + "_"), rtol=1e-6, atol=1e-9)
    # The others started elsewhere and learnt something else.
    second = members_of(ensemble)[1]
    assert not np.allclose(second.input_weights, first.input_weights)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("readout", ["last", "max", "last_mean_max"])
def test_predictions_are_the_mean_of_the_members(readout):
    X, y = motif_data()
    clf = ElmanClassifier(
        n_ensemble=MEMBERS, hidden_units=4, readout=readout, max_iter=10,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    X3 = X[:7]
    alone = [E.forward(m, X3, kind=readout)[0] for m in members_of(clf)]
    proba = clf.predict_proba(X3)
    assert_allclose(proba, np.mean(alone, axis=0), rtol=1e-10)
    assert_allclose(np.exp(clf.predict_log_proba(X3)), proba, rtol=1e-10)
    assert_array_equal(clf.predict(X3), clf.classes_[proba.argmax(axis=1)])
    states = clf.hidden_states(X3)
    assert states.shape == (7, X.shape[1], MEMBERS * 4)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_regressor_predicts_and_forecasts_the_mean_of_the_members():
    rng = np.random.RandomState(0)
    series = np.cumsum(rng.normal(size=(40, 10, 1)), axis=1) / 3
    target = series[:, -1, 0]
    reg = ElmanRegressor(
        n_ensemble=MEMBERS, hidden_units=4, max_iter=20, random_state=0
    ).fit(series, target)
    members = members_of(reg)
    alone = [E.forward(m, series[:5], head="identity")[0][:, 0] for m in members]
    assert_allclose(reg.predict(series[:5]), np.mean(alone, axis=0), rtol=1e-10)
    # One step of forecast is the prediction; the next reads the mean back.
    forecast = reg.forecast(series[:5], n_steps=2)
    assert forecast.shape == (5, 2)
    assert_allclose(forecast[:, 0], reg.predict(series[:5]), rtol=1e-10)
    extended = np.concatenate([series[:5], forecast[:, :1, None]], axis=1)
    assert_allclose(forecast[:, 1], reg.predict(extended), rtol=1e-10)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_stateful_ensemble_streams_like_its_members():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 2))
    y = (X[:, 0] > 0).astype(int)
    clf = ElmanClassifier(
        n_ensemble=2, hidden_units=3, stateful=True, n_features_per_step=2,
        max_iter=5, random_state=0,
    )  # fmt: skip
    clf.partial_fit(X[:40], y[:40], classes=[0, 1])
    clf.partial_fit(X[40:], y[40:])
    clf.reset_context()
    proba = clf.predict_proba(X[:10])
    assert clf.context_.shape == (6,)
    members = members_of(clf)
    alone = [
        E.forward(m, X[None, :10], per_step=True, kind="last")[0][0] for m in members
    ]
    assert_allclose(proba, np.mean(alone, axis=0), rtol=1e-10)


def test_echo_state_refuses_an_ensemble():
    X, y = motif_data()
    with pytest.raises(ValueError, match="n_ensemble=2"):
        ElmanClassifier(solver="echo_state", n_ensemble=2).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_refuses_another_number_or_size_of_members():
    X, y = motif_data()
    clf = ElmanClassifier(hidden_units=4, max_iter=2, warm_start=True).fit(X, y)
    clf.set_params(n_ensemble=2)
    with pytest.raises(ValueError, match="n_ensemble=2.*1 network"):
        clf.fit(X, y)
    clf.set_params(n_ensemble=1, hidden_units=5)
    with pytest.raises(ValueError, match="hidden_units=5.*of 4 hidden units"):
        clf.fit(X, y)
    clf.set_params(hidden_units=4)
    clf.fit(X, y)  # the same size continues


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_one_member_is_the_single_network():
    X, y = motif_data()
    single = ElmanClassifier(hidden_units=4, max_iter=5, random_state=0).fit(X, y)
    also = clone(single).set_params(n_ensemble=1).fit(X, y)
    assert_array_equal(single.predict_proba(X), also.predict_proba(X))
