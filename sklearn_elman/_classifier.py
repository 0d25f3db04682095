"""ElmanClassifier: class labels, the softmax head and the predict methods."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
)

from sklearn_elman._base import BaseElman, fill_doc, stochastic_solver


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

    Attributes
    ----------
    {attributes}

    classes_ : ndarray of shape (n_classes,)
        Class labels.

    output_weights_ : ndarray of shape (hidden_units, n_classes)
        Weights from the hidden units to the output units (one per class, binary
        included).

    output_bias_ : ndarray of shape (n_classes,)
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

    @available_if(stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    @fill_doc
    def partial_fit(self, X, y, classes=None):
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

        Returns
        -------
        self : ElmanClassifier
            The updated estimator.
        """
        return self._fit(X, y, incremental=True, classes=classes)

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
            Log of :meth:`predict_proba` (which it calls, so it advances the
            context with ``stateful=True``).
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

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

    def _validation_score(self, outputs, targets):
        return float(np.mean(np.argmax(outputs, axis=1) == np.argmax(targets, axis=1)))
