"""ElmanClassifier: the scikit-learn estimator around the Elman network maths."""

from __future__ import annotations

import copy
import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
)
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from sklearn_elman import _elman
from sklearn_elman._runtime import compute_context
from sklearn_elman._sequences import (
    compact_stream,
    padding_mask,
    sequence_lengths,
    to_3d,
)
from sklearn_elman._solvers import (
    STOCHASTIC_SOLVERS,
    BaseOptimizer,
    make_optimizer,
    minimize_lbfgs,
)

_PARAM_NAMES = _elman.ElmanParams._fields
# Rows per chunk in predict_proba are chosen so that the hidden-state buffer of a
# chunk stays near this many bytes: memory stays bounded whatever the data size.
_PREDICT_CHUNK_BYTES = 16 * 2**20
# Marks "no y given" in _validate_X, where y=None is a user error to report.
_NO_TARGET = object()


# The type of X, shared by every method's docstring and filled in by _fill_doc.
_X_TYPE = (
    "X : array-like of shape (n_sequences, n_steps * n_features_per_step) or "
    "(n_sequences, n_steps, n_features)"
)


def _fill_doc(method):
    method.__doc__ = method.__doc__.replace("{X}", _X_TYPE)
    return method


def _stochastic_solver(estimator):
    if estimator.solver not in STOCHASTIC_SOLVERS:
        raise AttributeError(
            f"partial_fit is only available for the stochastic solvers "
            f"{STOCHASTIC_SOLVERS}; solver={estimator.solver!r} is not stochastic."
        )
    return True


class ElmanClassifier(ClassifierMixin, BaseEstimator):
    """Elman recurrent network classifier.

    An Elman network keeps a copy of its hidden layer in "context units" and feeds
    it back into the hidden layer at the next time step, so that what it outputs at
    the end of a sequence depends on the whole sequence. Each row of ``X`` is one
    sequence; a softmax output layer reads the hidden state after the last real
    step of the sequence. Training minimises the cross-entropy with
    backpropagation through time.

    Parameters
    ----------
    hidden_units : int, default=32
        Number of hidden units (and of context units).

    activation : {'tanh', 'logistic', 'relu', 'identity'}, default='tanh'
        Activation of the hidden units. 'logistic' gives the sigmoid units of
        Elman's original network.

    solver : {'adam', 'sgd', 'lbfgs'}, default='adam'
        Optimizer. 'adam' and 'sgd' train on mini-batches of whole sequences and
        support :meth:`partial_fit`; 'lbfgs' is a full-batch quasi-Newton method
        (:func:`scipy.optimize.minimize`) that suits small data sets.

    alpha : float, default=1e-4
        Strength of the L2 penalty on the three weight matrices (not the biases),
        scaled as in :class:`~sklearn.neural_network.MLPClassifier`: the batch loss
        is the mean cross-entropy plus ``0.5 * alpha * ||W||^2 / n_batch``.

    batch_size : int or 'auto', default='auto'
        Sequences (rows) per mini-batch of the stochastic solvers;
        ``'auto'`` means ``min(200, n_samples)``. With ``stateful=True`` a
        mini-batch is ``batch_size`` consecutive rows of the stream, and gradients
        do not flow back across mini-batches (the context's value does). Unused by
        'lbfgs'.

    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Step-size schedule of 'sgd', as in
        :class:`~sklearn.neural_network.MLPClassifier`: 'constant' keeps
        ``learning_rate_init``; 'invscaling' uses
        ``learning_rate_init / (t + 1) ** power_t`` with ``t`` the number of samples
        seen; 'adaptive' divides the step by 5 whenever the loss stops improving
        for ``n_iter_no_change`` epochs.

    learning_rate_init : float, default=0.01
        Initial step size of 'sgd' and 'adam'.

    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule of 'sgd'.

    max_iter : int, default=200
        Maximum number of epochs of 'sgd' and 'adam' (each sequence is seen once
        per epoch), or of iterations of 'lbfgs'.

    shuffle : bool, default=True
        Whether 'sgd' and 'adam' reshuffle the sequences before each epoch. Ignored
        when ``stateful=True``, where rows are consecutive chunks of one stream and
        keep their order.

    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the shuffling and the early-stopping
        split. Pass an int for reproducible results: the same seed and data give
        bit-identical models with every solver.

    tol : float, default=1e-4
        Tolerance of the optimisation. 'sgd' and 'adam' stop when the training
        loss (or the validation score with ``early_stopping``) has not improved by
        at least ``tol`` for ``n_iter_no_change`` consecutive epochs; 'lbfgs' stops
        when the largest gradient component falls below ``tol``.

    verbose : bool or int, default=False
        Print one line per epoch (or 'lbfgs' iteration) with the loss, the
        validation score when there is one, and the elapsed seconds.

    warm_start : bool, default=False
        When True, :meth:`fit` starts from the current weights (and, with
        ``stateful=True``, from the current context) instead of initialising
        anew.

    momentum : float, default=0.9
        Momentum of 'sgd', in [0, 1].

    nesterovs_momentum : bool, default=True
        Whether 'sgd' uses Nesterov's momentum.

    early_stopping : bool, default=False
        Whether 'sgd' and 'adam' hold out ``validation_fraction`` of the sequences
        (stratified by class; the tail of the stream when ``stateful=True``), stop
        when the validation accuracy stops improving, and restore the weights of
        the best epoch.

    validation_fraction : float, default=0.1
        Fraction of the training data held out with ``early_stopping``.

    beta_1 : float, default=0.9
        Decay rate of the first-moment estimate of 'adam', in [0, 1).

    beta_2 : float, default=0.999
        Decay rate of the second-moment estimate of 'adam', in [0, 1).

    epsilon : float, default=1e-8
        Numerical-stability constant of 'adam'.

    n_iter_no_change : int, default=10
        Number of epochs without improvement by ``tol`` after which 'sgd' and
        'adam' stop.

    max_fun : int, default=15000
        Maximum number of loss evaluations of 'lbfgs'.

    n_features_per_step : int, default=1
        Number of consecutive columns of a 2D row that make one time step. The
        default reads each row as a univariate series. Ignored for 3D input, whose
        last axis gives the features per step.

    bptt_steps : int or None, default=None
        Truncation of backpropagation through time: each output's gradient flows
        back through at most this many real steps, ending at the output's own
        step. None uses the whole history; 1 treats the context as a plain input,
        as in Elman's original training rule. With ``stateful=True`` the history
        also ends at the start of the mini-batch (see ``batch_size``): with
        ``batch_size=1`` and one step per row, every value gives Elman's rule.

    max_grad_norm : float or None, default=5.0
        Clip the Euclidean norm of the whole gradient to this value before each
        'sgd' or 'adam' update (exploding gradients are the classic failure of
        recurrent training). None disables clipping. Unused by 'lbfgs'.

    stateful : bool, default=False
        If False, every row is a whole sequence that starts from a zero context,
        and predictions do not change the estimator. If True, the rows are
        consecutive chunks of one stream: row ``i`` continues from the context row
        ``i - 1`` left, ``y[i]`` is the class at the end of row ``i``, the context
        carries over from one call of ``fit``, ``partial_fit``, ``predict`` or
        ``predict_proba`` to the next (``fit`` without ``warm_start`` starts a new
        stream), and :meth:`reset_context` starts a new stream.

    blas_threads : int or None, default=1
        Maximum number of BLAS threads while the estimator computes (in ``fit``,
        ``partial_fit`` and the predict methods); the previous setting is restored
        afterwards. One thread is the default because the matrix products of one
        time step are small: a second BLAS thread does not speed them up, and on a
        busy machine extra threads slow them down many times over. It also keeps
        ``GridSearchCV(n_jobs=...)`` workers from oversubscribing the cores. None
        leaves BLAS as it is (for example as set with
        ``threadpoolctl.threadpool_limits``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    n_features_in_ : int
        Number of features seen during :meth:`fit`: the columns of 2D ``X``, or
        the last axis (features per step) of 3D ``X``.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the columns seen during :meth:`fit`, when ``X`` has string column
        names (a pandas DataFrame, for example).

    input_weights_ : ndarray of shape (n_features_per_step, hidden_units)
        Weights from the inputs of a step to the hidden units.

    context_weights_ : ndarray of shape (hidden_units, hidden_units)
        Weights from the context units to the hidden units.

    hidden_bias_ : ndarray of shape (hidden_units,)
        Bias of the hidden units.

    output_weights_ : ndarray of shape (hidden_units, n_classes)
        Weights from the hidden units to the output units (one per class, binary
        included).

    output_bias_ : ndarray of shape (n_classes,)
        Bias of the output units.

    loss_ : float
        Loss at the end of training: the mean of the epoch's mini-batch losses for
        'sgd' and 'adam', the final loss for 'lbfgs'.

    loss_curve_ : list of float
        Loss after each epoch ('sgd', 'adam') or iteration ('lbfgs').

    best_loss_ : float or None
        Lowest training loss reached ('sgd', 'adam'); the final loss for 'lbfgs';
        None with ``early_stopping``, which tracks the validation score instead.

    validation_scores_ : list of float or None
        Validation accuracy after each epoch with ``early_stopping``, else None.

    best_validation_score_ : float or None
        Best validation accuracy with ``early_stopping``, else None.

    n_iter_ : int
        Number of epochs ('sgd', 'adam') or iterations ('lbfgs') of the last call
        to :meth:`fit` or :meth:`partial_fit`.

    t_ : int
        Number of training sequences (rows) the solver has processed, over all
        epochs and calls.

    context_ : ndarray of shape (hidden_units,)
        Only with ``stateful=True``: the hidden state after the last row read, from
        which the next call continues. Assign it to restore a saved stream state.
        After ``fit`` it is the state the fitted network reaches at the end of
        ``X``; after ``partial_fit`` it is the state the rows left while being
        learnt, with the weights updated mini-batch by mini-batch (as in online
        learning, where a stream is read once).

    See Also
    --------
    sklearn.neural_network.MLPClassifier : Feed-forward network on flat features.

    Notes
    -----
    The network computes, for each sequence, starting from ``h_0 = 0`` (or the
    stream's context)::

        h_t = act(x_t @ input_weights_ + h_{t-1} @ context_weights_ + hidden_bias_)
        proba = softmax(h_T @ output_weights_ + output_bias_)

    where ``h_T`` is the state after the sequence's last real step. Variable-length
    sequences are padded at the end with steps that are NaN in every feature;
    padded steps leave the state and the loss untouched. Any other NaN, and any
    inf, is an error.

    The computation runs in the floating dtype of the training data: float32 input
    gives float32 weights and outputs.

    References
    ----------
    Elman, J. L. (1990). Finding structure in time. Cognitive Science, 14(2),
    179-211.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elman import ElmanClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 10))      # 200 univariate sequences of 10 steps
    >>> y = (X[:, 0] > 0).astype(int)       # the class is decided by the first step
    >>> clf = ElmanClassifier(random_state=0).fit(X, y)
    >>> clf.predict(X[:3]), y[:3]
    (array([1, 1, 0]), array([1, 1, 0]))
    >>> clf.predict_proba(X[:1]).shape
    (1, 2)
    """

    _parameter_constraints: dict = {
        "hidden_units": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_elman.ACTIVATIONS))],
        "solver": [StrOptions({"adam", "sgd", "lbfgs"})],
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
        "bptt_steps": [Interval(Integral, 1, None, closed="left"), None],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "stateful": ["boolean"],
        "blas_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        hidden_units=32,
        activation="tanh",
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.01,
        power_t=0.5,
        max_iter=200,
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
        n_iter_no_change=10,
        max_fun=15000,
        n_features_per_step=1,
        bptt_steps=None,
        max_grad_norm=5.0,
        stateful=False,
        blas_threads=1,
    ):
        self.hidden_units = hidden_units
        self.activation = activation
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
        self.bptt_steps = bptt_steps
        self.max_grad_norm = max_grad_norm
        self.stateful = stateful
        self.blas_threads = blas_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # ----------------------------------------------------------------------------
    # Public API
    # ----------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    @_fill_doc
    def fit(self, X, y):
        """Train the network on sequences ``X`` with labels ``y``.

        Parameters
        ----------
        {X}
            Training sequences, one per row (consecutive chunks of one stream when
            ``stateful=True``). Pad shorter sequences at the end with NaN steps.

        y : array-like of shape (n_sequences,)
            Class of each sequence (of the last step of each row when
            ``stateful=True``).

        Returns
        -------
        self : ElmanClassifier
            The fitted estimator.
        """
        return self._fit(X, y, incremental=False)

    @available_if(_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    @_fill_doc
    def partial_fit(self, X, y, classes=None):
        """Train for one epoch on ``X``, continuing from the current weights.

        Only available for the stochastic solvers 'sgd' and 'adam'. The optimizer
        state is kept between calls, and with ``stateful=True`` so is the context.
        A call that raises leaves the estimator exactly as it was.

        Parameters
        ----------
        {X}
            Training sequences, one per row.

        y : array-like of shape (n_sequences,)
            Class of each sequence.

        classes : array-like of shape (n_classes,), default=None
            All the classes that will ever appear. Required on the first call
            unless the estimator was already fitted; ``y`` may hold only some of
            them.

        Returns
        -------
        self : ElmanClassifier
            The updated estimator.
        """
        return self._fit(X, y, incremental=True, classes=classes)

    @_fill_doc
    def predict_proba(self, X):
        """Class probabilities of each sequence.

        Parameters
        ----------
        {X}
            Sequences, one per row; with 3D input the number of steps may differ
            from training.

        Returns
        -------
        proba : ndarray of shape (n_sequences, n_classes)
            Probability of each class (in the order of ``classes_``) after the
            last real step of each row. With ``stateful=True`` the rows continue
            the stream from ``context_``, which is advanced to the end of ``X``.
        """
        check_is_fitted(self)
        X3, mask = self._validate_X(X, reset=False)
        params = self._fitted_params(X3.dtype)
        X3 = X3.astype(params.input_weights.dtype, copy=False)
        with compute_context(self.blas_threads):
            if not self.stateful:
                return self._sequence_proba(params, X3, mask)
            proba, context = self._stream_proba(params, X3, mask, self._context(params))
        self.context_ = context
        return proba

    @_fill_doc
    def predict_log_proba(self, X):
        """Log of the class probabilities of each sequence.

        Parameters
        ----------
        {X}
            Sequences, one per row.

        Returns
        -------
        log_proba : ndarray of shape (n_sequences, n_classes)
            Log of :meth:`predict_proba` (which it calls, so it advances the
            context with ``stateful=True``).
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @_fill_doc
    def predict(self, X):
        """Predict the class of each sequence.

        Parameters
        ----------
        {X}
            Sequences, one per row.

        Returns
        -------
        y : ndarray of shape (n_sequences,)
            Most probable class of each row. With ``stateful=True`` the context
            advances to the end of ``X``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def reset_context(self):
        """Start a new stream: set the context back to zeros.

        With ``stateful=True`` the next call that reads rows starts from a zero
        context, as a fresh model with the same weights would. With
        ``stateful=False`` every sequence already starts from zeros, and this does
        nothing.

        Returns
        -------
        self : ElmanClassifier
            The estimator, for chaining.
        """
        if self.stateful and hasattr(self, "context_"):
            self.context_ = np.zeros_like(self.context_)
        return self

    # ----------------------------------------------------------------------------
    # Input validation
    # ----------------------------------------------------------------------------

    def _validate_X(self, X, reset, y=_NO_TARGET):
        """Validate ``X`` (and ``y``) and return 3D sequences and their mask."""
        check = {
            "reset": reset,
            "ensure_2d": False,
            "allow_nd": True,
            "dtype": (np.float64, np.float32),
            "ensure_all_finite": False,
        }
        if y is _NO_TARGET:
            X = validate_data(self, X, **check)
        else:
            X, y = validate_data(self, X, y, **check)
        X3 = to_3d(X, self.n_features_per_step)
        n_columns = X.shape[-1]
        if reset:
            self.n_features_in_ = n_columns
            self._fitted_ndim = X.ndim
        else:
            if (
                X.ndim == 2
                and self._fitted_ndim == 2
                and n_columns != self.n_features_in_
            ):
                raise ValueError(
                    f"X has {n_columns} features, but {type(self).__name__} is "
                    f"expecting {self.n_features_in_} features as input."
                )
            expected = np.shape(self.input_weights_)[0]
            if X3.shape[2] != expected:
                raise ValueError(
                    f"X has {X3.shape[2]} features per time step, but the model was "
                    f"fitted on {expected}. "
                    + (
                        f"2D rows are split into steps of n_features_per_step="
                        f"{self.n_features_per_step} columns; set it to {expected} "
                        "or pass 3D input."
                        if X.ndim == 2
                        else "The last axis of 3D input is the features of one step."
                    )
                )
        mask = padding_mask(X3)
        if y is _NO_TARGET:
            return X3, mask
        return X3, mask, y

    def _encode_labels(self, y, continuing, incremental):
        """Check ``y`` against ``classes_`` (setting it on a fresh fit); one-hot."""
        check_classification_targets(y)
        if not continuing:
            if not incremental:
                self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes, but "
                    f"the data contains only one class: {self.classes_[0]}."
                )
        elif self.warm_start and not incremental:
            if set(np.unique(y)) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as "
                    f"in the previous call to fit. Previously got {self.classes_}, "
                    f"`y` has {np.unique(y)}."
                )
        index = np.searchsorted(self.classes_, y)
        index = np.minimum(index, len(self.classes_) - 1)
        unseen = self.classes_[index] != y
        if np.any(unseen):
            raise ValueError(
                f"`y` has classes not in `classes_`: {np.unique(y[unseen])!r}. "
                f"`classes_` is {self.classes_!r}; pass every class in `classes` on "
                "the first call to partial_fit, or call fit."
            )
        return index

    # ----------------------------------------------------------------------------
    # Parameters held as attributes
    # ----------------------------------------------------------------------------

    def _fitted_params(self, dtype=None):
        """The five weight attributes as ElmanParams, checked for consistency."""
        params = _elman.ElmanParams(
            *(np.asarray(getattr(self, name + "_")) for name in _PARAM_NAMES)
        )
        n_features, n_hidden = params.input_weights.shape
        n_classes = len(self.classes_)
        expected = _elman.param_shapes(n_features, n_hidden, n_classes)
        for name, array, shape in zip(_PARAM_NAMES, params, expected):
            if array.shape != shape:
                raise ValueError(
                    f"{name}_ has shape {array.shape}, but the other weights and "
                    f"the {n_classes} classes require {shape}."
                )
        if dtype is not None:
            dtype = np.result_type(dtype, params.input_weights.dtype)
            params = _elman.ElmanParams(*(p.astype(dtype, copy=False) for p in params))
        return params

    def _bind_params(self, theta, shapes):
        """Make the weight attributes views into the flat vector ``theta``."""
        for name, array in zip(_PARAM_NAMES, _elman.unpack(theta, shapes)):
            setattr(self, name + "_", array)

    def _context(self, params):
        """Current stream context (zeros if there is none yet)."""
        n_hidden = params.context_weights.shape[0]
        context = getattr(self, "context_", None)
        if context is None or np.shape(context) != (n_hidden,):
            return np.zeros(n_hidden, dtype=params.context_weights.dtype)
        return np.asarray(context, dtype=params.context_weights.dtype)

    # ----------------------------------------------------------------------------
    # Prediction
    # ----------------------------------------------------------------------------

    @staticmethod
    def _steps_per_chunk(params, itemsize):
        """How many (sequence, step) pairs one chunk of prediction may hold."""
        n_features, n_hidden = params.input_weights.shape
        # run_hidden keeps [h, x, 1] for every step of the chunk.
        return max(1, _PREDICT_CHUNK_BYTES // ((n_hidden + n_features + 1) * itemsize))

    def _sequence_proba(self, params, X3, mask):
        """Stateless probabilities, computed in chunks of rows to bound memory."""
        n_seq, n_steps, _ = X3.shape
        lengths = sequence_lengths(X3, mask)
        chunk = max(
            1, self._steps_per_chunk(params, X3.dtype.itemsize) // (n_steps + 1)
        )
        proba = np.empty((n_seq, len(self.classes_)), dtype=X3.dtype)
        for rows in gen_batches(n_seq, chunk):
            # Steps that are padding in every row of the chunk need not be run.
            n_real = int(lengths[rows].max())
            chunk_mask = None if mask is None else mask[rows, :n_real]
            proba[rows], _ = _elman.forward(
                params, X3[rows, :n_real], chunk_mask, None, self.activation
            )
        return proba

    def _stream_proba(self, params, X3, mask, context):
        """Stateful probabilities at the end of each row, and the final context.

        The stream is run in chunks of whole rows, each of at most the step
        budget (or one row), carrying the context from one chunk to the next.
        """
        steps, row_ends = compact_stream(X3, mask)
        budget = self._steps_per_chunk(params, X3.dtype.itemsize)
        hidden_at_ends = np.empty((len(row_ends), len(context)), dtype=X3.dtype)
        first_row, start = 0, 0
        while first_row < len(row_ends):
            # The last row that still ends within the budget (at least one row).
            last_row = np.searchsorted(row_ends, start + budget - 1, side="right")
            rows = slice(first_row, max(last_row, first_row + 1))
            stop = row_ends[rows.stop - 1] + 1
            trace = _elman.run_hidden(
                params, steps[None, start:stop], None, context[None], self.activation
            )
            hidden_at_ends[rows] = trace.hidden[row_ends[rows] - start + 1, 0]
            context = trace.final_context()[0]
            first_row, start = rows.stop, stop
        logits = hidden_at_ends @ params.output_weights
        logits += params.output_bias
        return _elman.softmax(logits), context

    # ----------------------------------------------------------------------------
    # Training
    # ----------------------------------------------------------------------------

    def _fit(self, X, y, incremental, classes=None):
        fitted = hasattr(self, "input_weights_") and hasattr(self, "classes_")
        continuing = fitted and (incremental or self.warm_start)
        # A call that fails leaves the estimator as it was. Training updates
        # arrays, lists and the optimizer's buffers in place, so those are copied.
        saved = {key: _copy_mutable(value) for key, value in self.__dict__.items()}
        try:
            with compute_context(self.blas_threads):
                self._fit_unchecked(X, y, incremental, classes, continuing)
        except Exception:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        return self

    def _fit_unchecked(self, X, y, incremental, classes, continuing):
        if incremental:
            if self.early_stopping:
                raise ValueError(
                    "partial_fit does not support early_stopping=True: there is no "
                    "fixed validation set across calls. Use fit, or set "
                    "early_stopping=False."
                )
            if _check_partial_fit_first_call(self, classes):
                continuing = False
        X3, mask, y = self._validate_X(X, reset=not continuing, y=y)
        label_index = self._encode_labels(y, continuing, incremental)

        if continuing:
            params = self._fitted_params()
            if params.context_weights.shape[0] != self.hidden_units:
                raise ValueError(
                    f"hidden_units={self.hidden_units}, but the fitted weights have "
                    f"{params.context_weights.shape[0]} hidden units. Call fit "
                    "without warm_start to train a network of the new size."
                )
            dtype = params.input_weights.dtype
        else:
            dtype = X3.dtype
            params = _elman.init_params(
                X3.shape[2],
                self.hidden_units,
                len(self.classes_),
                check_random_state(self.random_state),
                dtype,
                self.activation,
            )
            self._initialize_training_state()
            if self.stateful:
                self.context_ = np.zeros(self.hidden_units, dtype=dtype)
        X3 = X3.astype(dtype, copy=False)
        targets = np.zeros((X3.shape[0], len(self.classes_)), dtype=dtype)
        targets[np.arange(X3.shape[0]), label_index] = 1

        shapes = _elman.shapes_of(params)
        theta = _elman.pack(params, out=np.empty(_elman.n_params(shapes), dtype=dtype))
        self._bind_params(theta, shapes)
        data = _TrainingData(X3, mask, targets, label_index, self.stateful)
        if self.solver == "lbfgs":
            self._fit_lbfgs(theta, shapes, data)
        else:
            self._fit_stochastic(theta, shapes, data, incremental)
        if not np.isfinite(theta).all():
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may "
                "contain large values and need to be preprocessed (for example "
                "with sklearn.preprocessing.StandardScaler), or the learning rate "
                "may be too high."
            )

    def _initialize_training_state(self):
        self.loss_curve_ = []
        self.n_iter_ = 0
        self.t_ = 0
        self._no_improvement_count = 0
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self.best_loss_ = np.inf
        if self.early_stopping and self.solver in STOCHASTIC_SOLVERS:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        if hasattr(self, "_optimizer"):
            del self._optimizer

    def _loss_and_gradient(self, params, data, rows, context, grad_out):
        """Mini-batch loss and gradient; returns (loss, final context)."""
        common = {
            "activation": self.activation,
            "alpha": self.alpha,
            "bptt_steps": self.bptt_steps,
            "out": grad_out,
            "need_gradient": grad_out is not None,
        }
        if self.stateful:
            X_seq, Y_seq, weight = data.stream_batch(rows)
            loss, _, final = _elman.loss_and_gradient(
                params,
                X_seq,
                Y_seq,
                context=context[None],
                per_step=True,
                sample_weight=weight,
                **common,
            )
            return loss, final[0]
        Xb, mask_b, Yb = data.sequence_batch(rows)
        loss, _, _ = _elman.loss_and_gradient(params, Xb, Yb, mask_b, **common)
        return loss, None

    def _accuracy(self, params, data, context):
        """Accuracy on ``data`` (validation); returns (score, final context)."""
        if self.stateful:
            proba, context = self._stream_proba(params, data.X3, data.mask, context)
        else:
            proba = self._sequence_proba(params, data.X3, data.mask)
        return float(np.mean(np.argmax(proba, axis=1) == data.label_index)), context

    def _fit_stochastic(self, theta, shapes, data, incremental):
        params = _elman.unpack(theta, shapes)
        optimizer = getattr(self, "_optimizer", None)
        if (
            not incremental
            or optimizer is None
            or _optimizer_size(optimizer) != theta.size
        ):
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
            self._optimizer = make_optimizer(self.solver, theta, **options)
        optimizer = self._optimizer

        early_stopping = self.early_stopping and not incremental
        # Rows of a stream keep their order.
        shuffle = self.shuffle and not self.stateful
        if shuffle or early_stopping:
            random_state = check_random_state(self.random_state)
        if early_stopping:
            train, validation = data.split(self.validation_fraction, random_state)
            best_theta = theta.copy()
        else:
            train, validation = data, None

        n_samples = train.n_rows
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    f"batch_size={self.batch_size} is larger than the {n_samples} "
                    "training sequences; using batches of all of them."
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))

        grad = np.empty_like(theta)
        start_context = self._context(params) if self.stateful else None
        start_time = time.perf_counter()
        self.n_iter_ = 0
        try:
            for _ in range(self.max_iter):
                order = random_state.permutation(n_samples) if shuffle else None
                context = start_context
                accumulated_loss = 0.0
                for batch in gen_batches(n_samples, batch_size):
                    rows = batch if order is None else order[batch]
                    batch_loss, context = self._loss_and_gradient(
                        params, train, rows, context, grad
                    )
                    _elman.clip_grad_norm(grad, self.max_grad_norm)
                    optimizer.update_params(theta, grad)
                    accumulated_loss += batch_loss * (batch.stop - batch.start)

                self.n_iter_ += 1
                self.t_ += n_samples
                self.loss_ = accumulated_loss / n_samples
                self.loss_curve_.append(self.loss_)
                message = f"Epoch {self.n_iter_}, loss = {self.loss_:.8f}"

                if early_stopping:
                    score, context = self._accuracy(params, validation, context)
                    self.validation_scores_.append(score)
                    message += f", validation score = {score:.6f}"
                    if score < self.best_validation_score_ + self.tol:
                        self._no_improvement_count += 1
                    else:
                        self._no_improvement_count = 0
                    if score > self.best_validation_score_:
                        self.best_validation_score_ = score
                        best_theta[:] = theta
                else:
                    if self.loss_ > self.best_loss_ - self.tol:
                        self._no_improvement_count += 1
                    else:
                        self._no_improvement_count = 0
                    self.best_loss_ = min(self.best_loss_, self.loss_)
                if self.verbose:
                    print(f"{message}, {time.perf_counter() - start_time:.2f} s")

                optimizer.iteration_ends(self.t_)
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
            warnings.warn("Training interrupted by user.")
        if early_stopping:
            theta[:] = best_theta
        if self.stateful:
            if incremental:
                # Online learning: the context the rows left while being learnt.
                self.context_ = np.array(context, copy=True)
            else:
                # fit: the state the fitted network reaches after reading X.
                _, self.context_ = self._stream_proba(
                    params, data.X3, data.mask, start_context
                )

    def _fit_lbfgs(self, theta, shapes, data):
        params = _elman.unpack(theta, shapes)
        grad = np.empty_like(theta)
        rows = slice(0, data.n_rows)
        context = self._context(params) if self.stateful else None

        def loss_and_grad(theta64):
            theta[:] = theta64
            loss, _ = self._loss_and_gradient(params, data, rows, context, grad)
            return loss, grad.astype(np.float64)

        theta64, loss, n_iter, curve = minimize_lbfgs(
            loss_and_grad,
            theta,
            max_iter=self.max_iter,
            max_fun=self.max_fun,
            tol=self.tol,
            verbose=bool(self.verbose),
        )
        theta[:] = theta64
        self.n_iter_ = n_iter
        self.t_ += n_iter * data.n_rows
        self.loss_ = loss
        self.loss_curve_.extend(curve)
        self.best_loss_ = min(curve) if curve else loss
        if self.stateful:
            _, self.context_ = self._stream_proba(params, data.X3, data.mask, context)


def _copy_mutable(value):
    """A copy of ``value`` that in-place training updates cannot reach."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return list(value)  # of floats: a shallow copy is enough
    if isinstance(value, BaseOptimizer):
        return copy.deepcopy(value)
    return value


def _optimizer_size(optimizer):
    """Number of parameters a stochastic optimizer was built for."""
    state = getattr(optimizer, "velocity", None)
    if state is None:
        state = optimizer.first_moment
    return state.size


class _TrainingData:
    """Training sequences with one-hot targets, sliced into mini-batches.

    Stateless data is a batch of independent sequences; stateful data is one
    stream whose rows are consecutive chunks, compacted to its real steps.
    """

    def __init__(self, X3, mask, targets, label_index, stateful):
        self.X3 = X3
        self.mask = mask
        self.targets = targets
        self.label_index = label_index
        self.stateful = stateful
        self.n_rows = X3.shape[0]
        self.lengths = sequence_lengths(X3, mask)
        if stateful:
            self.steps, self.row_ends = compact_stream(X3, mask)
            # Targets and weights of the whole stream, built once: a mini-batch of
            # rows slices them, with a target only at the last step of each row.
            n_steps = len(self.steps)
            self.step_targets = np.zeros((1, n_steps, targets.shape[1]), targets.dtype)
            self.step_targets[0, self.row_ends] = targets
            self.step_weights = np.zeros((1, n_steps), dtype=targets.dtype)
            self.step_weights[0, self.row_ends] = 1

    def subset(self, rows):
        mask = None if self.mask is None else self.mask[rows]
        return _TrainingData(
            self.X3[rows],
            mask,
            self.targets[rows],
            self.label_index[rows],
            self.stateful,
        )

    def split(self, validation_fraction, random_state):
        """Hold out a validation part: the stream's tail, or a stratified sample."""
        n_validation = int(np.ceil(validation_fraction * self.n_rows))
        if n_validation < 2 or n_validation >= self.n_rows:
            raise ValueError(
                f"The validation set is too small: validation_fraction="
                f"{validation_fraction} of {self.n_rows} sequences gives "
                f"{n_validation} for validation and {self.n_rows - n_validation} for "
                "training. Increase validation_fraction or the size of your data."
            )
        if self.stateful:
            cut = self.n_rows - n_validation
            return self.subset(slice(0, cut)), self.subset(slice(cut, None))
        train_rows, validation_rows = train_test_split(
            np.arange(self.n_rows),
            test_size=n_validation,
            random_state=random_state,
            stratify=self.label_index,
        )
        return self.subset(train_rows), self.subset(validation_rows)

    def sequence_batch(self, rows):
        """Independent sequences ``rows``, trimmed to their longest real length."""
        n_real = int(self.lengths[rows].max())
        X = self.X3[rows, :n_real]
        mask = None if self.mask is None else self.mask[rows, :n_real]
        return X, mask, self.targets[rows]

    def stream_batch(self, rows):
        """Consecutive rows as one sequence with targets at the row ends."""
        start = 0 if rows.start == 0 else self.row_ends[rows.start - 1] + 1
        stop = self.row_ends[rows.stop - 1] + 1
        return (
            self.steps[None, start:stop],
            self.step_targets[:, start:stop],
            self.step_weights[:, start:stop],
        )
