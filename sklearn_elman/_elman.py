"""The mathematics of an Elman network, as pure functions over explicit arrays.

An Elman network copies its hidden layer into "context units" that feed the hidden
layer at the next time step::

    h_0 = context                                   (zeros unless given)
    h_t = act(x_t @ input_weights + h_{t-1} @ context_weights + hidden_bias)
    z   = r @ output_weights + output_bias           (r: the readout of the states)
    out = head(z)                                   (softmax or identity)

Nothing here validates input, keeps state or draws from a global random generator:
arrays go in, arrays come out, so the gradient tests can exercise the exact code the
estimator runs. Every function works in the floating dtype of its inputs.

Conventions
-----------
``X`` has shape (n_sequences, n_steps, n_features). ``mask`` is a boolean array of
shape (n_sequences, n_steps) that is True on the real steps of each sequence; the
real steps form a prefix (padding only at the end). Padded steps keep the hidden
state unchanged and take no part in the loss or in any gradient.

The readout (:func:`readout`) is what the output layer reads of the states: an
entry of :data:`READOUTS` (the last state, the mean, the max), whose pooling and
backward pass training, prediction and forecasting all call. Two output modes:

- per sequence (``per_step=False``): one output per sequence, read from the states
  of its real steps (stateless estimators);
- per step (``per_step=True``): one output per real step; ``sample_weight`` of shape
  (n_sequences, n_steps) selects and weighs the steps that carry a target (the
  stateful stream, in which only the last step of each row has a label).

The output head (:data:`HEADS`) turns logits into outputs and gives the per-output
loss: 'softmax' with cross-entropy (classification), 'identity' with half the
squared error summed over the targets (regression, as ``MLPRegressor`` computes its
gradient). The data term of the loss is the weighted mean of the per-output losses,
``sum(w * loss) / sum(w)``, and the L2 penalty ``0.5 * alpha * ||W||^2`` on the three
weight matrices (not the biases) is divided by the same ``sum(w)``, which is how
:class:`~sklearn.neural_network.MLPClassifier` scales it.

An ensemble of networks (:func:`join_members`) is one wider network of the same
form, its context matrix block-diagonal and its output layer in one block per
member; :func:`average_of_members` gives its head, which averages the members'
outputs and losses.

Internally the hidden states live time-major, in a buffer ``H`` of shape
(n_steps + 1, n_sequences, n_hidden) whose slice ``H[0]`` is the initial context,
so that the state entering step ``t`` is ``H[t]`` and the one leaving it is
``H[t + 1]``; every per-step slice is then contiguous for the matrix products.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.special import expit


class ElmanParams(NamedTuple):
    """The five parameter arrays of an Elman network.

    Attributes
    ----------
    input_weights : ndarray of shape (n_features, n_hidden)
        Weights from the inputs of one step to the hidden units.
    context_weights : ndarray of shape (n_hidden, n_hidden)
        Weights from the context units (the previous hidden state) to the hidden
        units.
    hidden_bias : ndarray of shape (n_hidden,)
        Bias of the hidden units.
    output_weights : ndarray of shape (n_readout, n_outputs)
        Weights from the readout of the hidden states to the output units
        (``n_readout`` is ``n_hidden`` for every readout of :data:`READOUTS`).
    output_bias : ndarray of shape (n_outputs,)
        Bias of the output units.
    """

    input_weights: np.ndarray
    context_weights: np.ndarray
    hidden_bias: np.ndarray
    output_weights: np.ndarray
    output_bias: np.ndarray


# The arrays the L2 penalty applies to (the biases are not penalised).
WEIGHT_NAMES = ("input_weights", "context_weights", "output_weights")


class Trace(NamedTuple):
    """What the forward pass keeps for the backward pass.

    Attributes
    ----------
    steps : ndarray of shape (n_steps + 1, n_sequences, n_hidden + n_features + 1)
        Time-major buffer whose slice ``steps[t]`` holds, for every sequence, the
        vector ``[h_{t-1}, x_t, 1]`` that step ``t`` multiplies by the stacked
        weights ``[context_weights; input_weights; hidden_bias]``. ``steps[0]``
        starts with the initial context, and ``steps[n_steps]`` with the final
        state. Inputs at padded steps are zero; on padded steps the state is
        carried over unchanged.
    n_hidden : int
        Number of hidden units.
    lengths : ndarray of shape (n_sequences,)
        Number of real steps of each sequence.
    """

    steps: np.ndarray
    n_hidden: int
    lengths: np.ndarray

    @property
    def hidden(self) -> np.ndarray:
        """Hidden states (n_steps + 1, n_sequences, n_hidden); [0] is the context."""
        return self.steps[:, :, : self.n_hidden]

    def final_context(self) -> np.ndarray:
        """State after each sequence's last real step, (n_sequences, n_hidden)."""
        # Padded steps carry the state forward, so the last slice already holds it.
        return self.steps[-1, :, : self.n_hidden].copy()

    def last_hidden(self) -> np.ndarray:
        """The state the per-sequence output reads: a view of :meth:`final_context`."""
        return self.steps[-1, :, : self.n_hidden]


# --------------------------------------------------------------------------------
# Parameters: shapes, initialisation, packing
# --------------------------------------------------------------------------------


def param_shapes(
    n_features: int,
    n_hidden: int,
    n_outputs: int,
    kind: str = "last",
    n_passes: int = 1,
) -> ElmanParams:
    """Shapes of the five parameter arrays.

    Parameters
    ----------
    n_features : int
        Number of input features per time step.
    n_hidden : int
        Number of hidden (and context) units.
    n_outputs : int
        Number of output units.
    kind : str, default='last'
        Readout (a key of :data:`READOUTS`), whose width is the number of inputs
        of the output layer.
    n_passes : {1, 2}, default=1
        Passes over each sequence whose readouts the output layer reads side by
        side: 2 adds the reversed pass of :func:`forward`.

    Returns
    -------
    shapes : ElmanParams of tuple
        The shape of each parameter array.
    """
    return ElmanParams(
        input_weights=(n_features, n_hidden),
        context_weights=(n_hidden, n_hidden),
        hidden_bias=(n_hidden,),
        output_weights=(n_passes * READOUTS[kind].width(n_hidden), n_outputs),
        output_bias=(n_outputs,),
    )


def shapes_of(params: ElmanParams) -> ElmanParams:
    """Return the shapes of the arrays of ``params``.

    Parameters
    ----------
    params : ElmanParams
        Parameter arrays.

    Returns
    -------
    shapes : ElmanParams of tuple
        Their shapes, in the form :func:`unpack` takes.
    """
    return ElmanParams(*(p.shape for p in params))


def n_params(shapes: ElmanParams) -> int:
    """Count the scalar parameters of the given shapes.

    Parameters
    ----------
    shapes : ElmanParams of tuple
        Shapes of the five arrays.

    Returns
    -------
    count : int
        Length of the flat vector :func:`pack` makes.
    """
    return sum(math.prod(s) for s in shapes)


def pack(params: ElmanParams, out: np.ndarray | None = None) -> np.ndarray:
    """Concatenate the parameter arrays into one flat vector.

    Parameters
    ----------
    params : ElmanParams
        The parameter arrays.
    out : ndarray of shape (n_params,), default=None
        Where to write the vector. A new array in the dtype of ``params`` if None.

    Returns
    -------
    theta : ndarray of shape (n_params,)
        The arrays raveled in C order and concatenated in the order of the fields
        of :class:`ElmanParams`.
    """
    if out is None:
        dtype = np.result_type(*params)
        out = np.empty(n_params(shapes_of(params)), dtype=dtype)
    start = 0
    for p in params:
        out[start : start + p.size] = p.ravel()
        start += p.size
    return out


def unpack(theta: np.ndarray, shapes: ElmanParams) -> ElmanParams:
    """Split a flat vector into parameter arrays.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        A vector laid out as :func:`pack` writes it.
    shapes : ElmanParams of tuple
        Shapes of the five arrays (see :func:`param_shapes`).

    Returns
    -------
    params : ElmanParams
        Views into ``theta``: writing to them writes to ``theta``.
    """
    expected = n_params(shapes)
    if theta.shape != (expected,):
        raise ValueError(
            f"theta has {theta.size} values in shape {theta.shape}, but the shapes "
            f"need a flat vector of {expected}."
        )
    arrays = []
    start = 0
    for shape in shapes:
        size = math.prod(shape)
        arrays.append(theta[start : start + size].reshape(shape))
        start += size
    return ElmanParams(*arrays)


def init_params(
    n_features: int,
    n_hidden: int,
    n_outputs: int,
    rng: np.random.Generator,
    dtype=np.float64,
    activation: str = "tanh",
    kind: str = "last",
    spectral_radius: float | None = None,
    n_passes: int = 1,
) -> ElmanParams:
    """Draw initial parameters.

    Input and output weights are Glorot-uniform, the context matrix is a random
    orthogonal matrix (its powers neither explode nor vanish, which is what a
    recurrence needs at the start of training), and the biases are zero. The
    weights into the hidden layer are multiplied by ``INIT_GAINS[activation]``.
    With ``spectral_radius``, the context matrix is instead that orthogonal
    matrix times ``spectral_radius``: every eigenvalue of an orthogonal matrix
    has modulus 1, so this is exactly its spectral radius (an echo-state
    network's fixed recurrence).

    Parameters
    ----------
    n_features, n_hidden, n_outputs : int
        Layer sizes.
    rng : numpy.random.Generator or numpy.random.RandomState
        Source of randomness; the same generator state gives the same parameters.
    dtype : dtype, default=np.float64
        Floating dtype of the arrays.
    activation : str, default='tanh'
        Hidden activation, which sets the gain of the hidden layer's weights.
    kind : str, default='last'
        Readout (a key of :data:`READOUTS`), which sets the number of inputs of
        the output layer.
    spectral_radius : float or None, default=None
        Spectral radius of the context matrix; None uses the activation's gain.
    n_passes : {1, 2}, default=1
        Passes whose readouts the output layer reads (see :func:`param_shapes`).

    Returns
    -------
    params : ElmanParams
        Views into one flat vector, in ``dtype``.
    """

    def glorot(fan_in, fan_out):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, size=(fan_in, fan_out))

    gain = INIT_GAINS[activation]
    input_weights = gain * glorot(n_features, n_hidden)
    gaussian = rng.standard_normal((n_hidden, n_hidden))
    q, r = np.linalg.qr(gaussian)
    # Fixing the signs by diag(r) makes q uniformly (Haar) distributed.
    radius = gain if spectral_radius is None else spectral_radius
    context_weights = radius * q * np.where(np.diag(r) < 0, -1.0, 1.0)
    shapes = param_shapes(n_features, n_hidden, n_outputs, kind, n_passes)
    output_weights = glorot(*shapes.output_weights)
    theta = np.zeros(n_params(shapes), dtype=dtype)
    params = unpack(theta, shapes)
    params.input_weights[...] = input_weights
    params.context_weights[...] = context_weights
    params.output_weights[...] = output_weights
    return params


# --------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------


def _tanh(Z):
    return np.tanh(Z, out=Z)


def _logistic(Z):
    # scipy's expit is stable for large |Z| (no overflow in exp).
    return expit(Z, out=Z)


def _relu(Z):
    return np.maximum(Z, 0, out=Z)


def _identity(Z):
    return Z


def _tanh_derivative(H):
    D = np.multiply(H, H)
    return np.subtract(1, D, out=D)


def _logistic_derivative(H):
    D = np.subtract(1, H)
    return np.multiply(D, H, out=D)


def _relu_derivative(H):
    return (H > 0).astype(H.dtype)


def _identity_derivative(H):
    return np.ones_like(H)


#: In-place activation functions: ``ACTIVATIONS[name](Z)`` overwrites and returns Z.
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": _tanh,
    "logistic": _logistic,
    "relu": _relu,
    "identity": _identity,
}

#: Derivatives expressed through the activation's output: ``DERIVATIVES[name](H)``
#: returns a new array ``act'(z)`` where ``H = act(z)``.
DERIVATIVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": _tanh_derivative,
    "logistic": _logistic_derivative,
    "relu": _relu_derivative,
    "identity": _identity_derivative,
}


#: Gain of the initial weights into the hidden layer, the inverse of the
#: activation's slope at zero: the logistic's slope of 1/4 would otherwise shrink
#: the signal and its gradient fourfold at every step (Glorot and Bengio, 2010).
INIT_GAINS: dict[str, float] = {
    "tanh": 1.0,
    "logistic": 4.0,
    "relu": 1.0,
    "identity": 1.0,
}


# --------------------------------------------------------------------------------
# Output heads: softmax with cross-entropy, identity with squared error
# --------------------------------------------------------------------------------


def _finite_logits(Z):
    # Logits beyond half the floating-point range (infinite ones included) are
    # clipped to it, so that the shift by the row maximum below stays finite:
    # no inf - inf, no -inf log-probability.
    half = np.finfo(Z.dtype).max / 2
    clipped = np.minimum(Z, half)  # two ufuncs: a third of np.clip's overhead
    return np.maximum(clipped, -half, out=clipped)


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Log of the softmax along the last axis, stable for any logits but NaN.

    Parameters
    ----------
    Z : ndarray of shape (..., n_classes)
        Logits.

    Returns
    -------
    log_p : ndarray of the same shape
        ``Z - logsumexp(Z)``; subtracting the row maximum first keeps ``exp``
        from overflowing. Logits beyond half the floating-point range (infinite
        ones included) count as its end, so the result is finite.
    """
    Z = _finite_logits(Z)
    shifted = Z - Z.max(axis=-1, keepdims=True)
    norm = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    shifted -= norm
    return shifted


def softmax(Z: np.ndarray) -> np.ndarray:
    """Softmax along the last axis, stable for any logits but NaN.

    Parameters
    ----------
    Z : ndarray of shape (..., n_classes)
        Logits.

    Returns
    -------
    p : ndarray of the same shape
        Probabilities that sum to one along the last axis. Logits beyond half the
        floating-point range (infinite ones included) count as its end.
    """
    Z = _finite_logits(Z)
    P = Z - Z.max(axis=-1, keepdims=True)
    np.exp(P, out=P)
    P /= P.sum(axis=-1, keepdims=True)
    return P


def softmax_cross_entropy(
    Z: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None
) -> tuple[float, np.ndarray, float]:
    """Summed weighted cross-entropy of softmax outputs and its gradient.

    Parameters
    ----------
    Z : ndarray of shape (n_outputs, n_classes)
        Logits.
    Y : ndarray of shape (n_outputs, n_classes)
        Target distributions, usually one-hot rows.
    sample_weight : ndarray of shape (n_outputs,), default=None
        Weight of each output; all ones if None.

    Returns
    -------
    loss_sum : float
        ``sum_i w_i * CE_i``, not yet divided by the total weight.
    dZ : ndarray of shape (n_outputs, n_classes)
        Gradient of ``loss_sum`` with respect to ``Z``: ``w_i * (p_i - y_i)``.
    weight_sum : float
        ``sum_i w_i`` (the number of outputs when unweighted).
    """
    log_p = log_softmax(Z)
    per_output = -np.einsum("ij,ij->i", Y, log_p)
    dZ = np.exp(log_p, out=log_p)
    dZ -= Y
    return _weighted(per_output, dZ, sample_weight)


def squared_error(
    Z: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None
) -> tuple[float, np.ndarray, float]:
    """Summed weighted half squared error of identity outputs and its gradient.

    Parameters
    ----------
    Z : ndarray of shape (n_outputs, n_targets)
        Outputs of the output layer (the predictions themselves).
    Y : ndarray of shape (n_outputs, n_targets)
        Target values.
    sample_weight : ndarray of shape (n_outputs,), default=None
        Weight of each output; all ones if None.

    Returns
    -------
    loss_sum : float
        ``sum_i w_i * 0.5 * ||z_i - y_i||^2``, not yet divided by the total weight.
        Divided by the number of outputs this is the loss whose gradient
        :class:`~sklearn.neural_network.MLPRegressor` follows (half the squared
        error summed over the targets, averaged over the rows).
    dZ : ndarray of shape (n_outputs, n_targets)
        Gradient of ``loss_sum`` with respect to ``Z``: ``w_i * (z_i - y_i)``.
    weight_sum : float
        ``sum_i w_i`` (the number of outputs when unweighted).
    """
    dZ = Z - Y
    per_output = 0.5 * np.einsum("ij,ij->i", dZ, dZ)
    return _weighted(per_output, dZ, sample_weight)


def _weighted(per_output, dZ, sample_weight):
    """Weigh per-output losses and their gradients: (loss_sum, dZ, weight_sum)."""
    if sample_weight is None:
        return float(per_output.sum()), dZ, float(dZ.shape[0])
    dZ *= sample_weight[:, None]
    return float(per_output @ sample_weight), dZ, float(sample_weight.sum())


class OutputHead(NamedTuple):
    """An output activation with the loss that goes with it.

    Attributes
    ----------
    output : callable
        ``output(Z)`` maps logits of shape (..., n_outputs) to outputs; it may
        overwrite ``Z``.
    loss : callable
        ``loss(Z, Y, sample_weight) -> (loss_sum, dZ, weight_sum)``: the summed
        weighted loss of outputs ``Z`` of shape (n_outputs, n_units) against
        targets ``Y``, its gradient with respect to ``Z`` and the total weight,
        as :func:`softmax_cross_entropy` returns them.
    n_members : int, default=1
        Networks side by side whose outputs the head reads (see
        :func:`average_of_members`); their context products are computed block
        by block.
    """

    output: Callable[[np.ndarray], np.ndarray]
    loss: Callable[..., tuple[float, np.ndarray, float]]
    n_members: int = 1


#: Output heads by name: 'softmax' (classification, cross-entropy) and
#: 'identity' (regression, half squared error).
HEADS: dict[str, OutputHead] = {
    "softmax": OutputHead(softmax, softmax_cross_entropy),
    "identity": OutputHead(_identity, squared_error),
}


# --------------------------------------------------------------------------------
# Ensembles: several networks side by side, trained and read as one
# --------------------------------------------------------------------------------
#
# M networks of H units each are one network of M * H units whose context matrix
# is block-diagonal and whose output layer has a block of outputs per member,
# each reading only its member's readout. The recurrence, the readouts and the
# backward pass then serve every member in the same products and the same Python
# steps; only the head knows that the outputs come in M blocks.


def join_members(members: list[ElmanParams], fill: float = 0.0) -> ElmanParams:
    """Lay the parameters of ``len(members)`` networks out as one wide network.

    Parameters
    ----------
    members : list of ElmanParams
        Networks of equal sizes and readout.
    fill : float, default=0.0
        Value of the entries that would connect two members (0 for weights).

    Returns
    -------
    params : ElmanParams
        Views into one flat vector: the hidden units of member ``m`` are the
        columns ``m*H:(m+1)*H`` of every hidden layer array, and its outputs the
        columns ``m*C:(m+1)*C`` of the output layer. A readout made of ``k``
        parts (``k`` is 3 for 'last_mean_max') is laid out part by part, each
        part holding every member's units in order.
    """
    n_members = len(members)
    n_features, n_hidden = members[0].input_weights.shape
    n_readout, n_outputs = members[0].output_weights.shape
    n_parts = n_readout // n_hidden
    shapes = ElmanParams(
        input_weights=(n_features, n_members * n_hidden),
        context_weights=(n_members * n_hidden,) * 2,
        hidden_bias=(n_members * n_hidden,),
        output_weights=(n_members * n_readout, n_members * n_outputs),
        output_bias=(n_members * n_outputs,),
    )
    dtype = np.result_type(*(p.input_weights for p in members))
    joined = unpack(np.full(n_params(shapes), fill, dtype=dtype), shapes)
    for m, member in enumerate(members):
        units = slice(m * n_hidden, (m + 1) * n_hidden)
        outputs = slice(m * n_outputs, (m + 1) * n_outputs)
        joined.input_weights[:, units] = member.input_weights
        joined.context_weights[units, units] = member.context_weights
        joined.hidden_bias[units] = member.hidden_bias
        joined.output_bias[outputs] = member.output_bias
        for part in range(n_parts):
            offset = part * n_members * n_hidden
            joined.output_weights[
                offset + units.start : offset + units.stop, outputs
            ] = member.output_weights[part * n_hidden : (part + 1) * n_hidden]
    return joined


def member_of_each_param(shapes: ElmanParams, n_members: int) -> np.ndarray:
    """Which member each entry of a joined network's flat vector belongs to.

    Parameters
    ----------
    shapes : ElmanParams of tuple
        Shapes of the joined network (see :func:`join_members`).
    n_members : int
        Number of members.

    Returns
    -------
    members : ndarray of int of shape (n_params,)
        The member of each parameter, in the layout of :func:`pack`; -1 for the
        entries between members, which stay zero.
    """
    n_features, width = shapes.input_weights
    n_hidden = width // n_members
    n_outputs = shapes.output_bias[0] // n_members
    member_shapes = param_shapes(n_features, n_hidden, n_outputs)
    n_readout = shapes.output_weights[0] // n_members
    member_shapes = member_shapes._replace(output_weights=(n_readout, n_outputs))
    ids = [
        ElmanParams(*(np.full(shape, m, dtype=float) for shape in member_shapes))
        for m in range(n_members)
    ]
    return pack(join_members(ids, fill=-1.0)).astype(np.intp)


def average_of_members(head: OutputHead, n_members: int) -> OutputHead:
    """The head of ``n_members`` networks side by side, read as one ensemble.

    Parameters
    ----------
    head : OutputHead
        The head of each member.
    n_members : int
        Number of members; the logits come in ``n_members`` equal blocks.

    Returns
    -------
    ensemble_head : OutputHead
        ``output`` is the mean of the members' outputs (probabilities for the
        softmax head); ``loss`` is the mean of the members' losses, each on its
        own block of logits against the same targets, so that each member's
        gradient is its own loss's divided by ``n_members``.
    """

    def output(Z):
        members = Z.reshape(Z.shape[:-1] + (n_members, Z.shape[-1] // n_members))
        return head.output(members).mean(axis=-2)

    def loss(Z, Y, sample_weight):
        n_rows = Z.shape[0]
        members = Z.reshape(n_rows * n_members, -1)
        if sample_weight is not None:
            sample_weight = np.repeat(sample_weight, n_members)
        loss_sum, dZ, weight_sum = head.loss(
            members, np.repeat(Y, n_members, axis=0), sample_weight
        )
        return loss_sum, dZ.reshape(n_rows, -1), weight_sum

    return OutputHead(output, loss, n_members)


def diagonal_blocks(matrix: np.ndarray, n_members: int) -> np.ndarray:
    """The ``n_members`` square blocks on the diagonal of ``matrix``, stacked.

    Parameters
    ----------
    matrix : ndarray of shape (n_members * n, n_members * n)
        A block-diagonal matrix.
    n_members : int
        Number of blocks.

    Returns
    -------
    blocks : ndarray of shape (n_members, n, n)
        A contiguous copy of the blocks.
    """
    n = matrix.shape[0] // n_members
    return np.stack(
        [matrix[m * n : (m + 1) * n, m * n : (m + 1) * n] for m in range(n_members)]
    )


def times_blocks(A: np.ndarray, blocks: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``A @ block_diag(*blocks)``, one small product per block.

    With ``M`` blocks of size ``n`` this costs ``M`` products of ``n`` columns
    instead of one of ``M * n``: ``M`` times fewer multiply-adds, in one numpy
    call.

    Parameters
    ----------
    A : ndarray of shape (n_rows, M * n)
        Left factor; its last axis must have unit stride.
    blocks : ndarray of shape (M, n, n)
        The diagonal blocks.
    out : ndarray of shape (n_rows, M * n)
        Where to write the product; C-contiguous.

    Returns
    -------
    out : ndarray of shape (n_rows, M * n)
        The product, in ``out``.
    """
    n_members, n, _ = blocks.shape
    by_member = (A.shape[0], n_members, n)
    np.matmul(
        A.reshape(by_member).transpose(1, 0, 2),
        blocks,
        out=out.reshape(by_member).transpose(1, 0, 2),
    )
    return out


def output_head(head: str | OutputHead) -> OutputHead:
    """The head named ``head`` in :data:`HEADS`, or ``head`` itself.

    Parameters
    ----------
    head : str or OutputHead
        A key of :data:`HEADS`, or a head (such as an ensemble's, from
        :func:`average_of_members`).

    Returns
    -------
    head : OutputHead
        The head.
    """
    return HEADS[head] if isinstance(head, str) else head


# --------------------------------------------------------------------------------
# Readouts: what the output layer reads of the hidden states
# --------------------------------------------------------------------------------


def _real_steps(n_steps, lengths):
    """Time-major (n_steps, n_sequences) mask of the real steps."""
    return np.arange(n_steps)[:, None] < lengths[None, :]


def _segment_starts(n_steps, n_seq, starts):
    """Time-major (n_steps, n_sequences) mask of the steps that begin a segment."""
    begins = np.zeros((n_steps, n_seq), dtype=bool)
    if starts is not None:
        begins |= starts.T
    begins[:1] = True
    return begins


def _same_width(n_hidden):
    return n_hidden


def _read_at_backward(dR, cache):
    """Scatter the gradient of a readout to the step each unit was read at."""
    at, n_steps = cache
    dH = np.zeros((n_steps,) + dR.shape, dtype=dR.dtype)
    np.put_along_axis(dH, at[None], dR[None], axis=0)
    return dH


def _last_pool(H, lengths):
    # Padded steps carry the state forward, so the final slice holds every
    # sequence's last real state (a view, not a copy).
    at = np.broadcast_to((lengths - 1)[:, None], H.shape[1:])
    return H[-1], (at, H.shape[0])


def _last_pool_steps(H, lengths, starts):
    return H, None


def _last_steps_backward(dR, cache):
    return dR


def _last_resume(R, n):
    return None


def _last_update(running, h, restart):
    return h, None


def _mean_pool(H, lengths):
    real = _real_steps(H.shape[0], lengths).astype(H.dtype)
    counts = lengths[:, None].astype(H.dtype)
    return np.einsum("tsh,ts->sh", H, real) / counts, (counts, H.shape[0])


def _mean_backward(dR, cache):
    counts, n_steps = cache
    # Padded steps take a share too: the backward pass gives them no gradient.
    return np.broadcast_to(dR / counts, (n_steps,) + dR.shape).copy()


def _mean_pool_steps(H, lengths, starts):
    n_steps, n_seq, n_hidden = H.shape
    real = _real_steps(n_steps, lengths).astype(H.dtype)
    begins = _segment_starts(n_steps, n_seq, starts)
    R = np.empty_like(H)
    total = np.zeros((n_seq, n_hidden), dtype=H.dtype)
    count = np.zeros((n_seq, 1), dtype=H.dtype)
    counts = np.empty((n_steps, n_seq, 1), dtype=H.dtype)
    for t in range(n_steps):
        total[begins[t]] = 0
        count[begins[t]] = 0
        total += H[t] * real[t, :, None]
        count += real[t, :, None]
        np.divide(total, count, out=R[t])
        counts[t] = count
    return R, (counts, begins)


def _mean_steps_backward(dR, cache):
    counts, begins = cache
    n_steps, n_seq, n_hidden = dR.shape
    dH = np.zeros_like(dR)
    share = dR / counts
    carried = np.zeros((n_seq, n_hidden), dtype=dR.dtype)
    # Each state takes a share of every later readout of its segment. Padded
    # steps may take some too: the backward pass gives them no gradient.
    for t in range(n_steps - 1, -1, -1):
        carried += share[t]
        dH[t] = carried
        carried[begins[t]] = 0
    return dH


def _mean_resume(R, n):
    # The running total, rather than the mean, is carried: adding to it rounds
    # once per step instead of compounding the rounding of every division.
    count = n[:, None].astype(R.dtype)
    return R * count, count


def _mean_update(running, h, restart):
    total, count = running
    fresh = restart[:, None]
    total = np.where(fresh, 0, total) + h
    count = np.where(fresh, 0, count) + 1
    return total / count, (total, count)


def _max_pool(H, lengths):
    real = _real_steps(H.shape[0], lengths)
    masked = np.where(real[:, :, None], H, -np.inf)
    at = np.argmax(masked, axis=0)  # ties: the earliest step
    return np.take_along_axis(masked, at[None], axis=0)[0], (at, H.shape[0])


def _max_pool_steps(H, lengths, starts):
    n_steps, n_seq, n_hidden = H.shape
    real = _real_steps(n_steps, lengths)
    begins = _segment_starts(n_steps, n_seq, starts)
    R = np.empty_like(H)
    best = np.full((n_seq, n_hidden), -np.inf, dtype=H.dtype)
    at = np.zeros((n_seq, n_hidden), dtype=np.intp)
    argmax = np.empty((n_steps, n_seq, n_hidden), dtype=np.intp)
    for t in range(n_steps):
        best[begins[t]] = -np.inf
        # Ties keep the earliest step, padded steps never win.
        take = (H[t] > best) & real[t, :, None]
        np.copyto(best, H[t], where=take)
        np.copyto(at, t, where=take)
        R[t] = best
        argmax[t] = at
    return R, argmax


def _max_steps_backward(dR, argmax):
    n_steps, n_seq, n_hidden = dR.shape
    dH = np.zeros_like(dR)
    rows = np.arange(n_seq)[:, None]
    units = np.arange(n_hidden)[None, :]
    for t in range(n_steps):
        if dR[t].any():
            # Each (sequence, unit) pair appears once per step: no index repeats
            # within one assignment, so a plain fancy-indexed add accumulates.
            dH[argmax[t], rows, units] += dR[t]
    return dH


def _max_resume(R, n):
    return R


def _max_update(best, h, restart):
    best = np.where(restart[:, None], h, np.maximum(best, h))
    return best, best


class Readout(NamedTuple):
    """How the output layer reads the hidden states of a sequence or a segment.

    Every function is pure. ``H`` denotes the time-major states after each step,
    of shape (n_steps, n_sequences, n_hidden) (``Trace.hidden[1:]``, the initial
    context excluded), with padded steps repeating the last real state;
    ``lengths`` of shape (n_sequences,) counts the real steps of each sequence,
    and ``n_readout = width(n_hidden)``.

    Attributes
    ----------
    pool : callable
        ``pool(H, lengths) -> (R, cache)``: one readout per sequence over its
        real steps, ``R`` of shape (n_sequences, n_readout); ``cache`` is what
        ``backward`` needs.
    backward : callable
        ``backward(dR, cache) -> dH``: the gradient of shape (n_steps,
        n_sequences, n_hidden) reaching every state from the gradient ``dR`` of
        shape (n_sequences, n_readout) of the readouts of ``pool``.
    pool_steps : callable
        ``pool_steps(H, lengths, starts) -> (R, cache)``: a running readout at
        every step, ``R`` of shape (n_steps, n_sequences, n_readout), over the
        real steps of the segment so far; a segment begins at step 0 and at every
        True of ``starts`` (n_sequences, n_steps) or None. At padded steps ``R``
        repeats the readout of the last real step.
    steps_backward : callable
        ``steps_backward(dR, cache) -> dH``: the gradient of shape (n_steps,
        n_sequences, n_hidden) reaching every state from the gradient ``dR`` of
        shape (n_steps, n_sequences, n_readout) of the readouts of
        ``pool_steps`` (zero where a step has no output).
    width : callable
        ``width(n_hidden) -> n_readout``: the number of inputs of the output
        layer.
    resume : callable
        ``resume(R, n) -> running``: the state of the incremental update that
        continues readouts ``R`` (n_sequences, n_readout) taken over ``n``
        (n_sequences,) real steps.
    update : callable
        ``update(running, h, restart) -> (R, running)``: take in one new state
        ``h`` (n_sequences, n_hidden) per sequence, in O(1), and return the new
        readouts ``R`` (n_sequences, n_readout) and state; where ``restart``
        (bool, (n_sequences,)) is True, ``h`` begins a new segment, as a True of
        ``starts`` does in ``pool_steps``.
    last_only : bool
        Whether the readout is the last state itself, so that training may send
        its gradient straight to that state: one gradient stream per sequence
        through time rather than one per step, much cheaper under truncation.
    """

    pool: Callable[..., tuple]
    backward: Callable[..., np.ndarray]
    pool_steps: Callable[..., tuple]
    steps_backward: Callable[..., np.ndarray]
    width: Callable[[int], int]
    resume: Callable[..., object]
    update: Callable[..., tuple]
    last_only: bool = False


def _concatenated(*parts: Readout) -> Readout:
    """A readout that reads several readouts side by side, in ``parts``' order.

    Each function applies the parts' own to their slice of the readout, so the
    gradient of the concatenation is theirs summed over the states.
    """

    def split(R, n_hidden):
        edges = np.cumsum([part.width(n_hidden) for part in parts])[:-1]
        return np.split(R, edges, axis=-1)

    def joined(pooled, n_hidden):
        """The parts' readouts side by side, and the cache of their backward."""
        R = np.concatenate([R for R, _ in pooled], axis=-1)
        return R, (n_hidden, [cache for _, cache in pooled])

    def summed(method, dR, cache):
        """The gradient reaching the states: each part's, from its slice of dR."""
        n_hidden, caches = cache
        return sum(
            getattr(part, method)(np.ascontiguousarray(dR_part), part_cache)
            for part, dR_part, part_cache in zip(parts, split(dR, n_hidden), caches)
        )

    def pool(H, lengths):
        return joined([part.pool(H, lengths) for part in parts], H.shape[2])

    def backward(dR, cache):
        return summed("backward", dR, cache)

    def pool_steps(H, lengths, starts):
        pooled = [part.pool_steps(H, lengths, starts) for part in parts]
        return joined(pooled, H.shape[2])

    def steps_backward(dR, cache):
        return summed("steps_backward", dR, cache)

    def width(n_hidden):
        return sum(part.width(n_hidden) for part in parts)

    def resume(R, n):
        n_hidden = R.shape[-1] // len(parts)  # every part is n_hidden wide
        return [
            part.resume(R_part, n) for part, R_part in zip(parts, split(R, n_hidden))
        ]

    def update(running, h, restart):
        updated = [
            part.update(state, h, restart) for part, state in zip(parts, running)
        ]
        R = np.concatenate([R for R, _ in updated], axis=-1)
        return R, [state for _, state in updated]

    return Readout(pool, backward, pool_steps, steps_backward, width, resume, update)


#: Readouts by name: the state after the last real step ('last', Elman's), or the
#: mean or the element-wise max of the states over the real steps ('mean',
#: 'max'; padding excluded, the initial context is not a step), or all three side
#: by side ('last_mean_max', three times as wide).
READOUTS: dict[str, Readout] = {
    "last": Readout(
        _last_pool,
        _read_at_backward,
        _last_pool_steps,
        _last_steps_backward,
        _same_width,
        _last_resume,
        _last_update,
        last_only=True,
    ),
    "mean": Readout(
        _mean_pool,
        _mean_backward,
        _mean_pool_steps,
        _mean_steps_backward,
        _same_width,
        _mean_resume,
        _mean_update,
    ),
    "max": Readout(
        _max_pool,
        _read_at_backward,
        _max_pool_steps,
        _max_steps_backward,
        _same_width,
        _max_resume,
        _max_update,
    ),
}
READOUTS["last_mean_max"] = _concatenated(
    READOUTS["last"], READOUTS["mean"], READOUTS["max"]
)


def _pool_trace(trace, per_step, kind, starts):
    """The readouts of a trace and the cache of their backward pass."""
    entry = READOUTS[kind]
    if per_step:
        return entry.pool_steps(trace.hidden[1:], trace.lengths, starts)
    return entry.pool(trace.hidden[1:], trace.lengths)


def readout(
    trace: Trace,
    per_step: bool = False,
    kind: str = "last",
    starts: np.ndarray | None = None,
    saturate: bool = False,
) -> np.ndarray:
    """The readouts the output layer reads.

    Parameters
    ----------
    trace : Trace
        Result of :func:`run_hidden`.
    per_step : bool, default=False
        If False, one readout per sequence, over all its real steps; if True,
        one readout at every step, over the real steps of its segment so far.
    kind : str, default='last'
        A key of :data:`READOUTS`: 'last' reads the state after the last real
        step; 'mean' and 'max' the mean and the element-wise max of the states
        over the real steps (padding excluded; the initial context is not a step).
    starts : ndarray of bool of shape (n_sequences, n_steps), default=None
        Per-step readouts only: True at the steps that begin a new segment, over
        which a pooled readout restarts (the rows of a stream). Step 0 always
        begins one; None means one segment per sequence.
    saturate : bool, default=False
        Pool states near the end of the floating-point range without overflow:
        a sum of such states (in 'mean') would overflow to inf, which the
        output layer turns into NaN. The states are pooled at a power-of-two
        scale that brings the largest below one (pooling commutes with it,
        and powers of two change no digit), then scaled back.

    Returns
    -------
    R : ndarray of shape (n_sequences, n_readout) or \
            (n_steps, n_sequences, n_readout)
        Readouts, time-major in per-step mode, where padded steps repeat the
        readout of the last real step; ``n_readout`` is the entry's ``width``
        of n_hidden. For 'last', views into ``trace`` (unless ``saturate``).
    """
    if not saturate:
        return _pool_trace(trace, per_step, kind, starts)[0]
    _, exponent = np.frexp(np.abs(trace.steps).max(initial=0))
    scaled = trace._replace(steps=np.ldexp(trace.steps, -exponent))
    R = _pool_trace(scaled, per_step, kind, starts)[0]
    # A mean lies within its states' range; rounding may step past its end.
    big = np.finfo(R.dtype).max
    with np.errstate(over="ignore"):
        return np.clip(np.ldexp(R, exponent), -big, big)


# --------------------------------------------------------------------------------
# Forward pass
# --------------------------------------------------------------------------------


def stacked_weights(params: ElmanParams) -> np.ndarray:
    """Stack the weights of the hidden layer into one matrix.

    Parameters
    ----------
    params : ElmanParams
        Network parameters.

    Returns
    -------
    W : ndarray of shape (n_hidden + n_features + 1, n_hidden)
        ``[context_weights; input_weights; hidden_bias]``, so that
        ``[h_{t-1}, x_t, 1] @ W`` is the pre-activation of step ``t``: one matrix
        product per step for the recurrence, the input and the bias.
    """
    return np.concatenate(
        [params.context_weights, params.input_weights, params.hidden_bias[None, :]]
    )


def saturating_matmul(A: np.ndarray, W: np.ndarray, out=None) -> np.ndarray:
    """``A @ W`` that overflows to inf, never to NaN.

    A plain product whose partial sums overflow can add +inf and -inf, which
    gives NaN. Here each row of ``A`` and the matrix ``W`` are first divided by a
    power of two that brings their largest entry below one, so no partial sum
    can overflow; the product is then scaled back, to +-inf where its true value
    is beyond the floating-point range. Powers of two change no digit, except
    for entries so much smaller than their row's largest that they underflow.

    Parameters
    ----------
    A : ndarray of shape (..., n, m)
        Finite left factor.
    W : ndarray of shape (m, k)
        Finite right factor.
    out : ndarray of shape (..., n, k), default=None
        Where to write the product.

    Returns
    -------
    product : ndarray of shape (..., n, k)
        ``A @ W``, exact up to rounding where it is finite, +-inf where it
        overflows, NaN nowhere.
    """
    _, row_exponent = np.frexp(np.abs(A).max(axis=-1, keepdims=True, initial=0))
    _, w_exponent = np.frexp(np.abs(W).max(initial=0))
    out = np.matmul(np.ldexp(A, -row_exponent), np.ldexp(W, -w_exponent), out=out)
    with np.errstate(over="ignore"):  # +-inf is the intended result there
        return np.ldexp(out, row_exponent + w_exponent, out=out)


def run_hidden(
    params: ElmanParams,
    X: np.ndarray,
    mask: np.ndarray | None = None,
    context: np.ndarray | None = None,
    activation: str = "tanh",
    saturate: bool = False,
    n_members: int = 1,
) -> Trace:
    """Run the recurrence over a batch of sequences.

    Parameters
    ----------
    params : ElmanParams
        Network parameters.
    X : ndarray of shape (n_sequences, n_steps, n_features)
        Input sequences. Values at padded steps are ignored (they may be NaN).
    mask : ndarray of bool of shape (n_sequences, n_steps), default=None
        True on real steps, which must form a prefix of each sequence. All steps
        are real if None.
    context : ndarray of shape (n_sequences, n_hidden), default=None
        Hidden state before the first step; zeros if None.
    activation : {'tanh', 'logistic', 'relu', 'identity'}, default='tanh'
        Hidden activation.
    saturate : bool, default=False
        Compute each step with :func:`saturating_matmul` and clip the states to
        the finite range, so that no state is NaN or infinite whatever the
        magnitude of the inputs and weights: a state beyond the range saturates
        at its end. Slower; for inputs where the plain recurrence overflows.
    n_members : int, default=1
        Networks side by side (see :func:`join_members`): the context product
        of each step is computed block by block (the same result up to
        rounding, ``n_members`` times fewer multiply-adds). The saturating
        computation multiplies the whole matrix.

    Returns
    -------
    trace : Trace
        Hidden states of every step next to the inputs that produced them, as
        the backward pass needs them.
    """
    n_seq, n_steps, n_features = X.shape
    n_hidden = params.context_weights.shape[0]
    W = stacked_weights(params)
    act = ACTIVATIONS[activation]

    U = np.empty((n_steps + 1, n_seq, W.shape[0]), dtype=W.dtype)
    U[0, :, :n_hidden] = 0 if context is None else context
    inputs = U[:, :, n_hidden:-1]
    inputs[:n_steps] = X.transpose(1, 0, 2)
    inputs[n_steps] = 0
    U[:, :, -1] = 1
    if mask is None:
        lengths = np.full(n_seq, n_steps, dtype=np.intp)
        padded_from = n_steps
    else:
        lengths = mask.sum(axis=1).astype(np.intp)
        # Zero (not NaN) at padded steps, so that 0 * x vanishes in the gradients.
        inputs[:n_steps][~mask.T] = 0
        padded_from = int(lengths.min()) if n_seq else n_steps

    product = saturating_matmul if saturate else np.matmul
    big = np.finfo(W.dtype).max
    blocks = None
    if n_members > 1 and not saturate:
        blocks = diagonal_blocks(params.context_weights, n_members)
        rest = W[n_hidden:]  # the input weights and the bias
        recurrent = np.empty((n_seq, n_hidden), dtype=W.dtype)
    for t in range(n_steps):
        state = U[t + 1, :, :n_hidden]
        if blocks is None:
            product(U[t], W, out=state)
        else:
            np.matmul(U[t, :, n_hidden:], rest, out=state)
            state += times_blocks(U[t, :, :n_hidden], blocks, recurrent)
        act(state)
        if saturate:
            np.clip(state, -big, big, out=state)
        if t >= padded_from:
            # Sequences that have ended keep their last real state.
            ended = lengths <= t
            state[ended] = U[t, ended, :n_hidden]
    return Trace(steps=U, n_hidden=n_hidden, lengths=lengths)


def reversed_real_steps(X: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Each sequence's real steps in reverse order, its padding left at the end.

    Parameters
    ----------
    X : ndarray of shape (n_sequences, n_steps, n_features)
        Sequences.
    mask : ndarray of bool of shape (n_sequences, n_steps), default=None
        True on real steps (a prefix of each sequence); all real if None.

    Returns
    -------
    X_reversed : ndarray of shape (n_sequences, n_steps, n_features)
        A new array: step ``t`` of sequence ``i`` is its real step
        ``length_i - 1 - t``; padded steps are as they were.
    """
    n_seq, n_steps, _ = X.shape
    lengths = np.full(n_seq, n_steps) if mask is None else mask.sum(axis=1)
    t = np.arange(n_steps)[None, :]
    source = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return X[np.arange(n_seq)[:, None], source]


def output_layer(
    params: ElmanParams, H: np.ndarray, saturate: bool = False
) -> np.ndarray:
    """Logits of the output layer for readout states ``H``.

    Parameters
    ----------
    params : ElmanParams
        Network parameters.
    H : ndarray of shape (..., n_readout)
        Readouts from :func:`readout`.
    saturate : bool, default=False
        Compute with :func:`saturating_matmul`: logits beyond the floating-point
        range are +-inf, never NaN.

    Returns
    -------
    logits : ndarray of shape (..., n_outputs)
        ``H @ output_weights + output_bias``, a new array.
    """
    if not saturate:
        Z = H @ params.output_weights
        Z += params.output_bias
        return Z
    with_one = np.concatenate([H, np.ones(H.shape[:-1] + (1,), H.dtype)], axis=-1)
    weights = np.concatenate([params.output_weights, params.output_bias[None]])
    return saturating_matmul(with_one, weights)


def forward(
    params: ElmanParams,
    X: np.ndarray,
    mask: np.ndarray | None = None,
    context: np.ndarray | None = None,
    activation: str = "tanh",
    per_step: bool = False,
    head: str | OutputHead = "softmax",
    kind: str = "last",
    starts: np.ndarray | None = None,
    saturate: bool = False,
    reverse_pass: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Outputs and final context of a batch of sequences.

    Parameters
    ----------
    params : ElmanParams
        Network parameters.
    X : ndarray of shape (n_sequences, n_steps, n_features)
        Input sequences.
    mask : ndarray of bool of shape (n_sequences, n_steps), default=None
        True on real steps (a prefix of each sequence); all real if None.
    context : ndarray of shape (n_sequences, n_hidden), default=None
        Initial hidden state; zeros if None.
    activation : {'tanh', 'logistic', 'relu', 'identity'}, default='tanh'
        Hidden activation.
    per_step : bool, default=False
        One output per sequence (False) or per step (True).
    head : {'softmax', 'identity'} or OutputHead, default='softmax'
        Output head (see :data:`HEADS` and :func:`average_of_members`).
    kind : str, default='last'
        Readout, a key of :data:`READOUTS` (see :func:`readout`).
    starts : ndarray of bool of shape (n_sequences, n_steps), default=None
        Segment starts of per-step readouts (see :func:`readout`).
    saturate : bool, default=False
        Compute so that nothing is NaN however large the inputs (see
        :func:`run_hidden`); outputs beyond the range are +-inf.
    reverse_pass : bool, default=False
        Read each sequence a second time, its real steps in reverse order (see
        :func:`reversed_real_steps`), from a zero context, and give the output
        layer both readouts side by side (``param_shapes(..., n_passes=2)``).
        One output per sequence only.

    Returns
    -------
    outputs : ndarray of shape (n_sequences, n_outputs) or \
            (n_sequences, n_steps, n_outputs)
        Outputs of the head (probabilities for 'softmax'). In per-step mode,
        outputs at padded steps repeat those of the last real step.
    final_context : ndarray of shape (n_sequences, n_hidden)
        Hidden state after the last real step of each sequence.
    """
    head = output_head(head)
    trace = run_hidden(params, X, mask, context, activation, saturate, head.n_members)
    R = readout(trace, per_step, kind, starts, saturate)
    if reverse_pass:
        backward = run_hidden(
            params, reversed_real_steps(X, mask), mask, None, activation, saturate,
            head.n_members,
        )  # fmt: skip
        R = np.concatenate([R, readout(backward, False, kind, None, saturate)], axis=1)
    Z = output_layer(params, R, saturate)
    if per_step:
        Z = Z.transpose(1, 0, 2)
    return head.output(Z), trace.final_context()


# --------------------------------------------------------------------------------
# Recursive forecasting: predictions fed back as the next step's inputs
# --------------------------------------------------------------------------------


def roll_forward(
    params: ElmanParams,
    context: np.ndarray,
    R: np.ndarray,
    n: np.ndarray,
    n_steps: int,
    n_targets: int,
    future: np.ndarray | None = None,
    activation: str = "tanh",
    head: str | OutputHead = "identity",
    kind: str = "last",
    restart: bool = False,
) -> np.ndarray:
    """Forecast recursively from the state and the readout a history left.

    Each prediction is the head's output of the current readout (as in
    :func:`forward`); it becomes the first ``n_targets`` features of the next
    step, which the recurrence reads from the current state, and the readout
    entry's ``update`` takes the new state in, in O(1) a step.

    Parameters
    ----------
    params : ElmanParams
        Network parameters.
    context : ndarray of shape (n_sequences, n_hidden)
        State after the last real step of each history.
    R : ndarray of shape (n_sequences, n_readout)
        Readout ``kind`` of each history's states (see :func:`readout`).
    n : ndarray of shape (n_sequences,)
        Real steps that ``R`` pools.
    n_steps : int
        Number of steps to forecast.
    n_targets : int
        Number of outputs, fed back as the first features of the next step.
    future : ndarray of shape (n_sequences, n_steps, n_exogenous), default=None
        The other features of the forecast steps; None if there are none.
    activation : {'tanh', 'logistic', 'relu', 'identity'}, default='tanh'
        Hidden activation.
    head : {'softmax', 'identity'} or OutputHead, default='identity'
        Output head (see :data:`HEADS` and :func:`average_of_members`).
    kind : str, default='last'
        Readout, a key of :data:`READOUTS`.
    restart : bool, default=False
        False pools the readout on over the history and the forecast steps
        (independent sequences); True makes every forecast step a segment of
        its own, over which the readout restarts (a new row of a stream).

    Returns
    -------
    predictions : ndarray of shape (n_sequences, n_steps, n_targets)
        The head's output for each forecast step.
    """
    head = output_head(head)
    entry = READOUTS[kind]
    n_seq, n_features = context.shape[0], params.input_weights.shape[0]
    predictions = np.empty((n_seq, n_steps, n_targets), dtype=R.dtype)
    running = entry.resume(R, n)
    restart = np.full(n_seq, restart)
    x_next = np.empty((n_seq, 1, n_features), dtype=R.dtype)
    for step in range(n_steps):
        predictions[:, step] = head.output(output_layer(params, R))
        if step == n_steps - 1:
            break
        x_next[:, 0, :n_targets] = predictions[:, step]
        if future is not None:
            x_next[:, 0, n_targets:] = future[:, step]
        trace = run_hidden(
            params, x_next, None, context, activation, n_members=head.n_members
        )
        context = trace.final_context()
        R, running = entry.update(running, context, restart)
    return predictions


# --------------------------------------------------------------------------------
# Loss and backward pass through time
# --------------------------------------------------------------------------------


def l2_penalty(params: ElmanParams) -> float:
    """Compute half the sum of squares of the weight matrices.

    Parameters
    ----------
    params : ElmanParams
        Network parameters; the biases are not penalised.

    Returns
    -------
    penalty : float
        ``0.5 * (||input_weights||^2 + ||context_weights||^2 +
        ||output_weights||^2)``.
    """
    return 0.5 * float(
        sum(
            np.vdot(getattr(params, name), getattr(params, name))
            for name in WEIGHT_NAMES
        )
    )


def _flatten_targets(Y, sample_weight, mask, per_step, n_steps):
    """Targets and weights as 2D/1D arrays, time-major in per-step mode."""
    if not per_step:
        return Y, sample_weight
    n_seq = Y.shape[0]
    Y_flat = Y.transpose(1, 0, 2).reshape(n_steps * n_seq, -1)
    if sample_weight is None:
        weight = np.ones((n_seq, n_steps), dtype=Y.dtype)
    else:
        weight = np.asarray(sample_weight, dtype=Y.dtype)
    if mask is not None:
        weight = np.where(mask, weight, 0)
    return Y_flat, weight.T.reshape(-1)


def loss_and_gradient(
    params: ElmanParams,
    X: np.ndarray,
    Y: np.ndarray,
    mask: np.ndarray | None = None,
    context: np.ndarray | None = None,
    activation: str = "tanh",
    per_step: bool = False,
    sample_weight: np.ndarray | None = None,
    alpha: float = 0.0,
    bptt_steps: int | None = None,
    out: np.ndarray | None = None,
    head: str | OutputHead = "softmax",
    kind: str = "last",
    starts: np.ndarray | None = None,
) -> tuple[float, ElmanParams, np.ndarray]:
    """Regularised loss and its gradient by backpropagation through time.

    Parameters
    ----------
    params : ElmanParams
        Network parameters.
    X : ndarray of shape (n_sequences, n_steps, n_features)
        Input sequences.
    Y : ndarray of shape (n_sequences, n_outputs) or \
            (n_sequences, n_steps, n_outputs)
        Targets, per sequence or per step according to ``per_step``: target
        distributions (one-hot rows for class labels) for the 'softmax' head,
        values for the 'identity' head.
    mask : ndarray of bool of shape (n_sequences, n_steps), default=None
        True on real steps (a prefix of each sequence); all real if None.
    context : ndarray of shape (n_sequences, n_hidden), default=None
        Initial hidden state, treated as a constant; zeros if None.
    activation : {'tanh', 'logistic', 'relu', 'identity'}, default='tanh'
        Hidden activation.
    per_step : bool, default=False
        One output per sequence (False) or per step (True).
    sample_weight : ndarray of shape (n_sequences,) or (n_sequences, n_steps), \
            default=None
        Weight of each output. In per-step mode a zero weight marks a step
        without a target. All ones if None.
    alpha : float, default=0.0
        Strength of the L2 penalty on the weight matrices.
    bptt_steps : int or None, default=None
        Truncation of backpropagation through time: the gradient of each output
        flows back through at most this many real steps, ending at the output's
        own step; the context entering the earliest of them counts as a constant.
        None backpropagates through the whole history; 1 treats the context as a
        plain input (Elman's original rule).
    out : ndarray of shape (n_params,), default=None
        Flat buffer for the gradient (layout of :func:`pack`).
    head : {'softmax', 'identity'} or OutputHead, default='softmax'
        Output head and its loss (see :data:`HEADS` and
        :func:`average_of_members`).
    kind : str, default='last'
        Readout, a key of :data:`READOUTS` (see :func:`readout`). For a pooled
        readout ('mean', 'max'), every state it takes in counts as an output at
        its own step for ``bptt_steps``: its gradient flows back through at most
        that many steps ending there.
    starts : ndarray of bool of shape (n_sequences, n_steps), default=None
        Segment starts of per-step readouts (see :func:`readout`).

    Returns
    -------
    loss : float
        Weighted mean of the head's loss plus ``alpha * l2_penalty(params) /
        sum(w)``. For an ensemble head (:func:`average_of_members`), whose loss
        is the members' mean, ``sum(w)`` counts every member's outputs, so the
        penalty too is the members' mean.
    grad : ElmanParams
        Gradient of ``loss`` for each parameter array, as views into ``out``.
    final_context : ndarray of shape (n_sequences, n_hidden)
        Hidden state after the last real step of each sequence.
    """
    head = output_head(head)
    n_members = head.n_members
    trace = run_hidden(params, X, mask, context, activation, n_members=n_members)
    H = trace.hidden
    n_steps, n_seq, n_hidden = H.shape[0] - 1, H.shape[1], H.shape[2]

    Y_flat, weight = _flatten_targets(Y, sample_weight, mask, per_step, n_steps)
    entry = READOUTS[kind]
    H_out, cache = _pool_trace(trace, per_step, kind, starts)
    if per_step:
        H_out = H_out.reshape(n_steps * n_seq, -1)
    Z = output_layer(params, H_out)
    loss_sum, dZ, weight_sum = head.loss(Z, Y_flat, weight)
    if not weight_sum > 0:
        raise ValueError("The total weight of the outputs must be positive.")
    loss = (loss_sum + alpha * l2_penalty(params)) / weight_sum
    final_context = trace.final_context()

    dZ /= weight_sum
    if out is None:
        out = np.empty(n_params(shapes_of(params)), dtype=H.dtype)
    grad = unpack(out, shapes_of(params))
    np.matmul(H_out.T, dZ, out=grad.output_weights)
    np.sum(dZ, axis=0, out=grad.output_bias)
    # Gradient reaching the readout of each output.
    dH_out = dZ @ params.output_weights.T

    if entry.last_only:
        dA = _backward_through_time(
            params, trace, dH_out, activation, per_step, bptt_steps, n_members
        )
    else:
        # A pooled readout reaches many states: spread its gradient over them,
        # then backpropagate as if each of those states had an output of its own.
        if per_step:
            dR = dH_out.reshape(n_steps, n_seq, -1)
            dH_steps = entry.steps_backward(dR, cache)
        else:
            dH_steps = entry.backward(dH_out, cache)
        dA = _backward_through_time(
            params,
            trace,
            dH_steps.reshape(n_steps * n_seq, n_hidden),
            activation,
            True,
            bptt_steps,
            n_members,
        )
    # The gradients of the context weights, input weights and hidden bias at once:
    # a single large GEMM over all steps, after the loop, through the same stacked
    # layout [h_{t-1}, x_t, 1] that the forward pass multiplied.
    steps = trace.steps[:n_steps].reshape(n_steps * n_seq, -1)
    dA = dA.reshape(n_steps * n_seq, n_hidden)
    n_features = params.input_weights.shape[0]
    if n_members == 1:
        stacked_grad = steps.T @ dA
        grad.context_weights[...] = stacked_grad[:n_hidden]
        rest_grad = stacked_grad[n_hidden:]
    else:
        # Members: the diagonal blocks alone (the rest of the matrix is zero),
        # then the input weights and the bias of every member at once.
        per_member = (n_steps * n_seq, n_members, n_hidden // n_members)
        blocks = np.matmul(
            steps[:, :n_hidden].reshape(per_member).transpose(1, 2, 0),
            dA.reshape(per_member).transpose(1, 0, 2),
        )
        grad.context_weights[...] = 0
        for m, block in enumerate(blocks):
            units = slice(m * block.shape[0], (m + 1) * block.shape[0])
            grad.context_weights[units, units] = block
        rest_grad = steps[:, n_hidden:].T @ dA
    grad.input_weights[...] = rest_grad[:n_features]
    grad.hidden_bias[...] = rest_grad[-1]

    if alpha:
        scale = alpha / weight_sum
        for name in WEIGHT_NAMES:
            g = getattr(grad, name)
            g += scale * getattr(params, name)
    return loss, grad, final_context


def _backward_through_time(
    params, trace, dH_out, activation, per_step, bptt_steps, n_members=1
):
    """Gradient of the loss with respect to every pre-activation.

    Parameters
    ----------
    dH_out : ndarray of shape (n_sequences, n_hidden) or (n_steps * n_sequences, \
            n_hidden)
        Gradient reaching the hidden state of each output, per sequence or per
        step (time-major).

    Returns
    -------
    dA : ndarray of shape (n_steps, n_sequences, n_hidden)
        Time-major, with zeros at padded steps and at steps outside every
        truncation window.
    """
    H, lengths = trace.hidden, trace.lengths
    n_steps, n_seq, n_hidden = H.shape[0] - 1, H.shape[1], H.shape[2]
    # A contiguous copy: BLAS is faster on it than on the transposed view.
    W_rec_T = np.ascontiguousarray(params.context_weights.T)
    if n_members > 1:
        blocks_T = diagonal_blocks(W_rec_T, n_members)

        def times_context(A, out):
            return times_blocks(A, blocks_T, out)
    else:

        def times_context(A, out):
            return np.matmul(A, W_rec_T, out=out)

    full_history = bptt_steps is None or bptt_steps >= n_steps

    # dA starts as act'(a_t) for every step, zeroed where a step takes no
    # gradient; the loop then multiplies in the gradient reaching each state.
    dA = DERIVATIVES[activation](H[1:])
    step = np.arange(n_steps)[:, None]
    inactive = step >= lengths[None, :]
    if not per_step and not full_history:
        # One output per sequence: the window is its last `bptt_steps` real steps.
        inactive |= step < (lengths - bptt_steps)[None, :]
    if inactive.any():
        dA[inactive] = 0

    dH = np.empty((n_seq, n_hidden), dtype=dA.dtype)
    if not per_step:
        # Each sequence's output enters at its last real step; no gradient flows
        # before the earliest window start.
        first = 0 if full_history else max(int(lengths.min()) - bptt_steps, 0)
        ending_at = _rows_by_last_step(lengths, n_steps)
        dA[n_steps - 1] *= dH_out
        for t in range(n_steps - 2, first - 1, -1):
            times_context(dA[t + 1], dH)
            rows = ending_at.get(t)
            if rows is not None:
                dH[rows] += dH_out[rows]
            dA[t] *= dH
        dA[:first] = 0
        return dA

    dH_steps = dH_out.reshape(n_steps, n_seq, n_hidden)
    if bptt_steps == 1:
        dA *= dH_steps
        return dA
    if full_history:
        dA[n_steps - 1] *= dH_steps[n_steps - 1]
        for t in range(n_steps - 2, -1, -1):
            times_context(dA[t + 1], dH)
            dH += dH_steps[t]
            dA[t] *= dH
        return dA

    # Truncated windows with an output at every step: the gradient of the output
    # at step s must stop after `k` steps, so each of the last k outputs keeps a
    # stream of its own. Slot s % k holds the stream of the output at step s; it is
    # overwritten when that stream would become k steps old.
    k = bptt_steps
    streams = np.zeros((k, n_seq, n_hidden), dtype=dA.dtype)
    scaled = np.zeros_like(streams)
    flat_streams = streams.reshape(k * n_seq, n_hidden)
    flat_scaled = scaled.reshape(k * n_seq, n_hidden)
    for t in range(n_steps - 1, -1, -1):
        if t < n_steps - 1:
            times_context(flat_scaled, flat_streams)
        streams[t % k] = dH_steps[t]
        np.multiply(streams, dA[t], out=scaled)
        np.sum(scaled, axis=0, out=dA[t])
    return dA


def _rows_by_last_step(lengths, n_steps):
    """Map each step but the final one to the sequences that end there."""
    last = lengths - 1
    return {
        int(t): np.flatnonzero(last == t) for t in np.unique(last) if t < n_steps - 1
    }


# --------------------------------------------------------------------------------
# Echo-state readouts: the output layer alone, on fixed hidden weights
# --------------------------------------------------------------------------------


def ridge_output_layer(
    R: np.ndarray,
    Y: np.ndarray,
    alpha: float,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The output layer that minimises the squared-error objective, in closed form.

    Minimises ``sum_i w_i * 0.5 * ||r_i @ W + b - y_i||^2 + 0.5 * alpha * ||W||^2``
    (the training objective of an identity head times the total weight, with
    the hidden weights fixed): ridge regression with an unpenalised bias,
    solved on the weighted-centred readouts.

    Parameters
    ----------
    R : ndarray of shape (n_rows, n_readout)
        Readouts of the rows (:func:`readout`).
    Y : ndarray of shape (n_rows, n_outputs)
        Targets.
    alpha : float
        L2 penalty on ``W``.
    sample_weight : ndarray of shape (n_rows,), default=None
        Weight of each row; all ones if None.

    Returns
    -------
    output_weights : ndarray of shape (n_readout, n_outputs)
        The minimiser's ``W``.
    output_bias : ndarray of shape (n_outputs,)
        The minimiser's ``b``.
    """
    w = np.ones(R.shape[0]) if sample_weight is None else sample_weight
    r_mean = w @ R / w.sum()
    y_mean = w @ Y / w.sum()
    Rc, Yc = R - r_mean, Y - y_mean
    gram = Rc.T @ (Rc * w[:, None])
    gram.flat[:: gram.shape[0] + 1] += alpha
    rhs = Rc.T @ (Yc * w[:, None])
    try:
        W = np.linalg.solve(gram, rhs)
    except np.linalg.LinAlgError:  # alpha=0 and collinear readouts
        W = np.linalg.lstsq(gram, rhs, rcond=None)[0]
    return W, y_mean - r_mean @ W


def output_layer_objective(
    theta: np.ndarray,
    R: np.ndarray,
    Y: np.ndarray,
    head: str,
    alpha: float,
    sample_weight: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Training objective of the output layer alone, and its gradient.

    ``(sum_i w_i * loss_i + 0.5 * alpha * ||W||^2) / sum_i w_i`` for the head's
    loss of ``R @ W + b``: the network's objective with the hidden weights
    fixed (up to their constant L2 term). Convex in ``(W, b)`` for both heads,
    so a quasi-Newton method finds its minimum (a regularised logistic readout
    for 'softmax').

    Parameters
    ----------
    theta : ndarray of shape (n_readout * n_outputs + n_outputs,)
        ``W`` (row-major) then ``b``.
    R : ndarray of shape (n_rows, n_readout)
        Readouts of the rows.
    Y : ndarray of shape (n_rows, n_outputs)
        Targets, in the form the head's loss takes.
    head : {'softmax', 'identity'}
        Output head (see :data:`HEADS`).
    alpha : float
        L2 penalty on ``W``.
    sample_weight : ndarray of shape (n_rows,), default=None
        Weight of each row; all ones if None.

    Returns
    -------
    objective : float
        The objective at ``theta``.
    gradient : ndarray of the shape of ``theta``
        Its gradient with respect to ``theta``.
    """
    n_outputs = Y.shape[1]
    W = theta[:-n_outputs].reshape(R.shape[1], n_outputs)
    b = theta[-n_outputs:]
    loss_sum, dZ, weight_sum = HEADS[head].loss(R @ W + b, Y, sample_weight)
    objective = (loss_sum + 0.5 * alpha * float(np.vdot(W, W))) / weight_sum
    gradient = np.concatenate([(R.T @ dZ + alpha * W).ravel(), dZ.sum(axis=0)])
    return objective, gradient / weight_sum
