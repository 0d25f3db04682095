"""Docstring templates the estimators share, and ``fill_doc`` to fill them in.

The text of the parameters, attributes and arguments every Elman estimator
shares is written once here and filled into each leaf's docstring at its
placeholders (``{parameters}``, ``{X}``, ...), as imbalanced-learn keeps its
templates apart from its estimators. ``SequenceScaler`` uses ``{X}`` too, without
importing the network's base.
"""

from __future__ import annotations

import inspect
import re
import textwrap

# The type of X, shared by every method's docstring and filled in by fill_doc.
_X_TYPE = (
    "X : array-like of shape (n_sequences, n_steps * n_features_per_step) or "
    "(n_sequences, n_steps, n_features)"
)

# The parameters every Elman estimator shares, filled into each leaf's docstring
# at "{parameters}" by fill_doc.
_PARAMETERS_DOC = """\
    hidden_units : int, default=64
        Number of hidden units (and of context units). ``MLPClassifier`` has 100
        in its one hidden layer; 64 recurrent units learnt the development sets
        better than 32 (see the README's accuracy benchmark).

    activation : {'tanh', 'logistic', 'relu', 'identity'}, default='tanh'
        Activation of the hidden units. 'logistic' gives the sigmoid units of
        Elman's original network.

    readout : {'last', 'mean', 'max', 'last_mean_max'}, default={default}
        What the output layer reads: the hidden state after the last real step
        (Elman's network), or the mean or the element-wise max of the hidden
        states over the real steps (padding excluded). 'last' suits targets
        decided by order or by the time something happens, and the next value
        of a series (``ElmanRegressor``'s default, which :meth:`forecast` rolls
        forward); 'mean' and 'max' suit classes that live in statistics over the
        whole sequence (a kind of motion, a motif anywhere). 'max' is
        ``ElmanClassifier``'s default: on real series it classified better than
        'last' and 'mean'. 'last_mean_max' reads all three side by side (an
        output layer three times as wide); it suits ``solver='echo_state'``,
        whose untrained states gain from several statistics. With
        ``stateful=True`` they pool over the steps of each row. With
        ``bptt_steps``, every state that 'mean' or 'max' reads counts as an
        output at its own step: its gradient flows back at most
        ``bptt_steps`` steps from there.

    solver : {'adam', 'sgd', 'lbfgs', 'echo_state'}, default='adam'
        Optimizer. 'adam' and 'sgd' train on mini-batches of whole sequences and
        support :meth:`partial_fit`; 'lbfgs' is a full-batch quasi-Newton method
        (:func:`scipy.optimize.minimize`) that suits small data sets.
        'echo_state' trains no recurrent weight: the input and context weights
        keep their random start (the context matrix a random orthogonal matrix
        times ``spectral_radius``) and only the output layer is fitted, on the
        ``readout`` of every sequence's hidden states, in one pass over the
        data: in closed form for ``ElmanRegressor`` (ridge regression, penalty
        ``alpha``), and as an L2-regularised multinomial logistic regression
        for ``ElmanClassifier`` (convex; L-BFGS, at most ``max_iter``
        iterations). The untrained network is an echo-state network (a
        reservoir) with Elman's recurrence; it fits in seconds, and a larger
        ``hidden_units`` and ``alpha`` than for trained networks usually suit
        it. Only with ``stateful=False``.

    alpha : float, default=1e-4
        Strength of the L2 penalty on the three weight matrices (not the biases),
        scaled as in scikit-learn's MLP: the batch loss is the mean loss of the
        head plus ``0.5 * alpha * ||W||^2 / n_batch``.

    batch_size : int or 'auto', default='auto'
        Sequences (rows) per mini-batch of the stochastic solvers;
        ``'auto'`` cuts an epoch into 8 mini-batches of (nearly) equal size,
        fewer when they would hold fewer than 16 rows (under 32 rows, one batch)
        and more when they would hold more than 200: on small data (a few
        hundred sequences) a recurrent network learns better from several small
        updates an epoch, and on large data batches of 200 stay fast.
        ``MLPClassifier``'s 'auto' is ``min(200, n_samples)``. With
        ``stateful=True`` a mini-batch is ``batch_size`` consecutive rows of the
        stream, and gradients do not flow back across mini-batches (the
        context's value does); there ``'auto'`` cuts the stream into the fewest
        batches of at most 200 rows, of equal size (240 rows: two of 120), so
        that no short batch is left at the end. Unused by 'lbfgs'.

    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Step-size schedule of 'sgd', as in
        :class:`~sklearn.neural_network.MLPClassifier`: 'constant' keeps
        ``learning_rate_init``; 'invscaling' uses
        ``learning_rate_init / (t + 1) ** power_t`` with ``t`` the number of samples
        seen; 'adaptive' divides the step by 5 whenever the loss stops improving
        for ``n_iter_no_change`` epochs.

    learning_rate_init : float, default=0.003
        Initial step size of 'sgd' and 'adam'; three times ``MLPClassifier``'s
        0.001, which with clipping at ``max_grad_norm=1`` trained real series
        better in the same number of epochs. A step of 0.01 made the training
        loss jump back up in most fits.

    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule of 'sgd'.

    max_iter : int, default=500
        Maximum number of epochs of 'sgd' and 'adam' (each sequence is seen once
        per epoch), or of iterations of 'lbfgs'. ``MLPClassifier`` stops at 200;
        recurrent training is slower to settle, and ``n_iter_no_change`` ends
        most fits well before 500.

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
        (stratified by class for a classifier; the tail of the stream when
        ``stateful=True``), stop when the validation score (accuracy, or R^2 for
        a regressor) stops improving, and restore the weights of
        the best epoch. Of epochs with the same best score, the one with the
        lowest validation loss is kept (``MLPClassifier`` keeps the first). It
        watches the score, as ``MLPClassifier`` does, not the validation loss
        (the default of Keras' and skorch's early stopping): on four
        development sets, watching the loss scored .013 higher in mean CV
        accuracy, within the noise of such comparisons. Off by default: on the
        same sets, early stopping scored below fits without it.

    validation_fraction : float, default=0.1
        Fraction of the training data held out with ``early_stopping``.

    beta_1 : float, default=0.9
        Decay rate of the first-moment estimate of 'adam', in [0, 1).

    beta_2 : float, default=0.999
        Decay rate of the second-moment estimate of 'adam', in [0, 1).

    epsilon : float, default=1e-8
        Numerical-stability constant of 'adam'.

    n_iter_no_change : int, default=50
        Number of epochs without improvement by ``tol`` after which 'sgd' and
        'adam' stop. ``MLPClassifier`` waits 10; the loss of a recurrent network
        often rises for a few epochs before falling further, and fit keeps the
        best epoch whatever comes after it.

    max_fun : int, default=15000
        Maximum number of loss evaluations of 'lbfgs'.

    n_features_per_step : int, default=1
        Number of consecutive columns of a 2D row that make one time step. The
        default reads each row as a univariate series. Ignored for 3D input, whose
        last axis gives the features per step.

    patch_size : int or 'auto', default={default}
        Number of consecutive steps read as one step (a patch): the network
        then runs ``patch_size`` times fewer steps, each of ``patch_size *
        n_features`` inputs. Long series (hundreds of steps) train faster and
        often better this way. ``'auto'`` (``ElmanClassifier``'s default) reads
        patches of 16 steps when the longest training sequence has at least 64
        steps, and single steps for shorter sequences and with
        ``stateful=True``. Patches of 16 learnt the long development series
        best; a short series read as one or two patches loses what recurrence
        gives it (a pattern found wherever it sits), so short ones are read
        step by step. ``ElmanRegressor`` reads single steps by default, since
        :meth:`forecast` feeds each prediction back as one step. The value fit
        chose is ``patch_size_``; a new ``patch_size`` applies from the next
        fit. A last patch that a sequence only partly fills is completed by
        repeating its last real step, so padding still changes nothing. With
        patches, ``hidden_states`` has one state per patch and
        ``input_weights_`` one row per input of a patch. Only 1 or 'auto' with
        ``stateful=True``.

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
        ``i - 1`` left, ``y[i]`` is the target at the end of row ``i``, the context
        carries over from one call of ``fit``, ``partial_fit``, ``predict`` or
        ``predict_proba`` to the next (``fit`` without ``warm_start`` starts a new
        stream), and :meth:`reset_context` starts a new stream. Like any object
        with state, a stateful estimator must not be shared between threads
        without a lock: their rows would interleave in one stream. For the same
        reason it does not go into dask-ml's wrappers for prediction:
        ``ParallelPostFit`` (and ``Incremental``'s predict methods) read the
        blocks of a Dask array in parallel, each from the same context, after
        running a row of zeros through the estimator to learn the output's
        type, which moves its ``context_``; predict a stream in memory, in
        order. ``Incremental`` trains a stream in order only with
        ``shuffle_blocks=False`` (its default shuffles the blocks).

    warm_up_steps : int, default=0
        Only with ``stateful=True``: the number of real steps at the start of the
        stream passed to :meth:`fit` whose targets are not learnt, because the
        context there is still close to its zero start and would pull the loss.
        The rows that end within these steps are read (they build the context)
        at the start of the first mini-batch but carry no loss. Ignored by
        :meth:`partial_fit`, which continues a stream; with ``stateful=False``
        it must be 0.

    blas_threads : int or None, default=1
        Maximum number of BLAS threads while the estimator computes (in ``fit``,
        ``partial_fit`` and the predict methods); the previous setting is restored
        afterwards. One thread is the default because the matrix products of one
        time step are small: a second BLAS thread does not speed them up, and on a
        busy machine extra threads slow them down many times over. It also keeps
        ``GridSearchCV(n_jobs=...)`` workers from oversubscribing the cores. None
        leaves BLAS as it is (for example as set with
        ``threadpoolctl.threadpool_limits``).

    spectral_radius : float, default=0.9
        Only with ``solver='echo_state'``: the spectral radius (largest
        eigenvalue modulus) of the fixed context matrix. Below 1 the memory of
        the past fades; near 1 it lasts longer.

    n_ensemble : int, default={default}
        Number of networks trained side by side from different random starts
        (the members are drawn one after another from ``random_state``, the
        first being the network that ``n_ensemble=1`` trains) and averaged:
        predictions are the mean of the members' outputs (probabilities for the
        classifier). The members are trained as one network of
        ``n_ensemble * hidden_units`` units whose context matrix is
        block-diagonal, so they share every step's products and Python
        overhead: each member follows its own loss's gradient, clipped by
        ``max_grad_norm`` on its own, on the same mini-batches; the epochs,
        early stopping and the kept epoch are the ensemble's (the loss is the
        members' mean). The weight attributes hold every member side by side
        (see ``input_weights_``), and :meth:`hidden_states` returns every
        member's states. Not with ``solver='echo_state'``.

    reverse_pass : bool, default={default}
        Only with ``solver='echo_state'``: read each sequence a second time, its
        real steps in reverse order, through the same fixed weights and from a
        zero context, and fit the output layer on both readouts side by side
        (``output_weights_`` has twice the rows). The last state of the reversed
        pass has read the sequence's first steps last, which a forward pass
        remembers least. Not with ``forecast``, which feeds predictions forward.

"""

# The fitted attributes every Elman estimator shares ("{attributes}").
_ATTRIBUTES_DOC = """\
    n_features_in_ : int
        Number of features seen during :meth:`fit`: the columns of 2D ``X``, or
        the last axis (features per step) of 3D ``X``.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the columns seen during :meth:`fit`, when ``X`` has string column
        names (a pandas DataFrame, for example).

    patch_size_ : int
        Steps per patch that fit chose (``patch_size``, or what 'auto' gave);
        prediction reads patches of this size.

    input_weights_ : ndarray of shape (n_features_per_step * patch_size_, n_units)
        Weights from the inputs of a step (of a patch) to the hidden units;
        ``n_units`` is ``n_ensemble * hidden_units``, member ``m`` holding the
        units ``m * hidden_units`` to ``(m + 1) * hidden_units``.

    context_weights_ : ndarray of shape (n_units, n_units)
        Weights from the context units to the hidden units (block-diagonal for
        an ensemble: no member reads another's context).

    hidden_bias_ : ndarray of shape (n_units,)
        Bias of the hidden units.

    loss_ : float
        Training loss of the weights the estimator holds: after :meth:`fit`, the
        training objective (mean loss plus the L2 term, over the rows it trained
        on) of the kept epoch's weights, computed for exactly those weights;
        after :meth:`partial_fit`, the mean of the epoch's mini-batch losses; for
        'lbfgs', the final loss.

    loss_curve_ : list of float
        Loss of each epoch ('sgd', 'adam'): the mean of its mini-batch losses,
        each computed before that mini-batch's update, as in ``MLPClassifier``;
        or of each iteration ('lbfgs').

    best_loss_ : float or None
        After a stochastic :meth:`fit`, the training loss of the kept weights
        (equal to ``loss_``); the final loss for 'lbfgs'; None with
        ``early_stopping``, which keeps the epoch of the best validation score.

    best_epoch_ : int
        The epoch whose weights a stochastic :meth:`fit` kept (0: the weights a
        warm start began with, when no epoch did better). With one mini-batch an
        epoch, the kept weights are those the epoch's loss was computed on (the
        weights before its update); with several, the weights at the epoch's
        end, the epoch being the one of lowest ``loss_curve_``. With
        ``early_stopping``, the epoch of the best validation score, a tie broken
        by the lower validation loss. After :meth:`partial_fit`, ``n_iter_``.

    validation_scores_ : list of float or None
        Validation score after each epoch with ``early_stopping``, else None.

    validation_loss_curve_ : list of float or None
        Mean loss of the validation rows after each epoch with
        ``early_stopping``, else None.

    best_validation_score_ : float or None
        Best validation score with ``early_stopping``, else None.

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
        learning, where a stream is read once)."""


# The recurrence, opening each leaf's Notes ("{recurrence}"; the leaf adds its
# output line), and the opening of partial_fit's docstring ("{partial_fit}").
_RECURRENCE_DOC = """\
    The network computes, for each sequence, starting from ``h_0 = 0`` (or the
    stream's context)::

        h_t = act(x_t @ input_weights_ + h_{t-1} @ context_weights_ + hidden_bias_)"""
_PARTIAL_FIT_DOC = """\
        Only available for the stochastic solvers 'sgd' and 'adam'. The optimizer
        state is kept between calls, and with ``stateful=True`` so is the context.
        A call that raises leaves the estimator exactly as it was."""


_SAMPLE_WEIGHT_DOC = """\
        sample_weight : array-like of shape (n_sequences,), default=None
            Weight of each row's loss; all ones if None. The loss is the
            weighted mean over the rows (normalised by the sum of the weights),
            so integer weights act as repeated rows. Rows of weight zero are
            left out of training (in stream mode they are read, to carry the
            context on, but carry no loss). With ``early_stopping`` the weights
            follow their rows into the validation split, whose score they
            weigh. At least one weight must be positive."""


def fill_doc(obj):
    """Fill the shared parts of a docstring: ``{X}``, ``{parameters}``, ...

    In a class, a parameter documented as ``name : type, default={default}``
    gets the default of the class's own signature.

    Each placeholder stands alone on its line; its text is indented as the
    placeholder is (Python 3.13 strips the common indentation of docstrings, so
    the indentation cannot be part of what is looked for).

    Parameters
    ----------
    obj : class or function
        Object whose ``__doc__`` holds placeholders.

    Returns
    -------
    obj : class or function
        The same object, its docstring filled in.
    """

    def fill(match):
        return textwrap.indent(_DOC_TEMPLATES[match["name"]], match["indent"])

    def default(match):
        return match["head"] + repr(defaults[match["name"]])

    # Under ``python -OO`` docstrings are None: there is nothing to fill.
    if obj.__doc__ is not None:
        obj.__doc__ = _PLACEHOLDER.sub(fill, obj.__doc__)
        if isinstance(obj, type):
            # A parameter whose default differs between the leaves.
            defaults = {
                name: parameter.default
                for name, parameter in inspect.signature(obj).parameters.items()
            }
            obj.__doc__ = _LEAF_DEFAULT.sub(default, obj.__doc__)
    return obj


_DOC_TEMPLATES = {
    "X_new": _X_TYPE
    + "\n    Sequences, one per row; with 3D input the number of steps\n"
    + "    may differ from training.",
    "X": _X_TYPE,
    "parameters": textwrap.dedent(_PARAMETERS_DOC).rstrip(),
    "attributes": textwrap.dedent(_ATTRIBUTES_DOC),
    "recurrence": textwrap.dedent(_RECURRENCE_DOC),
    "partial_fit": textwrap.dedent(_PARTIAL_FIT_DOC),
    "sample_weight": textwrap.dedent(_SAMPLE_WEIGHT_DOC),
}
_PLACEHOLDER = re.compile(
    r"^(?P<indent>[ \t]*)\{(?P<name>" + "|".join(_DOC_TEMPLATES) + r")\}$",
    flags=re.MULTILINE,
)
_LEAF_DEFAULT = re.compile(
    r"^(?P<head>[ \t]*(?P<name>\w+) : .*, default=)\{default\}$", flags=re.MULTILINE
)
