"""solver='echo_state': fixed random hidden weights, the output layer alone fitted."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression

from sklearn_elman import ElmanClassifier, ElmanRegressor
from sklearn_elman import _elman as E
from sklearn_elman._data import SequenceRows

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def sequences(n=80, n_steps=7, n_features=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_steps, n_features))
    X[::4, 5:] = np.nan
    y_value = np.nanmean(X[:, :, 0], axis=1) + np.nanmax(X[:, :, 1], axis=1)
    y_class = np.digitize(y_value, np.quantile(y_value, [1 / 3, 2 / 3]))
    return X, y_class, y_value


def direct_least_squares(R, Y, alpha, weights):
    """The ridge problem as one ordinary least-squares system, bias included.

    Rows sqrt(w_i) [r_i, 1] against sqrt(w_i) y_i, and the penalty as extra rows
    sqrt(alpha) [I, 0] against 0 (the bias is not penalised).
    """
    n, width = R.shape
    root = np.sqrt(weights)[:, None]
    design = np.vstack(
        [
            np.hstack([root * R, root]),
            np.hstack([np.sqrt(alpha) * np.eye(width), np.zeros((width, 1))]),
        ]
    )
    target = np.vstack([root * Y, np.zeros((width, Y.shape[1]))])
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    return solution[:-1], solution[-1]


@pytest.mark.parametrize("alpha", [1e-3, 0.5, 20.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_output_layer_is_the_direct_least_squares_solution(alpha, weighted):
    rng = np.random.RandomState(1)
    R = rng.normal(size=(50, 6)) + 3.0  # off-centre: the bias matters
    Y = R @ rng.normal(size=(6, 2)) + rng.normal(size=(50, 2))
    weights = rng.uniform(0.2, 3.0, size=50) if weighted else None
    W, b = E.ridge_output_layer(R, Y, alpha, weights)
    W_direct, b_direct = direct_least_squares(
        R, Y, alpha, np.ones(50) if weights is None else weights
    )
    assert_allclose(W, W_direct, rtol=1e-9, atol=1e-11)
    assert_allclose(b, b_direct, rtol=1e-9, atol=1e-11)


def test_ridge_without_penalty_on_collinear_readouts_is_a_least_squares_fit():
    rng = np.random.RandomState(2)
    R = rng.normal(size=(30, 3))
    R = np.hstack([R, R[:, :1]])  # a repeated column: the Gram matrix is singular
    Y = rng.normal(size=(30, 1))
    W, b = E.ridge_output_layer(R, Y, 0.0)
    W_direct, b_direct = direct_least_squares(R, Y, 0.0, np.ones(30))
    assert_allclose(R @ W + b, R @ W_direct + b_direct, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("head", ["softmax", "identity"])
def test_output_layer_objective_gradient_matches_central_differences(head):
    rng = np.random.RandomState(3)
    R = rng.normal(size=(20, 4))
    Y = (
        np.eye(3)[rng.randint(0, 3, 20)]
        if head == "softmax"
        else rng.normal(size=(20, 3))
    )
    weights = rng.uniform(0.5, 2.0, size=20)
    theta = rng.normal(size=4 * 3 + 3)
    _, gradient = E.output_layer_objective(theta, R, Y, head, 0.3, weights)
    numeric = np.empty_like(theta)
    for k in range(theta.size):
        step = np.zeros_like(theta)
        step[k] = 1e-6
        up, _ = E.output_layer_objective(theta + step, R, Y, head, 0.3, weights)
        down, _ = E.output_layer_objective(theta - step, R, Y, head, 0.3, weights)
        numeric[k] = (up - down) / 2e-6
    assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-9)


def readouts_of(model, X):
    """The readouts the fitted output layer reads, from the estimator's weights."""
    X3, mask = model._validate_X(X, reset=False)
    params = model._fitted_params()
    targets = np.zeros((X3.shape[0], 1))
    return SequenceRows(X3, mask, targets).readouts(
        params, model.activation, model.readout
    )


@pytest.mark.parametrize("readout", ["last", "mean", "max"])
def test_regressor_fits_the_ridge_solution_on_untrained_hidden_weights(readout):
    X, _, y = sequences()
    weights = np.random.RandomState(4).uniform(0.5, 2.0, size=len(y))
    model = ElmanRegressor(
        solver="echo_state", readout=readout, alpha=0.7, random_state=0
    ).fit(X, y, sample_weight=weights)
    # The hidden weights are exactly the random start, the context matrix at
    # the chosen spectral radius.
    start = E.init_params(
        2, 64, 1, np.random.RandomState(0), kind=readout, spectral_radius=0.9
    )
    assert_array_equal(model.input_weights_, start.input_weights)
    assert_array_equal(model.context_weights_, start.context_weights)
    assert_allclose(np.abs(np.linalg.eigvals(model.context_weights_)), 0.9)
    W, b = direct_least_squares(readouts_of(model, X), y[:, None], 0.7, weights)
    assert_allclose(model.output_weights_, W, rtol=1e-7, atol=1e-9)
    assert_allclose(model.output_bias_, b, rtol=1e-7, atol=1e-9)
    assert model.n_iter_ == 1 and model.loss_curve_ == [model.loss_]


def test_classifier_fits_a_regularised_logistic_readout():
    X, y, _ = sequences(n=120)
    alpha = 0.5
    model = ElmanClassifier(
        solver="echo_state", alpha=alpha, tol=1e-10, random_state=0
    ).fit(X, y)
    R = readouts_of(model, X)
    # scikit-learn minimises C * sum(CE) + 0.5 * ||W||^2, ours sum(CE) + 0.5 * alpha
    # * ||W||^2: the same minimiser for C = 1 / alpha.
    reference = LogisticRegression(C=1 / alpha, tol=1e-12, max_iter=10_000).fit(R, y)
    assert_allclose(
        model.predict_proba(X), reference.predict_proba(R), rtol=1e-5, atol=1e-6
    )
    theta = np.concatenate([model.output_weights_.ravel(), model.output_bias_])
    _, gradient = E.output_layer_objective(theta, R, np.eye(3)[y], "softmax", alpha)
    assert np.abs(gradient).max() < 1e-8


def test_float32_input_stays_float32():
    X, y, _ = sequences()
    model = ElmanClassifier(solver="echo_state", random_state=0)
    model.fit(X.astype(np.float32), y)
    assert model.output_weights_.dtype == np.float32
    assert model.predict_proba(X.astype(np.float32)).dtype == np.float32


def test_echo_state_refuses_a_stream_and_partial_fit():
    X, y, _ = sequences()
    with pytest.raises(ValueError, match="solver='echo_state'.*stateful=False"):
        ElmanClassifier(solver="echo_state", stateful=True).fit(X[:, 0], y)
    with pytest.raises(AttributeError, match="no attribute 'partial_fit'") as error:
        ElmanRegressor(solver="echo_state").partial_fit(X, y.astype(float))
    assert "solver='echo_state' is not stochastic" in str(error.value.__cause__)


def test_warm_start_refits_the_output_layer_on_the_same_hidden_weights():
    X, y, _ = sequences()
    model = ElmanClassifier(solver="adam", max_iter=3, random_state=0).fit(X, y)
    trained = model.context_weights_.copy()
    model.set_params(solver="echo_state", warm_start=True, max_iter=500).fit(X, y)
    assert_array_equal(model.context_weights_, trained)
    assert model.score(X, y) > 0.5


# ----------------------------------------------------------------------------------
# The reversed pass
# ----------------------------------------------------------------------------------


def test_reversed_real_steps_reverses_each_rows_real_steps_and_keeps_padding():
    X, _, _ = sequences(n=6)
    mask = ~np.isnan(X[:, :, 0])
    reversed_X = E.reversed_real_steps(X, mask)
    for row, real in zip(range(len(X)), mask.sum(axis=1)):
        assert_array_equal(reversed_X[row, :real], X[row, :real][::-1])
        assert_array_equal(reversed_X[row, real:], X[row, real:])


def both_passes_one_row_at_a_time(model, X):
    """Forward and reversed readouts, each row run alone and reversed by hand."""
    params = model._fitted_params()
    rows = []
    for sequence in X:
        real = sequence[~np.isnan(sequence[:, 0])]
        passes = [
            E.readout(E.run_hidden(params, steps[None]), kind=model.readout)[0]
            for steps in (real, real[::-1])
        ]
        rows.append(np.concatenate(passes))
    return np.array(rows)


@pytest.mark.parametrize("readout", ["last", "last_mean_max"])
def test_reverse_pass_regressor_is_the_ridge_solution_on_both_readouts(readout):
    X, _, y = sequences()
    model = ElmanRegressor(
        solver="echo_state", reverse_pass=True, readout=readout, hidden_units=16,
        alpha=0.7, random_state=0,
    ).fit(X, y)  # fmt: skip
    R = both_passes_one_row_at_a_time(model, X)
    assert model.output_weights_.shape == (R.shape[1], 1)
    W, b = direct_least_squares(R, y[:, None], 0.7, np.ones(len(y)))
    assert_allclose(model.output_weights_, W, rtol=1e-7, atol=1e-9)
    assert_allclose(model.output_bias_, b, rtol=1e-7, atol=1e-9)
    assert_allclose(model.predict(X), (R @ W + b)[:, 0], rtol=1e-7, atol=1e-9)


def test_reverse_pass_classifier_is_a_logistic_readout_of_both_passes():
    X, y, _ = sequences(n=120)
    model = ElmanClassifier(
        solver="echo_state", reverse_pass=True, hidden_units=16, alpha=0.5,
        tol=1e-10, random_state=0,
    ).fit(X, y)  # fmt: skip
    R = both_passes_one_row_at_a_time(model, X)
    reference = LogisticRegression(C=2.0, tol=1e-12, max_iter=10_000).fit(R, y)
    assert_allclose(
        model.predict_proba(X), reference.predict_proba(R), rtol=1e-5, atol=1e-6
    )


def test_reverse_pass_is_refused_where_it_cannot_be_computed():
    X, y, values = sequences()
    with pytest.raises(ValueError, match="reverse_pass=True.*solver='echo_state'"):
        ElmanClassifier(reverse_pass=True, max_iter=2).fit(X, y)
    series = X[:, :, :1]
    model = ElmanRegressor(solver="echo_state", reverse_pass=True).fit(series, values)
    with pytest.raises(ValueError, match="reverse_pass=False to forecast"):
        model.forecast(series, n_steps=2)
    model.set_params(warm_start=True, reverse_pass=False)
    with pytest.raises(ValueError, match="reverse_pass=False, but the fitted"):
        model.fit(series, values)
