"""Export fitted Elman estimators to ONNX, through skl2onnx.

Importing this module registers skl2onnx converters for
:class:`~sklearn_elman.ElmanClassifier`, :class:`~sklearn_elman.ElmanRegressor`
and :class:`~sklearn_elman.SequenceScaler` (:func:`register` does it again, and
is harmless to call twice). From then on ``skl2onnx.to_onnx`` converts them, on
their own or inside a :class:`~sklearn.pipeline.Pipeline`, as it converts
scikit-learn's own estimators; :func:`to_onnx` is a shortcut that also lets the
number of steps of 3D input vary. This module needs the optional dependencies
``pip install "sklearn-elman[onnx]"`` (onnx, onnxruntime and skl2onnx); the
package itself never imports them.

The exported graph takes the arrays ``predict`` takes: 2D rows of
``n_steps * n_features_per_step`` columns or 3D sequences, float32, shorter
sequences padded at the end with NaN. Inside the graph ``IsNaN`` finds each
row's length, the padding is replaced by zeros, and ONNX's own ``RNN``
operator (an Elman layer) runs with those lengths as ``sequence_lens``, time
first (onnxruntime implements no ``layout=1``). Every activation maps onto an
activation of the operator: 'tanh' to ``Tanh``, 'logistic' to ``Sigmoid``,
'relu' to ``Relu`` and 'identity' to ``Affine`` with slope 1 and offset 0.
The readouts are computed from the operator's outputs over the real steps
('last' is ``Y_h``, the state after each row's last real step); patches of
``patch_size`` steps are formed in the graph as ``predict`` forms them; the
members of an ensemble (``n_ensemble``) run as one block-diagonal network, and
their outputs (probabilities for the classifier) are averaged, as ``predict``
does; ``reverse_pass`` is the operator's reverse direction.

Outputs: the classifier gives ``label`` and ``probabilities`` as
scikit-learn's classifiers do in skl2onnx. By default (option ``zipmap=True``)
the probabilities are a list of ``{class: probability}`` maps (skl2onnx's
ZipMap); ``options={"zipmap": False}`` keeps them a float tensor of shape
(n_sequences, n_classes), the layout of ``predict_proba``. The regressor
gives ``variable`` of shape (n_sequences, n_targets), one column for a 1D
target (as skl2onnx exports ``MLPRegressor``).

A stateful estimator (``stateful=True``) is exported as its ``predict`` reads
rows: consecutive chunks of one stream, starting from the ``context_`` the
estimator holds at export time (zeros after ``reset_context()``, the end of
the training stream after ``fit``). With :func:`to_onnx`, that context is an
optional input, ``initial_context`` of shape (1, 1, n_units) (its default the
exported ``context_``; pass zeros for a fresh stream), and the context after
the run's last step is an extra output, ``final_context``: feeding it back as
the next run's ``initial_context`` continues the stream, as consecutive
``predict`` calls do. (``skl2onnx.to_onnx`` alone bakes the context in.)

Refused at export, with an error naming the parameter:

- input of another type than float32 (the graph computes in float32);
- a ``target_opset`` below 15;
- an estimator that is not fitted (scikit-learn's ``NotFittedError``).

Unlike ``predict``, the graph has no fallback for inputs so large that the
recurrence overflows (``predict`` recomputes such rows in a saturating way):
an unbounded activation on huge input gives inf or NaN in the graph.
"""

from __future__ import annotations

import numpy as np

try:
    import onnx
    import skl2onnx
    from onnx import numpy_helper
    from skl2onnx._parse import _parse_sklearn_classifier
    from skl2onnx.common.data_types import (
        FloatTensorType,
        guess_proto_type,
    )
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
    )
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "sklearn_elman.onnx needs onnx and skl2onnx (and onnxruntime to run the "
        'models): pip install "sklearn-elman[onnx]"'
    ) from error

from sklearn.utils.validation import check_is_fitted

from sklearn_elman._classifier import ElmanClassifier
from sklearn_elman._preprocessing import SequenceScaler
from sklearn_elman._regressor import ElmanRegressor

__all__ = ["register", "to_onnx"]

#: The ``RNN`` operator's activation (and its alpha and beta) for each of ours.
RNN_ACTIVATIONS = {
    "tanh": ("Tanh", None),
    "logistic": ("Sigmoid", None),
    "relu": ("Relu", None),
    "identity": ("Affine", (1.0, 0.0)),
}
# ReduceMax and ReduceMean take their axes as an input from opset 18 on.
REDUCE_AXES_AS_INPUT = 18
MIN_OPSET = 15  # Shape with start and end


class _Graph:
    """Nodes and constants added to a skl2onnx container, under unique names."""

    def __init__(self, scope, operator, container):
        if guess_proto_type(operator.inputs[0].type) != onnx.TensorProto.FLOAT:
            raise NotImplementedError(
                f"{type(operator.raw_operator).__name__} is exported for float32 "
                f"input only, got input type {operator.inputs[0].type}: convert "
                "with FloatTensorType, or pass a float32 sample to to_onnx."
            )
        self.scope = scope
        self.container = container
        self.opset = container.target_opset
        if self.opset < MIN_OPSET:
            raise NotImplementedError(
                f"target_opset={self.opset}: the export of the Elman estimators "
                f"needs opset {MIN_OPSET} or later."
            )

    def const(self, value, name="c"):
        name = self.scope.get_unique_variable_name(name)
        array = np.asarray(value)
        if array.dtype.kind in "US":
            strings = [s.encode("utf-8") for s in array.astype(str).ravel()]
            self.container.add_initializer(
                name, onnx.TensorProto.STRING, list(array.shape), strings
            )
        else:
            tensor = numpy_helper.from_array(array)
            self.container.add_initializer(
                name, tensor.data_type, list(array.shape), tensor
            )
        return name

    def op(self, op_type, *inputs, out=None, n_out=1, **attrs):
        outputs = out or [
            self.scope.get_unique_variable_name(op_type.lower()) for _ in range(n_out)
        ]
        outputs = [outputs] if isinstance(outputs, str) else outputs
        # An omitted optional input would be an empty name, which skl2onnx
        # cannot sort: callers pass every input up to the last one they use.
        self.container.add_node(
            op_type,
            list(inputs),
            outputs,
            name=self.scope.get_unique_operator_name(op_type),
            **attrs,
        )
        return outputs[0] if n_out == 1 else outputs

    def reduce(self, op_type, x, axis, keepdims=0):
        if op_type == "ReduceSum" or self.opset >= REDUCE_AXES_AS_INPUT:
            return self.op(op_type, x, self.const([axis], "axes"), keepdims=keepdims)
        return self.op(op_type, x, axes=[axis], keepdims=keepdims)


def _sequences(g, estimator, X, input_ndim):
    """The rows as NaN-free (n_rows, n_steps, n_inputs) patches, and lengths.

    Lengths (int64, one per row) count real patches; a step is real unless
    all its features are NaN (``predict`` refuses any other NaN).
    """
    patch_size = estimator._fitted_patch_size()
    n_inputs = estimator.input_weights_.shape[0]
    if input_ndim == 2:
        X = g.op("Reshape", X, g.const([0, -1, n_inputs // patch_size]))
    nan = g.op("IsNaN", X)
    padded = g.reduce("ReduceMin", g.op("Cast", nan, to=onnx.TensorProto.INT32), 2)
    real_steps = g.op("Sub", g.const(np.int32(1)), padded)
    lengths = g.op(
        "Cast", g.reduce("ReduceSum", real_steps, 1), to=onnx.TensorProto.INT64
    )
    X = g.op("Where", nan, g.const(np.float32(0)), X)
    if patch_size == 1:
        return X, lengths
    # As to_patches: ceil(n_steps / p) patches, a last patch that a row only
    # partly fills completed by repeating the row's last real step.
    p = g.const(patch_size)
    n_steps = g.op("Shape", X, start=1, end=2)
    n_patches = _ceil_div(g, n_steps, p)
    steps = g.op("Range", g.const(0), g.op("Squeeze", g.op("Mul", n_patches, p)),
                 g.const(1))  # fmt: skip
    last = g.op("Sub", g.op("Unsqueeze", lengths, g.const([1])), g.const(1))
    source = g.op("Min", g.op("Unsqueeze", steps, g.const([0])), last)
    shape = g.op(
        "Concat",
        g.op("Shape", X, end=1),
        g.op("Shape", steps),
        g.op("Shape", X, start=2),
        axis=0,
    )
    source = g.op("Expand", g.op("Unsqueeze", source, g.const([2])), shape)
    X = g.op("GatherElements", X, source, axis=1)
    X = g.op("Reshape", X, g.const([0, -1, n_inputs]))
    return X, _ceil_div(g, lengths, p)


def _ceil_div(g, a, b):
    return g.op("Div", g.op("Sub", g.op("Add", a, b), g.const(1)), b)


# Names of a stateful model's optional input and extra output (see to_onnx).
INITIAL_CONTEXT = "initial_context"
FINAL_CONTEXT = "final_context"


def _step_indices(g, X, axis):
    """``0 .. n_steps - 1`` of batch-major ``X``, along ``axis`` of a 2D array."""
    n_steps = g.op("Squeeze", g.op("Shape", X, start=1, end=2))
    steps = g.op("Range", g.const(0), n_steps, g.const(1))
    return g.op("Unsqueeze", steps, g.const([1 - axis]))


def _steps_before(g, X, lengths, time_axis):
    """Boolean mask of the real steps of ``X``, time on ``time_axis`` (0 or 1)."""
    steps = _step_indices(g, X, time_axis)
    return g.op("Less", steps, g.op("Unsqueeze", lengths, g.const([time_axis])))


def _rnn(g, activation, params, X, n_directions, sequence_lens, *initial_h, out=None):
    """ONNX's RNN over time-major ``X``: its outputs Y and Y_h."""
    name, alpha_beta = RNN_ACTIVATIONS[activation]
    n_hidden = params.context_weights.shape[0]
    # Both directions share the weights: the reverse pass reads the same network.
    tiled = lambda a: np.repeat(a[None], n_directions, axis=0)
    attributes = {}
    if alpha_beta is not None:
        attributes["activation_alpha"] = [alpha_beta[0]] * n_directions
        attributes["activation_beta"] = [alpha_beta[1]] * n_directions
    return g.op(
        "RNN",
        X,
        g.const(tiled(params.input_weights.T), "W"),
        g.const(tiled(params.context_weights.T), "R"),
        g.const(
            tiled(np.concatenate([params.hidden_bias, 0 * params.hidden_bias])), "B"
        ),
        sequence_lens,
        *initial_h,
        out=out,
        n_out=2,
        hidden_size=n_hidden,
        activations=[name] * n_directions,
        direction="bidirectional" if n_directions == 2 else "forward",
        **attributes,
    )


def _pooled(g, kind, states, last, real, lengths, time_axis):
    """The readout ``kind`` of ``states`` over the steps where ``real`` is True.

    ``states`` has time on ``time_axis`` and ``real`` broadcasts against it;
    ``last`` is the state after each row's last real step.
    """
    parts = {"last_mean_max": ["last", "mean", "max"]}.get(kind, [kind])
    pooled = []
    for part in parts:
        if part == "last":
            pooled.append(last)
        elif part == "mean":
            weights = g.op("Cast", real, to=onnx.TensorProto.FLOAT)
            total = g.reduce("ReduceSum", g.op("Mul", states, weights), time_axis)
            count = g.op(
                "Cast",
                g.op("Unsqueeze", lengths, g.const([1])),
                to=onnx.TensorProto.FLOAT,
            )
            pooled.append(g.op("Div", total, count))
        elif part == "max":
            masked = g.op("Where", real, states, g.const(np.float32(-np.inf)))
            pooled.append(g.reduce("ReduceMax", masked, time_axis))
        else:
            raise NotImplementedError(
                f"readout={kind!r} has no ONNX export; the readouts exported are "
                "'last', 'mean', 'max' and 'last_mean_max'."
            )
    return pooled


def _readouts(g, estimator, params, X, lengths):
    """What the output layer reads, (n_rows, n_readout), as ``predict`` reads it."""
    kind = estimator.readout
    n_directions = estimator._n_passes()
    if not estimator.stateful:
        Y, Y_h = _rnn(
            g,
            estimator.activation,
            params,
            g.op("Transpose", X, perm=[1, 0, 2]),
            n_directions,
            g.op("Cast", lengths, to=onnx.TensorProto.INT32),
        )
        real = g.op("Unsqueeze", _steps_before(g, X, lengths, 0), g.const([2]))
        pooled = []
        for d in range(n_directions):
            at = g.const(d)
            states = g.op("Gather", Y, at, axis=1)  # (n_steps, n_rows, n_hidden)
            last = g.op("Gather", Y_h, at, axis=0)
            pooled += _pooled(g, kind, states, last, real, lengths, 0)
    else:
        # The rows are chunks of one stream: their real steps, one after the
        # other, read as one sequence from the context the estimator holds.
        real_bt = _steps_before(g, X, lengths, 1)
        where = g.op("Transpose", g.op("NonZero", real_bt), perm=[1, 0])
        stream = g.op("Unsqueeze", g.op("GatherND", X, where), g.const([1]))
        context = estimator._context(params)
        n_stream = g.op("Shape", stream, end=1)
        # Named so that to_onnx can expose them as the graph's optional input
        # and extra output (the context before and after the stream).
        Y, _ = _rnn(
            g,
            estimator.activation,
            params,
            stream,
            1,
            g.op("Cast", n_stream, to=onnx.TensorProto.INT32),
            g.const(context[None, None], INITIAL_CONTEXT),
            out=[
                g.scope.get_unique_variable_name("stream_states"),
                g.scope.get_unique_variable_name("stream_" + FINAL_CONTEXT),
            ],
        )
        flat = g.op("Reshape", Y, g.const([-1, context.shape[0]]))
        # Back to rows: step t of row i is stream step start_i + t.
        start = g.op("CumSum", lengths, g.const(0), exclusive=1)
        last_step = g.op("Sub", g.op("Add", start, lengths), g.const(1))
        last_in_row = g.op("Sub", lengths, g.const(1))
        in_row = g.op(
            "Min",
            _step_indices(g, X, 1),
            g.op("Unsqueeze", last_in_row, g.const([1])),
        )
        at = g.op("Add", g.op("Unsqueeze", start, g.const([1])), in_row)
        states = g.op("Gather", flat, at, axis=0)  # (n_rows, n_steps, n_hidden)
        last = g.op("Gather", flat, last_step, axis=0)
        real = g.op("Unsqueeze", real_bt, g.const([2]))
        pooled = _pooled(g, kind, states, last, real, lengths, 1)
    return pooled[0] if len(pooled) == 1 else g.op("Concat", *pooled, axis=1)


def _head_outputs(g, estimator, X, input_ndim, softmax):
    """The estimator's outputs (probabilities, or values), members averaged."""
    # The estimator's own checks of its weights, and their float32 values.
    params = estimator._fitted_params()
    params = params._make(p.astype(np.float32) for p in params)
    X, lengths = _sequences(g, estimator, X, input_ndim)
    R = _readouts(g, estimator, params, X, lengths)
    weights, bias = params.output_weights, params.output_bias
    Z = g.op("Add", g.op("MatMul", R, g.const(weights, "Wout")), g.const(bias))
    n_members = estimator._n_members()
    if n_members == 1:
        return g.op("Softmax", Z, axis=1) if softmax else Z
    Z = g.op("Reshape", Z, g.const([0, n_members, bias.shape[0] // n_members]))
    if softmax:
        Z = g.op("Softmax", Z, axis=2)
    return g.reduce("ReduceMean", Z, 1)


def _input_ndim(operator):
    return len(operator.inputs[0].type.shape)


def _convert_classifier(scope, operator, container):
    g = _Graph(scope, operator, container)
    estimator = operator.raw_operator
    probabilities = _head_outputs(
        g, estimator, operator.inputs[0].full_name, _input_ndim(operator), True
    )
    g.op("Identity", probabilities, out=operator.outputs[1].full_name)
    classes = _label_values(estimator.classes_)
    if scope.get_options(estimator, {"nocl": False})["nocl"]:
        classes = np.arange(len(classes))  # skl2onnx's option: class indices
    g.op(
        "Gather",
        g.const(classes, "classes"),
        g.op("ArgMax", probabilities, axis=1, keepdims=0),
        out=operator.outputs[0].full_name,
    )


def _label_values(classes):
    """Classes as the label output holds them: strings, or int64 for numbers.

    A classifier's numeric classes are integers (scikit-learn refuses
    continuous targets), so int64, skl2onnx's type for them, holds them all.
    """
    classes = np.asarray(classes)
    return classes.astype(str if classes.dtype.kind in "OUS" else np.int64)


def _convert_regressor(scope, operator, container):
    g = _Graph(scope, operator, container)
    values = _head_outputs(
        g,
        operator.raw_operator,
        operator.inputs[0].full_name,
        _input_ndim(operator),
        False,
    )
    g.op("Identity", values, out=operator.outputs[0].full_name)


def _parse_classifier(scope, model, inputs, custom_parsers=None):
    # skl2onnx's own parser of classifiers (private, but the one its documented
    # examples of custom parsers call), which fails obscurely on a model
    # without classes_: scikit-learn's NotFittedError first.
    check_is_fitted(model)
    return _parse_sklearn_classifier(scope, model, inputs, custom_parsers)


def _regressor_shape(operator):
    check_is_fitted(operator.raw_operator)
    n_targets = operator.raw_operator._n_outputs()
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([n_rows, n_targets])


def _convert_scaler(scope, operator, container):
    g = _Graph(scope, operator, container)
    scaler = operator.raw_operator
    mean = np.asarray(scaler.mean_, dtype=np.float32)
    scale = np.asarray(scaler.scale_, dtype=np.float32)
    if _input_ndim(operator) == 2:
        # A 2D row is its steps side by side: every step's channels in turn.
        n_steps = scaler.n_features_in_ // len(mean)
        mean, scale = np.tile(mean, n_steps), np.tile(scale, n_steps)
    centred = g.op("Sub", operator.inputs[0].full_name, g.const(mean, "mean"))
    g.op("Div", centred, g.const(scale, "scale"), out=operator.outputs[0].full_name)


def _scaler_shape(operator):
    check_is_fitted(operator.raw_operator)
    operator.outputs[0].type = operator.inputs[0].type.__class__(
        operator.inputs[0].type.shape
    )


def register():
    """Register the converters of the Elman estimators with skl2onnx.

    Importing :mod:`sklearn_elman.onnx` already calls this; calling it again
    does no harm.
    """
    skl2onnx.update_registered_converter(
        ElmanClassifier,
        "SklearnElmanClassifier",
        calculate_linear_classifier_output_shapes,
        _convert_classifier,
        parser=_parse_classifier,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )
    skl2onnx.update_registered_converter(
        ElmanRegressor,
        "SklearnElmanRegressor",
        _regressor_shape,
        _convert_regressor,
    )
    skl2onnx.update_registered_converter(
        SequenceScaler, "SklearnElmanSequenceScaler", _scaler_shape, _convert_scaler
    )


def to_onnx(estimator, X_sample, *, options=None, target_opset=None):
    """Convert a fitted estimator or pipeline to ONNX, for input shaped like ``X``.

    A shortcut for ``skl2onnx.to_onnx`` whose graph input, named ``"X"``,
    leaves the number of rows free, and for 3D input the number of steps too
    (``skl2onnx.to_onnx(estimator, X_sample)`` fixes every dimension of 3D
    input but the first).

    Parameters
    ----------
    estimator : estimator or Pipeline
        A fitted :class:`~sklearn_elman.ElmanClassifier`,
        :class:`~sklearn_elman.ElmanRegressor`, or a pipeline of them and of
        :class:`~sklearn_elman.SequenceScaler` (or other estimators skl2onnx
        converts).
    X_sample : array-like of shape (n_sequences, n_columns) or \
            (n_sequences, n_steps, n_features)
        Input of the layout the model will read (2D or 3D); only its number
        of dimensions and of columns (features for 3D) are used.
    options : dict, default=None
        Options of skl2onnx, such as ``{"zipmap": False}`` for a
        classifier's probabilities as a plain tensor.
    target_opset : int, default=None
        ONNX opset (15 or later); skl2onnx's latest tested one if None.

    Returns
    -------
    model : onnx.ModelProto
        The model; its input is float32 NaN-padded sequences, as ``predict``
        reads them.
    """
    shape = np.shape(X_sample)
    dims = [None, shape[1]] if len(shape) == 2 else [None, None, shape[2]]
    model = skl2onnx.to_onnx(
        estimator,
        initial_types=[("X", FloatTensorType(dims))],
        options=options,
        target_opset=target_opset,
    )
    return _expose_context(model)


def _expose_context(model):
    """Make a stateful network's context an optional input and an extra output.

    The initializer holding the starting context becomes also a graph input
    named ``initial_context`` (an input with a default, in ONNX's terms), and
    the RNN's last state is copied to an output named ``final_context``.
    """
    graph = model.graph
    starts = [i for i in graph.initializer if i.name.startswith(INITIAL_CONTEXT)]
    ends = [
        name
        for node in graph.node
        if node.op_type == "RNN"
        for name in node.output
        if name.startswith("stream_" + FINAL_CONTEXT)
    ]
    if len(starts) != 1 or len(ends) != 1:
        return model  # stateless, or several stateful networks: left as they are
    start = starts[0]
    for node in graph.node:
        node.input[:] = [INITIAL_CONTEXT if i == start.name else i for i in node.input]
    start.name = INITIAL_CONTEXT
    shape = list(start.dims)
    graph.input.append(
        onnx.helper.make_tensor_value_info(
            INITIAL_CONTEXT, onnx.TensorProto.FLOAT, shape
        )
    )
    graph.node.append(onnx.helper.make_node("Identity", [ends[0]], [FINAL_CONTEXT]))
    graph.output.append(
        onnx.helper.make_tensor_value_info(FINAL_CONTEXT, onnx.TensorProto.FLOAT, shape)
    )
    onnx.checker.check_model(model)
    return model


register()
