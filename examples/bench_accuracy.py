"""
==========================================================
Accuracy against a feed-forward network and 1-NN DTW
==========================================================

A benchmark, not a tutorial: it measures the test accuracy of
:class:`~sklearn_elman.ElmanClassifier` on real sequence classification data sets,
with its default parameters and with a small grid tuned by cross-validation on the
training split, against :class:`~sklearn.neural_network.MLPClassifier` on the same
sequences flattened and, when aeon is installed, the one-nearest-neighbour classifier
under dynamic time warping (aeon's ``KNeighborsTimeSeriesClassifier``).

The data sets: ``digits`` is scikit-learn's ``load_digits`` read as sequences of 8
rows of 8 pixels, split half and half (stratified, ``random_state=0``); any other
name is a UCR/UEA archive data set loaded with aeon's ``load_classification`` and its
own train/test split (``ACSF1``, 1460 steps, and ``PickupGestureWiimoteZ``, 29 to
361 steps, ship inside the aeon package, so nothing is downloaded). Without aeon,
those are skipped with a note.

Every model gets the same input: each channel standardised with the mean and
standard deviation over all real steps of all training sequences (the package's
``SequenceScaler`` when it has one, otherwise the same computation here). Sequences
of different lengths are NaN-padded at the end for the Elman network; the MLP reads
the scaled, zero-filled, flattened sequences; 1-NN DTW reads the scaled sequences at
their own lengths.

The models, each scored on the test split over several seeds (mean and standard
deviation; 1-NN DTW is deterministic and runs once):

* ``ElmanClassifier()`` with its defaults (``random_state=seed``);
* ``ElmanClassifier`` tuned by ``GridSearchCV`` with stratified K-fold on the
  training split only (5 folds, shuffled with the seed), refit on the whole training
  split, over ``readout`` in {'last', 'mean', 'max'} and ``patch_size`` in {1, 8}
  (``patch_size`` only for data sets whose longest sequence has at least 100 steps).
  Only the hyper-parameters that the installed estimator has enter the grid; when
  none does, the grid holds the defaults alone, whose refit is the first model, and
  the search is skipped;
* ``MLPClassifier(max_iter=2000)``, otherwise default (``random_state=seed``);
* ``KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw")``.

Run ``python examples/bench_accuracy.py`` for the default data sets ``ACSF1``,
``PickupGestureWiimoteZ`` and ``digits`` with 3 seeds; ``--quick`` uses one seed and
3-fold cross-validation, and the test suite runs ``--datasets digits --quick``. It
prints a table and saves ``bench_accuracy.png``. On 2 cores the full run takes about
3 minutes when the grid is degenerate and about 20 with ``readout`` in the grid,
most of it in the grid search on ACSF1 (1460 steps, where the 'mean' and 'max'
readouts train for many more epochs); ``--cv 3`` roughly halves the grid's cost.
"""

# %%
import argparse
import os
import platform
import re
import time
import warnings

import numpy as np
import sklearn
from joblib import Parallel, delayed
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import sklearn_elman
from sklearn_elman import ElmanClassifier

try:
    import aeon
except ImportError:  # the UCR/UEA data sets and 1-NN DTW are then skipped
    aeon = None

DEFAULT_DATASETS = "ACSF1,PickupGestureWiimoteZ,digits"
READOUTS = ["last", "mean", "max"]
PATCH_SIZE = 8  # the patch size tried on long sequences
LONG_SERIES = 100  # steps from which a data set counts as long
MLP_MAX_ITER = 2000
MODELS = {
    "default": "Elman default",
    "grid": "Elman grid (CV)",
    "mlp": "MLP flattened",
    "dtw": "1-NN DTW",
}


# %%
# Data: NaN-padded 3D arrays (sequences, steps, channels)
# -------------------------------------------------------


def to_padded(X, n_steps=None):
    """aeon's (n, channels, steps) array or list of (channels, steps_i) arrays as a
    NaN-end-padded (n, steps, channels) float array of ``n_steps`` steps."""
    series = [np.asarray(x, dtype=float) for x in X]
    n_steps = n_steps or max(x.shape[1] for x in series)
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


def make_grid(n_steps):
    """The grid for a data set of ``n_steps`` steps, restricted to the parameters
    that the installed ``ElmanClassifier`` has; also returns the left-out keys."""
    grid = {"readout": READOUTS}
    if n_steps >= LONG_SERIES:
        grid["patch_size"] = [1, PATCH_SIZE]
    known = ElmanClassifier().get_params()
    kept = {key: values for key, values in grid.items() if key in known}
    return kept, sorted(set(grid) - set(kept))


def n_candidates(grid):
    return int(np.prod([len(values) for values in grid.values()])) if grid else 1


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
    """One fit per seed, the seeds in parallel; accuracies, iterations, wall time."""
    start = time.perf_counter()
    results = Parallel(n_jobs=min(n_jobs, len(seeds)))(
        delayed(fit_and_score)(make_model(seed), X_train, y_train, X_test, y_test)
        for seed in seeds
    )
    seconds = time.perf_counter() - start
    return [r[0] for r in results], [r[2] for r in results], seconds


def grid_search(grid, seed, n_folds, n_jobs, X_train, y_train, X_test, y_test):
    """Chosen parameters, CV accuracy and test accuracy of one tuned model."""
    # No more folds than the rarest class has members.
    smallest_class = np.unique(y_train, return_counts=True)[1].min()
    n_folds = max(min(n_folds, int(smallest_class)), 2)
    search = GridSearchCV(
        ElmanClassifier(random_state=seed),
        grid,
        cv=StratifiedKFold(n_folds, shuffle=True, random_state=seed),
        n_jobs=n_jobs,
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X_train, y_train)
    return search.best_params_, search.best_score_, search.score(X_test, y_test)


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


def benchmark(name, data, seeds, n_folds, use_grid, use_dtw, n_jobs):
    """Scores of every model on one data set (``load_dataset``'s splits)."""
    X_train, X_test, y_train, y_test = data
    X_train, X_test, scaler = scale(X_train, X_test)
    lengths = sequence_lengths(np.concatenate([X_train, X_test]))
    n_steps = int(lengths.max())
    span = f"{lengths.min()}-{n_steps}" if lengths.min() < n_steps else f"{n_steps}"
    info = {
        "shape": f"{len(X_train)}/{len(X_test)} x {span} x {X_train.shape[2]}",
        "classes": len(np.unique(y_train)),
    }
    print(
        f"\n{name}: {len(X_train)} train / {len(X_test)} test sequences, "
        f"{span} steps, {X_train.shape[2]} channel(s), {info['classes']} classes; "
        f"scaled with {scaler}"
    )
    scores, seconds, notes = {}, {}, []
    split = (X_train, y_train, X_test, y_test)

    scores["default"], _, seconds["default"] = run_seeds(
        lambda seed: ElmanClassifier(random_state=seed), seeds, n_jobs, *split
    )

    if use_grid:
        grid, missing = make_grid(n_steps)
        if missing:
            notes.append(
                "grid: this ElmanClassifier has no "
                + ", ".join(repr(key) for key in missing)
                + " parameter; left out of the grid"
            )
        if n_candidates(grid) == 1:
            notes.append(
                "grid DEGENERATE: it holds the defaults alone, whose refit on the "
                "whole training split is 'Elman default'; search skipped, scores "
                "copied"
            )
            scores["grid"], seconds["grid"] = list(scores["default"]), 0.0
            info["grid_degenerate"] = True
        else:
            notes.append(f"grid: {grid}")
            start = time.perf_counter()
            scores["grid"] = []
            for seed in seeds:
                params, cv_score, test_score = grid_search(
                    grid, seed, n_folds, n_jobs, *split
                )
                scores["grid"].append(test_score)
                chosen = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))
                notes.append(f"  seed {seed}: {chosen} (CV accuracy {cv_score:.3f})")
            seconds["grid"] = time.perf_counter() - start

    flat = (flatten(X_train), y_train, flatten(X_test), y_test)
    scores["mlp"], n_iters, seconds["mlp"] = run_seeds(
        lambda seed: MLPClassifier(max_iter=MLP_MAX_ITER, random_state=seed),
        seeds,
        n_jobs,
        *flat,
    )
    if any(n_iter >= MLP_MAX_ITER for n_iter in n_iters):
        notes.append(f"MLP: some fits stopped at max_iter={MLP_MAX_ITER}")

    if use_dtw:
        start = time.perf_counter()
        scores["dtw"] = [one_nn_dtw(n_jobs, *split)]
        seconds["dtw"] = time.perf_counter() - start

    for note in notes:
        print(note)
    print(
        "seconds: "
        + ", ".join(f"{MODELS[key]} {value:.1f}" for key, value in seconds.items())
    )
    return {"scores": scores, "seconds": seconds, **info}


def _mean_std(values):
    if values is None:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def print_table(results, models):
    width = 15
    header = (
        f"{'dataset':22} {'train/test x steps x ch':24} {'cls':>3} "
        + " ".join(f"{MODELS[key]:>{width}}" for key in models)
        + f" {'seconds':>8}"
    )
    print("\n" + header)
    print("-" * len(header))
    for name, result in results.items():
        cells = [f"{_mean_std(result['scores'].get(key)):>{width}}" for key in models]
        print(
            f"{name:22} {result['shape']:24} {result['classes']:>3} "
            + " ".join(cells)
            + f" {sum(result['seconds'].values()):8.1f}"
        )


def plot(results, models, n_seeds, dtw_note, grid_note):
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(figsize=(4.4 + 1.6 * len(names), 4.2))
    width = 0.8 / len(models)
    x = np.arange(len(names))
    for i, key in enumerate(models):
        values = [results[name]["scores"].get(key) or [np.nan] for name in names]
        ax.bar(
            x + (i - (len(models) - 1) / 2) * width,
            [np.mean(v) for v in values],
            width=width,
            # No error bar for what ran once (1-NN DTW, or any model with one seed).
            yerr=[np.std(v) for v in values] if n_seeds > 1 and key != "dtw" else None,
            capsize=3,
            color=f"C{list(MODELS).index(key)}",  # one colour per model, always
            hatch="//" if key == "grid" and grid_note else None,
            label=MODELS[key] + (grid_note if key == "grid" else ""),
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


def main(args):
    seeds = list(range(1 if args.quick else args.seeds))
    n_folds = 3 if args.quick else args.cv
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    use_dtw = args.dtw and aeon is not None
    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores; sklearn_elman {sklearn_elman.__version__}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        + (f"aeon {aeon.__version__}" if aeon is not None else "aeon not installed")
    )
    print(
        f"seeds {seeds}, {n_folds}-fold stratified CV for the grid, n_jobs "
        f"{args.n_jobs}; ElmanClassifier parameters of the grid present: "
        + (
            ", ".join(k for k in ("readout", "patch_size") if k in _known())
            or "none (the grid degenerates to the defaults)"
        )
    )
    results = {}
    for name in names:
        if name != "digits" and aeon is None:
            print(f"\n{name}: skipped, aeon is not installed (pip install aeon)")
            continue
        start = time.perf_counter()
        try:
            data = load_dataset(name)
        except (ValueError, OSError) as error:  # not shipped, and no network
            print(f"\n{name}: skipped, aeon could not load it ({error})")
            continue
        results[name] = benchmark(
            name, data, seeds, n_folds, args.grid, use_dtw, args.n_jobs
        )
        print(f"{name}: {time.perf_counter() - start:.1f} s in all")
    if not results:
        print("no data set to benchmark")
        return
    models = ["default"] + (["grid"] if args.grid else []) + ["mlp"]
    models += ["dtw"] if use_dtw else []
    print_table(results, models)
    grid_note = ""
    if args.grid and all(r.get("grid_degenerate") for r in results.values()):
        grid_note = "\n(grid degenerate:\n= Elman default)"
        print(
            "Elman grid (CV): the grid is degenerate here, its scores are the default's"
        )
    dtw_note = ""
    if not use_dtw:
        reason = "aeon not installed" if aeon is None else "--no-dtw"
        dtw_note = f"\n1-NN DTW skipped: {reason}"
        print(f"1-NN DTW skipped: {reason}")
    print(
        f"mean ± std over {len(seeds)} seed(s), a single value when run once "
        "(1-NN DTW is deterministic); seconds: all models of the row"
    )
    plot(results, models, len(seeds), dtw_note, grid_note)


def _known():
    return ElmanClassifier().get_params()


def _plain(text):
    """The docstring's reStructuredText as plain text, for --help."""
    text = re.sub(r":\w+:`~?(?:[\w.]+\.)?([\w]+)`", r"\1", text)
    return text.replace("``", "")


# %%
if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=_plain(__doc__.split("\n\n")[1]),
        epilog=_plain(__doc__.split("\n\n")[2]),
    )
    parser.add_argument(
        "--datasets",
        default=DEFAULT_DATASETS,
        help="comma-separated: 'digits' and/or UCR/UEA names loaded with aeon "
        f"(default: {DEFAULT_DATASETS})",
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
        help="smoke run: 1 seed and 3-fold CV",
    )
    parser.add_argument(
        "--grid",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="tune ElmanClassifier by grid search (default: yes)",
    )
    parser.add_argument(
        "--dtw",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run 1-NN DTW when aeon is installed (default: yes)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=2,
        help="parallel jobs: seeds, CV fits and DTW distances (default: 2)",
    )
    args = parser.parse_args()
    if args.seeds < 1 or args.cv < 2 or args.n_jobs == 0:
        parser.error("--seeds must be at least 1, --cv at least 2, --n-jobs not 0")
    main(args)
