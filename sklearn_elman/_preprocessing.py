"""SequenceScaler: standardise each channel of sequences over all their real steps."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval
from sklearn.utils._set_output import _wrap_data_with_container
from sklearn.utils.validation import check_is_fitted

from sklearn_elman._callbacks import CallbackSupport
from sklearn_elman._docstring import fill_doc
from sklearn_elman._sequences import check_sequences


@fill_doc
# set_output wraps transform's output in a DataFrame, which cannot hold 3D
# sequences: the scaler wraps its 2D output itself and returns 3D as arrays.
class SequenceScaler(
    OneToOneFeatureMixin,
    TransformerMixin,
    CallbackSupport,
    BaseEstimator,
    auto_wrap_output_keys=None,
):
    """Standardise each channel of sequences over all real steps.

    A channel is one feature of a step. Its mean and standard deviation are
    computed over every real step of every training sequence (NaN end padding
    excluded), and each step is scaled with them: the same scale at every step,
    as a recurrent network that shares its weights over time wants.
    scikit-learn's :class:`~sklearn.preprocessing.StandardScaler` on the 2D
    layout would instead scale every column, that is every time step, apart.

    Parameters
    ----------
    n_features_per_step : int, default=1
        Number of consecutive columns of a 2D row that make one step (one value
        per channel); the default reads each row as a univariate series. Ignored
        for 3D input, whose last axis gives the channels.

    with_mean : bool, default=True
        Whether to subtract each channel's mean.

    with_std : bool, default=True
        Whether to divide by each channel's standard deviation.

    Attributes
    ----------
    mean_ : ndarray of shape (n_channels,)
        Mean of each channel over the real training steps (zeros if not
        ``with_mean``).

    scale_ : ndarray of shape (n_channels,)
        Standard deviation of each channel over the real training steps, 1
        where it is zero (a constant channel) or when not ``with_std``.

    n_features_in_ : int
        Number of features seen during :meth:`fit`: the columns of 2D ``X``, or
        the channels of 3D ``X``.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the columns seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : Scales every column apart.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elman import SequenceScaler
    >>> X = np.array([[1.0, 2.0, 3.0], [5.0, np.nan, np.nan]])  # 2 series, padded
    >>> scaler = SequenceScaler().fit(X)
    >>> scaler.mean_, scaler.scale_
    (array([2.75]), array([1.47901995]))
    >>> scaler.transform(X).round(2)
    array([[-1.18, -0.51,  0.17],
           [ 1.52,   nan,   nan]])
    """

    _parameter_constraints: dict = {
        "n_features_per_step": [Interval(Integral, 1, None, closed="left")],
        "with_mean": ["boolean"],
        "with_std": ["boolean"],
    }

    def __init__(self, n_features_per_step=1, with_mean=True, with_std=True):
        self.n_features_per_step = n_features_per_step
        self.with_mean = with_mean
        self.with_std = with_std

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    @fill_doc
    def fit(self, X, y=None):
        """Compute each channel's mean and standard deviation.

        Parameters
        ----------
        {X}
            Training sequences, one per row, NaN-padded at the end.

        y : None
            Ignored.

        Returns
        -------
        self : SequenceScaler
            The fitted scaler.
        """
        # One task, without sub-tasks: in a Pipeline, callbacks that it hands
        # down to its steps see this step begin and end.
        tasks = self._start_fit_tasks(X, y, None, task_name="fit", max_subtasks=0)
        # A refit that fails or is interrupted leaves the scaler as it was:
        # validation already records the new input's width and names.
        saved = dict(self.__dict__)
        try:
            X3, mask = check_sequences(
                self, X, reset=True, n_features_per_step=self.n_features_per_step
            )
            steps = X3.reshape(-1, X3.shape[2]) if mask is None else X3[mask]
            mean, scale = _channel_mean_and_scale(steps)
            self.__dict__.update(
                mean_=mean if self.with_mean else np.zeros(X3.shape[2]),
                scale_=scale if self.with_std else np.ones(X3.shape[2]),
            )
            tasks.finish()
        except BaseException:
            self.__dict__ = saved
            raise
        return self

    @fill_doc
    def transform(self, X):
        """Standardise each channel of ``X``.

        Parameters
        ----------
        {X}
            Sequences, one per row; with 3D input the number of steps may differ
            from training.

        Returns
        -------
        X_scaled : ndarray or DataFrame of the shape of ``X``
            The scaled sequences in the layout of ``X`` (2D or 3D), NaN padding
            kept, in the floating dtype of ``X``. 2D output follows
            ``set_output`` (a DataFrame under ``transform_output="pandas"``);
            3D output is always an array, which a DataFrame cannot hold.
        """
        scaled = self._apply(X, lambda steps, mean, scale: (steps - mean) / scale)
        if scaled.ndim == 3:
            return scaled  # whatever set_output asks: a DataFrame is 2D
        return _wrap_data_with_container("transform", scaled, X, self)

    @fill_doc
    def fit_transform(self, X, y=None):
        """Fit to ``X``, then standardise it.

        Parameters
        ----------
        {X}
            Training sequences, one per row, NaN-padded at the end.

        y : None
            Ignored.

        Returns
        -------
        X_scaled : ndarray or DataFrame of the shape of ``X``
            As :meth:`transform` returns it.
        """
        # Not TransformerMixin's, whose set_output wrapping cannot hold 3D.
        return self.fit(X).transform(X)

    @fill_doc
    def inverse_transform(self, X):
        """Undo :meth:`transform`.

        Parameters
        ----------
        {X}
            Scaled sequences, one per row.

        Returns
        -------
        X_original : ndarray of the shape of ``X``
            The sequences on their original scale, NaN padding kept.
        """
        return self._apply(X, lambda steps, mean, scale: steps * scale + mean)

    def _apply(self, X, operation):
        check_is_fitted(self)
        X3, _, ndim = check_sequences(
            self,
            X,
            reset=False,
            n_features_per_step=self.n_features_per_step,
            fitted_per_step=len(self.mean_),
            return_ndim=True,
        )
        mean = self.mean_.astype(X3.dtype)
        scale = self.scale_.astype(X3.dtype)
        # NaN padding stays NaN through both operations.
        result = operation(X3, mean, scale)
        if ndim == 2:
            return result.reshape(X3.shape[0], -1)
        return result


def _channel_mean_and_scale(steps):
    """Mean and standard deviation of each column of ``steps``, overflow-free.

    Each column is first divided by a power of two that brings its largest
    magnitude to about one (exact: powers of two change no digit), so that
    squares cannot overflow however large the values; the statistics are
    computed in float64 and scaled back. A column indistinguishable from a
    constant (scikit-learn's ``StandardScaler`` rule, from the error bound of the
    two-pass variance) gets scale 1 and is left unscaled.
    """
    _, exponent = np.frexp(np.abs(steps).max(axis=0, initial=0))
    unit = np.ldexp(steps.astype(np.float64), -exponent)
    mean, var = unit.mean(axis=0), unit.var(axis=0)
    eps = np.finfo(np.float64).eps
    n = unit.shape[0]
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    scale = np.where(constant, 1.0, np.ldexp(np.sqrt(var), exponent))
    return np.ldexp(mean, exponent), scale


# set_output (and the global transform_output) apply to transform, wrapped above.
SequenceScaler._sklearn_auto_wrap_output_keys = {"transform"}
