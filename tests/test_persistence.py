"""Saving and loading fitted estimators: pickle, and skops with a short trust list."""

import pickle

import numpy as np
import pytest
import skops.io as sio  # in the test extra: CI must run these
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from sklearn_elman import ElmanClassifier, ElmanRegressor, SequenceScaler

rng = np.random.RandomState(0)
X3 = rng.normal(size=(30, 6, 2))
STREAM = rng.normal(size=(60, 2))
LABELS = np.arange(30) % 3
TARGETS = X3[:, -1, 0]


def fitted(name):
    """An estimator fitted as a user would, and data to continue it with."""
    small = {"hidden_units": 4, "max_iter": 3, "random_state": 0}
    if name == "classifier":
        return ElmanClassifier(**small).fit(X3, LABELS), X3, LABELS
    if name == "classifier, sgd, partial_fit":
        model = ElmanClassifier(solver="sgd", **small)
        return model.partial_fit(X3, LABELS, classes=[0, 1, 2]), X3, LABELS
    if name == "regressor":
        return ElmanRegressor(**small).fit(X3, TARGETS), X3, TARGETS
    if name == "stateful regressor":
        model = ElmanRegressor(stateful=True, n_features_per_step=2, **small)
        return model.partial_fit(STREAM, STREAM[:, 0]), STREAM, STREAM[:, 0]
    if name == "stateful classifier, ensemble":
        model = ElmanClassifier(
            stateful=True, n_features_per_step=2, n_ensemble=2, **small
        )
        y = (STREAM[:, 0] > 0).astype(int)
        return model.partial_fit(STREAM, y, classes=[0, 1]), STREAM, y
    raise ValueError(name)


ESTIMATORS = [
    "classifier",
    "classifier, sgd, partial_fit",
    "regressor",
    "stateful regressor",
    "stateful classifier, ensemble",
]


def predictions(model, X):
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    return model.predict(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", ESTIMATORS)
def test_skops_round_trip_trusts_only_the_public_class(name):
    model, X, y = fitted(name)
    data = sio.dumps(model)
    public = f"sklearn_elman.{type(model).__name__}"
    # The README's trust list: the public class and nothing else.
    assert sio.get_untrusted_types(data=data) == [public]
    loaded = sio.loads(data, trusted=[public])
    assert_array_equal(predictions(loaded, X), predictions(model, X))
    if model.stateful:
        assert_array_equal(loaded.context_, model.context_)
    # Training goes on where it stopped: the optimizer's state came back too.
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    for attribute in ("input_weights_", "context_weights_", "output_weights_"):
        assert_array_equal(getattr(loaded, attribute), getattr(model, attribute))
    assert loaded.loss_curve_ == model.loss_curve_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_skops_round_trip_of_a_pipeline_with_the_scaler():
    pipeline = make_pipeline(SequenceScaler(), ElmanClassifier(max_iter=2)).fit(
        X3, LABELS
    )
    data = sio.dumps(pipeline)
    trusted = ["sklearn_elman.ElmanClassifier", "sklearn_elman.SequenceScaler"]
    assert sio.get_untrusted_types(data=data) == trusted
    loaded = sio.loads(data, trusted=trusted)
    assert_array_equal(loaded.predict_proba(X3), pipeline.predict_proba(X3))
    scaler = SequenceScaler().fit(X3)
    data = sio.dumps(scaler)
    assert sio.get_untrusted_types(data=data) == ["sklearn_elman.SequenceScaler"]
    assert_array_equal(
        sio.loads(data, trusted=["sklearn_elman.SequenceScaler"]).transform(X3),
        scaler.transform(X3),
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", ESTIMATORS)
def test_a_pickle_names_no_private_module(name):
    model, X, y = fitted(name)
    data = pickle.dumps(model)
    assert b"sklearn_elman._" not in data
    loaded = pickle.loads(data)
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert_array_equal(loaded.input_weights_, model.input_weights_)
    # A clone of the loaded estimator starts afresh, as any clone does.
    assert not hasattr(clone(loaded), "_optimizer")
