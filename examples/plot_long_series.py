"""
===============================================
Long series: patches and readouts, tuned by CV
===============================================

Real time series are often long (hundreds of steps) and of different lengths. An
Elman network reads them one step at a time, which is slow over many steps and
makes it carry information far. Two parameters help, and this example tunes both
with :class:`~sklearn.model_selection.GridSearchCV` in a pipeline with
:class:`~sklearn_elman.SequenceScaler`:

- ``patch_size`` reads K consecutive steps as one step, so the network runs K
  times fewer steps (a last patch that a series only partly fills is completed
  with its last value, so NaN end padding still changes nothing);
- ``readout`` chooses what the output layer reads: the last hidden state
  ('last', Elman's), or their mean or maximum over the series ('mean', 'max').
"""

# %%
# Three kinds of noisy waves, 60 to 150 steps long
# ------------------------------------------------
# The class is the shape of the wave: a slow sine, a fast sine, or a slow square
# wave, each with a random phase and amplitude, in noise. The series end at random
# lengths and are padded with NaN.
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from sklearn_elman import ElmanClassifier, SequenceScaler

rng = np.random.RandomState(0)
n_series, max_length = 210, 150
lengths = rng.randint(60, max_length + 1, size=n_series)
y = rng.randint(0, 3, size=n_series)
t = np.arange(max_length)[None, :]
phase = rng.uniform(0, 2 * np.pi, size=(n_series, 1))
period = np.where(y == 1, 8.0, 20.0)[:, None]
wave = np.sin(2 * np.pi * t / period + phase)
wave = np.where((y == 2)[:, None], np.sign(wave), wave)
X = rng.uniform(0.5, 2.0, size=(n_series, 1)) * wave + 3.0
X += rng.normal(scale=0.6, size=X.shape)
X[t >= lengths[:, None]] = np.nan  # end padding
print(f"{n_series} series of {lengths.min()}-{lengths.max()} steps, 3 classes")

X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# Tune patch_size and readout by cross-validation on the training series
# ---------------------------------------------------------------------
# The scaler sits inside the pipeline, so that every fold is scaled with the
# statistics of its own training part only. 40 epochs at a step of 0.01 (about
# three times the default 0.003) keep the example fast; they are not enough to
# converge, which the fits would warn about in every fold.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
pipeline = make_pipeline(
    SequenceScaler(),
    ElmanClassifier(
        hidden_units=16, max_iter=40, learning_rate_init=0.01, random_state=0
    ),
)
grid = {
    "elmanclassifier__patch_size": [1, 4, 12],
    "elmanclassifier__readout": ["last", "mean", "max"],
}
start = time.perf_counter()
search = GridSearchCV(pipeline, grid, cv=3, n_jobs=2).fit(X_train, y_train)
print(f"Grid search: {len(search.cv_results_['params'])} candidates x 3 folds "
      f"in {time.perf_counter() - start:.1f} s")  # fmt: skip

results = search.cv_results_
print(f"{'patch_size':>10} {'readout':>8} {'CV accuracy':>12} {'fit time':>9}")
for params, score, std, seconds in zip(
    results["params"],
    results["mean_test_score"],
    results["std_test_score"],
    results["mean_fit_time"],
):
    print(
        f"{params['elmanclassifier__patch_size']:>10} "
        f"{params['elmanclassifier__readout']:>8} "
        f"{score:>7.3f} ± {std:.3f} {seconds:>7.2f} s"
    )
best = search.best_params_
print(
    f"Best: patch_size={best['elmanclassifier__patch_size']}, "
    f"readout={best['elmanclassifier__readout']!r}, CV accuracy "
    f"{search.best_score_:.3f}; test accuracy {search.score(X_test, y_test):.3f}"
)
default = make_pipeline(
    SequenceScaler(),
    ElmanClassifier(
        hidden_units=16, max_iter=40, learning_rate_init=0.01, random_state=0
    ),
).fit(X_train, y_train)
fitted = default[-1]
print(f"Defaults (patch_size={fitted.patch_size!r}: patches of {fitted.patch_size_} "
      f"steps here, readout={fitted.readout!r}): test accuracy "
      f"{default.score(X_test, y_test):.3f}")  # fmt: skip

# %%
# Plot the cross-validated accuracy and the cost of each setting
# --------------------------------------------------------------
patches = grid["elmanclassifier__patch_size"]
readouts = grid["elmanclassifier__readout"]
scores = np.empty((len(patches), len(readouts)))
times = np.empty_like(scores)
for params, score, seconds in zip(
    results["params"], results["mean_test_score"], results["mean_fit_time"]
):
    row = patches.index(params["elmanclassifier__patch_size"])
    col = readouts.index(params["elmanclassifier__readout"])
    scores[row, col], times[row, col] = score, seconds

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for ax, values, title, fmt in (
    (left, scores, "Mean CV accuracy", "{:.2f}"),
    (right, times, "Mean fit time (s)", "{:.1f}"),
):
    image = ax.imshow(values, cmap="viridis")
    ax.set_xticks(range(len(readouts)), readouts)
    ax.set_yticks(range(len(patches)), patches)
    ax.set_xlabel("readout")
    ax.set_ylabel("patch_size")
    ax.set_title(title)
    middle = (values.min() + values.max()) / 2
    for (i, j), value in np.ndenumerate(values):
        colour = "black" if value > middle else "white"  # readable on viridis
        ax.text(j, i, fmt.format(value), ha="center", va="center", color=colour)
    fig.colorbar(image, ax=ax)
fig.tight_layout()
output = Path("plot_long_series.png").resolve()
fig.savefig(output, dpi=100)
print(f"Saved the figure to {output}")
