"""
==========================================================
Accuracy against a feed-forward network and 1-NN DTW
==========================================================

A benchmark, not a tutorial: it measures the test accuracy and the fit time of
:class:`~sklearn_elman.ElmanClassifier` on real sequence classification data sets,
with its default parameters and with a small grid tuned by cross-validation on the
training split, against :class:`~sklearn.neural_network.MLPClassifier` on the same
sequences flattened and, when aeon is installed, the one-nearest-neighbour classifier
under dynamic time warping (aeon's ``KNeighborsTimeSeriesClassifier``).

Run ``python examples/bench_accuracy.py`` for the five data sets with 3 seeds and
5-fold CV (``--datasets``, ``--seeds``, ``--cv``, ``--jobs``). ``--grid`` replaces
the grid with a JSON dict of lists, for instance ``--grid '{"readout": ["max"],
"patch_size": [8, 16]}'``, and ``--elman-params`` sets constructor parameters of both
Elman models (default and grid; the grid's values win), for instance
``--elman-params '{"hidden_units": 128, "batch_size": 16}'``, so that candidate
defaults can be compared without editing the script. ``--quick`` is a smoke run of
under a minute on 2 cores: 1 seed, 3-fold CV, the data sets digits and Trace (unless
``--datasets`` names others) and, unless ``--grid`` is given, the grid cut to the
first and last value of each list (``readout`` in {'last', 'max'} x ``patch_size`` in
{4, 16}); the test suite runs ``--datasets digits --quick``. ``--csv PATH`` writes
the results table. ``--cv-only`` reads the training splits alone and prints the
mean CV accuracy of ``ElmanClassifier`` with the ``--elman-params`` (a
``SequenceScaler`` in front, scaling each fold on its own), the test splits never
read: the way the defaults were chosen. The script prints progress lines as each
data set and model starts and ends, then the table in markdown (as in the README),
and saves ``bench_accuracy.png`` in the current directory.

The data sets all ship inside a package, so nothing is downloaded, and each keeps
its own train/test split: ``ACSF1`` (1460 steps) and ``PickupGestureWiimoteZ`` (29 to
361 steps), loaded with aeon's ``load_classification``; ``PLAID`` (100 to 1344
steps), loaded with sktime's ``load_plaid``; ``Trace`` (275 steps), loaded with
tslearn's ``CachedDatasets``; and ``digits``, scikit-learn's ``load_digits`` read as
sequences of 8 rows of 8 pixels, split half and half (stratified,
``random_state=0``). A data set whose library is not installed is skipped with a
note. Any other name given to ``--datasets`` is handed to aeon's
``load_classification``, which may download it.

Every model gets the same input: each channel standardised with the mean and
standard deviation over all real steps of all training sequences (the package's
``SequenceScaler`` when it has one, otherwise the same computation here). Sequences
of different lengths are NaN-padded at the end for the Elman network; the MLP reads
the scaled, zero-filled, flattened sequences; 1-NN DTW reads the scaled sequences at
their own lengths.

The models, each scored on the test split over several seeds (mean and standard
deviation; 1-NN DTW is deterministic and runs once):

* ``ElmanClassifier()`` with its defaults (``random_state=seed``, and the
  ``--elman-params``);
* the echo-state network ``ElmanClassifier(solver='echo_state', hidden_units=512,
  alpha=1.0, readout='last_mean_max')`` (``ECHO_STATE`` at the top of the script,
  over the ``--elman-params``): random input and context weights left untrained and
  only the output layer fitted, the untrained baseline;
* ``ElmanClassifier`` tuned by ``GridSearchCV`` with stratified K-fold on the
  training split only (5 folds, shuffled with the seed), refit on the whole training
  split. The grid is ``GRID`` at the top of the script, ``readout`` in {'last',
  'mean', 'max'} x ``patch_size`` in {4, 16}; the keys of ``LONG_ONLY``
  (``patch_size``) enter only for data sets whose longest sequence has at least 100
  steps. Only the hyper-parameters that the installed estimator has enter the grid
  (the others are left out with a note); when the grid holds the default model
  alone, the search is skipped and the default's scores are copied;
* ``MLPClassifier(max_iter=2000)``, otherwise default (``random_state=seed``);
* ``KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw")``.

Next to each accuracy the table gives the seconds of one fit, mean over the seeds:
for the grid, of one whole search (every CV fit and the refit), with the CV accuracy
of the chosen candidate on the training split; for 1-NN DTW, of fitting and scoring.
On 2 cores, ``--seeds 1 --cv 3 --jobs 1`` took 10.5 minutes with the package's
earlier defaults (32 hidden units, at most 200 epochs, single steps, the last
state; not measured again since): 5 of them in the grid search on PLAID (100 to
1344 steps, 32 s per fit of the default model) and 3 in 1-NN DTW on PLAID and ACSF1.
"""

# %%
import argparse
import csv
import json
import os
import platform
import re
import sys
import time
import warnings
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import sklearn
from joblib import Parallel, delayed
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    StratifiedKFold,
    train_test_split,
)
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import sklearn_elman
from sklearn_elman import ElmanClassifier

try:
    import aeon
except ImportError:  # ACSF1, PickupGestureWiimoteZ and 1-NN DTW are then skipped
    aeon = None

# The grid of the tuned model: add a hyper-parameter here and it is tried everywhere
# (left out, with a note, by an ElmanClassifier that does not have it). Single steps
# are not tried on long series: under the defaults' 500 epochs one such fit on the
# 1000-step sets takes minutes.
GRID = {"readout": ["last", "mean", "max"], "patch_size": [4, 16]}
LONG_ONLY = ("patch_size",)  # grid keys tried only on long series
LONG_SERIES = 100  # steps from which a data set counts as long

# Data set: the library that ships it (None: scikit-learn).
DATASETS = {
    "ACSF1": "aeon",
    "PickupGestureWiimoteZ": "aeon",
    "PLAID": "sktime",
    "Trace": "tslearn",
    "digits": None,
}
QUICK_DATASETS = "digits,Trace"
MLP_MAX_ITER = 2000
# The untrained baseline: fixed random weights, the output layer alone fitted on the
# last, mean and max states; its size and penalty chosen by 3-fold CV on the
# training splits of the development sets.
ECHO_STATE = {
    "solver": "echo_state",
    "hidden_units": 512,
    "alpha": 1.0,
    "readout": "last_mean_max",
}
MODELS = {  # key: label in the progress lines and the plot, table header
    "default": ("Elman default", "Elman, defaults"),
    "echo": ("Elman echo state", "Elman, echo state"),
    "grid": ("Elman grid (CV)", "Elman, grid (CV)"),
    "mlp": ("MLP flattened", "`MLPClassifier`"),
    "dtw": ("1-NN DTW", "1-NN DTW"),
}
START = time.perf_counter()


def progress(message):
    """One progress line, with the seconds since the start, at once."""
    print(f"[{time.perf_counter() - START:7.1f} s] {message}", flush=True)


def quick_grid(grid):
    """``--quick``'s grid: each list cut to its first and last value."""
    return {key: [values[0], values[-1]] for key, values in grid.items()}


# %%
# Data: NaN-padded 3D arrays (sequences, steps, channels)
# -------------------------------------------------------


def to_padded(X, n_steps):
    """An (n, channels, steps) array or a list of (channels, steps_i) arrays as a
    NaN-end-padded (n, steps, channels) float array of ``n_steps`` steps."""
    series = [np.asarray(x, dtype=float) for x in X]
    padded = np.full((len(series), n_steps, series[0].shape[0]), np.nan)
    for row, x in zip(padded, series):
        row[: x.shape[1]] = x.T
    return padded


def load_dataset(name):
    """Train and test splits of ``name`` as NaN-padded 3D arrays, with labels."""
    if name == "digits":
        digits = load_digits()
        X = digits.images.reshape(-1, 8, 8).astype(float)  # 8 rows of 8 pixels
        return train_test_split(
            X, digits.target, test_size=0.5, stratify=digits.target, random_state=0
        )
    if name == "PLAID":
        from sktime.datasets import load_plaid

        # A nested DataFrame: one column, one pandas Series per cell.
        splits = [load_plaid(split=split) for split in ("train", "test")]
        (X_train, y_train), (X_test, y_test) = [
            ([np.asarray(x, dtype=float)[None, :] for x in X.iloc[:, 0]], y)
            for X, y in splits
        ]
    elif name == "Trace":
        from tslearn.datasets import CachedDatasets

        X_train, y_train, X_test, y_test = CachedDatasets().load_dataset("Trace")
        X_train, X_test = X_train.transpose(0, 2, 1), X_test.transpose(0, 2, 1)
    else:
        from aeon.datasets import load_classification

        X_train, y_train = load_classification(name, split="train")
        X_test, y_test = load_classification(name, split="test")
    # One padded length for both splits, so that the MLP's flattened rows agree.
    n_steps = max(np.shape(x)[-1] for x in [*X_train, *X_test])
    return (
        to_padded(X_train, n_steps),
        to_padded(X_test, n_steps),
        np.asarray(y_train),
        np.asarray(y_test),
    )


def sequence_lengths(X):
    """Real steps per sequence of a NaN-end-padded 3D array."""
    return (~np.isnan(X).all(axis=2)).sum(axis=1)


def scale(X_train, X_test):
    """Standardise each channel over all real training steps; NaN padding stays.

    Returns the scaled splits and the name of what scaled them.
    """
    if hasattr(sklearn_elman, "SequenceScaler"):
        scaler = sklearn_elman.SequenceScaler().fit(X_train)
        return scaler.transform(X_train), scaler.transform(X_test), "SequenceScaler"
    mean = np.nanmean(X_train, axis=(0, 1))
    std = np.nanstd(X_train, axis=(0, 1))
    std[std == 0] = 1.0
    return (X_train - mean) / std, (X_test - mean) / std, "local per-channel scaling"


def flatten(X):
    """The MLP's input: padded steps filled with 0, one row per sequence."""
    return np.nan_to_num(X, nan=0.0).reshape(len(X), -1)


def for_dtw(X):
    """aeon's layout: (n, channels, steps), or a list of (channels, steps_i)."""
    lengths = sequence_lengths(X)
    if np.all(lengths == X.shape[1]):
        return X.transpose(0, 2, 1)
    return [x[:length].T for x, length in zip(X, lengths)]


# %%
# Models
# ------


def known_params():
    return ElmanClassifier().get_params()


def has_echo_state():
    """Whether the installed ElmanClassifier has solver='echo_state'."""
    return "spectral_radius" in known_params()


def split_known(params):
    """``params`` restricted to the installed ElmanClassifier's parameters, and the
    names of the others."""
    known = known_params()
    kept = {key: value for key, value in params.items() if key in known}
    return kept, sorted(set(params) - set(kept))


def make_grid(grid, n_steps):
    """The grid for a data set of ``n_steps`` steps: the parameters that the
    installed ``ElmanClassifier`` has, and ``LONG_ONLY`` ones on long series only;
    also returns the notes on what was left out."""
    kept, missing = split_known(grid)
    notes = []
    if missing:
        notes.append(
            "grid: this ElmanClassifier has no "
            + ", ".join(repr(key) for key in missing)
            + " parameter; left out of the grid"
        )
    short = [key for key in LONG_ONLY if key in kept] if n_steps < LONG_SERIES else []
    if short:
        notes.append(
            f"grid: {', '.join(short)} left out, for series of {LONG_SERIES} steps "
            "or more only"
        )
    return {key: kept[key] for key in kept if key not in short}, notes


def is_degenerate(grid, fixed):
    """Whether the grid holds the default model (with ``fixed``) alone."""
    candidates = list(ParameterGrid(grid))
    base = ElmanClassifier(**fixed).get_params()
    return len(candidates) == 1 and all(
        base[key] == value for key, value in candidates[0].items()
    )


def fit_and_score(model, X_train, y_train, X_test, y_test):
    """Test accuracy, seconds and iterations of one fit (warnings of non-convergence
    are counted by the caller through ``n_iter_``). BLAS runs on one thread: on
    these small matrices more threads only slow the MLP down."""
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
    return model.score(X_test, y_test), seconds, getattr(model, "n_iter_", None)


def run_seeds(make_model, seeds, n_jobs, X_train, y_train, X_test, y_test):
    """One fit per seed, the seeds in parallel: accuracies, seconds per fit and
    iterations, one of each per seed."""
    results = Parallel(n_jobs=min(n_jobs, len(seeds)))(
        delayed(fit_and_score)(make_model(seed), X_train, y_train, X_test, y_test)
        for seed in seeds
    )
    return [list(column) for column in zip(*results)]


def grid_search(grid, fixed, seed, n_folds, n_jobs, X_train, y_train, X_test, y_test):
    """One tuned model: chosen parameters, CV accuracy, test accuracy, seconds of
    the whole search and of its refit."""
    # No more folds than the rarest class has members.
    smallest_class = np.unique(y_train, return_counts=True)[1].min()
    n_folds = max(min(n_folds, int(smallest_class)), 2)
    search = GridSearchCV(
        ElmanClassifier(random_state=seed, **fixed),
        grid,
        cv=StratifiedKFold(n_folds, shuffle=True, random_state=seed),
        n_jobs=n_jobs,
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        search.fit(X_train, y_train)
        seconds = time.perf_counter() - start
    return {
        "params": search.best_params_,
        "cv": search.best_score_,
        "score": search.score(X_test, y_test),
        "seconds": seconds,
        "refit_seconds": search.refit_time_,
        "n_fits": n_folds * len(ParameterGrid(grid)) + 1,
    }


def one_nn_dtw(n_jobs, X_train, y_train, X_test, y_test):
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    model = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw", n_jobs=n_jobs)
    with warnings.catch_warnings():
        # numba's notes on integer casts inside aeon's DTW say nothing about results.
        warnings.filterwarnings("ignore", message=".*unsafe cast")
        model.fit(for_dtw(X_train), y_train)
        return model.score(for_dtw(X_test), y_test)


# %%
# The benchmark
# -------------


def _summary(result):
    scores = result["scores"]
    text = f"test accuracy {np.mean(scores):.3f}"
    if len(scores) > 1:
        text += f" ± {np.std(scores):.3f}, {np.mean(result['seconds']):.1f} s per fit"
    return text


def benchmark(name, data, seeds, n_folds, grid, fixed, use_dtw, n_jobs):
    """Scores and seconds of every model on one data set (``load_dataset``'s
    splits); ``grid`` None skips the grid search."""
    X_train, X_test, y_train, y_test = data
    X_train, X_test, scaler = scale(X_train, X_test)
    lengths = sequence_lengths(np.concatenate([X_train, X_test]))
    n_steps = int(lengths.max())
    span = f"{lengths.min()}-{n_steps}" if lengths.min() < n_steps else f"{n_steps}"
    info = {
        "split": f"{len(X_train)}/{len(X_test)}",
        "steps": span,
        "channels": X_train.shape[2],
        "classes": len(np.unique(y_train)),
    }
    progress(
        f"{name}: {len(X_train)} train / {len(X_test)} test sequences, "
        f"{span} steps, {info['channels']} channel(s), {info['classes']} classes; "
        f"scaled with {scaler}"
    )
    models, notes = {}, []
    split = (X_train, y_train, X_test, y_test)

    def start(key, what):
        progress(f"{name} / {MODELS[key][0]}: start, {what}")
        return time.perf_counter()

    def done(key, began):
        progress(
            f"{name} / {MODELS[key][0]}: done in {time.perf_counter() - began:.1f} s, "
            + _summary(models[key])
        )

    began = start("default", f"{len(seeds)} fit(s)")
    scores, seconds, _ = run_seeds(
        lambda seed: ElmanClassifier(random_state=seed, **fixed), seeds, n_jobs, *split
    )
    models["default"] = {"scores": scores, "seconds": seconds}
    done("default", began)

    if has_echo_state():
        began = start("echo", f"{len(seeds)} fit(s) of {ECHO_STATE}")
        scores, seconds, _ = run_seeds(
            lambda seed: ElmanClassifier(random_state=seed, **{**fixed, **ECHO_STATE}),
            seeds,
            n_jobs,
            *split,
        )
        models["echo"] = {"scores": scores, "seconds": seconds}
        done("echo", began)

    if grid is not None:
        grid, grid_notes = make_grid(grid, n_steps)
        notes += grid_notes
        if is_degenerate(grid, fixed):
            notes.append(
                "grid DEGENERATE: it holds the default model alone, whose refit on "
                "the whole training split is 'Elman default'; search skipped, "
                "scores copied"
            )
            models["grid"] = {**models["default"], "degenerate": True}
        else:
            notes.append(f"grid: {grid}")
            began = start("grid", f"{len(seeds)} search(es) over {grid}")
            runs = []
            for seed in seeds:
                progress(f"{name} / {MODELS['grid'][0]}: seed {seed}")
                run = grid_search(grid, fixed, seed, n_folds, n_jobs, *split)
                runs.append(run)
                chosen = sorted(run["params"].items())
                chosen = ", ".join(f"{key}={value!r}" for key, value in chosen)
                notes.append(
                    f"  seed {seed}: {chosen} (CV accuracy {run['cv']:.3f}, test "
                    f"{run['score']:.3f}; {run['n_fits']} fits in "
                    f"{run['seconds']:.1f} s, refit {run['refit_seconds']:.1f} s)"
                )
                progress(f"{name} / {MODELS['grid'][0]}: {notes[-1].strip()}")
            models["grid"] = {
                "scores": [run["score"] for run in runs],
                "seconds": [run["seconds"] for run in runs],
                "cv": [run["cv"] for run in runs],
                "refit_seconds": [run["refit_seconds"] for run in runs],
                "params": [run["params"] for run in runs],
            }
            done("grid", began)

    began = start("mlp", f"{len(seeds)} fit(s)")
    flat = (flatten(X_train), y_train, flatten(X_test), y_test)
    scores, seconds, n_iters = run_seeds(
        lambda seed: MLPClassifier(max_iter=MLP_MAX_ITER, random_state=seed),
        seeds,
        n_jobs,
        *flat,
    )
    models["mlp"] = {"scores": scores, "seconds": seconds}
    if any(n_iter >= MLP_MAX_ITER for n_iter in n_iters):
        notes.append(f"MLP: some fits stopped at max_iter={MLP_MAX_ITER}")
    done("mlp", began)

    if use_dtw:
        began = start("dtw", "fit and score once")
        score = one_nn_dtw(n_jobs, *split)
        models["dtw"] = {"scores": [score], "seconds": [time.perf_counter() - began]}
        done("dtw", began)

    for note in notes:
        print(note, flush=True)
    return {"models": models, **info}


def _cell(model):
    """A table cell: accuracy (mean ± std), the grid's CV accuracy, seconds."""
    if model is None:
        return "-"
    if model.get("degenerate"):
        return "= defaults"
    scores = model["scores"]
    text = f"{np.mean(scores):.3f}"
    if len(scores) > 1:
        text += f" ± {np.std(scores):.3f}"
    extra = f"CV {np.mean(model['cv']):.3f}; " if "cv" in model else ""
    return text + f" ({extra}{np.mean(model['seconds']):.1f} s)"


def print_table(results, models):
    """The results as a markdown table, the README's."""
    header = ["data set", "train/test", "steps", "classes"]
    header += [MODELS[key][1] for key in models]
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, result in results.items():
        steps = result["steps"]
        if result["channels"] > 1:
            steps += f" ({result['channels']} channels)"
        row = [name, result["split"], steps, str(result["classes"])]
        row += [_cell(result["models"].get(key)) for key in models]
        print("| " + " | ".join(row) + " |")
    print(
        "\nCells: test accuracy (mean ± std over the seeds; one value when run once) "
        "and, in brackets, seconds per fit (mean over the seeds); for the grid, the "
        "chosen candidate's CV accuracy on the training split and the seconds of one "
        "whole search (CV and refit); for 1-NN DTW, of fitting and scoring."
    )


def write_csv(path, results, models):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["dataset", "model", "mean", "std", "seconds", "n_runs", "cv_mean"]
            + ["refit_seconds", "params"]
        )
        for name, result in results.items():
            for key in models:
                model = result["models"].get(key)
                if model is None:
                    continue
                degenerate = model.get("degenerate", False)
                writer.writerow(
                    [
                        name,
                        MODELS[key][0],
                        f"{np.mean(model['scores']):.4f}",
                        f"{np.std(model['scores']):.4f}",
                        "" if degenerate else f"{np.mean(model['seconds']):.2f}",
                        len(model["scores"]),
                        f"{np.mean(model['cv']):.4f}" if "cv" in model else "",
                        f"{np.mean(model['refit_seconds']):.2f}"
                        if "refit_seconds" in model
                        else "",
                        "degenerate: the defaults"
                        if degenerate
                        else json.dumps(model["params"])
                        if "params" in model
                        else "",
                    ]
                )
    print(f"wrote {os.path.abspath(path)}")


def plot(results, models, n_seeds, dtw_note, grid_note):
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(figsize=(4.4 + 1.6 * len(names), 4.2))
    width = 0.8 / len(models)
    x = np.arange(len(names))
    for i, key in enumerate(models):
        values = [
            results[name]["models"].get(key, {}).get("scores", [np.nan])
            for name in names
        ]
        ax.bar(
            x + (i - (len(models) - 1) / 2) * width,
            [np.mean(v) for v in values],
            width=width,
            # No error bar for what ran once (1-NN DTW, or any model with one seed).
            yerr=[np.std(v) for v in values] if n_seeds > 1 and key != "dtw" else None,
            capsize=3,
            color=f"C{list(MODELS).index(key)}",  # one colour per model, always
            hatch="//" if key == "grid" and grid_note else None,
            label=MODELS[key][0] + (grid_note if key == "grid" else ""),
        )
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("data set")
    ax.set_ylabel("test accuracy")
    spread = f"mean ± std over {n_seeds} seeds" if n_seeds > 1 else "one seed"
    ax.set_title(f"Test accuracy, {spread}" + dtw_note, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig("bench_accuracy.png", dpi=100)
    print(f"saved {os.path.abspath('bench_accuracy.png')}")


def _version(package):
    try:
        return f"{package} {version(package)}"
    except PackageNotFoundError:
        return f"{package} not installed"


def cv_only(names, seeds, n_folds, settings, n_jobs):
    """Mean CV accuracy of ElmanClassifier(**fixed) on the training splits only.

    How defaults are chosen without a test split: a ``SequenceScaler`` and the
    classifier in a pipeline, so that each fold is scaled on its own training part.
    Each dict of ``settings`` is measured in turn on each data set, in the same run,
    and its fit time is also given as a ratio to the first's.
    """
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    print(
        "| data set | parameters | CV accuracy (mean over seeds) | per seed "
        "| seconds per fit | time ratio |"
    )
    print("|---|---|---|---|---|---|")
    for name in names:
        X_train, _, y_train, _ = load_dataset(name)  # the test split stays unread
        first_seconds = None
        for fixed in settings:
            began, scores = time.perf_counter(), []
            for seed in seeds:
                model = make_pipeline(
                    sklearn_elman.SequenceScaler(),
                    ElmanClassifier(random_state=seed, **fixed),
                )
                folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    # Small folds.
                    warnings.filterwarnings("ignore", message="batch_size=")
                    cv = cross_val_score(
                        model, X_train, y_train, cv=folds, n_jobs=n_jobs
                    )
                scores.append(cv.mean())
            seconds = (time.perf_counter() - began) / (n_folds * len(seeds))
            first_seconds = first_seconds or seconds
            per_seed = " ".join(f"{score:.3f}" for score in scores)
            print(
                f"| {name} | {json.dumps(fixed)} | {np.mean(scores):.3f} | {per_seed} "
                f"| {seconds:.1f} | {seconds / first_seconds:.2f} |",
                flush=True,
            )


def main(args):
    if args.cv_only:
        seeds = list(range(1 if args.quick else args.seeds))
        datasets = args.datasets or (
            QUICK_DATASETS if args.quick else ",".join(DATASETS)
        )
        names = [name.strip() for name in datasets.split(",") if name.strip()]
        fixed, unknown = split_known(args.elman_params or {})
        settings = [fixed]
        if args.versus is not None:
            settings.append(split_known(args.versus)[0])
        n_folds = 3 if args.quick else args.cv
        print(f"--cv-only: {len(seeds)} seed(s), {n_folds}-fold CV")
        cv_only(names, seeds, n_folds, settings, args.n_jobs)
        return
    seeds = list(range(1 if args.quick else args.seeds))
    n_folds = 3 if args.quick else args.cv
    datasets = args.datasets or (QUICK_DATASETS if args.quick else ",".join(DATASETS))
    names = [name.strip() for name in datasets.split(",") if name.strip()]
    grid = None
    if not args.no_grid:
        grid = args.grid if args.grid is not None else GRID
        grid = quick_grid(grid) if args.quick and args.grid is None else grid
    fixed, unknown = split_known(args.elman_params or {})
    use_dtw = args.dtw and aeon is not None
    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores; sklearn_elman {sklearn_elman.__version__}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        + ", ".join(_version(package) for package in ("aeon", "sktime", "tslearn")),
        flush=True,
    )
    print(
        f"data sets {', '.join(names)}; seeds {seeds}, {n_folds}-fold stratified CV "
        f"for the grid, n_jobs {args.n_jobs}" + (" (--quick)" if args.quick else ""),
        flush=True,
    )
    print(f"Elman parameters fixed for both models: {fixed or 'none'}", flush=True)
    if unknown:
        print(
            "--elman-params: this ElmanClassifier has no "
            + ", ".join(repr(key) for key in unknown)
            + " parameter; left out",
            flush=True,
        )
    if grid is not None:
        present = split_known(grid)[0]
        print(
            f"grid {grid}; parameters of it present: "
            + (", ".join(present) or "none (the grid degenerates to the defaults)"),
            flush=True,
        )
    results = {}
    for name in names:
        library = DATASETS.get(name, "aeon")
        if library == "aeon" and aeon is None:
            print(f"\n{name}: skipped, aeon is not installed (pip install aeon)")
            continue
        print(flush=True)
        progress(f"{name}: loading")
        start = time.perf_counter()
        try:
            data = load_dataset(name)
        except ImportError as error:
            print(f"{name}: skipped, {library} is not installed ({error})", flush=True)
            continue
        except (ValueError, OSError) as error:  # not shipped, and no network
            print(f"{name}: skipped, {library} could not load it ({error})", flush=True)
            continue
        results[name] = benchmark(
            name, data, seeds, n_folds, grid, fixed, use_dtw, args.n_jobs
        )
        progress(f"{name}: done in {time.perf_counter() - start:.1f} s in all")
    if not results:
        print("no data set to benchmark")
        return
    models = ["default"] + (["echo"] if has_echo_state() else [])
    models += (["grid"] if grid is not None else []) + ["mlp"]
    models += ["dtw"] if use_dtw else []
    print_table(results, models)
    grid_note = ""
    if grid is not None and all(
        r["models"]["grid"].get("degenerate") for r in results.values()
    ):
        grid_note = "\n(grid degenerate:\n= Elman default)"
        print("Elman grid (CV): the grid is degenerate, its scores are the default's")
    dtw_note = ""
    if not use_dtw:
        reason = "aeon not installed" if aeon is None else "--no-dtw"
        dtw_note = f"\n1-NN DTW skipped: {reason}"
        print(f"1-NN DTW skipped: {reason}")
    print(f"total {time.perf_counter() - START:.1f} s")
    if args.csv:
        write_csv(args.csv, results, models)
    plot(results, models, len(seeds), dtw_note, grid_note)


def _plain(text):
    """The docstring's reStructuredText as plain text, for --help."""
    text = re.sub(r":\w+:`~?(?:[\w.]+\.)?([\w]+)`", r"\1", text)
    return text.replace("``", "")


def _json_dict(text):
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {text}")
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"not a JSON dict ({{...}}): {text}")
    return value


def grid_option(text):
    """``--grid``: a JSON dict of parameter name to a list of values (a single
    value is a list of one)."""
    grid = {
        key: values if isinstance(values, list) else [values]
        for key, values in _json_dict(text).items()
    }
    empty = [key for key, values in grid.items() if not values]
    if empty:
        raise argparse.ArgumentTypeError(f"no value to try for {', '.join(empty)}")
    return grid


def elman_params_option(text):
    """``--elman-params``: a JSON dict of constructor parameters."""
    params = _json_dict(text)
    if "random_state" in params:
        raise argparse.ArgumentTypeError("random_state is set by the seeds")
    return params


# %%
if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when piped too
    paragraphs = __doc__.split("\n\n")
    parser = argparse.ArgumentParser(
        description=_plain(paragraphs[1]),
        epilog=_plain(paragraphs[2]),
    )
    parser.add_argument(
        "--datasets",
        help="comma-separated, among " + ", ".join(DATASETS) + " (default: all five; "
        f"with --quick: {QUICK_DATASETS}); other names are loaded with aeon",
    )
    parser.add_argument(
        "--seeds", type=int, default=3, help="seeds per model (default: 3)"
    )
    parser.add_argument(
        "--cv", type=int, default=5, help="folds of the grid's CV (default: 5)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run of under a minute: 1 seed, 3-fold CV, data sets "
        f"{QUICK_DATASETS} unless --datasets is given, each list of the grid cut to "
        f"its first and last value unless --grid is given ({quick_grid(GRID)})",
    )
    parser.add_argument(
        "--grid",
        type=grid_option,
        metavar="JSON",
        help=f"the grid, a JSON dict of lists, instead of {json.dumps(GRID)}; keys "
        f"of {', '.join(LONG_ONLY)} only on series of {LONG_SERIES} steps or more",
    )
    parser.add_argument("--no-grid", action="store_true", help="skip the grid search")
    parser.add_argument(
        "--elman-params",
        type=elman_params_option,
        metavar="JSON",
        help="a JSON dict of ElmanClassifier parameters for both Elman models, e.g. "
        "'{\"hidden_units\": 128}' (the grid's values win over them)",
    )
    parser.add_argument(
        "--dtw",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run 1-NN DTW when aeon is installed (default: yes)",
    )
    parser.add_argument(
        "--jobs",
        "--n-jobs",
        dest="n_jobs",
        metavar="N",
        type=int,
        default=2,
        help="parallel jobs: seeds, CV fits and DTW distances (default: 2)",
    )
    parser.add_argument("--csv", metavar="PATH", help="write the results table here")
    parser.add_argument(
        "--cv-only",
        action="store_true",
        help="only the CV accuracy of ElmanClassifier (with --elman-params) on "
        "the training splits, the test splits never read: how the defaults were "
        "chosen",
    )
    parser.add_argument(
        "--versus",
        metavar="JSON",
        type=json.loads,
        help="with --cv-only: a second dict of ElmanClassifier parameters, measured "
        "in the same run, data set by data set, with the ratio of the fit times",
    )
    args = parser.parse_args()
    if args.versus is not None and not args.cv_only:
        parser.error("--versus goes with --cv-only")
    if args.seeds < 1 or args.cv < 2 or args.n_jobs == 0:
        parser.error("--seeds must be at least 1, --cv at least 2, --jobs not 0")
    if args.no_grid and args.grid is not None:
        parser.error("--grid and --no-grid exclude each other")
    main(args)
