"""The input layout: turning what a user passes into sequences the maths can read.

One row of ``X`` is one sequence:

- 2D ``X`` of shape (n_sequences, n_steps * n_features_per_step), time-major: the
  first ``n_features_per_step`` columns are step 0, the next ones step 1, and so on;
- 3D ``X`` of shape (n_sequences, n_steps, n_features);
- shorter sequences are padded at the end with steps that are NaN in every feature.

These helpers know nothing of targets or heads, so that every estimator shares them.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Mapping, Set
from numbers import Number

import numpy as np
from scipy.sparse import issparse
from sklearn.utils.validation import validate_data

# Marks "no y given" in check_sequences, where y=None is a user error to report.
NO_TARGET = object()


def to_3d(X: np.ndarray, n_features_per_step: int) -> np.ndarray:
    """View validated 2D or 3D input as (n_sequences, n_steps, n_features).

    Parameters
    ----------
    X : ndarray of shape (n_sequences, n_columns) or (n_sequences, n_steps, n_features)
        Input already converted to a floating array.
    n_features_per_step : int
        Number of consecutive columns that make one step of a 2D row.

    Returns
    -------
    X3 : ndarray of shape (n_sequences, n_steps, n_features)
        A view of ``X`` where possible.
    """
    if X.ndim == 1:
        raise ValueError(
            "Expected a 2D array of sequences (one per row) or a 3D array of shape "
            "(n_sequences, n_steps, n_features), got a 1D array instead. Reshape "
            "your data with array.reshape(1, -1) if it is one univariate sequence "
            "(one value per step): a row is a whole sequence here, so "
            "reshape(-1, 1) would make every value a sequence of one step."
        )
    if X.ndim == 3:
        if X.shape[1] == 0 or X.shape[2] == 0:
            raise ValueError(
                f"Found a 3D array of shape {X.shape}: sequences need at least one "
                "step and one feature per step."
            )
        return X
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D or 3D input, got a {X.ndim}D array of shape {X.shape}."
        )
    n_columns = X.shape[1]
    if n_columns % n_features_per_step:
        raise ValueError(
            f"X has {n_columns} columns, which is not a multiple of "
            f"n_features_per_step={n_features_per_step}: each row must hold whole "
            "time steps. Set n_features_per_step to the number of features of one "
            "step, or pass 3D input of shape (n_sequences, n_steps, n_features)."
        )
    return X.reshape(X.shape[0], n_columns // n_features_per_step, n_features_per_step)


def padding_mask(X3: np.ndarray) -> np.ndarray | None:
    """Check NaN end padding and return the mask of real steps.

    Parameters
    ----------
    X3 : ndarray of shape (n_sequences, n_steps, n_features)
        Sequences, possibly padded at the end with all-NaN steps.

    Returns
    -------
    mask : ndarray of bool of shape (n_sequences, n_steps) or None
        True on real steps; None when no step is padded.

    Raises
    ------
    ValueError
        On inf anywhere, and on NaN that is not end padding: a step only partly
        NaN, a NaN step followed by a real one, or a row with no real step.
    """
    finite = np.isfinite(X3)
    if finite.all():
        return None
    inf_rows = np.flatnonzero(np.isinf(X3).any(axis=(1, 2)))
    if inf_rows.size:
        raise ValueError(
            f"Input X contains inf (in row {inf_rows[0]}"
            f"{_and_more(inf_rows)}). Replace or drop infinite values; only NaN "
            "is accepted, as padding at the end of a sequence."
        )
    nan = ~finite
    nan_steps = nan.all(axis=2)
    partial = nan.any(axis=2) & ~nan_steps
    if partial.any():
        row, step = np.argwhere(partial)[0]
        raise ValueError(
            f"Input X contains NaN in some but not all features of step {step} of "
            f"row {row}. NaN is only accepted as end padding, where every feature "
            "of a step is NaN; impute missing values first (for example with "
            "sklearn.impute.SimpleImputer on 2D input)."
        )
    mask = ~nan_steps
    lengths = mask.sum(axis=1)
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise ValueError(
            f"Input X contains NaN in every step of row {empty[0]}"
            f"{_and_more(empty)}: each sequence needs at least one real step."
        )
    # Real steps must form a prefix: a real step after a NaN step is an error.
    gaps = mask[:, 1:] & ~mask[:, :-1]
    if gaps.any():
        row, step = np.argwhere(gaps)[0]
        raise ValueError(
            f"Input X contains NaN at step {step} of row {row} followed by real "
            f"steps. NaN is only accepted as padding at the end of a sequence "
            "(leading or inner NaN are not); impute missing values first."
        )
    return mask


def _and_more(rows):
    return f" and {rows.size - 1} more row(s)" if rows.size > 1 else ""


def sequence_lengths(X3: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Count the real steps of each sequence.

    Parameters
    ----------
    X3 : ndarray of shape (n_sequences, n_steps, n_features)
        Sequences.
    mask : ndarray of bool of shape (n_sequences, n_steps) or None
        Real steps, as :func:`padding_mask` returns them; None if all are real.

    Returns
    -------
    lengths : ndarray of shape (n_sequences,)
        Number of real steps of each sequence.
    """
    if mask is None:
        return np.full(X3.shape[0], X3.shape[1], dtype=np.intp)
    return mask.sum(axis=1).astype(np.intp)


def compact_stream(
    X3: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the real steps of consecutive rows into one stream.

    Parameters
    ----------
    X3 : ndarray of shape (n_rows, n_steps, n_features)
        Consecutive chunks of one stream.
    mask : ndarray of bool of shape (n_rows, n_steps) or None
        Real steps of each row.

    Returns
    -------
    steps : ndarray of shape (n_real_steps, n_features)
        The real steps in stream order.
    row_ends : ndarray of shape (n_rows,)
        Index in ``steps`` of the last real step of each row.
    """
    if mask is None:
        steps = X3.reshape(-1, X3.shape[2])
    else:
        steps = X3[mask]
    row_ends = np.cumsum(sequence_lengths(X3, mask)) - 1
    return steps, row_ends


def check_sequences(
    estimator,
    X,
    *,
    reset,
    n_features_per_step,
    fitted_per_step=None,
    y=NO_TARGET,
    y_checks=None,
    return_ndim=False,
):
    """Validate sequences (and targets) as an estimator of this package reads them.

    Parameters
    ----------
    estimator : estimator instance
        The estimator validating; on ``reset`` its ``n_features_in_`` (the
        columns of 2D input, the features per step of 3D input) and the number
        of dimensions of the fitted input are set.
    X : array-like of shape (n_sequences, n_columns) or \
            (n_sequences, n_steps, n_features)
        Sequences, one per row.
    reset : bool
        Whether this is a fit (set the fitted shape) or a later call (check it).
    n_features_per_step : int
        Columns of a 2D row that make one step.
    fitted_per_step : int, default=None
        Features per step the estimator was fitted on, checked when not
        ``reset``.
    y : array-like, default=NO_TARGET
        Targets to validate with ``X``, if any.
    y_checks : dict, default=None
        Options of :func:`~sklearn.utils.validation.validate_data` for ``y``.
    return_ndim : bool, default=False
        Whether to return the number of dimensions of ``X`` too (last).

    Returns
    -------
    X3 : ndarray of shape (n_sequences, n_steps, n_features)
        The sequences, float64 or float32.
    mask : ndarray of bool of shape (n_sequences, n_steps) or None
        Real steps (see :func:`padding_mask`).
    y : ndarray
        Only when ``y`` was given: the validated targets.
    ndim : int
        Only with ``return_ndim``: 2 or 3, the layout of ``X``.
    """
    X = as_sequences(X)
    check = {
        "reset": reset,
        "ensure_2d": False,
        "allow_nd": True,
        "dtype": (np.float64, np.float32),
        "ensure_all_finite": False,
    }
    if y is NO_TARGET:
        if not _validated_already(estimator, X, reset):
            X = validate_data(estimator, X, **check)
    else:
        X, y = validate_data(estimator, X, y, **check, **(y_checks or {}))
    X3 = to_3d(X, n_features_per_step)
    n_columns = X.shape[-1]
    name = type(estimator).__name__
    if reset:
        estimator.n_features_in_ = n_columns
        estimator._fitted_ndim = X.ndim
        layout = (type(estimator).__name__, *X.shape[1:])
        if _looks_channel_first(estimator, X) and layout not in _WARNED_LAYOUTS:
            # Once per estimator class and layout: the folds of a cross-validation
            # (and scikit-learn's own filter resets) would repeat it otherwise.
            _WARNED_LAYOUTS.add(layout)
            warnings.warn(
                f"X holds sequences of {X.shape[1]} step(s) of {X.shape[2]} "
                "features each. If it holds (n_sequences, n_channels, "
                "n_timepoints), as aeon and sktime arrange series, transpose it "
                "first: X = X.transpose(0, 2, 1). If the layout is right, silence "
                "this with warnings.filterwarnings('ignore', "
                "category=sklearn_elman.ChannelFirstWarning).",
                ChannelFirstWarning,
                stacklevel=user_stacklevel(),
            )
    else:
        if (
            X.ndim == 2
            and estimator._fitted_ndim == 2
            and n_columns != estimator.n_features_in_
        ):
            raise ValueError(
                f"X has {n_columns} features, but {name} is expecting "
                f"{estimator.n_features_in_} features as input. Rows of another "
                f"length: pad them at the end with NaN to {estimator.n_features_in_} "
                "columns, or pass 3D input (n_sequences, n_steps, n_features), "
                "whose number of steps may differ from fit."
            )
        if X3.shape[2] != fitted_per_step:
            raise ValueError(
                f"X has {_features(X3.shape[2])} per time step, but {name} was "
                f"fitted on {fitted_per_step}. "
                + (
                    f"2D rows are split into steps of n_features_per_step="
                    f"{n_features_per_step} columns; set it to {fitted_per_step} "
                    "or pass 3D input."
                    if X.ndim == 2
                    else "The last axis of 3D input is the features of one step."
                )
            )
    checked = (X3, padding_mask(X3))
    if y is not NO_TARGET:
        checked += (y,)
    if return_ndim:
        checked += (X.ndim,)
    return checked


def _validated_already(estimator, X, reset):
    """Whether ``validate_data`` would return ``X`` itself, and do nothing else.

    So it is for a non-empty float32 or float64 numpy array of 2 or 3
    dimensions, read by a fitted estimator that has no feature names to compare:
    the dtype is accepted as it is, finiteness is not required (NaN pads), and
    the number of features is checked below. Skipping the generic machinery
    (~0.1 ms) matters for a stream read one row per call; a test holds the
    equivalence to the installed scikit-learn.
    """
    return (
        not reset
        and type(X) is np.ndarray
        and X.dtype in _FLOAT_DTYPES
        and X.ndim in (2, 3)
        and X.size > 0
        and not hasattr(estimator, "feature_names_in_")
    )


_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _features(n):
    return f"{n} feature" if n == 1 else f"{n} features"


def user_stacklevel() -> int:
    """The ``stacklevel`` of a warning that points at the caller's own code.

    Counts the frames, from the one calling :func:`warnings.warn`, that belong to
    this package, to scikit-learn (whose wrappers and meta-estimators call it) or
    to joblib (which a Pipeline's caching goes through), so that the warning names
    the user's line whatever the path to it.

    Returns
    -------
    stacklevel : int
        The level of the first frame outside those packages.
    """
    import joblib
    import sklearn

    inside = tuple(
        os.path.dirname(os.path.abspath(module.__file__))
        for module in (sys.modules[__package__], sklearn, joblib)
    )
    level, frame = 1, sys._getframe(1)  # the frame that calls warnings.warn
    while frame is not None and frame.f_code.co_filename.startswith(inside):
        level += 1
        frame = frame.f_back
    return level


class ChannelFirstWarning(UserWarning):
    """Warning that 3D input may be channel-first, as aeon and sktime hold series.

    Raised when a 3D ``X`` has many more features per step than steps; silence
    it with ``warnings.filterwarnings("ignore", category=ChannelFirstWarning)``
    when the layout is right.
    """


# A 3D X with this many times more features than steps is most likely
# (n_sequences, n_channels, n_timepoints): series have more steps than channels.
CHANNEL_FIRST_RATIO = 8
_WARNED_LAYOUTS: set = set()


def _looks_channel_first(estimator, X):
    """Whether 3D ``X`` is likely channel-first (one step a row is a stream's)."""
    if X.ndim != 3 or getattr(estimator, "stateful", False):
        return False
    return X.shape[2] > CHANNEL_FIRST_RATIO * X.shape[1]


def to_patches(
    X3: np.ndarray, mask: np.ndarray | None, patch_size: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``patch_size`` consecutive steps as one step.

    Parameters
    ----------
    X3 : ndarray of shape (n_sequences, n_steps, n_features)
        Sequences, NaN-padded at the end.
    mask : ndarray of bool of shape (n_sequences, n_steps) or None
        Real steps; None if every step is real.
    patch_size : int
        Steps per patch.

    Returns
    -------
    patches : ndarray of shape (n_sequences, n_patches, patch_size * n_features)
        ``n_patches = ceil(n_steps / patch_size)``; a patch holds its steps one
        after the other. A last patch that a sequence only partly fills is
        completed by repeating the sequence's last real step (a constant tail,
        in the range of the data, rather than an arbitrary value), so that more
        end padding never changes what a sequence reads. Patches with no real
        step are NaN.
    patch_mask : ndarray of bool of shape (n_sequences, n_patches) or None
        Real patches; None if every patch is real.
    """
    n_seq, n_steps, n_features = X3.shape
    n_patches = -(-n_steps // patch_size)
    lengths = sequence_lengths(X3, mask)
    steps = np.arange(n_patches * patch_size)
    source = np.minimum(steps[None, :], lengths[:, None] - 1)
    patches = X3[np.arange(n_seq)[:, None], source]
    patches = patches.reshape(n_seq, n_patches, patch_size * n_features)
    real = (np.arange(n_patches) * patch_size)[None, :] < lengths[:, None]
    if real.all():
        return patches, None
    patches[~real] = np.nan
    return patches, real


def as_sequences(X, input_name="X"):
    """Check that ``X`` holds numbers, and pad a ragged list of sequences.

    A list (or tuple) whose rows differ in shape is a list of sequences of
    different lengths, which :func:`pad_sequences` stacks; anything else is
    returned as it is, for ``validate_data`` to convert. Input that cannot be
    numbers is refused here, before it can be read as a ragged list: a string
    (such as the key of a Dask array's block, which dask-ml's wrappers hand on
    in place of a block they cannot find), rows that are strings or other
    objects, an array of strings, or an object that is not array-like at all.

    Parameters
    ----------
    X : object
        What the user passed as ``input_name``.
    input_name : str, default="X"
        The name of the input, for the error messages.

    Returns
    -------
    X : array-like
        ``X``, NaN-padded into a 3D array if it was a ragged list of sequences.

    Raises
    ------
    ValueError
        If ``X`` is, or holds, strings (the error ``float('a')`` raises).
    TypeError
        If ``X`` is, or holds, objects other than numbers and arrays of them
        (the error ``float(object())`` raises).
    """
    if type(X) is np.ndarray and X.dtype.kind in "fiub":
        return X  # the common case, a stream's one-row calls included: no cost
    if isinstance(X, str | bytes):
        raise ValueError(_not_numbers(input_name, f"the string {_short(X)}", X))
    if isinstance(X, np.ndarray) and X.dtype.kind in "US":
        raise ValueError(
            _not_numbers(
                input_name, f"an array of strings, such as {_short(X.flat[0].item())}"
            )
        )
    if isinstance(X, list | tuple):
        kind = type(X).__name__
        for i, row in enumerate(X):
            bad = _first_non_number(row)
            if bad is None:
                continue
            where = "is" if bad is row else "holds"
            error = ValueError if isinstance(bad, str | bytes) else TypeError
            raise error(
                _not_numbers(
                    input_name, f"a {kind} whose item {i} {where} {_describe(bad)}", bad
                )
            )
        if _is_ragged(X):
            return pad_sequences(X)
        return X
    if issparse(X):
        return X  # validate_data says that sparse input is not supported
    if isinstance(X, Mapping | Set) or not (
        hasattr(X, "__len__")
        or hasattr(X, "__array__")
        or hasattr(X, "shape")
        or isinstance(X, Number)
    ):
        raise TypeError(_not_numbers(input_name, _describe(X)))
    return X


# The key of a block of a Dask array: a name, a dash, a token ('array-5f87dd59...').
_DASK_KEY = re.compile(r"[A-Za-z_][\w.]*-[0-9a-f]{8,}")


def _not_numbers(input_name, got, value=None):
    message = (
        f"{input_name} must be an array of numbers, of shape (n_sequences, "
        "n_columns) or (n_sequences, n_steps, n_features), or a list of sequences "
        f"of numbers (see pad_sequences); got {got}."
    )
    if isinstance(value, str) and _DASK_KEY.fullmatch(value):
        message += (
            f" {_short(value)} looks like the key of a Dask array's block: dask-ml's "
            "Incremental hands partial_fit a key in place of the block when the "
            "array is not 2D. Give the Dask wrappers the 2D layout, "
            "X.reshape(n_sequences, -1) with n_features_per_step=n_features."
        )
    return message


def _first_non_number(row):
    """The first entry of ``row`` that is not a number, or None if all are.

    A row that numpy cannot stack (a ragged sequence) passes: pad_sequences
    reports it. None passes too, as in scikit-learn, where it reads as NaN.
    """
    if isinstance(row, str | bytes):
        return row
    if row is None or isinstance(row, Number):
        return None
    try:
        values = np.asarray(row)
    except (ValueError, TypeError):
        return None
    if values.dtype.kind in "US":
        strings = values.ravel().tolist()
        # The one that is not even a number written out, if any, says most.
        return next(
            (v for v in strings if not _parses(v)), strings[0] if strings else None
        )
    if values.dtype.kind == "O":
        for value in values.ravel():
            if not (value is None or isinstance(value, _NUMBER_OR_ROW)):
                return value
    return None


# What an entry of an object row may be: a number, or a (ragged) row itself.
_NUMBER_OR_ROW = (Number, np.bool_, np.ndarray, list, tuple)


def _parses(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _describe(value):
    if isinstance(value, str | bytes):
        return f"the string {_short(value)}"
    return f"an object of type {type(value).__name__}"


def _short(value, limit=50):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _is_ragged(X):
    """Whether a list of sequences needs padding: its rows differ in shape.

    Lengths that differ, and also equal lengths read as (T,) in one row and
    (T, 1) in another, which pad_sequences stacks and numpy cannot.
    """
    try:
        shapes = {np.shape(row) if hasattr(row, "__len__") else None for row in X}
    except ValueError:  # a row that is itself ragged: pad_sequences says so
        return True
    return len(shapes) > 1


def pad_sequences(sequences, dtype=np.float64):
    """Stack sequences of different lengths into one NaN-padded 3D array.

    Parameters
    ----------
    sequences : sequence of array-like of shape (n_steps_i,) or \
            (n_steps_i, n_features)
        The sequences, each a 1D array (one feature per step) or a 2D array of
        steps; all must have the same number of features.
    dtype : dtype, default=np.float64
        Floating dtype of the result; a dtype without NaN (int, bool, object)
        is an error, since NaN marks the padding.

    Returns
    -------
    X : ndarray of shape (n_sequences, max_n_steps, n_features)
        The sequences one per row, padded at the end with NaN steps, the layout
        the estimators of this package read.

    Examples
    --------
    >>> from sklearn_elman import pad_sequences
    >>> pad_sequences([[1, 2, 3], [4, 5]])[:, :, 0]
    array([[ 1.,  2.,  3.],
           [ 4.,  5., nan]])
    """
    if not np.issubdtype(np.dtype(dtype), np.floating):
        # NaN marks the padding: a dtype without NaN would turn it into numbers
        # that fit then reads as real steps.
        raise ValueError(
            f"dtype={np.dtype(dtype)} cannot hold the NaN that marks padding; "
            "pass a floating dtype such as np.float64 or np.float32."
        )
    arrays = [np.asarray(seq, dtype=dtype) for seq in sequences]
    if not arrays:
        raise ValueError("pad_sequences needs at least one sequence.")
    arrays = [a[:, None] if a.ndim == 1 else a for a in arrays]
    bad = [i for i, a in enumerate(arrays) if a.ndim != 2 or len(a) == 0]
    if bad:
        raise ValueError(
            f"Sequence {bad[0]} has shape {arrays[bad[0]].shape}: each sequence "
            "must be a non-empty array of shape (n_steps,) or (n_steps, n_features)."
        )
    widths = {a.shape[1] for a in arrays}
    if len(widths) > 1:
        raise ValueError(
            f"The sequences have different numbers of features per step: "
            f"{sorted(widths)}. Every step of every sequence needs the same features."
        )
    X = np.full((len(arrays), max(len(a) for a in arrays), widths.pop()), np.nan, dtype)
    for i, a in enumerate(arrays):
        X[i, : len(a)] = a
    return X
