"""ElmanRegressor: real-valued targets, the identity head, predict and forecast."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, check_is_fitted

from sklearn_elman import _elman
from sklearn_elman._base import BaseElman, stochastic_solver
from sklearn_elman._docstring import fill_doc
from sklearn_elman._sequences import as_sequences, user_stacklevel


@fill_doc
class ElmanRegressor(RegressorMixin, BaseElman):
    """Elman recurrent network regressor, with recursive multi-step forecasting.

    The network of :class:`ElmanClassifier` with an identity output layer: each
    row of ``X`` is one sequence, and the output layer reads the hidden state after
    its last real step to predict one or several real values. Training minimises
    half the squared error summed over the targets, averaged over the rows (the
    loss whose gradient :class:`~sklearn.neural_network.MLPRegressor` follows),
    with backpropagation through time. :meth:`forecast` rolls a model trained to
    predict the next step of its own input forward, feeding each prediction back.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    {attributes}

    n_outputs_ : int
        Number of targets.

    output_weights_ : ndarray of shape (n_readout, n_ensemble * n_outputs_)
        Weights from the readout of the hidden units (``n_readout`` is
        ``n_units``, three times that for 'last_mean_max') to the output units,
        per member: member ``m``'s outputs are the columns ``m * n_outputs_`` to
        ``(m + 1) * n_outputs_``, which read only its own units.

    output_bias_ : ndarray of shape (n_ensemble * n_outputs_,)
        Bias of the output units, one per target and member.

    See Also
    --------
    ElmanClassifier : The same network with a softmax output, for classes.
    sklearn.compose.TransformedTargetRegressor : Scales the targets around it.
    sklearn.neural_network.MLPRegressor : Feed-forward network on flat features.

    Notes
    -----
    {recurrence}
        y_hat = h_T @ output_weights_ + output_bias_

    where ``h_T`` is the state after the sequence's last real step. Targets are
    not scaled inside the estimator: scale them as for ``MLPRegressor``, for
    example with :class:`~sklearn.compose.TransformedTargetRegressor`. For
    :meth:`forecast`, inputs and targets must share one scale, since predictions
    become inputs.

    ``predict`` returns an array of shape (n_sequences,) when ``y`` was 1D and
    (n_sequences, n_targets) when it was 2D, even with one target.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elman import ElmanRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-1, 1, size=(300, 8))    # 300 univariate sequences
    >>> y = X[:, 2] - 0.5 * X[:, 5]               # a value read at two steps
    >>> reg = ElmanRegressor(random_state=0).fit(X[:200], y[:200])
    >>> reg.score(X[200:], y[200:]) > 0.9
    True
    >>> reg.predict(X[:2]).shape
    (2,)
    """

    _head = "identity"
    _y_checks: dict = {"multi_output": True, "y_numeric": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @available_if(stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    @fill_doc
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on ``X``, continuing from the current weights.

        {partial_fit}

        Parameters
        ----------
        {X}
            Training sequences, one per row.

        y : array-like of shape (n_sequences,) or (n_sequences, n_targets)
            Target of each sequence, with as many targets as the first call had.

        {sample_weight}

        Returns
        -------
        self : ElmanRegressor
            The updated estimator.
        """
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    @fill_doc
    def predict(self, X):
        """Predict the target of each sequence.

        Parameters
        ----------
        {X_new}

        Returns
        -------
        y : ndarray of shape (n_sequences,) or (n_sequences, n_targets)
            Prediction after the last real step of each row, 1D if ``y`` was 1D
            in :meth:`fit`. With ``stateful=True`` the rows continue the stream
            from ``context_``, which is advanced to the end of ``X``.
        """
        outputs = _check_in_range(self._outputs(X), "predict")
        return outputs[:, 0] if self._y_ndim == 1 else outputs

    @fill_doc
    def forecast(self, X, n_steps, X_future=None, window=None):
        """Forecast ``n_steps`` steps ahead, feeding each prediction back.

        The model must have been trained to predict the next step of its own
        input: the first ``n_outputs_`` features of every step are the series
        being forecast; the other features, if any, are exogenous inputs. The
        network reads each row's whole history, then for each new step predicts
        the next value and feeds it back as the first ``n_outputs_`` features of
        the following step, the exogenous ones taken from ``X_future``.

        Parameters
        ----------
        {X}
            History of each series, one per row, of any number of steps (2D rows
            too), NaN-padded at the end when the histories differ in length.
            With ``stateful=True`` the rows continue the stream from
            ``context_``; X may then be None to forecast from the stream read so
            far. The estimator is not changed: a forecast is a what-if, and does
            not consume the stream.

        n_steps : int
            Number of steps to forecast, at least 1.

        X_future : array-like of shape (n_sequences, n_steps, n_exogenous), \
                default=None
            Exogenous features of the forecast steps; required exactly when the
            steps have more features than targets. A 2D array is read as one
            exogenous feature per step.

        window : int or None, default=None
            None carries the context over the whole history and every forecast
            step. An int L makes every prediction read only the last L steps
            (history and predictions so far) from a zero context: use the length
            of the windows the model was trained on.

        Returns
        -------
        forecast : ndarray of shape (n_sequences, n_steps) or \
                (n_sequences, n_steps, n_outputs_)
            The predicted values, 2D for a single target.
        """
        check_is_fitted(self)
        if not isinstance(n_steps, Integral) or isinstance(n_steps, bool):
            raise TypeError(f"n_steps must be an int, got {n_steps!r}.")
        if n_steps < 1:
            raise ValueError(f"n_steps must be at least 1, got {n_steps}.")
        if window is not None and (
            not isinstance(window, Integral) or isinstance(window, bool) or window < 1
        ):
            raise ValueError(f"window must be None or an int >= 1, got {window!r}.")
        patch_size = self._fitted_patch_size()
        if patch_size > 1:
            raise ValueError(
                "forecast feeds each prediction back as the next step, but this "
                f"model reads patches of {patch_size} steps "
                f"(patch_size={self.patch_size!r}), one step of the network being "
                "several values. Train the forecaster with patch_size=1."
            )
        params = self._fitted_params()
        n_features = params.input_weights.shape[0]
        n_targets = self.n_outputs_
        if self._n_passes() == 2:
            raise ValueError(
                "This model reads each sequence a second time in reverse "
                "(reverse_pass=True), so every forecast step would change the "
                "whole reversed pass: forecast feeds predictions forward only. "
                "Fit with reverse_pass=False to forecast."
            )
        if n_targets > n_features:
            raise ValueError(
                f"This model predicts {n_targets} targets from {n_features} "
                "features per step, so its predictions cannot be fed back as the "
                "next step's input. forecast needs a model trained to predict the "
                "next value of (the first features of) its own input."
            )
        if X is None:
            if not self.stateful:
                raise ValueError(
                    "X is None, but a stateless model has no history to forecast "
                    "from. Pass the history as X, or use stateful=True."
                )
            if window is not None:
                raise ValueError(
                    "window needs the history as X: with X=None only the context "
                    "of the stream is known, not its last steps."
                )
            if not _elman.READOUTS[self.readout].last_only:
                raise ValueError(
                    f"readout={self.readout!r} reads the steps of the stream's last "
                    "row, which context_ alone does not hold: pass the rows to "
                    "forecast from as X (they continue the stream from context_)."
                )

        def check_future(n_sequences):
            return self._check_future(X_future, n_sequences, n_steps, n_features)

        predictions = self._forecast_outputs(X, n_steps, window, check_future)
        _check_in_range(predictions, "forecast")
        return predictions[:, :, 0] if n_targets == 1 else predictions

    def _check_future(self, X_future, n_sequences, n_steps, n_features):
        n_exogenous = n_features - self.n_outputs_
        if n_exogenous == 0:
            if X_future is not None:
                raise ValueError(
                    "X_future was given, but every feature of a step is a target "
                    "that forecast feeds back: this model has no exogenous "
                    "features. Leave X_future=None."
                )
            return None
        if X_future is None:
            raise ValueError(
                f"The model reads {n_features} features per step, of which the "
                f"first {self.n_outputs_} are its targets: forecast needs the "
                f"{n_exogenous} exogenous feature(s) of the next steps as X_future, "
                f"of shape (n_sequences, n_steps, {n_exogenous})."
            )
        # A ragged list is padded, and its padding is then refused.
        X_future = as_sequences(X_future, "X_future")
        future = check_array(
            X_future,
            ensure_2d=False,
            allow_nd=True,
            dtype=np.float64,
            ensure_all_finite=False,
            input_name="X_future",
        )
        if future.ndim == 2 and n_exogenous == 1:
            future = future[:, :, None]
        expected = (n_sequences, n_steps, n_exogenous)
        if future.shape != expected:
            raise ValueError(
                f"X_future has shape {future.shape}, but forecasting {n_steps} "
                f"steps of {n_sequences} sequence(s) with {n_exogenous} exogenous "
                f"feature(s) needs {expected}."
            )
        if not np.isfinite(future).all():
            raise ValueError("X_future contains NaN or inf; it must be finite.")
        return future

    # ----------------------------------------------------------------------------
    # Hooks of BaseElman
    # ----------------------------------------------------------------------------

    def _n_outputs(self):
        return self.n_outputs_

    def _encode_targets(self, y, continuing, incremental):
        y = np.asarray(y, dtype=float)
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        _check_learnable(targets)
        if not continuing:
            self.n_outputs_ = targets.shape[1]
            _warn_if_far_from_unit_scale(targets)
        elif targets.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {targets.shape[1]} target(s), but the fitted network has "
                f"{self.n_outputs_}. Call fit without warm_start to train on new "
                "targets."
            )
        # The shape of predict's output follows the latest y, also after a warm
        # start or partial_fit (a failed call restores it with the rest).
        self._y_ndim = y.ndim
        return targets, None

    def _validation_score(self, outputs, targets, weights):
        return float(r2_score(targets, outputs, sample_weight=weights))


def _check_learnable(targets):
    """Refuse targets that no training can fit, naming them (not the step size)."""
    bad_rows = np.flatnonzero(~np.isfinite(targets).all(axis=1))
    if bad_rows.size:
        raise ValueError(
            f"y is NaN or infinite in row(s) {bad_rows[:5].tolist()}"
            f"{' and more' if bad_rows.size > 5 else ''} (a None in an object "
            "array becomes NaN): every target must be a finite number."
        )
    # Beyond this, half the squared error of a prediction near 0 overflows.
    limit = np.sqrt(np.finfo(np.float64).max) / 2
    largest = float(np.abs(targets).max(initial=0))
    if largest > limit:
        raise ValueError(
            f"y reaches {largest:.3g}, so large that its squared error overflows "
            "float64 and no training can fit it. Scale the targets, for example "
            "with TransformedTargetRegressor(regressor=ElmanRegressor(), "
            "transformer=StandardScaler())."
        )


# Targets whose root mean square lies outside this range are far from the unit
# scale at which the network's output starts and its steps are sized.
TARGET_SCALE_RANGE = (1e-2, 10.0)


def _warn_if_far_from_unit_scale(targets):
    """Warn, naming the fix, when the targets are far from unit scale."""
    if not np.isfinite(targets).all():
        return  # the divergence check reports what cannot be learnt
    rms = np.sqrt(np.mean(np.square(targets), axis=0))
    low, high = TARGET_SCALE_RANGE
    far = (rms > high) | ((rms < low) & (rms > 0))
    if far.any():
        k = int(np.argmax(far))
        warnings.warn(
            f"y is far from unit scale (target {k}: mean {targets[:, k].mean():.3g}, "
            f"standard deviation {targets[:, k].std():.3g}). The network's output "
            "starts near 0 and each step moves it by about learning_rate_init, so "
            "such targets are learnt slowly or not at all. Scale them, for example "
            "with TransformedTargetRegressor(regressor=ElmanRegressor(), "
            "transformer=StandardScaler()); for forecast, scale the series itself.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def _check_in_range(predictions, method):
    """Raise a clear error for predictions beyond the floating-point range."""
    if np.isfinite(predictions).all():
        return predictions
    raise ValueError(
        f"{method} overflows: the network's outputs are beyond the range of "
        f"{predictions.dtype} for this input. The input (or the weights) must be "
        "far outside the range the model was fitted on; scale the input as at "
        "fit (for example with SequenceScaler in a pipeline), or refit."
    )
