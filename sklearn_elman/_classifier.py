"""ElmanClassifier: class labels, the softmax head and the predict methods."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
)

from sklearn_elman._base import BaseElman, stochastic_solver
from sklearn_elman._docstring import fill_doc
from sklearn_elman._elman import log_softmax


@fill_doc
class ElmanClassifier(ClassifierMixin, BaseElman):
    """Elman recurrent network classifier.

    An Elman network keeps a copy of its hidden layer in "context units" and feeds
    it back into the hidden layer at the next time step, so that what it outputs at
    the end of a sequence depends on the whole sequence. Each row of ``X`` is one
    sequence; a softmax output layer reads the hidden state after the last real
    step of the sequence. Training minimises the cross-entropy with
    backpropagation through time.

    Parameters
    ----------
    {parameters}

    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, multiplied into ``sample_weight``: a dict
        ``{class_label: weight}``, or 'balanced' for weights inversely
        proportional to the class frequencies in ``y``
        (``n_samples / (n_classes * np.bincount(y))``, as in
        :func:`~sklearn.utils.class_weight.compute_class_weight`). None gives
        every class weight one. 'balanced' is not available to
        :meth:`partial_fit`, which never sees the whole data.

    Attributes
    ----------
    {attributes}

    classes_ : ndarray of shape (n_classes,)
        Class labels.

    output_weights_ : ndarray of shape (n_readout, n_ensemble * n_classes)
        Weights from the readout of the hidden units (``n_readout`` is
        ``n_units``, three times that for 'last_mean_max') to the output units,
        one per class, binary included, and per member: member ``m``'s outputs
        are the columns ``m * n_classes`` to ``(m + 1) * n_classes``, which read
        only its own units.

    output_bias_ : ndarray of shape (n_ensemble * n_classes,)
        Bias of the output units.

    See Also
    --------
    ElmanRegressor : The same network with an identity output, for regression.
    sklearn.neural_network.MLPClassifier : Feed-forward network on flat features.

    Notes
    -----
    {recurrence}
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

    _head = "softmax"
    _y_checks: dict = {}
    _parameter_constraints: dict = {
        **BaseElman._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        hidden_units=64,
        activation="tanh",
        readout="max",
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
        patch_size="auto",
        bptt_steps=None,
        max_grad_norm=5.0,
        stateful=False,
        warm_up_steps=0,
        blas_threads=1,
        spectral_radius=0.9,
        n_ensemble=1,
        reverse_pass=False,
        class_weight=None,
    ):
        super().__init__(
            hidden_units=hidden_units,
            activation=activation,
            readout=readout,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            n_features_per_step=n_features_per_step,
            patch_size=patch_size,
            bptt_steps=bptt_steps,
            max_grad_norm=max_grad_norm,
            stateful=stateful,
            warm_up_steps=warm_up_steps,
            blas_threads=blas_threads,
            spectral_radius=spectral_radius,
            n_ensemble=n_ensemble,
            reverse_pass=reverse_pass,
        )
        self.class_weight = class_weight

    @available_if(stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    @fill_doc
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on ``X``, continuing from the current weights.

        {partial_fit}

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

        {sample_weight}

        Returns
        -------
        self : ElmanClassifier
            The updated estimator.
        """
        return self._fit(
            X, y, incremental=True, sample_weight=sample_weight, classes=classes
        )

    @fill_doc
    def predict_proba(self, X):
        """Class probabilities of each sequence.

        Parameters
        ----------
        {X_new}

        Returns
        -------
        proba : ndarray of shape (n_sequences, n_classes)
            Probability of each class (in the order of ``classes_``) after the
            last real step of each row. With ``stateful=True`` the rows continue
            the stream from ``context_``, which is advanced to the end of ``X``.
        """
        return self._outputs(X)

    @fill_doc
    def predict_log_proba(self, X):
        """Log of the class probabilities of each sequence.

        Parameters
        ----------
        {X}
            Sequences, one per row.

        Returns
        -------
        log_proba : ndarray of shape (n_sequences, n_classes)
            Log of :meth:`predict_proba`, computed from the logits with a stable
            log-softmax, so that it stays finite where a probability underflows
            to zero (for an ensemble, the log of the members' mean
            probability, from their log-softmaxes). With ``stateful=True`` the
            context advances to the end of ``X``.
        """
        logits = self._outputs(X, head="identity")
        n_members = self._n_members()
        if n_members == 1:
            return log_softmax(logits)
        members = log_softmax(logits.reshape(len(logits), n_members, -1))
        log_proba = logsumexp(members, axis=1) - np.log(n_members)
        return log_proba.astype(logits.dtype, copy=False)

    @fill_doc
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

    # ----------------------------------------------------------------------------
    # Hooks of BaseElman
    # ----------------------------------------------------------------------------

    def _first_partial_fit(self, classes=None):
        return _check_partial_fit_first_call(self, classes)

    def _n_outputs(self):
        return len(self.classes_)

    def _encode_targets(self, y, continuing, incremental):
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
        one_hot = np.zeros((len(index), len(self.classes_)))
        one_hot[np.arange(len(index)), index] = 1
        return one_hot, index

    def _validation_score(self, outputs, targets, weights):
        correct = np.argmax(outputs, axis=1) == np.argmax(targets, axis=1)
        return float(np.average(correct, weights=weights))

    def _row_weights(self, y, X3, sample_weight, incremental):
        weights = super()._row_weights(y, X3, sample_weight, incremental)
        if self.class_weight is None:
            return weights
        if self.class_weight == "balanced" and incremental:
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: the "
                "class frequencies of the whole data are unknown there. Pass "
                "class_weight as a dict of weights per class instead."
            )
        if self.class_weight == "balanced":
            per_row = compute_sample_weight("balanced", y)
        else:
            unknown = [c for c in self.class_weight if c not in set(self.classes_)]
            if unknown:
                raise ValueError(
                    f"class_weight has weights for {unknown!r}, which are not "
                    f"classes of y; classes_ is {self.classes_!r}."
                )
            per_class = np.array(
                [float(self.class_weight.get(c, 1.0)) for c in self.classes_]
            )
            if (per_class < 0).any() or not np.isfinite(per_class).all():
                raise ValueError(
                    f"class_weight must be finite and non-negative, got "
                    f"{self.class_weight!r}."
                )
            per_row = per_class[np.searchsorted(self.classes_, y)]
        return per_row if weights is None else per_row * weights
