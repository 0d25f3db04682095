"""BaseElman: everything the Elman estimators share, whatever their targets.

Parameters and their validation, the input layout, the solver loops, early
stopping, the stream state behind ``reset_context``, the rollback of failed calls
and chunked prediction live here, once. A leaf estimator (``ElmanClassifier``,
``ElmanRegressor``) fills in a few hooks and nothing else:

- ``_head``: the name of its output head in :data:`sklearn_elman._elman.HEADS`;
- ``_encode_targets(y, continuing, incremental)``: targets as the head's loss
  takes them, plus labels to stratify a validation split by (or None);
- ``_n_outputs()``: how many output units the fitted targets need;
- ``_validation_score(outputs, targets)``: the score early stopping maximises;
- ``_first_partial_fit(**options)``: whether a ``partial_fit`` call starts anew;
- ``_y_checks``: the options of :func:`~sklearn.utils.validation.validate_data`
  for ``y``.

How rows are read (independent sequences, or chunks of one stream) is the job of
the mode objects of :mod:`sklearn_elman._data`, chosen once by ``stateful``.
"""

from __future__ import annotations

import copy
import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    check_random_state,
)

from sklearn_elman import _elman
from sklearn_elman._callbacks import CallbackSupport
from sklearn_elman._data import SequenceRows, StreamRows
from sklearn_elman._docstring import fill_doc
from sklearn_elman._runtime import run_with_settings, work_of
from sklearn_elman._sequences import (
    NO_TARGET,
    as_sequences,
    check_sequences,
    sequence_lengths,
    to_3d,
    to_patches,
)
from sklearn_elman._solvers import (
    OPTIMIZERS,
    STOCHASTIC_SOLVERS,
    BaseOptimizer,
    MemberClipping,
    clip_grad_norm,
    make_optimizer,
    minimize_lbfgs,
)

PARAM_NAMES = _elman.ElmanParams._fields
# patch_size='auto': patches of 16 steps for sequences of at least 64 steps (4
# patches), chosen on real and synthetic series (see the README).
AUTO_PATCH_STEPS = 16
AUTO_PATCH_MIN_STEPS = 64
# An epoch's loss this many times the first epoch's is a divergence in all but name.
EXPLODED_LOSS_RATIO = 100.0


def stochastic_solver(estimator):
    """``available_if`` test of ``partial_fit``: True for 'sgd' and 'adam'."""
    if estimator.solver not in STOCHASTIC_SOLVERS:
        raise AttributeError(
            f"partial_fit is only available for the stochastic solvers "
            f"{STOCHASTIC_SOLVERS}; solver={estimator.solver!r} is not stochastic."
        )
    return True


class BaseElman(CallbackSupport, BaseEstimator):
    """Base class of the Elman estimators; use a subclass.

    Warning: this class should not be used directly. Use
    :class:`~sklearn_elman.ElmanClassifier` or
    :class:`~sklearn_elman.ElmanRegressor` instead.
    """

    #: Name of the output head in ``_elman.HEADS``; set by each subclass.
    _head: str = ""
    #: Options of ``validate_data`` for ``y``; set by each subclass.
    _y_checks: dict = {}

    _parameter_constraints: dict = {
        "hidden_units": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_elman.ACTIVATIONS))],
        "readout": [StrOptions(set(_elman.READOUTS))],
        "solver": [StrOptions({"adam", "sgd", "lbfgs", "echo_state"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "n_features_per_step": [Interval(Integral, 1, None, closed="left")],
        "patch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "bptt_steps": [Interval(Integral, 1, None, closed="left"), None],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "stateful": ["boolean"],
        "warm_up_steps": [Interval(Integral, 0, None, closed="left")],
        "blas_threads": [Interval(Integral, 1, None, closed="left"), None],
        "spectral_radius": [Interval(Real, 0, None, closed="neither")],
        "n_ensemble": [Interval(Integral, 1, None, closed="left")],
        "reverse_pass": ["boolean"],
    }

    def __init__(
        self,
        hidden_units=64,
        activation="tanh",
        readout="last",
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.003,
        power_t=0.5,
        max_iter=500,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=50,
        max_fun=15000,
        n_features_per_step=1,
        patch_size=1,
        bptt_steps=None,
        max_grad_norm=5.0,
        stateful=False,
        warm_up_steps=0,
        blas_threads=1,
        spectral_radius=0.9,
        n_ensemble=1,
        reverse_pass=False,
    ):
        self.hidden_units = hidden_units
        self.activation = activation
        self.readout = readout
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_features_per_step = n_features_per_step
        self.patch_size = patch_size
        self.bptt_steps = bptt_steps
        self.max_grad_norm = max_grad_norm
        self.stateful = stateful
        self.warm_up_steps = warm_up_steps
        self.blas_threads = blas_threads
        self.spectral_radius = spectral_radius
        self.n_ensemble = n_ensemble
        self.reverse_pass = reverse_pass

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # The optimizer that partial_fit continues with is saved as plain data (its
    # solver's name, numbers and arrays), so that a file of a fitted estimator
    # (pickle, joblib or skops) holds no private class of this package.
    def __getstate__(self):
        state = super().__getstate__()
        optimizer = state.get("_optimizer")
        if isinstance(optimizer, BaseOptimizer):
            state = {**state, "_optimizer": optimizer.state()}
        return state

    def __setstate__(self, state):
        optimizer = state.get("_optimizer")
        if isinstance(optimizer, dict):
            state = {**state, "_optimizer": BaseOptimizer.from_state(optimizer)}
        super().__setstate__(state)

    # ----------------------------------------------------------------------------
    # Hooks a subclass fills in
    # ----------------------------------------------------------------------------

    def _encode_targets(self, y, continuing, incremental):
        """Targets of shape (n_rows, n_outputs) for the head, and stratify labels."""
        raise NotImplementedError

    def _n_outputs(self):
        """Number of output units the fitted targets need."""
        raise NotImplementedError

    def _validation_score(self, outputs, targets, weights):
        """Score of outputs against encoded targets (higher is better)."""
        raise NotImplementedError

    def _first_partial_fit(self, **options):
        """Whether a ``partial_fit`` call on a fitted estimator starts anew."""
        return False

    def _row_weights(self, y, X3, sample_weight, incremental):
        """The weight of each row's loss: ``sample_weight`` checked, or None."""
        if sample_weight is None:
            return None
        sample_weight = _check_sample_weight(
            sample_weight, X3, dtype=np.float64, ensure_non_negative=True
        )
        if not sample_weight.sum() > 0:
            raise ValueError(
                "sample_weight sums to zero: every row would be ignored. Give at "
                "least one row a positive weight."
            )
        return sample_weight

    # ----------------------------------------------------------------------------
    # Shared public API
    # ----------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    @fill_doc
    def fit(self, X, y, sample_weight=None):
        """Train the network on sequences ``X`` with targets ``y``.

        Parameters
        ----------
        {X}
            Training sequences, one per row (consecutive chunks of one stream when
            ``stateful=True``). Pad shorter sequences at the end with NaN steps.

        y : array-like of shape (n_sequences,) or (n_sequences, n_targets)
            Target of each sequence (of the last step of each row when
            ``stateful=True``): a class label for a classifier, one value or a
            row of values for a regressor.

        {sample_weight}

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def reset_context(self):
        """Start a new stream: set the context back to zeros.

        With ``stateful=True`` the next call that reads rows starts from a zero
        context, as a fresh model with the same weights would. With
        ``stateful=False`` every sequence already starts from zeros, and this does
        nothing.

        Returns
        -------
        self : object
            The estimator, for chaining.
        """
        if self.stateful and hasattr(self, "context_"):
            self.context_ = np.zeros_like(self.context_)
        return self

    @fill_doc
    def hidden_states(self, X):
        """Hidden state of the network after every step of every sequence.

        Useful to plot trajectories (for example a PCA of them) or as features
        for another model.

        Parameters
        ----------
        {X}
            Sequences, one per row.

        Returns
        -------
        states : ndarray of shape (n_sequences, n_steps, n_ensemble * hidden_units)
            ``states[i, t]`` is the hidden state (the context the next step
            reads) after step ``t`` of row ``i``; NaN at padded steps. With
            ``stateful=False`` this changes nothing on the estimator; with
            ``stateful=True`` the rows continue the stream from ``context_``,
            which is advanced to the end of ``X``, as ``predict`` does. States
            beyond the floating-point range (an unbounded activation on huge
            input) saturate at its end rather than becoming inf or NaN.
        """
        params, X3, mask = self._read_input(X)
        real = np.ones(X3.shape[:2], dtype=bool) if mask is None else mask
        states, context = run_with_settings(
            self.blas_threads,
            self._saturating_if_needed,
            self._rows_mode().hidden_states,
            (params, X3, mask, self._context(params), self.activation),
            lambda result: np.isfinite(result[real]).all(),
            work=work_of(params, X3),
        )
        return self._advance_stream(context, states)

    # ----------------------------------------------------------------------------
    # Modes, parameters and the stream state
    # ----------------------------------------------------------------------------

    def _rows_mode(self):
        """How rows are read: chunks of one stream, or independent sequences."""
        return StreamRows if self.stateful else SequenceRows

    def _fitted_params(self, dtype=None):
        """The five weight attributes as ElmanParams, checked for consistency."""
        params = _elman.ElmanParams(
            *(np.asarray(getattr(self, name + "_")) for name in PARAM_NAMES)
        )
        n_features, n_hidden = params.input_weights.shape
        n_outputs = self._n_outputs() * self._n_members()
        expected = _elman.param_shapes(
            n_features, n_hidden, n_outputs, self.readout, self._n_passes()
        )
        for name, array, shape in zip(PARAM_NAMES, params, expected):
            if array.shape != shape:
                raise ValueError(
                    f"{name}_ has shape {array.shape}, but the other weights and "
                    f"the {n_outputs} outputs require {shape}."
                )
        if dtype is not None:
            dtype = np.result_type(dtype, params.input_weights.dtype)
            params = _elman.ElmanParams(*(p.astype(dtype, copy=False) for p in params))
        return params

    def _n_members(self):
        """Networks in the fitted ensemble: the output blocks of the output layer."""
        return max(1, np.shape(self.output_bias_)[0] // self._n_outputs())

    def _n_passes(self):
        """Passes the fitted output layer reads: 2 with the reversed pass, else 1."""
        n_hidden = np.shape(self.context_weights_)[0]
        width = _elman.READOUTS[self.readout].width(n_hidden)
        return 2 if np.shape(self.output_weights_)[0] == 2 * width else 1

    def _output_head(self, n_members=None):
        """The output head of the fitted networks (their average, if several)."""
        n_members = self._n_members() if n_members is None else n_members
        head = _elman.HEADS[self._head]
        return head if n_members == 1 else _elman.average_of_members(head, n_members)

    def _bind_params(self, theta, shapes):
        """Make the weight attributes views into the flat vector ``theta``."""
        for name, array in zip(PARAM_NAMES, _elman.unpack(theta, shapes)):
            setattr(self, name + "_", array)

    def _context(self, params):
        """Current stream context (zeros if there is none yet), checked."""
        n_hidden = params.context_weights.shape[0]
        context = getattr(self, "context_", None)
        if context is None or not self.stateful:
            return np.zeros(n_hidden, dtype=params.context_weights.dtype)
        context = np.asarray(context)
        if context.shape != (n_hidden,):
            raise ValueError(
                f"context_ has shape {context.shape}, but the network has "
                f"{n_hidden} hidden units: assign an array of shape ({n_hidden},), "
                "such as a context_ saved from this estimator, or call "
                "reset_context() to start a new stream."
            )
        if not np.isfinite(context).all():
            raise ValueError(
                "context_ contains NaN or inf. Assign a finite context, or call "
                "reset_context() to start a new stream."
            )
        return context.astype(params.context_weights.dtype, copy=False)

    def _advance_stream(self, context, result):
        """Keep the context a prediction left, and return ``result``.

        An interrupt before the call has returned puts the stream back where it
        was: a prediction that raises has not advanced the stream.
        """
        if context is None:
            return result  # independent rows leave no stream behind
        saved = self.__dict__.get("context_")
        try:
            self._keep_context(context)
            return result
        except BaseException:
            if saved is not None:
                self.context_ = saved
            raise

    def _keep_context(self, context):
        """Store the context a stream mode left (independent rows leave None)."""
        if context is not None:
            self.context_ = np.array(context, copy=True)

    # ----------------------------------------------------------------------------
    # Input validation
    # ----------------------------------------------------------------------------

    def _validate_X(self, X, reset, y=NO_TARGET):
        """Validate ``X`` (and ``y``) and return the sequences the network reads.

        Returns 3D sequences (in patches of ``patch_size`` steps) and their mask,
        and ``y`` validated when given.
        """
        if self.stateful and (
            self.patch_size not in ("auto", 1)
            or (not reset and self._fitted_patch_size() > 1)
        ):
            raise ValueError(
                f"patch_size={self.patch_size} needs independent sequences: with "
                "stateful=True the rows are chunks of one stream, which patches "
                "would cut. Use patch_size=1 (or 'auto', which is 1 for a "
                "stream), or n_features_per_step to read several values of a "
                "chunk as one step."
            )
        fitted = None
        if not reset:
            patch_size = self._fitted_patch_size()
            fitted, remainder = divmod(np.shape(self.input_weights_)[0], patch_size)
            if remainder:
                raise ValueError(
                    f"input_weights_ has {np.shape(self.input_weights_)[0]} rows, "
                    f"which patches of {patch_size} steps do not divide: it needs "
                    "one row per input of a patch (patch_size_ times the features "
                    "per step)."
                )
            if y is not NO_TARGET and self.patch_size not in ("auto", patch_size):
                raise ValueError(
                    f"patch_size={self.patch_size}, but the fitted weights read "
                    f"patches of {patch_size} steps. Call fit without warm_start to "
                    "train a network on the new patches."
                )
        checked = check_sequences(
            self,
            X,
            reset=reset,
            n_features_per_step=self.n_features_per_step,
            fitted_per_step=fitted,
            y=y,
            y_checks=self._y_checks,
        )
        if reset:
            self.patch_size_ = self._resolve_patch_size(*checked[:2])
        patch_size = self._fitted_patch_size()
        if patch_size == 1:
            return checked
        X3, mask = to_patches(checked[0], checked[1], patch_size)
        return (X3, mask) + tuple(checked[2:])

    def _fitted_patch_size(self):
        """Steps per patch of the fitted weights (also of weights set by hand)."""
        if hasattr(self, "patch_size_"):
            return self.patch_size_
        if self.patch_size != "auto":
            return self.patch_size
        if self.stateful:
            return 1
        raise ValueError(
            "patch_size='auto' is chosen by fit, and this estimator holds weights "
            "that fit did not train: set patch_size (or patch_size_) to the steps "
            "per patch those weights read."
        )

    def _resolve_patch_size(self, X3, mask):
        """The steps per patch that fit uses: ``patch_size``, or the 'auto' rule.

        'auto' reads patches of ``AUTO_PATCH_STEPS`` steps when the longest
        sequence has at least ``AUTO_PATCH_MIN_STEPS``, and single steps
        otherwise (a short series read as one or two patches loses what
        recurrence gives it: a pattern found wherever it sits) and in a stream,
        which patches would cut.
        """
        if self.patch_size != "auto":
            return self.patch_size
        if self.stateful or sequence_lengths(X3, mask).max() < AUTO_PATCH_MIN_STEPS:
            return 1
        return AUTO_PATCH_STEPS

    # ----------------------------------------------------------------------------
    # Prediction
    # ----------------------------------------------------------------------------

    def _read_input(self, X):
        """Fitted parameters and the sequences of ``X`` in their dtype, and mask."""
        if not hasattr(self, "input_weights_"):
            check_is_fitted(self)  # raises scikit-learn's NotFittedError
        X3, mask = self._validate_X(X, reset=False)
        params = self._fitted_params(X3.dtype)
        return params, X3.astype(params.input_weights.dtype, copy=False), mask

    def _outputs(self, X, head=None):
        """The head's output at the end of each row (advancing a stream).

        ``head='identity'`` gives the logits of the output layer instead.
        """
        params, X3, mask = self._read_input(X)
        outputs, context = run_with_settings(
            self.blas_threads,
            self._saturating_if_needed,
            self._rows_mode().predict,
            (
                params,
                X3,
                mask,
                self._context(params),
                self.activation,
                head or self._output_head(),
                self.readout,
                self._n_passes() == 2,
            ),
            lambda outputs: np.isfinite(outputs).all(),
            work=work_of(params, X3),
        )
        return self._advance_stream(context, outputs)

    def _forecast_outputs(self, X, n_steps, window, check_future):
        """The head's outputs rolled ``n_steps`` steps ahead of each history.

        The histories are validated and read as :meth:`_outputs` reads rows
        (the row mode, its chunks and its stream, the BLAS and floating-point
        settings); then each output is fed back as the first features of the
        next step (see the modes' ``forecast``). Nothing on the estimator
        changes: a forecast does not consume the stream.

        Parameters
        ----------
        X : array-like or None
            Histories of any number of steps (2D rows are read as steps of
            ``n_features_per_step`` features); None for a stream's
            ``context_`` alone.
        n_steps : int
            Number of steps to forecast.
        window : int or None
            Steps every prediction reads from a zero context; None reads the
            whole history, carrying the context over.
        check_future : callable
            ``check_future(n_sequences)``: the checked features of the forecast
            steps that are not fed back, of shape (n_sequences, n_steps,
            n_exogenous), or None.

        Returns
        -------
        outputs : ndarray of shape (n_sequences, n_steps, n_outputs)
            The outputs of the forecast steps, inf or NaN where they overflow.
        """
        if X is None:
            params = self._fitted_params()
            n_features = params.input_weights.shape[0]
            X3 = np.empty((1, 0, n_features), dtype=params.input_weights.dtype)
            mask = None
        else:
            X = as_sequences(X)
            if not hasattr(X, "columns"):
                # A history may be of any length, 2D rows included: read them
                # as steps. (A DataFrame is validated as predict validates it,
                # its column names included.)
                X = check_array(
                    X,
                    ensure_2d=False,
                    allow_nd=True,
                    dtype=(np.float64, np.float32),
                    ensure_all_finite=False,
                )
                if X.ndim == 2:
                    X = to_3d(X, self.n_features_per_step)
            params, X3, mask = self._read_input(X)
        # The rows of a stream are one series.
        future = check_future(1 if self.stateful else X3.shape[0])

        def forecast():
            # Overflow (judged by the caller) is an error, not a warning.
            with np.errstate(all="ignore"):
                return self._rows_mode().forecast(
                    params,
                    X3,
                    mask,
                    self._context(params),
                    self.activation,
                    self._output_head(),
                    self.readout,
                    n_steps,
                    self._n_outputs(),
                    future,
                    window,
                )

        return run_with_settings(self.blas_threads, forecast)

    @staticmethod
    def _saturating_if_needed(compute, args, is_sound):
        """``compute(*args)``, again with ``saturate=True`` if it overflowed.

        The plain recurrence is exact and fast, but an input or a weight near
        the end of the floating-point range (or an unbounded activation that
        grows along a long stream) can overflow it into inf and NaN. Only then
        is the call computed again in the slower saturating way, in which no
        state is NaN or infinite (see :func:`~sklearn_elman._elman.run_hidden`).
        ``is_sound(result)`` judges the first result; the context a stream
        leaves must be finite too.
        """
        with np.errstate(over="ignore", invalid="ignore"):  # judged below
            result, context = compute(*args)
        if is_sound(result) and (context is None or np.isfinite(context).all()):
            return result, context
        return compute(*args, saturate=True)

    # ----------------------------------------------------------------------------
    # Training
    # ----------------------------------------------------------------------------

    def _fit(self, X, y, incremental, sample_weight=None, **target_options):
        fitted = hasattr(self, "input_weights_")
        continuing = fitted and (incremental or self.warm_start)
        # Before the snapshot: a failed call restores it, and the callbacks'
        # teardown (on leaving _fit_context) needs the context it holds.
        tasks = self._start_fit_tasks(
            X,
            y,
            None if sample_weight is None else {"sample_weight": sample_weight},
            task_name="partial_fit" if incremental else "fit",
            max_subtasks=self._n_subtasks(incremental),
        )
        # A call that fails leaves the estimator as it was. Training updates
        # arrays, lists and the optimizer's buffers in place, so those are copied.
        saved = {key: _copy_mutable(value) for key, value in self.__dict__.items()}
        try:
            self._validate_and_train(
                X, y, incremental, continuing, sample_weight, target_options, tasks
            )
            tasks.finish()
            # Returned from inside: an interrupt at the return, too, undoes the
            # call, so that a call that raises has changed nothing.
            return self
        except BaseException:
            # Interrupts too (Ctrl-C): in one assignment, so that nothing can
            # land between emptying the estimator and restoring it.
            self.__dict__ = saved
            raise

    def _validate_and_train(
        self, X, y, incremental, continuing, sample_weight, target_options, tasks
    ):
        if incremental:
            if self.early_stopping:
                raise ValueError(
                    "partial_fit does not support early_stopping=True: there is no "
                    "fixed validation set across calls. Use fit, or set "
                    "early_stopping=False."
                )
            if self._first_partial_fit(**target_options):
                continuing = False
        if self.reverse_pass and self.solver != "echo_state":
            raise ValueError(
                f"reverse_pass=True reads a second, reversed pass through fixed "
                f"weights, for solver='echo_state' only (solver={self.solver!r} "
                "would have to train through it). Use solver='echo_state', or "
                "reverse_pass=False."
            )
        if self.solver == "echo_state" and self.n_ensemble > 1:
            raise ValueError(
                f"solver='echo_state' with n_ensemble={self.n_ensemble}: the "
                "members of an echo-state ensemble would be one larger reservoir "
                "with its readout split. Use n_ensemble=1 and more hidden_units, "
                "or a solver that trains the members ('adam', 'sgd' or 'lbfgs')."
            )
        if self.solver == "echo_state" and self.stateful:
            raise ValueError(
                "solver='echo_state' fits the output layer on the pooled states of "
                "independent sequences; with stateful=True the rows are chunks of "
                "one stream. Use stateful=False, or a solver that trains a stream "
                "('adam', 'sgd' or 'lbfgs')."
            )
        X3, mask, y = self._validate_X(X, reset=not continuing, y=y)
        targets, stratify = self._encode_targets(y, continuing, incremental)
        weights = self._row_weights(y, X3, sample_weight, incremental)

        if continuing:
            params = self._fitted_params()
            n_members = self._n_members()
            n_hidden = params.context_weights.shape[0] // n_members
            if (n_hidden, n_members) != (self.hidden_units, self.n_ensemble):
                raise ValueError(
                    f"hidden_units={self.hidden_units} and n_ensemble="
                    f"{self.n_ensemble}, but the fitted weights are {n_members} "
                    f"network(s) of {n_hidden} hidden units. Call fit without "
                    "warm_start to train networks of the new size."
                )
            if self._n_passes() != (2 if self.reverse_pass else 1):
                raise ValueError(
                    f"reverse_pass={self.reverse_pass}, but the fitted output layer "
                    f"reads {self._n_passes()} pass(es). Call fit without "
                    "warm_start to fit an output layer for the new setting."
                )
            dtype = params.input_weights.dtype
        else:
            dtype = X3.dtype
            random_state = check_random_state(self.random_state)
            # Members drawn one after another: the first is the network that
            # n_ensemble=1 would train.
            members = [
                _elman.init_params(
                    X3.shape[2],
                    self.hidden_units,
                    targets.shape[1],
                    random_state,
                    dtype,
                    self.activation,
                    self.readout,
                    self.spectral_radius if self.solver == "echo_state" else None,
                    2 if self.reverse_pass else 1,
                )
                for _ in range(self.n_ensemble)
            ]
            params = members[0] if len(members) == 1 else _elman.join_members(members)
            self._initialize_training_state()
        X3 = X3.astype(dtype, copy=False)
        targets = targets.astype(dtype, copy=False)
        if weights is not None:
            weights = weights.astype(dtype, copy=False)
            _check_usable_weights(weights)

        shapes = _elman.shapes_of(params)
        theta = _elman.pack(params, out=np.empty(_elman.n_params(shapes), dtype=dtype))
        self._bind_params(theta, shapes)
        # The warm-up is where a stream starts from an empty context: in fit.
        warm_up_steps = 0 if incremental else self.warm_up_steps
        data = self._rows_mode()(X3, mask, targets, stratify, warm_up_steps, weights)
        run_with_settings(
            self.blas_threads, self._train, theta, shapes, data, incremental, tasks
        )
        context = getattr(self, "context_", np.zeros(1))
        if not (
            np.isfinite(theta).all()
            and np.isfinite(self.loss_)
            and np.isfinite(context).all()
        ):
            raise ValueError(
                "Training diverged: the weights, the loss or the stream's context "
                "became infinite or NaN. The estimator is left as it was. The input "
                "may hold values too large for the network (scale it, for example "
                f"with SequenceScaler), or learning_rate_init (now "
                f"{self.learning_rate_init}) may be too high."
            )

    def _train(self, theta, shapes, data, incremental, tasks):
        if self.solver == "lbfgs":
            self._fit_lbfgs(theta, shapes, data, tasks)
        elif self.solver == "echo_state":
            self._fit_echo_state(theta, shapes, data)
        else:
            self._fit_stochastic(theta, shapes, data, incremental, tasks)

    def _n_subtasks(self, incremental):
        """Sub-tasks a call reports to callbacks: epochs, or L-BFGS iterations."""
        if self.solver == "echo_state":
            return 0  # one closed-form (or convex) fit of the output layer
        return 1 if incremental else self.max_iter

    @staticmethod
    def _weights_of(theta, shapes, dtype, **attributes):
        """The attributes of an estimator fitted with the weights ``theta``.

        Copies: training goes on updating ``theta`` in place, and a callback may
        keep the estimator built from them.
        """
        weights = _elman.unpack(np.array(theta, dtype=dtype), shapes)
        return dict(zip((name + "_" for name in PARAM_NAMES), weights), **attributes)

    def _initialize_training_state(self):
        self.loss_curve_ = []
        self.n_iter_ = 0
        self.t_ = 0
        self._no_improvement_count = 0
        self.validation_scores_ = None
        self.validation_loss_curve_ = None
        self.best_validation_score_ = None
        self.best_loss_ = np.inf
        if self.early_stopping and self.solver in STOCHASTIC_SOLVERS:
            self.validation_scores_ = []
            self.validation_loss_curve_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        if hasattr(self, "_optimizer"):
            del self._optimizer
        # A new fit starts a new stream.
        if hasattr(self, "context_"):
            del self.context_

    def _loss_options(self):
        """Keyword arguments of the batch loss that come from the parameters."""
        return {
            "activation": self.activation,
            "alpha": self.alpha,
            "bptt_steps": self.bptt_steps,
            "head": self._output_head(),
            "kind": self.readout,
        }

    def _make_optimizer(self, theta):
        if self.solver == "sgd":
            options = {
                "learning_rate_init": self.learning_rate_init,
                "lr_schedule": self.learning_rate,
                "momentum": self.momentum,
                "nesterov": self.nesterovs_momentum,
                "power_t": self.power_t,
            }
        else:
            options = {
                "learning_rate_init": self.learning_rate_init,
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
            }
        return make_optimizer(self.solver, theta, **options)

    def _stochastic_optimizer(self, theta, incremental):
        """The optimizer of this call: the one kept by partial_fit, or a new one."""
        optimizer = getattr(self, "_optimizer", None)
        if (
            not incremental
            or optimizer is None
            or optimizer.n_params != theta.size
            # set_params(solver=...) between partial_fit calls switches the rule.
            or not isinstance(optimizer, OPTIMIZERS[self.solver])
        ):
            self._optimizer = self._make_optimizer(theta)
        return self._optimizer

    def _gradient_clipping(self, shapes):
        """``clip(grad)``: the clipping of one network, or each member's own."""
        n_members = self._n_members()
        if n_members == 1:
            return lambda grad: clip_grad_norm(grad, self.max_grad_norm)
        members = _elman.member_of_each_param(shapes, n_members)
        return MemberClipping(members, n_members, self.max_grad_norm)

    def _fit_stochastic(self, theta, shapes, data, incremental, tasks):
        params = _elman.unpack(theta, shapes)
        optimizer = self._stochastic_optimizer(theta, incremental)
        early_stopping = self.early_stopping and not incremental
        self._continue_the_records(early_stopping)
        random_state = check_random_state(self.random_state)
        if early_stopping:
            train, validation = data.split(self.validation_fraction, random_state)
        else:
            train, validation = data, None
        if self.batch_size != "auto" and self.batch_size > train.n_targets:
            warnings.warn(
                f"batch_size={self.batch_size} is larger than the "
                f"{train.n_targets} training sequences; using batches of all of "
                "them."
            )
        batch_size = train.batch_size(self.batch_size)
        loss_options = self._loss_options()
        clip = self._gradient_clipping(shapes)

        # fit keeps the weights of its best epoch. With one mini-batch an epoch,
        # the epoch's loss is exactly that of the weights before its update, so
        # those are the weights to keep: a recurrent network's loss often spikes
        # right after its best epoch, and the weights after the update would be
        # that spike. With several mini-batches, the weights at the epoch's end.
        keep_before_update = (
            not incremental
            and not early_stopping
            and -(-train.n_targets // batch_size) == 1
        )
        before_update = np.empty_like(theta) if keep_before_update else theta
        grad = np.empty_like(theta)
        if not incremental:
            # Epoch 0: the weights the fit starts from, ranked as the previous
            # fit left them (a warm start keeps them if no epoch does better).
            self._kept = (theta.copy(), 0, self._epoch_rank(self.best_loss_))
        start_context = self._context(params)
        start_time = time.perf_counter()
        self.n_iter_ = 0
        diverged = False
        fitted = lambda: self._weights_of(theta, shapes, theta.dtype)
        try:
            for _ in range(self.max_iter):
                tasks.begin("epoch", fitted)
                context = start_context
                accumulated_loss = 0.0
                for rows in train.batches(batch_size, self.shuffle, random_state):
                    batch_loss, context = train.loss_and_gradient(
                        params, rows, context, grad, **loss_options
                    )
                    if batch_loss is None:
                        continue  # rows of zero weight only carry the context on
                    if not np.isfinite(batch_loss):
                        diverged = True
                        break
                    clip(grad)
                    if keep_before_update:
                        np.copyto(before_update, theta)
                    optimizer.update_params(theta, grad)
                    accumulated_loss += batch_loss * train.weight_of(rows)
                if diverged:
                    break

                loss = accumulated_loss / train.total_weight
                epoch = self.n_iter_ + 1
                record = {
                    "n_iter_": epoch,
                    "t_": self.t_ + train.n_rows,
                    "loss_": loss,
                    "loss_curve_": [*self.loss_curve_, loss],
                }
                message = f"Epoch {epoch}, loss = {loss:.8f}"
                if early_stopping:
                    score, validation_loss, context = self._validate(
                        params, validation, context
                    )
                    record["validation_scores_"] = [*self.validation_scores_, score]
                    record["validation_loss_curve_"] = [
                        *self.validation_loss_curve_,
                        validation_loss,
                    ]
                    record["best_validation_score_"] = max(
                        score, self.best_validation_score_
                    )
                    message += (
                        f", validation loss = {validation_loss:.8f}"
                        f", validation score = {score:.6f}"
                    )
                    improved = score >= self.best_validation_score_ + self.tol
                    rank = self._epoch_rank(loss, score, validation_loss)
                else:
                    improved = loss <= self.best_loss_ - self.tol
                    record["best_loss_"] = min(self.best_loss_, loss)
                    rank = self._epoch_rank(loss)
                if not incremental and rank < self._kept[2]:
                    record["_kept"] = (before_update.copy(), epoch, rank)
                record["_no_improvement_count"] = (
                    0 if improved else self._no_improvement_count + 1
                )
                # One update records the epoch: an interrupt leaves it wholly in
                # or wholly out, so that weights, counters and curves agree.
                self.__dict__.update(record)
                if self.verbose:
                    print(f"{message}, {time.perf_counter() - start_time:.2f} s")
                stop_asked = tasks.end(fitted)

                optimizer.iteration_ends(self.t_)
                if stop_asked:
                    break  # as an early stop: fit keeps its best epoch
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if early_stopping else "Training loss"
                    stop = optimizer.trigger_stopping(
                        f"{what} did not improve more than tol={self.tol:f} for "
                        f"{self.n_iter_no_change} consecutive epochs.",
                        self.verbose,
                    )
                    if stop:
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                        "reached and the optimization hasn't converged yet. Increase "
                        "max_iter or learning_rate_init.",
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            # A graceful stop needs a completed epoch of fit to fall back on;
            # otherwise the call raises and _fit restores the estimator.
            if incremental or not self.n_iter_:
                raise
            warnings.warn(
                f"Training interrupted by user after {self.n_iter_} epoch(s); the "
                "weights of the best of them are kept."
            )
        if diverged:
            self._report_divergence(None if incremental else self._kept[1])
        if incremental:
            # Online learning: the last weights, and the context the rows left
            # while being learnt; loss_ is the epoch's mean mini-batch loss.
            self.best_epoch_ = self.n_iter_
            self._keep_context(context)
            return
        self._keep_best_epoch(theta, params, train, start_context, loss_options)
        if not diverged:
            self._warn_if_exploded()
        # The state the fitted network reaches after reading X.
        self._keep_context(data.context_after(params, start_context, self.activation))

    def _continue_the_records(self, early_stopping):
        """Make the records of a previous fit fit this one's stopping rule.

        A warm start or partial_fit may follow a fit with the other setting of
        early_stopping, which left best_loss_ None or no validation curves.
        """
        if early_stopping:
            self.best_loss_ = None  # as after any fit with early stopping
            if self.validation_scores_ is None:
                self.validation_scores_, self.validation_loss_curve_ = [], []
                self.best_validation_score_ = -np.inf
        elif self.best_loss_ is None:
            self.best_loss_ = np.inf

    def _epoch_rank(self, loss, score=None, validation_loss=np.inf):
        """Sort key of an epoch for the weights fit keeps (lower is better).

        The training loss; with early stopping the validation score, a tie in it
        broken by the lower validation loss (a small validation set makes the
        score flat while the loss still falls).
        """
        if not (self.early_stopping and self.solver in STOCHASTIC_SOLVERS):
            return (np.inf if loss is None else loss,)
        if score is None:
            score = self.best_validation_score_
        return (-score, validation_loss)

    def _keep_best_epoch(self, theta, params, train, context, loss_options):
        """Restore the weights of the kept epoch and report what they are.

        ``loss_`` (and ``best_loss_`` without early stopping) become the training
        objective of the kept weights, computed once here: with one mini-batch
        an epoch it is the kept epoch's own loss; with several, the epoch's loss
        is a mean along its updates, which the weights at its end may not match.
        """
        kept_theta, kept_epoch, _ = self.__dict__.pop("_kept")
        theta[:] = kept_theta
        self.best_epoch_ = kept_epoch
        self.loss_ = train.objective(params, context, **loss_options)
        if self.best_loss_ is not None:
            self.best_loss_ = self.loss_
        if self.verbose:
            which = f"of epoch {kept_epoch} of {self.n_iter_}"
            if not kept_epoch:
                which = "it started from, which no epoch bettered"
            print(f"Kept the weights {which} (training loss {self.loss_:.8f}).")

    def _report_divergence(self, kept_epoch):
        """Stop a diverged fit: raise, or warn when a finite epoch can be kept."""
        advice = (
            f"Lower learning_rate_init (now {self.learning_rate_init}), keep "
            f"max_grad_norm on (now {self.max_grad_norm}), or scale the input "
            "(for example with SequenceScaler)."
        )
        epoch = self.n_iter_ + 1
        if not kept_epoch:
            raise ValueError(
                f"Training diverged: the loss became infinite or NaN in epoch "
                f"{epoch}, before any epoch completed. The estimator is left as "
                f"it was. {advice}"
            )
        warnings.warn(
            f"Training diverged: the loss became infinite or NaN in epoch {epoch}. "
            f"Stopped, and kept the weights of epoch {kept_epoch}, the best "
            f"finite one. {advice}",
            ConvergenceWarning,
        )

    def _warn_if_exploded(self):
        """Warn when an epoch's loss grew orders of magnitude above the first's.

        Such a loss is finite, so the fit goes on and keeps its best epoch, but
        a step that large is a divergence in all but name.
        """
        curve = np.asarray(self.loss_curve_[-self.n_iter_ :])
        if not len(curve) or not curve[0] > 0:
            return
        worst = int(np.argmax(curve))
        if curve[worst] < EXPLODED_LOSS_RATIO * curve[0]:
            return
        warnings.warn(
            f"Training loss exploded: epoch {worst + 1} had a loss of "
            f"{curve[worst]:.3g}, {curve[worst] / curve[0]:.3g} times the first "
            f"epoch's {curve[0]:.3g}. The weights of epoch {self.best_epoch_} are "
            f"kept. Lower learning_rate_init (now {self.learning_rate_init}), keep "
            f"max_grad_norm on (now {self.max_grad_norm}), or scale the input "
            "(for example with SequenceScaler).",
            ConvergenceWarning,
        )

    def _validate(self, params, validation, context):
        """Score and loss of the validation rows; returns (score, loss, context)."""
        outputs, loss, context = validation.evaluate(
            params, context, self.activation, self._output_head(), self.readout
        )
        score = self._validation_score(outputs, validation.targets, validation.weights)
        return score, loss, context

    def _fit_lbfgs(self, theta, shapes, data, tasks):
        n_rows = data.n_rows
        data = data.distinct()
        params = _elman.unpack(theta, shapes)
        grad = np.empty_like(theta)
        rows = slice(0, data.n_rows)
        context = self._context(params)
        loss_options = self._loss_options()

        n_members = self._n_members()
        between_members = (
            _elman.member_of_each_param(shapes, n_members) < 0
            if n_members > 1
            else None
        )

        n_done = 0  # iterations completed, for the callbacks' fitted estimator

        def loss_and_grad(theta64):
            # The first evaluation of an iteration begins it, at the weights
            # the previous one ended with (theta, until the line below).
            tasks.begin(
                "lbfgs-iter",
                lambda: self._weights_of(theta, shapes, theta.dtype, n_iter_=n_done),
            )
            theta[:] = theta64
            loss, _ = data.loss_and_gradient(
                params, rows, context, grad, **loss_options
            )
            if between_members is not None:
                grad[between_members] = 0  # no weights grow between members
            return loss, grad.astype(np.float64)

        def iteration_ends(theta64, loss):
            nonlocal n_done
            n_done += 1
            return tasks.end(
                lambda: self._weights_of(
                    theta64, shapes, theta.dtype, n_iter_=n_done, loss_=loss
                )
            )

        theta64, loss, n_iter, curve = minimize_lbfgs(
            loss_and_grad,
            theta,
            max_iter=self.max_iter,
            max_fun=self.max_fun,
            tol=self.tol,
            verbose=bool(self.verbose),
            iteration_ends=iteration_ends,
        )
        theta[:] = theta64
        self.n_iter_ = n_iter
        self.t_ += n_iter * n_rows
        self.loss_ = loss
        self.loss_curve_.extend(curve)
        self.best_loss_ = min(curve) if curve else loss
        self._keep_context(data.context_after(params, context, self.activation))

    def _fit_echo_state(self, theta, shapes, data):
        """Fit the output layer alone, on the readouts of the fixed hidden weights.

        The input and context weights keep their random start (or warm start);
        an identity head gets the ridge solution in closed form, a softmax head
        the minimum of its convex, L2-regularised cross-entropy (a multinomial
        logistic readout) by L-BFGS.
        """
        n_rows = data.n_rows
        data = data.distinct()  # repeated rows and weights give the same fit
        params = _elman.unpack(theta, shapes)
        loss_options = self._loss_options()
        reverse_pass = self._n_passes() == 2
        R = data.readouts(params, self.activation, self.readout, reverse_pass)
        R = R.astype(np.float64)
        Y = data.targets.astype(np.float64)
        weights = data.loss_weights
        if self._head == "identity":
            W, b = _elman.ridge_output_layer(R, Y, self.alpha, weights)
            n_iter = 1
        else:
            start = np.concatenate(
                [params.output_weights.ravel(), params.output_bias]
            ).astype(np.float64)
            solution, _, n_iter, _ = minimize_lbfgs(
                lambda output_theta: _elman.output_layer_objective(
                    output_theta, R, Y, self._head, self.alpha, weights
                ),
                start,
                max_iter=self.max_iter,
                max_fun=self.max_fun,
                tol=self.tol,
                # Convex and cheap: converge to tol in the gradient, not sooner.
                ftol=0.0,
            )
            W, b = solution[: -Y.shape[1]], solution[-Y.shape[1] :]
        params.output_weights[...] = np.reshape(W, params.output_weights.shape)
        params.output_bias[...] = b
        self.n_iter_ = n_iter
        self.t_ += n_rows
        self.loss_ = data.objective(
            params, None, reverse_pass=reverse_pass, **loss_options
        )
        self.loss_curve_.append(self.loss_)
        self.best_loss_ = self.loss_
        if self.verbose:
            print(
                f"Echo-state readout fitted on {R.shape[1]} pooled states of "
                f"{data.n_rows} distinct rows in {n_iter} iteration(s); training "
                f"loss = {self.loss_:.8f}"
            )


def _check_usable_weights(weights):
    """Refuse row weights that sum to zero or to inf in the training dtype.

    ``sample_weight`` times ``class_weight``, cast to the dtype of the network:
    a class weight of zero or float32 underflow can leave every row at zero,
    and huge weights can overflow the total that normalises the loss.
    """
    total = weights.sum()
    if total > 0 and np.isfinite(total):
        return
    if not total > 0:
        problem = "every row's weight is zero"
        fix = "Give at least one row a positive weight, or scale the weights up"
    else:
        problem = "the weights sum to more than the floating-point range"
        fix = "Scale the weights down by a common factor"
    raise ValueError(
        f"After sample_weight and class_weight, {problem} in {weights.dtype} (the "
        f"dtype of the network), so the loss cannot be normalised. {fix}: only "
        "their ratios matter."
    )


def _copy_mutable(value):
    """A copy of ``value`` that in-place training updates cannot reach."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return list(value)  # of floats: a shallow copy is enough
    if isinstance(value, BaseOptimizer):
        return copy.deepcopy(value)
    return value
