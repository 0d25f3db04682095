"""
========================
Tuning with GridSearchCV
========================

:class:`~sklearn_elman.ElmanClassifier` is an ordinary scikit-learn estimator, so its
hyper-parameters are tuned the usual way. This example searches over the number of
hidden units, the L2 penalty ``alpha`` and the activation with
:class:`~sklearn.model_selection.GridSearchCV`, in parallel over all cores, on a small
synthetic task in which the order of events within a sequence decides the class.
"""

# %%
# A task where order matters
# --------------------------
# Each sequence is 15 steps of 3 channels of noise. Somewhere in it, at a random
# position, a pulse runs through the three channels in three consecutive steps, in an
# order that depends on the class: 0 -> 1 -> 2, 2 -> 1 -> 0 or 1 -> 2 -> 0. Every
# channel gets exactly one pulse whatever the class, so only the order tells the
# classes apart. The data is a 3D array (sequences, steps, channels), which
# ``ElmanClassifier`` and the cross-validation splitters take as it is.
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split

from sklearn_elman import ElmanClassifier

rng = np.random.RandomState(0)
n_sequences, n_steps, n_channels = 450, 15, 3
pulse_order = np.array([[0, 1, 2], [2, 1, 0], [1, 2, 0]])  # one row per class

y = np.arange(n_sequences) % len(pulse_order)
X = rng.normal(scale=0.5, size=(n_sequences, n_steps, n_channels))
start = rng.randint(0, n_steps - n_channels + 1, size=n_sequences)
for i in range(n_sequences):
    steps = start[i] + np.arange(n_channels)
    X[i, steps, pulse_order[y[i]]] += 2.0

X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
print(f"X_train: {X_train.shape} (sequences, steps, channels)")

# %%
# The search
# ----------
# 2 x 3 x 2 = 12 candidates, each fitted on 3 folds: 36 fits, spread over all cores
# with ``n_jobs=-1``. ``random_state`` is fixed so that every candidate starts from
# reproducible weights. A step of 0.01 (about three times the default 0.003) and at
# most 100 epochs keep each fit short, and the example quick. Most of the fits (all
# but six, five of those with 32 relu units) have not yet gone the default 50 epochs
# without progress (``n_iter_no_change``) when they reach the 100 epochs of
# ``max_iter``; the ``ConvergenceWarning`` they raise is silenced here.
param_grid = {
    "hidden_units": [4, 32],
    "alpha": [1e-4, 1e-2, 1.0],
    "activation": ["tanh", "relu"],
}
search = GridSearchCV(
    ElmanClassifier(learning_rate_init=0.01, max_iter=100, random_state=0),
    param_grid,
    cv=3,
    n_jobs=-1,
)
start_time = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, y_train)
search_time = time.perf_counter() - start_time

# %%
# The results, best first (``cv_results_`` is a dict of arrays; pandas would make a
# nicer table of it, but is not needed).
results = search.cv_results_
print(
    f"\n{'rank':>4}  {'activation':<10} {'hidden':>6} {'alpha':>7}  {'CV accuracy':>13}"
)
for i in np.argsort(results["rank_test_score"], kind="stable"):
    params = results["params"][i]
    print(
        f"{results['rank_test_score'][i]:>4}  {params['activation']:<10} "
        f"{params['hidden_units']:>6} {params['alpha']:>7g}  "
        f"{results['mean_test_score'][i]:.3f} ± {results['std_test_score'][i]:.3f}"
    )
n_fits = len(results["params"]) * search.n_splits_
print(f"\nSearch time: {search_time:.1f} s for {n_fits} fits")
print(f"Best parameters: {search.best_params_}")
print(f"Best CV accuracy: {search.best_score_:.3f}")
print(f"Test accuracy of the refitted best model: {search.score(X_test, y_test):.3f}")

# %%
# Mean CV accuracy over hidden units and ``alpha``, one panel per activation. Read
# step by step and pooled over the steps (the default ``readout='max'``), the order
# of the pulse is learnt by every candidate, and the gaps are small next to the
# spread over the folds: four tanh units score lowest, and the strongest penalty
# (``alpha=1``) scores highest for three of the four sizes and activations, and ties
# for the fourth.
hidden_units, alphas = param_grid["hidden_units"], param_grid["alpha"]
best_activation = search.best_params_["activation"]

fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained", sharey=True)
for ax, activation in zip(axes, param_grid["activation"]):
    scores = np.empty((len(hidden_units), len(alphas)))
    for params, score in zip(results["params"], results["mean_test_score"]):
        if params["activation"] == activation:
            row = hidden_units.index(params["hidden_units"])
            scores[row, alphas.index(params["alpha"])] = score
    image = ax.imshow(scores, vmin=1 / 3, vmax=1, cmap="viridis", origin="lower")
    for (row, col), score in np.ndenumerate(scores):
        ax.text(
            col,
            row,
            f"{score:.2f}",
            ha="center",
            va="center",
            color="black" if score > 0.75 else "white",
        )
    ax.set_xticks(range(len(alphas)), [f"{a:g}" for a in alphas])
    ax.set_yticks(range(len(hidden_units)), hidden_units)
    ax.set_xlabel("alpha")
    title = f"activation='{activation}'"
    if activation == best_activation:
        # Frame the best candidate.
        row = hidden_units.index(search.best_params_["hidden_units"])
        col = alphas.index(search.best_params_["alpha"])
        ax.add_patch(
            plt.Rectangle(
                (col - 0.5, row - 0.5),
                1,
                1,
                fill=False,
                edgecolor="red",
                linewidth=3,
                clip_on=False,
            )
        )
        title += " (best in the red frame)"
    ax.set_title(title)
axes[0].set_ylabel("hidden_units")
fig.colorbar(image, ax=axes, label="mean CV accuracy")
fig.suptitle("GridSearchCV: mean accuracy over 3 folds")
fig.savefig("plot_grid_search.png", dpi=100)
print(f"Saved the figure to {os.path.abspath('plot_grid_search.png')}")

# %%
# Running the same search on a cluster
# ------------------------------------
# ``GridSearchCV`` hands its fits to joblib, so the same search runs on a cluster by
# switching joblib's backend; the estimator and the search need no change. With Dask
# (``pip install "sklearn-elman[dask]"``; ``scale_out_dask.py`` runs this on a local
# cluster, beside dask-ml's wrappers)::
#
#     import joblib
#     from dask.distributed import Client
#
#     client = Client("tcp://scheduler-address:8786")  # or Client() on one machine
#     with joblib.parallel_backend("dask"):
#         search.fit(X_train, y_train)
#
# With Ray (``pip install ray``)::
#
#     import joblib
#     from ray.util.joblib import register_ray
#
#     register_ray()
#     with joblib.parallel_backend("ray"):
#         search.fit(X_train, y_train)
