"""The input layout: turning what a user passes into sequences the maths can read.

One row of ``X`` is one sequence:

- 2D ``X`` of shape (n_sequences, n_steps * n_features_per_step), time-major: the
  first ``n_features_per_step`` columns are step 0, the next ones step 1, and so on;
- 3D ``X`` of shape (n_sequences, n_steps, n_features);
- shorter sequences are padded at the end with steps that are NaN in every feature.

These helpers know nothing of targets or heads, so that every estimator shares them.
"""

from __future__ import annotations

import numpy as np


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
            "your data either using array.reshape(-1, 1) if your data has a single "
            "feature or array.reshape(1, -1) if it contains a single sample."
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
