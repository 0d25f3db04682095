"""The estimators on a real Dask cluster: a ``distributed.LocalCluster`` of two
worker processes, started and closed by this module.

Three ways onto a cluster, each compared with the same computation in memory:
``GridSearchCV`` on joblib's Dask backend, dask-ml's ``Incremental`` (one
``partial_fit`` per block) and ``ParallelPostFit`` (prediction block by block).
The Dask wrappers take the 2D layout: a 3D array of k features per step becomes
``X.reshape(n_sequences, -1)`` read with ``n_features_per_step=k``.
"""

import os
import re
import sys
import warnings

import dask.array as da
import joblib
import numpy as np
import pytest
from dask_ml.wrappers import Incremental, ParallelPostFit
from distributed import Client, LocalCluster
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sklearn_elman import ElmanClassifier, ElmanRegressor

N_SEQUENCES, N_STEPS, N_FEATURES = 90, 6, 2
BLOCK = 30  # rows per block: three blocks
CLASSES = [0, 1]
# The estimators' state crosses processes through pickle; nothing else may change.
TOLERANCE = {"rtol": 0, "atol": 1e-12}
FITTED = ["input_weights_", "context_weights_", "hidden_bias_", "output_weights_"]


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(autouse=True)
def _few_epochs():
    # Few epochs keep the module quick; the warnings they raise say nothing here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _sequences():
    """NaN-end-padded 3D sequences, the same in the 2D layout, and labels."""
    rng = np.random.RandomState(0)
    X3 = rng.normal(size=(N_SEQUENCES, N_STEPS, N_FEATURES))
    y = (X3[:, :, 0].sum(axis=1) > 0).astype(int)
    for i, length in enumerate(rng.randint(3, N_STEPS + 1, size=N_SEQUENCES)):
        X3[i, length:] = np.nan
    return X3, X3.reshape(N_SEQUENCES, -1), y


def _dask_2d(X3, y):
    """The Dask arrays the wrappers take: the documented one-line reshape."""
    dX3 = da.from_array(X3, chunks=(BLOCK, N_STEPS, N_FEATURES))
    return dX3.reshape(dX3.shape[0], -1), da.from_array(y, chunks=BLOCK)


def test_the_cluster_has_two_worker_processes(client):
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids


@pytest.mark.parametrize("layout", ["2D", "3D"])
def test_grid_search_on_the_dask_joblib_backend_scores_as_in_memory(client, layout):
    # joblib's backend ships whole arrays: 3D ones too, unlike dask-ml's wrappers.
    X3, X, y = _sequences()
    if layout == "3D":
        X = X3
    model = ElmanClassifier(n_features_per_step=N_FEATURES, max_iter=5, random_state=0)
    grid = {"hidden_units": [2, 6], "readout": ["last", "max"]}
    in_memory = GridSearchCV(model, grid, cv=3).fit(X, y)
    with joblib.parallel_backend("dask"):
        on_cluster = GridSearchCV(model, grid, cv=3, n_jobs=-1).fit(X, y)
    # The fits ran on the workers: they imported the package to unpickle them.
    assert any(client.run(lambda: "sklearn_elman" in sys.modules).values())
    for key in ["mean_test_score", *(f"split{i}_test_score" for i in range(3))]:
        assert_array_equal(on_cluster.cv_results_[key], in_memory.cv_results_[key])
    assert on_cluster.best_params_ == in_memory.best_params_
    # Not a degenerate grid: the candidates score differently.
    assert len(set(in_memory.cv_results_["mean_test_score"])) > 1


@pytest.mark.parametrize("stateful", [False, True])
def test_incremental_equals_the_same_partial_fit_calls_by_hand(client, stateful):
    # With shuffle_blocks=False the blocks go to partial_fit in order, so a
    # stream (stateful=True: each row a chunk) trains as it does in memory.
    X3, X, y = _sequences()
    dX, dy = _dask_2d(X3, y)
    model = ElmanClassifier(
        hidden_units=4,
        n_features_per_step=N_FEATURES,
        stateful=stateful,
        random_state=0,
    )
    incremental = Incremental(model, shuffle_blocks=False)
    incremental.fit(dX, dy, classes=CLASSES)
    incremental.partial_fit(dX, dy, classes=CLASSES)  # a second pass
    by_hand = ElmanClassifier(**model.get_params())
    for _ in range(2):
        for start in range(0, N_SEQUENCES, BLOCK):
            rows = slice(start, start + BLOCK)
            by_hand.partial_fit(X[rows], y[rows], classes=CLASSES)
    trained = incremental.estimator_
    assert trained.t_ == by_hand.t_ == 2 * N_SEQUENCES
    for name in [*FITTED, "output_bias_", *(["context_"] if stateful else [])]:
        assert_allclose(getattr(trained, name), getattr(by_hand, name), **TOLERANCE)
    assert_allclose(trained.loss_curve_, by_hand.loss_curve_, **TOLERANCE)
    if not stateful:
        proba = incremental.predict_proba(dX).compute()
        assert_allclose(proba, by_hand.predict_proba(X), **TOLERANCE)


def test_parallel_post_fit_equals_in_memory_predict_proba(client):
    X3, X, y = _sequences()
    dX, _ = _dask_2d(X3, y)
    model = ElmanClassifier(
        hidden_units=4, n_features_per_step=N_FEATURES, max_iter=10, random_state=0
    ).fit(X, y)
    wrapped = ParallelPostFit(model)
    proba = wrapped.predict_proba(dX)
    assert isinstance(proba, da.Array) and proba.chunks == ((BLOCK,) * 3, (2,))
    proba = proba.compute()
    assert_allclose(proba, model.predict_proba(X), **TOLERANCE)
    # The 2D rows are the 3D sequences: the model reads either the same way.
    assert_allclose(proba, model.predict_proba(X3), **TOLERANCE)
    assert_array_equal(wrapped.predict(dX).compute(), model.predict(X))
    assert len(np.unique(proba.argmax(axis=1))) == 2  # not a constant model

    regressor = ElmanRegressor(
        hidden_units=4, n_features_per_step=N_FEATURES, max_iter=10, random_state=0
    ).fit(X, X3[:, 0, 1])
    predicted = ParallelPostFit(regressor).predict(dX).compute()
    assert_allclose(predicted, regressor.predict(X), **TOLERANCE)


def test_incremental_on_3d_blocks_is_a_clear_error_naming_the_reshape(client):
    # dask-ml 2025.1 hands partial_fit the key of a 3D array's block, not the
    # block: that key must not be read as a ragged list of sequences.
    X3, _, y = _sequences()
    dX3 = da.from_array(X3, chunks=(BLOCK, N_STEPS, N_FEATURES))
    incremental = Incremental(
        ElmanClassifier(hidden_units=4, random_state=0), shuffle_blocks=False
    )
    message = (
        "X must be an array of numbers, of shape (n_sequences, n_columns) or "
        "(n_sequences, n_steps, n_features), or a list of sequences of numbers "
        "(see pad_sequences); got a tuple whose item 0 is the string 'array-"
    )
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        incremental.fit(dX3, da.from_array(y, chunks=BLOCK), classes=CLASSES)
    assert "X.reshape(n_sequences, -1) with n_features_per_step" in str(raised.value)
