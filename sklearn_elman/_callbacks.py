"""scikit-learn's callbacks (``sklearn.callback``, new in 1.9) for the estimators.

A ``fit`` or ``partial_fit`` call is one task of scikit-learn's task tree, and
the training loops report their sub-tasks (epochs, L-BFGS iterations) through a
:class:`FitTasks` object. Without callbacks, and on a scikit-learn without
``sklearn.callback``, the loops get :data:`NO_TASKS`, whose methods do nothing,
so that training runs exactly as it did before callbacks existed.

On scikit-learn < 1.9, ``set_callbacks`` is absent (``hasattr`` is False, as on
every scikit-learn estimator of those versions), and calling it raises an
``AttributeError`` whose cause names the version needed.
"""

from __future__ import annotations

import sklearn
from sklearn.utils.metaestimators import available_if

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9
    CallbackSupportMixin = None

#: Whether the installed scikit-learn has ``sklearn.callback``.
CALLBACKS_SUPPORTED = CallbackSupportMixin is not None

_SET_CALLBACKS_DOC = """Set callbacks for the estimator (scikit-learn >= 1.9).

        Callbacks from :mod:`sklearn.callback`, such as
        :class:`~sklearn.callback.ProgressBar` and
        :class:`~sklearn.callback.ScoringMonitor`, or any object following its
        ``FitCallback`` protocol. Each call of ``fit`` or ``partial_fit`` is a
        task. An Elman estimator trained by 'adam' or 'sgd' reports each epoch
        as a sub-task named 'epoch' (``partial_fit`` has one), and by 'lbfgs'
        each iteration as a sub-task named 'lbfgs-iter'; 'echo_state' fits in
        one task, as does ``SequenceScaler``. At the end of each sub-task the
        callbacks can be given a copy of the estimator holding the weights of
        that moment, which predicts and scores like a fitted one (what
        ``ScoringMonitor`` scores), and the training data of the call. A
        callback whose ``on_fit_task_end`` returns True stops the training
        after that epoch or iteration. Inside a ``Pipeline`` or a
        ``GridSearchCV``, set auto-propagated callbacks such as ``ProgressBar``
        on the outermost estimator.

        Parameters
        ----------
        *callbacks : callback instances
            The callbacks to set; none removes those set before.

        Returns
        -------
        self : object
            The estimator, for chaining.
        """


def _needs_sklearn_callbacks(estimator):
    raise AttributeError(
        f"set_callbacks needs scikit-learn >= 1.9, which added sklearn.callback; "
        f"scikit-learn {sklearn.__version__} is installed. Upgrade scikit-learn "
        "to use callbacks; everything else works without them."
    )


if CALLBACKS_SUPPORTED:

    class CallbackSupport(CallbackSupportMixin):
        """scikit-learn's callback support, and the tasks of a fit.

        Warning: this class should not be used directly.
        """

        # Overridden for its docstring only: which tasks these estimators report.
        def set_callbacks(self, *callbacks):
            return super().set_callbacks(*callbacks)

        set_callbacks.__doc__ = _SET_CALLBACKS_DOC

        def _start_fit_tasks(self, X, y, metadata, *, task_name, max_subtasks):
            """Open the task of a fit call: the FitTasks of its loops.

            Call it once at the start of a method decorated with ``_fit_context``
            (whose exit tears the callbacks down), before the method takes the
            snapshot it restores on failure, so that the snapshot keeps the
            context that the teardown needs.
            """
            context = self._init_callback_context(
                task_name=task_name, max_subtasks=max_subtasks
            )
            # No callback, nothing to report: the loops run as they always did.
            if not getattr(self, "_skl_callbacks", None):
                return NO_TASKS
            context.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
            return FitTasks(self, context, X, y, metadata)

else:

    class CallbackSupport:
        """No callbacks: the scikit-learn installed has no ``sklearn.callback``.

        Warning: this class should not be used directly.
        """

        def set_callbacks(self, *callbacks):
            raise AssertionError("unreachable: available_if refuses it")

        set_callbacks.__doc__ = _SET_CALLBACKS_DOC
        set_callbacks = available_if(_needs_sklearn_callbacks)(set_callbacks)

        def _start_fit_tasks(self, X, y, metadata, *, task_name, max_subtasks):
            return NO_TASKS


class FitTasks:
    """The task of one fit call, and the sub-tasks its training loop reports.

    Parameters
    ----------
    estimator : estimator instance
        The estimator being fitted.
    context : sklearn.callback.CallbackContext
        The context of the call's task.
    X, y, metadata : object
        The training data and metadata (``{'sample_weight': ...}`` or None) the
        callbacks receive, as the call received them.
    """

    def __init__(self, estimator, context, X, y, metadata):
        self._estimator = estimator
        self._context = context
        self._data = {"X": X, "y": y, "metadata": metadata}
        self._running = None

    def begin(self, task_name, fitted=None):
        """Begin a sub-task, unless one is running.

        L-BFGS evaluates the loss several times per iteration: the first
        evaluation of an iteration begins its sub-task.

        Parameters
        ----------
        task_name : str
            Name of the sub-task.
        fitted : callable, default=None
            ``fitted()`` gives the attributes of an estimator fitted as training
            is now; called only if a callback asks for that estimator.
        """
        if self._running is None:
            self._running = self._context.subcontext(task_name=task_name)
            self._running.call_on_fit_task_begin(
                estimator=self._estimator,
                reconstruction_attributes=fitted,
                **self._data,
            )

    def end(self, fitted=None):
        """End the running sub-task.

        Parameters
        ----------
        fitted : callable, default=None
            As for :meth:`begin`, at the end of the sub-task.

        Returns
        -------
        stop : bool
            Whether a callback asks training to stop.
        """
        running, self._running = self._running, None
        return running.call_on_fit_task_end(
            estimator=self._estimator, reconstruction_attributes=fitted, **self._data
        )

    def finish(self):
        """End the call's task, once the estimator is fitted.

        A sub-task still running (an epoch cut short by divergence or Ctrl-C, a
        last L-BFGS line search that found no step) ends as an empty task,
        without data, as scikit-learn's own L-BFGS bridge ends its last one.
        """
        if self._running is not None:
            running, self._running = self._running, None
            running.call_on_fit_task_end(estimator=self._estimator)
        self._context.call_on_fit_task_end(
            estimator=self._estimator, reconstruction_attributes={}, **self._data
        )


class _NoTasks:
    """The tasks of a fit that no callback watches: every method does nothing."""

    def begin(self, task_name, fitted=None):
        pass

    def end(self, fitted=None):
        return False

    def finish(self):
        pass


NO_TASKS = _NoTasks()
