"""
=====================
Scaling out with Dask
=====================

The estimators of this package run on a Dask cluster the three ways scikit-learn
estimators do: :class:`~sklearn.model_selection.GridSearchCV` on joblib's Dask backend
(every fit of the search on a worker), dask-ml's ``Incremental`` (one ``partial_fit``
per block of a Dask array, for data larger than one machine's memory) and dask-ml's
``ParallelPostFit`` (a model fitted in memory predicts a Dask array block by block).
This example starts a local cluster of two worker processes, runs all three, and
checks each against the same computation in memory. The same code meets a real
cluster by connecting the client to its scheduler, ``Client("tcp://scheduler:8786")``,
instead of starting a ``LocalCluster``. It needs ``pip install "sklearn-elman[dask]"``.
"""

# %%
# Sequences in the 2D layout
# --------------------------
# Each sequence is up to 12 steps of 2 features: a noisy ramp, rising for class 1 and
# falling for class 0, beside a channel of plain noise; shorter sequences end with NaN
# steps. The Dask wrappers take 2D arrays, so the 3D array
# (sequences, steps, features) is reshaped to one row per sequence,
# ``X3.reshape(n_sequences, -1)``, and read with ``n_features_per_step=2``: the model
# reads the rows exactly as it reads the 3D array.
import os
import time
import warnings

import joblib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split

from sklearn_elman import ElmanClassifier

try:
    import dask.array as da
    from dask_ml.wrappers import Incremental, ParallelPostFit
    from distributed import Client, LocalCluster
except ImportError as error:  # the optional extra is not installed
    raise SystemExit(
        f"This example needs Dask and dask-ml ({error}): "
        'pip install "sklearn-elman[dask]"'
    ) from error

N_SEQUENCES, N_STEPS, N_FEATURES = 600, 12, 2
BLOCK = 100  # rows per block of the Dask arrays


def make_sequences(random_state=0):
    """Ramps up (class 1) or down (class 0) beside noise, NaN-padded at the end."""
    rng = np.random.RandomState(random_state)
    y = rng.randint(2, size=N_SEQUENCES)
    slope = np.where(y == 1, 1.0, -1.0)[:, None] * rng.uniform(
        0.1, 0.3, (N_SEQUENCES, 1)
    )
    X3 = rng.normal(scale=0.5, size=(N_SEQUENCES, N_STEPS, N_FEATURES))
    X3[:, :, 0] += slope * np.arange(N_STEPS)
    for i, length in enumerate(rng.randint(4, N_STEPS + 1, size=N_SEQUENCES)):
        X3[i, length:] = np.nan
    return X3, y


def main():
    X3, y = make_sequences()
    X = X3.reshape(len(X3), -1)  # the 2D layout: one row per sequence
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    model = ElmanClassifier(
        hidden_units=8, n_features_per_step=N_FEATURES, max_iter=20, random_state=0
    )
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # few epochs

    # %%
    # A local cluster
    # ---------------
    # Two worker processes on this machine; on a real cluster, replace these two
    # lines by ``client = Client("tcp://scheduler:8786")`` (the scheduler's address).
    # The workers must be able to import ``sklearn_elman``: install the package on
    # them as on this machine.
    start = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    print(f"Cluster of {len(client.scheduler_info()['workers'])} workers started")

    # %%
    # 1. GridSearchCV on joblib's Dask backend
    # ----------------------------------------
    # The search hands its fits to joblib; inside ``parallel_backend("dask")`` they run
    # on the workers. The estimator and the search need no change, and the scores are
    # those of the same search in memory.
    grid = {"hidden_units": [4, 8], "readout": ["last", "max"]}
    with joblib.parallel_backend("dask"):
        search = GridSearchCV(model, grid, cv=3, n_jobs=-1).fit(X_train, y_train)
    local = GridSearchCV(model, grid, cv=3).fit(X_train, y_train)
    scores = search.cv_results_["mean_test_score"]
    gap = np.abs(scores - local.cv_results_["mean_test_score"]).max()
    print(f"\n1. GridSearchCV on the cluster: best {search.best_params_}")
    for params, score in zip(search.cv_results_["params"], scores):
        print(f"   {params}: mean CV accuracy {score:.3f}")
    print(f"   largest difference from the same search in memory: {gap:.1e}")

    # %%
    # 2. Incremental: one partial_fit per block
    # -----------------------------------------
    # ``Incremental`` calls ``partial_fit`` on each block of the Dask arrays in turn,
    # on the workers, passing the estimator from one block to the next: data that no
    # single machine holds. With ``shuffle_blocks=False`` the blocks go in order, so
    # the result equals the same ``partial_fit`` calls by hand. Each call to
    # ``Incremental.partial_fit`` is one pass (epoch) over the blocks.
    dX = da.from_array(X_train, chunks=(BLOCK, X.shape[1]))
    dy = da.from_array(y_train, chunks=BLOCK)
    incremental = Incremental(
        ElmanClassifier(hidden_units=8, n_features_per_step=N_FEATURES, random_state=0),
        shuffle_blocks=False,
    )
    by_hand = ElmanClassifier(**incremental.estimator.get_params())
    n_passes = 10
    for _ in range(n_passes):
        incremental.partial_fit(dX, dy, classes=[0, 1])
        for first in range(0, len(X_train), BLOCK):
            rows = slice(first, first + BLOCK)
            by_hand.partial_fit(X_train[rows], y_train[rows], classes=[0, 1])
    trained = incremental.estimator_
    gap = max(
        np.abs(getattr(trained, name) - getattr(by_hand, name)).max()
        for name in ["input_weights_", "context_weights_", "output_weights_"]
    )
    print(f"\n2. Incremental, {n_passes} passes over {dX.numblocks[0]} blocks:")
    print(f"   test accuracy {trained.score(X_test, y_test):.3f}")
    print(f"   largest weight difference from partial_fit by hand: {gap:.1e}")

    # %%
    # 3. ParallelPostFit: predict a Dask array block by block
    # -------------------------------------------------------
    # A model fitted in memory predicts a large Dask array on the workers; the result
    # is a Dask array, computed here. It equals ``predict_proba`` in memory, and the
    # 2D rows give what the 3D sequences give.
    fitted = ParallelPostFit(search.best_estimator_)
    dX_test = da.from_array(X_test, chunks=(50, X.shape[1]))
    proba = fitted.predict_proba(dX_test).compute()
    in_memory = search.best_estimator_.predict_proba(X_test)
    as_3d = search.best_estimator_.predict_proba(
        X_test.reshape(-1, N_STEPS, N_FEATURES)
    )
    accuracy = np.mean(fitted.predict(dX_test).compute() == y_test)
    print(f"\n3. ParallelPostFit over {dX_test.numblocks[0]} blocks:")
    print(f"   test accuracy {accuracy:.3f}")
    print(
        f"   largest difference from predict_proba in memory: "
        f"{np.abs(proba - in_memory).max():.1e} (2D rows), "
        f"{np.abs(proba - as_3d).max():.1e} (3D sequences)"
    )

    client.close()
    cluster.close()
    print(
        f"\nAll three in {time.perf_counter() - start:.1f} s, cluster start included."
    )
    print('On a real cluster: client = Client("tcp://scheduler:8786"), the rest as is.')

    # %%
    # The figure
    # ----------
    # Left, the cluster's probabilities against those computed in memory: every point
    # is on the diagonal. Right, the training loss of each ``partial_fit`` call,
    # through ``Incremental`` and by hand: one curve.
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.scatter(in_memory[:, 1], proba[:, 1], s=12, c=y_test, cmap="coolwarm")
    left.plot([0, 1], [0, 1], color="gray", linewidth=0.8)
    left.set_xlabel("P(class 1), predict_proba in memory")
    left.set_ylabel("P(class 1), ParallelPostFit on the cluster")
    left.set_title("ParallelPostFit")
    right.plot(trained.loss_curve_, label="Incremental on the cluster", linewidth=3)
    right.plot(by_hand.loss_curve_, "--", color="black", label="partial_fit by hand")
    right.set_xlabel("partial_fit call (one block)")
    right.set_ylabel("training loss")
    right.set_title("Incremental")
    right.legend()
    fig.tight_layout()
    fig.savefig("scale_out_dask.png", dpi=100)
    print(f"Saved the figure to {os.path.abspath('scale_out_dask.png')}")


# The worker processes import this script again: only the main process runs it.
if __name__ == "__main__":
    main()
