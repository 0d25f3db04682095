"""Tests of the input layout helpers in ``sklearn_elman._sequences``."""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.utils.validation import validate_data

from sklearn_elman import ElmanClassifier, pad_sequences
from sklearn_elman._sequences import (
    _validated_already,
    compact_stream,
    padding_mask,
    to_3d,
)


def test_2d_rows_are_read_time_major():
    X = np.arange(12.0).reshape(2, 6)
    X3 = to_3d(X, n_features_per_step=2)
    assert X3.shape == (2, 3, 2)
    # Step 1 of row 0 is columns 2 and 3.
    assert_array_equal(X3[0, 1], [2, 3])
    assert_array_equal(to_3d(X, 1)[1, :, 0], X[1])


def test_3d_passes_through():
    X = np.zeros((2, 3, 4))
    assert to_3d(X, n_features_per_step=5) is X


@pytest.mark.parametrize(
    "X, n_per_step, message",
    [
        (np.zeros(5), 1, "Reshape your data"),
        (
            np.zeros((2, 5)),
            2,
            "X has 5 columns, which is not a multiple of n_features_per_step=2",
        ),
        (np.zeros((2, 2, 2, 2)), 1, "got a 4D array"),
        (np.zeros((2, 0, 3)), 1, "at least one step and one feature"),
    ],
)
def test_shape_errors(X, n_per_step, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        to_3d(X, n_per_step)


def test_no_padding_gives_no_mask():
    assert padding_mask(np.ones((3, 4, 2))) is None


def test_end_padding_gives_mask():
    X = np.ones((3, 4, 2))
    X[0, 2:] = np.nan
    X[2, 3:] = np.nan
    assert_array_equal(
        padding_mask(X),
        [[1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 0]],
    )


def _with_nan(index, value=np.nan):
    X = np.ones((4, 3, 2))
    X[index] = value
    return X


@pytest.mark.parametrize(
    "X, message",
    [
        (_with_nan((2, 1, 0), np.inf), "contains inf (in row 2)"),
        (_with_nan((1, 0)), "NaN at step 0 of row 1 followed by real steps"),
        (_with_nan((3, 1)), "NaN at step 1 of row 3 followed by real steps"),
        (_with_nan((2, 2, 1)), "NaN in some but not all features of step 2 of row 2"),
        (_with_nan((1,)), "NaN in every step of row 1"),
    ],
)
def test_invalid_nan_and_inf_name_the_row(X, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        padding_mask(X)


def test_compact_stream_concatenates_real_steps_in_order():
    X = np.arange(12.0).reshape(3, 2, 2)
    X[1, 1] = np.nan
    steps, ends = compact_stream(X, padding_mask(X))
    assert_array_equal(steps[:, 0], [0, 2, 4, 8, 10])
    assert_array_equal(ends, [1, 2, 4])
    steps, ends = compact_stream(np.ones((3, 2, 1)), None)
    assert steps.shape == (6, 1)
    assert_array_equal(ends, [1, 3, 5])


# ----------------------------------------------------------------------------------
# The validation shortcut for arrays that validate_data would return unchanged
# ----------------------------------------------------------------------------------


def _fitted_classifier(ndim):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 4, 3) if ndim == 3 else (12, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ElmanClassifier(max_iter=1, hidden_units=3).fit(X, np.arange(12) % 2)


def _plain_arrays():
    rng = np.random.RandomState(1)
    padded = rng.normal(size=(5, 4, 3))
    padded[1, 2:] = np.nan
    yield "float64 2D", rng.normal(size=(5, 6))
    yield "float32 2D", rng.normal(size=(5, 6)).astype(np.float32)
    yield "Fortran order", np.asfortranarray(rng.normal(size=(5, 6)))
    yield "strided view", rng.normal(size=(10, 12))[::2, ::2]
    yield "one row", rng.normal(size=(1, 6))
    yield "NaN padded 3D", padded
    yield "float32 3D", padded.astype(np.float32)
    yield "read-only", np.array(rng.normal(size=(5, 6)), copy=True)
    yield "non-finite", np.full((2, 6), np.inf)


@pytest.mark.parametrize("name, X", list(_plain_arrays()), ids=lambda v: str(v)[:20])
def test_shortcut_is_taken_only_where_validate_data_returns_x_itself(name, X):
    if name == "read-only":
        X.setflags(write=False)
    estimator = _fitted_classifier(X.ndim)
    assert _validated_already(estimator, X, reset=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validated = validate_data(
            estimator,
            X,
            reset=False,
            ensure_2d=False,
            allow_nd=True,
            dtype=(np.float64, np.float32),
            ensure_all_finite=False,
        )
    assert validated is X


class _Subclass(np.ndarray):
    """An ndarray subclass: validate_data converts it to a plain array."""


def test_shortcut_is_not_taken_where_validate_data_has_work_to_do():
    estimator = _fitted_classifier(2)
    X = np.ones((3, 6))
    for other in [
        X.tolist(),  # a list is converted
        X.astype(int),  # integers are cast
        X.astype(np.float16),
        np.ones((0, 6)),  # empty: an error to raise
        np.ones(6),  # 1D: an error to raise
        X.view(_Subclass),  # not a plain array (as a DataFrame is not either)
    ]:
        assert not _validated_already(estimator, other, reset=False)
    assert not _validated_already(estimator, X, reset=True)
    estimator.feature_names_in_ = np.array([f"x{i}" for i in range(6)], dtype=object)
    assert not _validated_already(estimator, X, reset=False)  # the names warning


@pytest.mark.parametrize("dtype", [int, np.int32, bool, object, np.complex128])
def test_pad_sequences_refuses_a_dtype_that_cannot_hold_nan(dtype):
    with pytest.raises(ValueError, match=r"cannot hold the NaN that marks padding"):
        pad_sequences([[1, 2, 3], [4, 5]], dtype=dtype)


def test_a_list_mixing_steps_of_shape_t_and_t_1_is_one_rule_with_pad_sequences():
    X = [np.arange(5.0), np.arange(5.0)[:, None], np.ones(5)]  # equal lengths
    y = [0, 1, 0]
    as_list = ElmanClassifier(max_iter=2, random_state=0).fit(X, y)
    padded = ElmanClassifier(max_iter=2, random_state=0).fit(pad_sequences(X), y)
    assert_array_equal(as_list.predict_proba(X), padded.predict_proba(pad_sequences(X)))


# The key dask-ml's Incremental hands partial_fit for the first block of a 3D
# array (dask-ml 2025.1): a tuple of the array's name and a block index.
DASK_KEY = ("array-5f87dd59601dd8d0c07b78f70f2434c0", 0, 0)
NOT_NUMBERS = "X must be an array of numbers, of shape (n_sequences, n_columns) or "
DASK_HINT = (
    "looks like the key of a Dask array's block: dask-ml's Incremental hands "
    "partial_fit a key in place of the block when the array is not 2D. Give the "
    "Dask wrappers the 2D layout, X.reshape(n_sequences, -1) with "
    "n_features_per_step=n_features."
)


@pytest.mark.parametrize(
    "X, error, got",
    [
        ("array-abc12345", ValueError, "the string 'array-abc12345'."),
        (DASK_KEY, ValueError, f"a tuple whose item 0 is the string {DASK_KEY[0]!r}."),
        (
            [["a", "b"], ["c", "d"]],
            ValueError,
            "a list whose item 0 holds the string 'a'.",
        ),
        ([["1", "2"], ["3"]], ValueError, "a list whose item 0 holds the string '1'."),
        (
            [[1.0, 2.0], [3.0, "x"]],
            ValueError,
            "a list whose item 1 holds the string 'x'.",
        ),
        (np.array([["1", "2"]]), ValueError, "an array of strings, such as '1'."),
        (b"bytes", ValueError, "the string b'bytes'."),
        (
            [object(), object()],
            TypeError,
            "a list whose item 0 is an object of type object.",
        ),
        (
            [[1.0, {}], [2.0]],
            TypeError,
            "a list whose item 0 holds an object of type dict.",
        ),
        (object(), TypeError, "an object of type object."),
        ({"a": [1.0, 2.0]}, TypeError, "an object of type dict."),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_input_that_is_not_numbers_is_a_clear_error_not_a_ragged_list(X, error, got):
    # Before, such input was read as a ragged list and failed inside pad_sequences
    # (or numpy) with "could not convert string to float: 'array-...'".
    fitted = _fitted_classifier(2)
    calls = {
        "fit": lambda: ElmanClassifier(max_iter=1).fit(X, [0, 1]),
        "partial_fit": lambda: ElmanClassifier().partial_fit(X, [0, 1], [0, 1]),
        "predict": lambda: fitted.predict(X),
    }
    for name, call in calls.items():
        with pytest.raises(error, match=re.escape(NOT_NUMBERS)) as raised:
            call()
        message = str(raised.value)
        assert message.endswith(got) or f"; got {got} " in message, (name, message)
        # The hint about Dask keys comes with the two cases that hold one.
        assert (DASK_HINT in message) == isinstance(X, str | tuple), message


def test_lists_of_numbers_are_still_read_as_they_were():
    y = [0, 1]
    ragged = [[1, 2, 3], [4.0, 5.0]]
    for X in [ragged, [np.arange(3.0), np.arange(2)], [[True, False], [1, 2.5]]]:
        model = ElmanClassifier(max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        expected = pad_sequences(X) if len(X[0]) != len(X[1]) else np.asarray(X, float)
        assert_array_equal(model.predict_proba(X), model.predict_proba(expected))
    # None reads as NaN, as numpy and scikit-learn convert it: here end padding.
    model = ElmanClassifier(max_iter=1, random_state=0).fit(ragged, y)
    assert_array_equal(
        model.predict_proba([[1.0, 2.0, None], [3.0, 4.0, 5.0]]),
        model.predict_proba(np.array([[1.0, 2.0, np.nan], [3.0, 4.0, 5.0]])),
    )
