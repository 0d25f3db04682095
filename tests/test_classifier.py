"""Tests of ``ElmanClassifier``: behaviour, input contract, streaming, integration."""

import copy
import io
import pickle
import re

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_elman import ElmanClassifier, _data
from sklearn_elman import _elman as E

# Short fits on tiny data are the norm here; tests about the warning catch it.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SOLVERS = ["adam", "sgd", "lbfgs"]
ACTIVATIONS = ["tanh", "logistic", "relu", "identity"]


def memory_task(n=120, n_steps=8, seed=0):
    """The class is the sign of the first step; the later steps are noise.

    Only a network that carries information across steps can solve it from the
    hidden state at the end of the sequence.
    """
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, size=n)
    X = rng.normal(scale=0.5, size=(n, n_steps))
    X[:, 0] = np.where(y == 1, 1.0, -1.0) + rng.normal(scale=0.1, size=n)
    return X, y


def motif_task(n=600, n_steps=30, n_features=3, n_classes=3, seed=0):
    """A class-specific 3-step motif of +-2 entries at a random position in noise."""
    rng = np.random.RandomState(seed)
    motifs = rng.choice([-2.0, 2.0], size=(n_classes, 3, n_features))
    y = rng.randint(0, n_classes, size=n)
    X = rng.normal(size=(n, n_steps, n_features))
    start = rng.randint(0, n_steps - 2, size=n)
    for i in range(n):
        X[i, start[i] : start[i] + 3] += motifs[y[i]]
    return X, y


def deep_state(estimator):
    """A deep copy of everything the estimator holds, for exact comparisons."""
    return copy.deepcopy(estimator.__dict__)


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert_equal_values(a[key], b[key], key)


def assert_equal_values(x, y, key):
    if isinstance(x, np.ndarray):
        assert_array_equal(x, y, err_msg=key)
    elif isinstance(x, list | tuple):
        assert len(x) == len(y), key
        for u, v in zip(x, y):
            assert_equal_values(u, v, key)
    elif hasattr(x, "__dict__") and not isinstance(x, type):
        assert type(x) is type(y), key
        assert_same_state(vars(x), vars(y))
    else:
        assert x == y or (x != x and y != y), key


# ----------------------------------------------------------------------------------
# Learning, per solver and activation
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_learns_a_task_that_needs_memory(solver, activation, seed):
    X, y = memory_task(seed=seed)
    clf = ElmanClassifier(
        solver=solver,
        activation=activation,
        hidden_units=8,
        max_iter=100,
        batch_size=20,
        learning_rate_init=0.05 if solver == "sgd" else 0.01,
        random_state=seed,
    )
    clf.fit(X, y)
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize("solver", SOLVERS)
def test_partial_fit_exists_only_for_stochastic_solvers(solver):
    clf = ElmanClassifier(solver=solver)
    assert hasattr(clf, "partial_fit") == (solver != "lbfgs")
    if solver == "lbfgs":
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
            clf.partial_fit


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("stateful", [False, True])
def test_k_partial_fits_equal_fit_with_max_iter_k(solver, stateful, seed):
    X, y = memory_task(n=50, seed=seed)
    params = {
        "solver": solver,
        "shuffle": False,
        "batch_size": 16,
        "random_state": seed,
        "hidden_units": 6,
        "stateful": stateful,
        "n_features_per_step": 1 if not stateful else 8,
    }
    full = ElmanClassifier(max_iter=3, **params).fit(X, y)
    incremental = ElmanClassifier(**params)
    for _ in range(3):
        if stateful:
            # Each fit epoch replays the stream from its start: so must we.
            incremental.partial_fit(X, y, classes=[0, 1]).reset_context()
        else:
            incremental.partial_fit(X, y, classes=[0, 1])
    for name in E.ElmanParams._fields:
        assert_array_equal(getattr(incremental, name + "_"), getattr(full, name + "_"))
    assert incremental.loss_curve_ == full.loss_curve_
    assert incremental.t_ == full.t_ == 150


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("stateful", [False, True])
def test_same_seed_gives_bit_identical_models(solver, stateful):
    X, y = memory_task(n=60)
    kwargs = {"solver": solver, "random_state": 3, "max_iter": 15, "stateful": stateful}
    a = ElmanClassifier(**kwargs).fit(X, y)
    b = ElmanClassifier(**kwargs).fit(X, y)
    for name in E.ElmanParams._fields:
        assert_array_equal(getattr(a, name + "_"), getattr(b, name + "_"))
    assert a.loss_curve_ == b.loss_curve_


def test_early_stopping_restores_the_best_validation_weights():
    X, y = motif_task(n=300, n_steps=12)
    kwargs = {
        "early_stopping": True,
        "n_iter_no_change": 8,
        "tol": 0.0,
        "random_state": 0,
        "max_iter": 100,
        "learning_rate_init": 0.05,
    }
    clf = ElmanClassifier(**kwargs).fit(X, y)
    scores = clf.validation_scores_
    # The kept epoch has the best score (of those tied, the lowest loss).
    best_epoch = clf.best_epoch_
    assert clf.best_validation_score_ == scores[best_epoch - 1] == max(scores)
    assert clf.best_loss_ is None
    assert clf.n_iter_ > best_epoch, "training should run past its best epoch"
    # Retraining for exactly best_epoch epochs replays the same random stream, so
    # its weights after the last epoch are the ones the first run kept.
    replay = ElmanClassifier(**{**kwargs, "max_iter": best_epoch}).fit(X, y)
    for name in E.ElmanParams._fields:
        assert_array_equal(getattr(clf, name + "_"), getattr(replay, name + "_"))


def test_early_stopping_is_rejected_by_partial_fit():
    X, y = memory_task(n=20)
    clf = ElmanClassifier(early_stopping=True)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        clf.partial_fit(X, y, classes=[0, 1])
    assert not hasattr(clf, "classes_")


def test_too_small_validation_set_is_an_error():
    X, y = memory_task(n=10)
    clf = ElmanClassifier(early_stopping=True, validation_fraction=0.1)
    with pytest.raises(ValueError, match="validation set is too small"):
        clf.fit(X, y)


def test_a_validation_set_with_fewer_rows_than_classes_is_a_clear_error():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 5)), np.arange(40) % 10  # 4 validation rows
    clf = ElmanClassifier(early_stopping=True, validation_fraction=0.1)
    with pytest.raises(ValueError, match="4 rows, fewer than the 10 classes.*0.25"):
        clf.fit(X, y)
    clf.set_params(validation_fraction=0.25, max_iter=2).fit(X, y)


@pytest.mark.parametrize("solver", SOLVERS)
def test_convergence_warning_at_max_iter(solver):
    X, y = memory_task(n=40)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        ElmanClassifier(solver=solver, max_iter=2, tol=0, random_state=0).fit(X, y)


def test_warm_start_continues_from_current_weights():
    X, y = memory_task(n=40)
    clf = ElmanClassifier(max_iter=2, random_state=0, warm_start=True).fit(X, y)
    before = clf.input_weights_.copy()
    clf.fit(X, y)
    assert len(clf.loss_curve_) == 4
    assert not np.array_equal(before, clf.input_weights_)
    with pytest.raises(ValueError, match="warm_start can only be used"):
        clf.fit(X[y == 0], y[y == 0])


def test_verbose_reports_loss_validation_and_time(capsys):
    X, y = memory_task(n=60)
    ElmanClassifier(
        max_iter=3,
        verbose=True,
        early_stopping=True,
        validation_fraction=0.2,
        random_state=0,
    ).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert re.fullmatch(
        r"Epoch 1, loss = \d+\.\d+, validation loss = \d+\.\d+, "
        r"validation score = \d\.\d+, \d+\.\d\d s",
        lines[0],
    )
    assert re.fullmatch(
        r"Kept the weights of epoch [123] of 3 \(training loss .*\)\.", lines[3]
    )


def test_gradient_clipping_limits_the_update():
    X, y = memory_task(n=30)
    kwargs = {
        "solver": "sgd",
        "momentum": 0,
        "learning_rate_init": 1.0,
        "batch_size": 30,
        "shuffle": False,
        "random_state": 0,
        "hidden_units": 4,
        "readout": "last",
        "patch_size": 1,
    }
    clipped = ElmanClassifier(max_grad_norm=1e-3, **kwargs)
    clipped.partial_fit(X, y, classes=[0, 1])
    # random_state=0 draws these initial weights.
    init = E.init_params(1, 4, 2, np.random.RandomState(0))
    step = np.concatenate(
        [
            (getattr(clipped, n + "_") - p).ravel()
            for n, p in zip(E.ElmanParams._fields, init)
        ]
    )
    # One plain SGD step of learning rate 1 on a gradient clipped to norm 1e-3.
    assert np.linalg.norm(step) == pytest.approx(1e-3, rel=1e-6)


# ----------------------------------------------------------------------------------
# Weights as attributes
# ----------------------------------------------------------------------------------


def test_predict_proba_uses_weights_assigned_by_the_user(rng):
    X, y = memory_task(n=30)
    clf = ElmanClassifier(
        hidden_units=3, readout="last", patch_size=1, max_iter=2, random_state=0
    )
    clf.fit(X, y)
    params = E.ElmanParams(*(rng.normal(size=s) for s in E.param_shapes(1, 3, 2)))
    for name, value in zip(E.ElmanParams._fields, params):
        setattr(clf, name + "_", value)
    expected, _ = E.forward(params, X[:, :, None])
    assert_allclose(clf.predict_proba(X), expected, rtol=1e-14)


def test_partial_fit_starts_from_weights_assigned_by_the_user(rng):
    X, y = memory_task(n=30)
    clf = ElmanClassifier(
        solver="sgd",
        momentum=0,
        learning_rate_init=0.1,
        batch_size=30,
        hidden_units=3,
        readout="last",
        patch_size=1,
        max_grad_norm=None,
        alpha=0.01,
        random_state=0,
    )
    clf.partial_fit(X, y, classes=[0, 1])
    params = E.ElmanParams(*(rng.normal(size=s) for s in E.param_shapes(1, 3, 2)))
    for name, value in zip(E.ElmanParams._fields, params):
        setattr(clf, name + "_", value.copy())
    clf.partial_fit(X, y)
    _, grad, _ = E.loss_and_gradient(params, X[:, :, None], np.eye(2)[y], alpha=0.01)
    for name, p, g in zip(E.ElmanParams._fields, params, grad):
        assert_allclose(getattr(clf, name + "_"), p - 0.1 * g, rtol=1e-12, err_msg=name)


def test_assigned_weights_of_wrong_shape_are_reported():
    X, y = memory_task(n=30)
    clf = ElmanClassifier(hidden_units=3, max_iter=1, random_state=0)
    clf.fit(X, y)
    clf.output_weights_ = np.zeros((3, 5))
    with pytest.raises(ValueError, match=re.escape("output_weights_ has shape (3, 5)")):
        clf.predict(X)


# ----------------------------------------------------------------------------------
# Input contract
# ----------------------------------------------------------------------------------


def test_2d_rows_and_3d_input_give_the_same_model():
    X3, y = motif_task(n=80, n_steps=6, n_features=3)
    X2 = X3.reshape(80, 18)
    kwargs = {"max_iter": 5, "random_state": 0}
    a = ElmanClassifier(n_features_per_step=3, **kwargs).fit(X2, y)
    b = ElmanClassifier(**kwargs).fit(X3, y)
    assert a.n_features_in_ == 18 and b.n_features_in_ == 3
    assert a.input_weights_.shape == b.input_weights_.shape == (3, 64)
    assert_array_equal(a.input_weights_, b.input_weights_)
    assert_array_equal(a.predict_proba(X2), b.predict_proba(X3))
    # 3D prediction may use another number of steps; 2D must keep the columns.
    assert a.predict_proba(X3[:, :4]).shape == (80, 3)
    with pytest.raises(ValueError, match="X has 12 features, but ElmanClassifier is"):
        a.predict(X2[:, :12])
    with pytest.raises(ValueError, match="X has 2 features per time step"):
        b.predict(X3[:, :, :2])


def test_nan_end_padding_changes_nothing():
    X, y = motif_task(n=90, n_steps=10, n_features=2)
    lengths = np.random.RandomState(1).randint(4, 11, size=90)
    padded = X.copy()
    for i, n_real in enumerate(lengths):
        padded[i, n_real:] = np.nan
    clf = ElmanClassifier(max_iter=5, random_state=0).fit(padded, y)
    proba = clf.predict_proba(padded)
    for i in (0, 1, 2):
        alone = clf.predict_proba(X[i : i + 1, : lengths[i]])
        assert_allclose(alone[0], proba[i], rtol=1e-12)
    # Extra padding on the whole batch changes no prediction.
    longer = np.concatenate([padded, np.full((90, 4, 2), np.nan)], axis=1)
    assert_allclose(clf.predict_proba(longer), proba, rtol=1e-12)
    # Same as 2D rows with NaN at the end.
    flat = padded.reshape(90, 20)
    clf2 = ElmanClassifier(max_iter=5, random_state=0, n_features_per_step=2)
    clf2.fit(flat, y)
    assert_array_equal(clf2.predict_proba(flat), proba)


@pytest.mark.parametrize(
    "index, value, message",
    [
        ((3, 0), np.nan, "NaN at step 0 of row 3 followed by real steps"),
        ((5, 2), np.nan, "NaN at step 2 of row 5 followed by real steps"),
        ((4, 1), np.inf, "contains inf (in row 4)"),
        ((2, slice(None)), np.nan, "NaN in every step of row 2"),
    ],
)
def test_invalid_nan_or_inf_is_a_clear_error(index, value, message):
    X, y = memory_task(n=20)
    X[index] = value
    clf = ElmanClassifier()
    with pytest.raises(ValueError, match=re.escape(message)):
        clf.fit(X, y)


def test_partly_nan_step_is_an_error():
    X = np.ones((10, 3, 2))
    X[7, 1, 0] = np.nan
    with pytest.raises(
        ValueError, match="some but not all features of step 1 of row 7"
    ):
        ElmanClassifier().fit(X, np.arange(10) % 2)


@pytest.mark.parametrize(
    "X, error, message",
    [
        (np.ones((6, 5)), ValueError, "not a multiple of n_features_per_step=2"),
        (sparse.csr_matrix(np.ones((6, 4))), TypeError, "Sparse data"),
        (np.ones((6, 4)) + 1j, ValueError, "Complex data not supported"),
        (np.array([["a", "b"]] * 6, dtype=object), ValueError, "could not convert"),
        (np.ones(6), ValueError, "Reshape your data"),
        (np.ones((6, 2, 2, 2)), ValueError, "got a 4D array"),
    ],
)
def test_invalid_input_errors(X, error, message):
    y = np.arange(6) % 2
    with pytest.raises(error, match=re.escape(message)):
        ElmanClassifier(n_features_per_step=2).fit(X, y)


def test_labels_strings_binary_and_multiclass():
    X, y = motif_task(n=120, n_steps=8)
    names = np.array(["low", "mid", "high"])[y]
    clf = ElmanClassifier(max_iter=20, random_state=0).fit(X, names)
    assert list(clf.classes_) == ["high", "low", "mid"]
    assert set(clf.predict(X)) <= set(names)
    binary = clf.fit(X[y < 2], names[y < 2])
    assert binary.output_weights_.shape == (64, 2)
    assert binary.predict_proba(X[:3]).shape == (3, 2)


def test_column_vector_y_warns():
    X, y = memory_task(n=30)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        ElmanClassifier(max_iter=5, tol=1).fit(X, y[:, None])


def test_continuous_and_single_class_targets_are_errors():
    X, _ = memory_task(n=30)
    with pytest.raises(ValueError, match="Unknown label type"):
        ElmanClassifier().fit(X, np.linspace(0, 1, 30))
    with pytest.raises(ValueError, match="at least 2 classes.*only one class: 4"):
        ElmanClassifier().fit(X, np.full(30, 4))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"hidden_units": 0}, "The 'hidden_units' parameter"),
        ({"solver": "newton"}, "The 'solver' parameter"),
        ({"bptt_steps": 0}, "The 'bptt_steps' parameter"),
        ({"max_grad_norm": 0.0}, "The 'max_grad_norm' parameter"),
        ({"n_features_per_step": -1}, "The 'n_features_per_step' parameter"),
    ],
)
def test_invalid_parameters_are_named(params, message):
    X, y = memory_task(n=10)
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        ElmanClassifier(**params).fit(X, y)


# ----------------------------------------------------------------------------------
# partial_fit
# ----------------------------------------------------------------------------------


def test_partial_fit_needs_classes_on_first_call_only():
    X, y = memory_task(n=40)
    clf = ElmanClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:20], np.zeros(20, int), classes=[0, 1])
    clf.partial_fit(X[20:], y[20:])
    assert clf.t_ == 40
    assert_array_equal(clf.classes_, [0, 1])
    # A model fitted with fit needs no classes.
    fitted = ElmanClassifier(max_iter=2, random_state=0).fit(X, y)
    fitted.partial_fit(X, y)


@pytest.mark.parametrize(
    "make_bad_call, error, message",
    [
        (
            lambda clf, X, y: clf.partial_fit(X, np.full(len(y), 7)),
            ValueError,
            "`y` has classes not in `classes_`",
        ),
        (
            lambda clf, X, y: clf.partial_fit(X[:, :-1], y),
            ValueError,
            "X has 7 features",
        ),
        (
            lambda clf, X, y: clf.partial_fit(np.where(X > 1, np.inf, X), y),
            ValueError,
            "contains inf",
        ),
        (
            lambda clf, X, y: clf.partial_fit(X, y, classes=[0, 1, 2]),
            ValueError,
            "is not the same as on last call",
        ),
        (
            lambda clf, X, y: clf.partial_fit(X, y[:-1]),
            ValueError,
            "inconsistent numbers",
        ),
    ],
)
@pytest.mark.parametrize("stateful", [False, True])
def test_failed_partial_fit_leaves_everything_as_it_was(
    make_bad_call, error, message, stateful
):
    X, y = memory_task(n=40)
    clf = ElmanClassifier(random_state=0, stateful=stateful, n_features_per_step=1)
    clf.partial_fit(X, y, classes=[0, 1])
    before = deep_state(clf)
    with pytest.raises(error, match=message):
        make_bad_call(clf, X, y)
    assert_same_state(deep_state(clf), before)


def test_failed_first_partial_fit_leaves_no_attribute():
    X, y = memory_task(n=40)
    clf = ElmanClassifier()
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, y + 5, classes=[0, 1])
    assert vars(clf) == vars(ElmanClassifier())


# ----------------------------------------------------------------------------------
# Stateful streams and reset_context
# ----------------------------------------------------------------------------------


def fitted_stateless_and_stateful(n_features=2, hidden_units=5):
    """A stateless model and a stateful one carrying exactly the same weights."""
    X, y = motif_task(n=60, n_steps=6, n_features=n_features)
    # One step at a time, read at the last: what a stream of one step a row reads.
    stateless = ElmanClassifier(
        hidden_units=hidden_units,
        readout="last",
        patch_size=1,
        max_iter=5,
        random_state=0,
    ).fit(X, y)
    stream = X.reshape(-1, n_features)
    stateful = ElmanClassifier(
        hidden_units=hidden_units,
        readout="last",
        max_iter=1,
        random_state=0,
        stateful=True,
        n_features_per_step=n_features,
    ).fit(stream, np.repeat(y, 6))
    for name in E.ElmanParams._fields:
        setattr(stateful, name + "_", getattr(stateless, name + "_").copy())
    return stateless, stateful.reset_context(), X


def test_streaming_one_step_per_row_equals_whole_sequence():
    stateless, stateful, X = fitted_stateless_and_stateful()
    sequence = X[7]  # (6 steps, 2 features)
    streamed = stateful.predict_proba(sequence)  # one row per step
    whole = stateless.predict_proba(sequence[None])
    assert_allclose(streamed[-1], whole[0], rtol=1e-12)
    # Each intermediate row's output is that of the prefix read so far.
    assert_allclose(
        streamed[2], stateless.predict_proba(sequence[None, :3])[0], rtol=1e-12
    )


def test_stream_continues_across_calls_and_rows_of_several_steps():
    stateless, stateful, X = fitted_stateless_and_stateful()
    sequence = X[3]
    stateful.predict_proba(sequence[:2])
    stateful.predict_proba(sequence[2:5])
    last = stateful.predict_proba(sequence[5:])
    assert_allclose(last[-1], stateless.predict_proba(sequence[None])[0], rtol=1e-12)
    # Rows of several steps (3D chunks, with NaN end padding) continue the stream.
    stateful.reset_context()
    chunks = np.full((2, 4, 2), np.nan)
    chunks[0, :4] = sequence[:4]
    chunks[1, :2] = sequence[4:]
    proba = stateful.predict_proba(chunks)
    assert_allclose(proba[1], stateless.predict_proba(sequence[None])[0], rtol=1e-12)


def test_reset_context_equals_a_fresh_model_with_the_same_weights():
    _, stateful, X = fitted_stateless_and_stateful()
    stream = X[:5].reshape(-1, 2)
    first = stateful.predict_proba(stream)
    assert np.any(stateful.context_ != 0)
    assert stateful.reset_context() is stateful
    assert_array_equal(stateful.context_, 0)
    assert_array_equal(stateful.predict_proba(stream), first)


def test_saving_and_restoring_the_context_replays_the_stream():
    _, stateful, X = fitted_stateless_and_stateful()
    stream = X[:4].reshape(-1, 2)
    stateful.predict_proba(stream[:10])
    saved = stateful.context_.copy()
    after = stateful.predict_proba(stream[10:])
    stateful.predict_proba(stream)  # wander off
    stateful.context_ = saved
    assert_array_equal(stateful.predict_proba(stream[10:]), after)


def test_pickle_keeps_the_context():
    _, stateful, X = fitted_stateless_and_stateful()
    stateful.predict_proba(X[0])
    restored = pickle.loads(pickle.dumps(stateful))
    assert_array_equal(restored.context_, stateful.context_)
    assert_array_equal(restored.predict_proba(X[1]), stateful.predict_proba(X[1]))


def test_stateful_training_keeps_time_order_and_carries_the_context():
    X, y = memory_task(n=40)
    stream = X.reshape(-1, 1)
    labels = np.repeat(y, 8)
    clf = ElmanClassifier(
        stateful=True,
        n_features_per_step=1,
        random_state=0,
        batch_size=32,
        shuffle=True,
        hidden_units=4,
    )
    clf.partial_fit(stream, labels, classes=[0, 1])
    # The context after training is the state at the end of the stream.
    assert clf.context_.shape == (4,)
    assert np.any(clf.context_ != 0)
    # shuffle is ignored in a stream: without it the same model comes out...
    unshuffled = clone(clf).set_params(shuffle=False)
    unshuffled.partial_fit(stream, labels, classes=[0, 1])
    for name in E.ElmanParams._fields:
        assert_array_equal(getattr(unshuffled, name + "_"), getattr(clf, name + "_"))
    # ...and the order matters: the same call on a reversed stream differs.
    other = clone(clf).partial_fit(stream[::-1], labels[::-1], classes=[0, 1])
    assert not np.array_equal(other.input_weights_, clf.input_weights_)


@pytest.mark.parametrize("solver", SOLVERS)
def test_stateful_fit_then_predict_continues_the_stream(solver):
    _, _, X = fitted_stateless_and_stateful()
    stream = X[:10].reshape(-1, 2)
    labels = np.arange(len(stream)) % 2
    clf = ElmanClassifier(
        solver=solver,
        stateful=True,
        n_features_per_step=2,
        readout="last",
        max_iter=3,
        random_state=0,
        hidden_units=4,
    ).fit(stream[:40], labels[:40])
    continued = clf.predict_proba(stream[40:])
    fresh = clone(clf).set_params(stateful=False, patch_size=1)
    for name in [n + "_" for n in E.ElmanParams._fields] + [
        "classes_",
        "n_features_in_",
    ]:
        setattr(fresh, name, getattr(clf, name))
    fresh._fitted_ndim = 2
    # A stateless model reading the whole stream as one sequence agrees at the end:
    # fit leaves the context the fitted network has after reading its rows.
    whole = fresh.predict_proba(stream[None])
    assert_allclose(continued[-1], whole[0], rtol=1e-10)


def test_stateful_early_stopping_validates_on_the_tail():
    X, y = memory_task(n=60)
    clf = ElmanClassifier(
        stateful=True,
        n_features_per_step=8,
        early_stopping=True,
        validation_fraction=0.25,
        max_iter=5,
        random_state=0,
    )
    splits = []
    original_split = _data.StreamRows.split

    def recording_split(self, fraction, random_state):
        splits.append(original_split(self, fraction, random_state))
        return splits[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_data.StreamRows, "split", recording_split)
        clf.fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert all(s in np.arange(16) / 15 for s in clf.validation_scores_)
    # The validation rows are the last 15 of the stream, in order.
    ((train, validation),) = splits
    assert_array_equal(validation.X3.reshape(15, -1), X[45:])
    assert_array_equal(train.X3.reshape(45, -1), X[:45])


def test_stateless_predict_changes_nothing_and_reset_context_is_harmless():
    X, y = memory_task(n=30)
    clf = ElmanClassifier(max_iter=3, random_state=0).fit(X, y)
    before = deep_state(clf)
    proba = clf.predict_proba(X)
    clf.predict(X)
    assert clf.reset_context() is clf
    assert_same_state(deep_state(clf), before)
    assert not hasattr(clf, "context_")
    assert_array_equal(clf.predict_proba(X), proba)
    assert ElmanClassifier().reset_context() is not None


# ----------------------------------------------------------------------------------
# Integration with scikit-learn
# ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def motif_split():
    """2D rows of 10 steps of 2 features each."""
    X, y = motif_task(n=400, n_steps=10, n_features=2)
    return train_test_split(X.reshape(400, 20), y, random_state=0, stratify=y)


def test_pipeline_with_scaler(motif_split):
    X_train, X_test, y_train, y_test = motif_split
    # A quick learner for a test of the plumbing: 0.01 reaches the mark in fewer
    # epochs than the default 0.003.
    pipe = make_pipeline(
        StandardScaler(),
        ElmanClassifier(n_features_per_step=2, learning_rate_init=0.01, random_state=0),
    )
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.85


def test_grid_search_in_worker_processes(motif_split):
    X_train, _, y_train, _ = motif_split
    search = GridSearchCV(
        ElmanClassifier(
            max_iter=20, n_features_per_step=2, learning_rate_init=0.01, random_state=0
        ),
        {"hidden_units": [4, 16], "alpha": [1e-4, 1e-1]},
        cv=2,
        n_jobs=2,
    )
    search.fit(X_train, y_train)
    # Worker processes give exactly the scores of a search in this process.
    serial = clone(search).set_params(n_jobs=1).fit(X_train, y_train)
    assert_array_equal(
        search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert search.best_params_ == serial.best_params_
    assert search.best_score_ > 0.5


def test_cross_val_score(motif_split):
    X_train, _, y_train, _ = motif_split
    scores = cross_val_score(
        ElmanClassifier(
            max_iter=20, n_features_per_step=2, learning_rate_init=0.01, random_state=0
        ),
        X_train,
        y_train,
        cv=3,
    )
    assert scores.shape == (3,) and np.all(scores > 0.6)


def test_clone_carries_parameters_not_state(motif_split):
    X_train, _, y_train, _ = motif_split
    clf = ElmanClassifier(hidden_units=7, stateful=True, n_features_per_step=20)
    clf.partial_fit(X_train, y_train, classes=[0, 1, 2])
    copy_ = clone(clf)
    assert copy_.get_params() == clf.get_params()
    assert not hasattr(copy_, "context_") and not hasattr(copy_, "classes_")


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence_round_trip(dump, motif_split):
    X_train, X_test, y_train, _ = motif_split
    clf = ElmanClassifier(max_iter=5, n_features_per_step=2, random_state=0)
    clf.fit(X_train, y_train)
    if dump == "pickle":
        restored = pickle.loads(pickle.dumps(clf))
    else:
        buffer = io.BytesIO()
        joblib.dump(clf, buffer)
        buffer.seek(0)
        restored = joblib.load(buffer)
    assert_array_equal(restored.predict_proba(X_test), clf.predict_proba(X_test))
    # The restored model keeps training where the original left off.
    restored.partial_fit(X_train, y_train)
    clf.partial_fit(X_train, y_train)
    assert_array_equal(restored.input_weights_, clf.input_weights_)


def test_pandas_dataframe_input(motif_split):
    pd = pytest.importorskip("pandas")
    X_train, X_test, y_train, _ = motif_split
    columns = [f"t{i}" for i in range(X_train.shape[1])]
    frame = pd.DataFrame(X_train, columns=columns)
    clf = ElmanClassifier(max_iter=5, n_features_per_step=2, random_state=0)
    clf.fit(frame, pd.Series(y_train))
    assert list(clf.feature_names_in_) == columns
    proba = clf.predict_proba(pd.DataFrame(X_test, columns=columns))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        assert_array_equal(proba, clf.predict_proba(X_test))


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_input_keeps_float32_weights_and_outputs(solver, motif_split):
    X_train, X_test, y_train, _ = motif_split
    clf = ElmanClassifier(
        solver=solver, max_iter=5, n_features_per_step=2, random_state=0
    )
    clf.fit(X_train.astype(np.float32), y_train)
    for name in E.ElmanParams._fields:
        assert getattr(clf, name + "_").dtype == np.float32
    assert clf.predict_proba(X_test.astype(np.float32)).dtype == np.float32
    if solver != "lbfgs":
        assert clf._optimizer._scratch.dtype == np.float32


def test_elman_beats_an_mlp_on_flattened_rows_when_a_motif_moves():
    """The motif task needs position-invariant memory, which the MLP lacks."""
    X, y = motif_task(n=1200, n_steps=30, n_features=3, seed=1)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, random_state=0, stratify=y
    )
    elman = ElmanClassifier(random_state=0).fit(X_train, y_train)
    mlp = MLPClassifier(random_state=0, max_iter=300).fit(
        X_train.reshape(len(X_train), -1), y_train
    )
    elman_score = elman.score(X_test, y_test)
    mlp_score = mlp.score(X_test.reshape(len(X_test), -1), y_test)
    assert elman_score > 0.85
    assert elman_score > mlp_score + 0.05


@pytest.mark.parametrize("stateful", [False, True])
def test_prediction_in_small_chunks_equals_one_pass(stateful, monkeypatch):
    """predict_proba bounds its memory by chunking rows; chunks change nothing."""
    X, y = motif_task(n=50, n_steps=6, n_features=2)
    X[::3, 4:] = np.nan
    clf = ElmanClassifier(stateful=stateful, max_iter=2, random_state=0).fit(X, y)
    clf.reset_context()
    whole = clf.predict_proba(X)
    context = getattr(clf, "context_", None)
    for budget in (1, 5 * 8 * 7, 5 * 8 * 20):  # one row, ~7 and ~20 steps a chunk
        monkeypatch.setattr(_data, "PREDICT_CHUNK_BYTES", budget)
        clf.reset_context()
        # Matrix products of another height may round differently in the last bit.
        assert_allclose(clf.predict_proba(X), whole, rtol=1e-12)
        if stateful:
            assert_array_equal(clf.context_, context)


def test_predict_log_proba_stays_finite_where_probabilities_underflow():
    X, y = memory_task(n=40)
    clf = ElmanClassifier(readout="last", max_iter=3, random_state=0).fit(
        X.astype(np.float32), y
    )
    clf.output_weights_ = clf.output_weights_ * 1e4  # very confident outputs
    X32 = X.astype(np.float32)
    proba = clf.predict_proba(X32)
    assert (proba == 0).any()  # log(proba) would be -inf here
    log_proba = clf.predict_log_proba(X32)
    assert np.isfinite(log_proba).all() and log_proba.dtype == np.float32
    logits = clf.hidden_states(X32)[:, -1] @ clf.output_weights_ + clf.output_bias_
    expected = E.log_softmax(logits.astype(np.float64))
    assert_allclose(log_proba, expected, rtol=1e-4, atol=1e-2)
    assert_allclose(np.exp(log_proba), proba, atol=1e-6)


def test_set_params_solver_between_partial_fits_switches_the_optimizer():
    X, y = memory_task(n=40)
    clf = ElmanClassifier(solver="sgd", random_state=0).partial_fit(X, y, [0, 1])
    fresh = copy.deepcopy(clf)
    del fresh._optimizer  # what a new optimizer from these weights does
    for model in (clf, fresh):
        model.set_params(solver="adam").partial_fit(X, y)
    assert type(clf._optimizer).__name__ == "AdamOptimizer"
    for name in E.ElmanParams._fields:
        assert_array_equal(getattr(clf, name + "_"), getattr(fresh, name + "_"))
