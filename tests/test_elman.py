"""Tests of the pure maths in ``sklearn_elman._elman``.

The central property: the analytic gradient from backpropagation through time
agrees with central finite differences of the loss, for every parameter array.
With truncation the analytic gradient is, by definition, the gradient of a
surrogate loss in which the context entering each output's window is a constant;
``windowed_loss`` below computes that surrogate independently, from the forward
pass alone, one output at a time.

Tolerance: with step ``h = 1e-5`` in float64, central differences have a
truncation error of about ``h**2 / 6 * |f'''|`` (~1e-10 here) and a rounding error
of about ``eps * |f| / h`` (~1e-11 for losses of order one). The element-wise
bound ``atol=1e-8, rtol=1e-6`` leaves a wide margin (over 200 random problems the
largest error used 1.6% of it) while a missing or wrong gradient term, of the size
of the gradient itself, fails it: dropping any single term of the backward pass
makes these tests fail.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_elman import _elman as E

ACTIVATIONS = sorted(E.ACTIVATIONS)
HEADS = sorted(E.HEADS)
READOUTS = list(E.READOUTS)
FD_STEP = 1e-5
FD_RTOL = 1e-6
FD_ATOL = 1e-8


# ----------------------------------------------------------------------------------
# Problem generation
# ----------------------------------------------------------------------------------


@st.composite
def problems(draw, per_step=None):
    """A small random problem: shapes and seed drawn, arrays built from the seed."""
    return {
        "n_seq": draw(st.integers(1, 5)),
        "n_steps": draw(st.integers(1, 6)),
        "n_features": draw(st.integers(1, 4)),
        "n_hidden": draw(st.integers(1, 5)),
        "n_classes": draw(st.integers(2, 4)),
        "head": draw(st.sampled_from(HEADS)),
        "readout": draw(st.sampled_from(READOUTS)),
        "segmented": draw(st.booleans()),
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "per_step": draw(st.booleans()) if per_step is None else per_step,
        "padded": draw(st.booleans()),
        "with_context": draw(st.booleans()),
        "weighted": draw(st.booleans()),
        "alpha": draw(st.sampled_from([0.0, 0.3])),
        "bptt_steps": draw(st.one_of(st.none(), st.integers(1, 8))),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


@st.composite
def ensemble_problems(draw):
    """A problem whose network is two or three members side by side."""
    return {**draw(problems()), "n_members": draw(st.integers(2, 3))}


def build(spec, dtype=np.float64):
    """Arrays of a problem: params, X (NaN-padded), mask, Y, weights, context."""
    rng = np.random.default_rng(spec["seed"])
    n, T, f = spec["n_seq"], spec["n_steps"], spec["n_features"]
    h, K = spec["n_hidden"], spec["n_classes"]
    members = []
    for _ in range(spec.get("n_members", 1)):
        params = E.init_params(f, h, K, rng, dtype, kind=spec.get("readout", "last"))
        # Non-zero biases, so that their gradients are exercised, and weights
        # scaled up so that the hidden units are not all in their linear regime.
        params.hidden_bias[...] = rng.normal(scale=0.5, size=h)
        params.output_bias[...] = rng.normal(scale=0.5, size=K)
        params.context_weights[...] *= 1.5
        members.append(params)
    if len(members) > 1:
        params = E.join_members(members)
        h = params.context_weights.shape[0]
    X = rng.normal(size=(n, T, f)).astype(dtype)
    if spec["padded"]:
        lengths = rng.integers(1, T + 1, size=n)
    else:
        lengths = np.full(n, T)
    mask = np.arange(T)[None, :] < lengths[:, None]
    X[~mask] = np.nan
    outputs_shape = (n, T) if spec["per_step"] else (n,)
    if spec.get("head", "softmax") == "softmax":
        Y = np.eye(K, dtype=dtype)[rng.integers(0, K, size=outputs_shape)]
    else:
        # Regression targets: K values per output.
        Y = rng.normal(size=outputs_shape + (K,)).astype(dtype)
    weight = rng.uniform(0.1, 2, size=outputs_shape).astype(dtype)
    if not spec["weighted"]:
        weight = None
    context = rng.normal(size=(n, h)).astype(dtype) if spec["with_context"] else None
    return params, X, mask, Y, weight, context, lengths


def fixed_problem(**changes):
    """A problem of fixed small shapes, padded, weighted and read from a context."""
    spec = {
        "n_seq": 3,
        "n_steps": 5,
        "n_features": 2,
        "n_hidden": 3,
        "n_classes": 3,
        "head": "softmax",
        "readout": "last",
        "segmented": False,
        "activation": "tanh",
        "per_step": False,
        "padded": True,
        "with_context": True,
        "weighted": True,
        "alpha": 0.1,
        "bptt_steps": None,
        "seed": 0,
    }
    return {**spec, **changes}


def segment_starts(spec, lengths, n_steps=None):
    """Per-step problems with ``segmented``: random segment starts (stream rows).

    They depend on the seed and the real steps only: extra padding (``n_steps``
    beyond the problem's) adds no start.
    """
    if not (spec["per_step"] and spec.get("segmented")):
        return None
    rng = np.random.default_rng(spec["seed"] + 1)
    T = spec["n_steps"]
    starts = np.zeros((spec["n_seq"], n_steps or T), dtype=bool)
    starts[:, :T] = rng.random((spec["n_seq"], T)) < 0.4
    return starts & (np.arange(starts.shape[1])[None, :] < lengths[:, None])


def analytic(spec, params, X, mask, Y, weight, context, bptt_steps="spec", rows=None):
    """``loss_and_gradient`` of a problem (of its sequences ``rows``, if given)."""
    if bptt_steps == "spec":
        bptt_steps = spec["bptt_steps"]
    if mask is None:
        starts = None  # (only per-sequence problems pass no mask)
    elif rows is None:
        starts = segment_starts(spec, mask.sum(axis=1), X.shape[1])
    else:
        full = segment_starts(spec, np.full(spec["n_seq"], X.shape[1]), X.shape[1])
        starts = None if full is None else full[rows] & mask
    return E.loss_and_gradient(
        params,
        X,
        Y,
        mask=mask,
        context=context,
        activation=spec["activation"],
        per_step=spec["per_step"],
        sample_weight=weight,
        alpha=spec["alpha"],
        bptt_steps=bptt_steps,
        head=head_of(spec),
        kind=spec.get("readout", "last"),
        starts=starts,
    )


def head_of(spec):
    """The problem's head: its name, or the average of its members."""
    n_members = spec.get("n_members", 1)
    if n_members == 1:
        return spec["head"]
    return E.average_of_members(E.HEADS[spec["head"]], n_members)


def head_loss(head, Z, target):
    """The loss of one output, written independently of ``_elman``'s heads."""
    if head == "softmax":
        return -float(target @ (Z - np.log(np.exp(Z - Z.max()).sum()) - Z.max()))
    return 0.5 * float(np.sum((Z - target) ** 2))


def windowed_loss(spec, params, entry_params, X, lengths, Y, weight, context):
    """The loss whose exact gradient truncated BPTT computes, output by output.

    The state after step ``s`` of sequence ``i`` is re-run over the window of the
    last ``bptt_steps`` real steps ending at ``s``, starting from the hidden state
    that ``entry_params`` (held fixed) gives before the window. The output at step
    ``t`` reads such states through the readout's per-sequence pooling over its
    segment up to ``t`` (for 'last', the state at ``t``), so that every entry of
    the registry is covered. Without truncation the windows are whole prefixes and
    this is the plain loss.
    """
    k = spec["bptt_steps"]
    entry = E.READOUTS[spec.get("readout", "last")]
    n, T, _ = X.shape
    mask = np.arange(T)[None, :] < lengths[:, None]
    starts = segment_starts(spec, lengths)
    entry_states = E.run_hidden(
        entry_params, X, mask, context, spec["activation"]
    ).hidden

    def state(i, s):
        start = 0 if k is None else max(0, s - k + 1)
        trace = E.run_hidden(
            params,
            X[i : i + 1, start : s + 1],
            context=entry_states[start, i][None],
            activation=spec["activation"],
        )
        return trace.hidden[-1, 0]

    total = 0.0
    weight_sum = 0.0
    for i in range(n):
        out_steps = range(lengths[i]) if spec["per_step"] else [lengths[i] - 1]
        for t in out_steps:
            first = 0
            if starts is not None:
                first = max(s for s in range(t + 1) if s == 0 or starts[i, s])
            if entry.last_only:
                r = state(i, t)
            else:
                states = np.array([state(i, s) for s in range(first, t + 1)])
                r = entry.pool(states[:, None], np.array([len(states)]))[0][0]
            Z = r @ params.output_weights + params.output_bias
            if spec["per_step"]:
                target, w = Y[i, t], 1.0 if weight is None else weight[i, t]
            else:
                target, w = Y[i], 1.0 if weight is None else weight[i]
            # An ensemble's loss: the mean of its members' (one block of Z each).
            member_logits = np.split(Z, spec.get("n_members", 1))
            member_losses = [head_loss(spec["head"], z, target) for z in member_logits]
            total += w * np.mean(member_losses)
            weight_sum += w
    # An ensemble's penalty is the mean of its members' too.
    penalty = E.l2_penalty(params) / spec.get("n_members", 1)
    return (total + spec["alpha"] * penalty) / weight_sum


def numeric_gradient(loss, theta):
    grad = np.empty_like(theta)
    for j in range(theta.size):
        step = np.zeros_like(theta)
        step[j] = FD_STEP
        grad[j] = (loss(theta + step) - loss(theta - step)) / (2 * FD_STEP)
    return grad


def assert_gradients_close(grad, numeric_flat, shapes, n_members=1):
    if n_members > 1:
        # Only the members' own entries: those between members are no
        # parameters (they stay zero), and their gradient is not computed.
        between = E.member_of_each_param(shapes, n_members) < 0
        numeric_flat = np.where(between, 0, numeric_flat)
        grad = E.unpack(np.where(between, 0, E.pack(grad)), shapes)
    for name, g, n in zip(E.ElmanParams._fields, grad, E.unpack(numeric_flat, shapes)):
        assert_allclose(g, n, rtol=FD_RTOL, atol=FD_ATOL, err_msg=name)


# ----------------------------------------------------------------------------------
# Gradients against finite differences
# ----------------------------------------------------------------------------------


# Finite differences are no derivative across a kink: a ReLU's pre-activation
# at 0, or two states tied for a max readout. Steps of FD_STEP move the states by
# about FD_STEP times their sensitivity, so examples closer than this to a kink
# are set aside (hypothesis draws others).
KINK_MARGIN = 1e-3


def assume_away_from_kinks(spec, params, X, mask, context):
    trace = E.run_hidden(params, X, mask, context, spec["activation"])
    n_steps = X.shape[1]
    real = mask.T  # time-major, as the trace
    if spec["activation"] == "relu":
        stacked = np.vstack(
            [params.context_weights, params.input_weights, params.hidden_bias[None]]
        )
        pre_activations = trace.steps[:n_steps] @ stacked
        assume(np.abs(pre_activations[real]).min() > KINK_MARGIN)
    if "max" in spec.get("readout", "last"):
        states = trace.hidden[1:]
        for i, length in enumerate(mask.sum(axis=1)):
            ordered = np.sort(states[:length, i, :], axis=0)
            gaps = np.diff(ordered, axis=0)
            assume(gaps.size == 0 or gaps.min() > KINK_MARGIN)


def assert_gradient_matches_finite_differences(spec):
    params, X, mask, Y, weight, context, lengths = build(spec)
    assume_away_from_kinks(spec, params, X, mask, context)
    loss, grad, _ = analytic(spec, params, X, mask, Y, weight, context)
    shapes = E.shapes_of(params)
    theta = E.pack(params)

    def surrogate(th):
        return windowed_loss(
            spec, E.unpack(th, shapes), params, X, lengths, Y, weight, context
        )

    assert loss == pytest.approx(surrogate(theta), rel=1e-12)
    numeric = numeric_gradient(surrogate, theta)
    assert_gradients_close(grad, numeric, shapes, spec.get("n_members", 1))


@given(problems())
def test_gradient_matches_finite_differences(spec):
    assert_gradient_matches_finite_differences(spec)


@given(problems())
def test_untruncated_gradient_matches_loss_and_gradient_itself(spec):
    """Without truncation, finite differences of the function's own loss agree."""
    spec = {**spec, "bptt_steps": None}
    params, X, mask, Y, weight, context, _ = build(spec)
    _, grad, _ = analytic(spec, params, X, mask, Y, weight, context)
    shapes = E.shapes_of(params)

    def loss(th):
        return analytic(spec, E.unpack(th, shapes), X, mask, Y, weight, context)[0]

    assert_gradients_close(grad, numeric_gradient(loss, E.pack(params)), shapes)


# Each example differentiates every parameter of up to three networks: 50
# examples, not the profile's 300 in CI, keep these two properties to seconds.
ENSEMBLE_EXAMPLES = 50


@settings(max_examples=ENSEMBLE_EXAMPLES)
@given(ensemble_problems())
def test_ensemble_gradient_matches_finite_differences(spec):
    """Members side by side: each member's entries, through the averaging head."""
    assert_gradient_matches_finite_differences(spec)


@settings(max_examples=ENSEMBLE_EXAMPLES)
@given(ensemble_problems())
def test_ensemble_outputs_and_gradient_are_those_of_its_members(spec):
    """The joined network computes each member exactly as the member alone."""
    spec = {**spec, "bptt_steps": None, "with_context": False}
    n_members = spec["n_members"]
    params, X, mask, Y, weight, _, _ = build(spec)
    members = [build({**spec, "n_members": 1})[0]]  # the first, drawn alone
    loss, grad, _ = analytic(spec, params, X, mask, Y, weight, None)
    shapes = E.shapes_of(params)
    ids = E.member_of_each_param(shapes, n_members)
    theta = E.pack(params)
    member_shapes = E.shapes_of(members[0])
    member_thetas = [theta[ids == m] for m in range(n_members)]
    # Entries of one member, in the order of pack, are that member's own layout.
    assert_array_equal(member_thetas[0], E.pack(members[0]))
    member_params = [E.unpack(t.copy(), member_shapes) for t in member_thetas]
    kind = spec["readout"]
    outputs, _ = E.forward(
        params, X, mask, None, spec["activation"], spec["per_step"], head_of(spec),
        kind,
    )  # fmt: skip
    alone = [
        E.forward(m, X, mask, None, spec["activation"], spec["per_step"],
                  spec["head"], kind)[0]
        for m in member_params
    ]  # fmt: skip
    assert_allclose(outputs, np.mean(alone, axis=0), rtol=1e-10, atol=1e-12)
    member_results = [
        analytic({**spec, "n_members": 1}, m, X, mask, Y, weight, None)
        for m in member_params
    ]
    assert loss == pytest.approx(np.mean([r[0] for r in member_results]), rel=1e-10)
    # Each member's block of the gradient is its own loss's, divided by M.
    flat = E.pack(grad)
    for m, (_, member_grad, _) in enumerate(member_results):
        assert_allclose(
            flat[ids == m] * n_members, E.pack(member_grad), rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("per_step", [False, True])
def test_truncation_beyond_length_equals_full_history(head, activation, per_step, seed):
    spec = fixed_problem(head=head, activation=activation, per_step=per_step, seed=seed)
    params, X, mask, Y, weight, context, _ = build(spec)
    _, full, _ = analytic(spec, params, X, mask, Y, weight, context)
    for k in (5, 6, 100):
        _, truncated, _ = analytic(spec, params, X, mask, Y, weight, context, k)
        for a, b in zip(full, truncated):
            assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    if activation != "relu":
        # (Dead relu units can stop the gradient within two steps by themselves.)
        _, short, _ = analytic(spec, params, X, mask, Y, weight, context, 2)
        assert not np.allclose(E.pack(full), E.pack(short))


# ----------------------------------------------------------------------------------
# Invariants
# ----------------------------------------------------------------------------------


@given(problems(), st.integers(1, 3))
def test_extra_nan_padding_changes_nothing(spec, extra):
    params, X, mask, Y, weight, context, _ = build(spec)
    n, T, f = X.shape
    X_long = np.concatenate([X, np.full((n, extra, f), np.nan)], axis=1)
    mask_long = np.concatenate([mask, np.zeros((n, extra), bool)], axis=1)
    Y_long, weight_long = Y, weight
    if spec["per_step"]:
        # Targets at padded steps are arbitrary: they must be ignored.
        Y_long = np.concatenate([Y, np.ones((n, extra, Y.shape[2]))], axis=1)
        if weight is not None:
            weight_long = np.concatenate([weight, np.ones((n, extra))], axis=1)
    loss, grad, final = analytic(spec, params, X, mask, Y, weight, context)
    loss2, grad2, final2 = analytic(
        spec, params, X_long, mask_long, Y_long, weight_long, context
    )
    assert loss2 == pytest.approx(loss, rel=1e-13)
    assert_allclose(final2, final, rtol=1e-13)
    assert_allclose(E.pack(grad2), E.pack(grad), rtol=1e-11, atol=1e-14)
    act, head = spec["activation"], spec["head"]
    kind = spec["readout"]
    proba, _ = E.forward(params, X, mask, context, act, head=head, kind=kind)
    proba2, _ = E.forward(params, X_long, mask_long, context, act, head=head, kind=kind)
    assert_allclose(proba2, proba, rtol=1e-13, atol=1e-15)


@given(problems())
def test_batch_equals_sequences_one_by_one(spec):
    spec = {**spec, "alpha": 0.0, "weighted": False}
    params, X, mask, Y, _, context, _ = build(spec)
    act, per_step, head = spec["activation"], spec["per_step"], spec["head"]
    kind = spec["readout"]
    proba, final = E.forward(params, X, mask, context, act, per_step, head, kind)
    loss, grad, _ = analytic(spec, params, X, mask, Y, None, context)
    losses, grads, counts = [], [], []
    for i in range(X.shape[0]):
        c = None if context is None else context[i : i + 1]
        p_i, f_i = E.forward(
            params, X[i : i + 1], mask[i : i + 1], c, act, per_step, head, kind
        )
        # atol: identity outputs can cancel to near zero, where rtol alone is 0.
        assert_allclose(p_i[0], proba[i], rtol=1e-12, atol=1e-14)
        assert_allclose(f_i[0], final[i], rtol=1e-12)
        l_i, g_i, _ = analytic(
            spec,
            params,
            X[i : i + 1],
            mask[i : i + 1],
            Y[i : i + 1],
            None,
            c,
            rows=slice(i, i + 1),
        )
        n_outputs = mask[i].sum() if per_step else 1
        losses.append(l_i * n_outputs)
        grads.append(E.pack(g_i) * n_outputs)
        counts.append(n_outputs)
    # Unweighted, the batch loss is the mean over all outputs of the batch.
    assert loss == pytest.approx(sum(losses) / sum(counts), rel=1e-12)
    assert_allclose(E.pack(grad), sum(grads) / sum(counts), rtol=1e-10, atol=1e-14)


@given(
    st.integers(1, 6), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1)
)
def test_unpack_inverts_pack(n_features, n_hidden, n_outputs, seed):
    rng = np.random.default_rng(seed)
    shapes = E.param_shapes(n_features, n_hidden, n_outputs)
    params = E.ElmanParams(*(rng.normal(size=s) for s in shapes))
    theta = E.pack(params)
    assert theta.shape == (E.n_params(shapes),)
    for a, b in zip(E.unpack(theta, shapes), params):
        assert_array_equal(a, b)
    assert_array_equal(E.pack(E.unpack(theta, shapes)), theta)


def test_unpack_returns_views_and_checks_size():
    shapes = E.param_shapes(2, 3, 2)
    theta = np.zeros(E.n_params(shapes))
    params = E.unpack(theta, shapes)
    params.hidden_bias[1] = 7.0
    assert 7.0 in theta
    with pytest.raises(ValueError, match="theta has 5 values"):
        E.unpack(np.zeros(5), shapes)


@given(problems(per_step=False))
def test_per_step_output_at_last_real_step_equals_per_sequence_output(spec):
    params, X, mask, _, _, context, lengths = build(spec)
    act, kind = spec["activation"], spec["readout"]
    per_sequence, _ = E.forward(params, X, mask, context, act, False, kind=kind)
    per_step, _ = E.forward(params, X, mask, context, act, True, kind=kind)
    assert per_step.shape == X.shape[:2] + (spec["n_classes"],)
    assert_allclose(per_step[np.arange(len(X)), lengths - 1], per_sequence, rtol=1e-13)


@given(problems(per_step=False))
def test_truncation_one_equals_gradient_with_context_held_constant(spec):
    """bptt_steps=1 is one step from the previous hidden state taken as an input."""
    spec = {**spec, "bptt_steps": 1, "readout": "last"}
    params, X, mask, Y, weight, context, lengths = build(spec)
    _, grad, _ = analytic(spec, params, X, mask, Y, weight, context)
    states = E.run_hidden(params, X, mask, context, spec["activation"]).hidden
    rows = np.arange(len(X))
    last_step = X[rows, lengths - 1][:, None, :]
    previous = states[lengths - 1, rows]
    one_step = {**spec, "bptt_steps": None}
    _, expected, _ = analytic(one_step, params, last_step, None, Y, weight, previous)
    assert_allclose(E.pack(grad), E.pack(expected), rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------------
# Readouts
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", READOUTS)
def test_incremental_update_agrees_with_per_step_pooling(kind, rng):
    """Taking in one state at a time gives the running readout of every step."""
    entry = E.READOUTS[kind]
    n_steps, n_seq, n_hidden = 7, 4, 3
    H = rng.normal(size=(n_steps, n_seq, n_hidden))
    lengths = np.full(n_seq, n_steps)
    starts = rng.random((n_seq, n_steps)) < 0.3
    expected, _ = entry.pool_steps(H, lengths, starts)
    starts[:, 0] = True
    width = entry.width(n_hidden)
    running = entry.resume(np.zeros((n_seq, width)), np.zeros(n_seq, dtype=np.intp))
    for t in range(n_steps):
        R, running = entry.update(running, H[t], starts[:, t])
        assert R.shape == (n_seq, width)
        assert_allclose(R, expected[t], rtol=1e-13, atol=1e-15)


def carried(H, lengths):
    """States as run_hidden leaves them: padded steps repeat the last real one."""
    padded = np.arange(len(H))[:, None] >= lengths[None, :]
    last = H[lengths - 1, np.arange(H.shape[1])]
    return np.where(padded[:, :, None], last[None], H)


@pytest.mark.parametrize("kind", READOUTS)
def test_resumed_update_continues_the_per_sequence_pooling(kind, rng):
    """resume + update over one more step pools the sequence extended by it."""
    entry = E.READOUTS[kind]
    lengths = np.array([5, 3, 5, 1])
    history = carried(rng.normal(size=(5, 4, 3)), lengths)
    new = rng.normal(size=(4, 3))
    # Each row is extended by one state right after its last real step.
    extended = np.concatenate([history, history[-1:]])
    extended[lengths, np.arange(4)] = new
    extended = carried(extended, lengths + 1)
    pooled, _ = entry.pool(history, lengths)
    R, _ = entry.update(entry.resume(pooled, lengths), new, np.zeros(4, bool))
    expected, _ = entry.pool(extended, lengths + 1)
    assert_allclose(R, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("kind", READOUTS)
@pytest.mark.parametrize("per_step", [False, True])
def test_readout_backward_is_the_transpose_of_its_pooling(kind, per_step, rng):
    """The backward pass is the derivative of ``<dR, pooling(H)>`` in ``H``.

    Padding is left out here: how a padded state's gradient reaches the state it
    repeats is the network's part, which the gradient tests above cover.
    """
    entry = E.READOUTS[kind]
    n_steps, n_seq, n_hidden = 5, 3, 2
    H = rng.normal(size=(n_steps, n_seq, n_hidden))
    lengths = np.full(n_seq, n_steps)
    starts = (rng.random((n_seq, n_steps)) < 0.4) if per_step else None

    def pooled(H):
        if per_step:
            return entry.pool_steps(H, lengths, starts)
        return entry.pool(H, lengths)

    R, cache = pooled(H)
    dR = rng.normal(size=R.shape)
    dH = (entry.steps_backward if per_step else entry.backward)(dR, cache)
    assert dH.shape == H.shape
    numeric = np.empty_like(H)
    for index in np.ndindex(*H.shape):
        step = np.zeros_like(H)
        step[index] = FD_STEP
        plus, minus = pooled(H + step)[0], pooled(H - step)[0]
        numeric[index] = np.vdot(dR, plus - minus) / (2 * FD_STEP)
    assert_allclose(dH, numeric, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("kind", [k for k in READOUTS if E.READOUTS[k].last_only])
@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("bptt_steps", [None, 1, 3])
def test_last_only_fast_path_equals_the_general_backward(
    kind, per_step, bptt_steps, seed, monkeypatch
):
    """The shortcut of a last-state readout changes no gradient."""
    spec = fixed_problem(
        readout=kind,
        segmented=True,
        per_step=per_step,
        bptt_steps=bptt_steps,
        seed=seed,
    )
    params, X, mask, Y, weight, context, _ = build(spec)
    fast_loss, fast, _ = analytic(spec, params, X, mask, Y, weight, context)
    general = E.READOUTS[kind]._replace(last_only=False)
    monkeypatch.setitem(E.READOUTS, kind, general)
    loss, grad, _ = analytic(spec, params, X, mask, Y, weight, context)
    assert loss == fast_loss
    assert_allclose(E.pack(grad), E.pack(fast), rtol=1e-12, atol=1e-15)


def _concatenated(first, second):
    """A readout of twice the width: two readouts side by side."""

    def split(dR):
        half = dR.shape[-1] // 2
        return dR[..., :half], dR[..., half:]

    def pool(H, lengths):
        (a, ca), (b, cb) = first.pool(H, lengths), second.pool(H, lengths)
        return np.concatenate([a, b], axis=-1), (ca, cb)

    def backward(dR, cache):
        da, db = split(dR)
        return first.backward(da, cache[0]) + second.backward(db, cache[1])

    def pool_steps(H, lengths, starts):
        a, ca = first.pool_steps(H, lengths, starts)
        b, cb = second.pool_steps(H, lengths, starts)
        return np.concatenate([a, b], axis=-1), (ca, cb)

    def steps_backward(dR, cache):
        da, db = split(dR)
        return first.steps_backward(da, cache[0]) + second.steps_backward(db, cache[1])

    def update(running, h, restart):
        a, ra = first.update(running[0], h, restart)
        b, rb = second.update(running[1], h, restart)
        return np.concatenate([a, b], axis=-1), (ra, rb)

    def resume(R, n):
        a, b = split(R)
        return first.resume(a, n), second.resume(b, n)

    return E.Readout(
        pool, backward, pool_steps, steps_backward, lambda n: 2 * n, resume, update
    )


@given(problems())
def test_a_wider_readout_is_one_new_entry(spec):
    """An entry wider than the hidden layer trains through the same code."""
    wide = _concatenated(E.READOUTS["mean"], E.READOUTS["max"])
    spec = {**spec, "readout": "mean_max"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(E.READOUTS, "mean_max", wide)
        params, X, mask, Y, weight, context, lengths = build(spec)
        n_hidden = spec["n_hidden"]
        assert params.output_weights.shape == (2 * n_hidden, spec["n_classes"])
        shapes = E.shapes_of(params)
        assert shapes == E.param_shapes(
            spec["n_features"], n_hidden, spec["n_classes"], "mean_max"
        )
        theta = E.pack(params)

        def surrogate(th):
            return windowed_loss(
                spec, E.unpack(th, shapes), params, X, lengths, Y, weight, context
            )

        loss, grad, _ = analytic(spec, params, X, mask, Y, weight, context)
        assert loss == pytest.approx(surrogate(theta), rel=1e-12)
        assert_gradients_close(grad, numeric_gradient(surrogate, theta), shapes)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 1e2, 1e4])
def test_softmax_and_cross_entropy_stay_finite_for_large_logits(dtype, scale, rng):
    Z = (rng.normal(size=(50, 4)) * scale).astype(dtype)
    Z[0] = [scale, -scale, 0, scale]
    Y = np.eye(4, dtype=dtype)[rng.integers(0, 4, size=50)]
    P = E.softmax(Z)
    assert P.dtype == dtype
    assert np.all(np.isfinite(P))
    assert_allclose(P.sum(axis=1), 1, rtol=1e-6)
    log_p = E.log_softmax(Z)
    assert np.all(np.isfinite(log_p)) and np.all(log_p <= 0)
    loss, dZ, weight_sum = E.softmax_cross_entropy(Z, Y)
    assert np.isfinite(loss) and np.all(np.isfinite(dZ))
    assert weight_sum == 50
    # A confidently wrong output costs 2s + log(1 + exp(-2s)): linear, no overflow.
    wrong_logits = np.array([[scale, -scale]], dtype)
    wrong, _, _ = E.softmax_cross_entropy(wrong_logits, np.eye(2, dtype=dtype)[[1]])
    assert wrong == pytest.approx(
        2 * scale + math.log1p(math.exp(-2 * scale)), rel=1e-6
    )


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_and_gradient_finite_for_huge_inputs(activation, rng):
    params = E.init_params(3, 4, 3, rng)
    X = rng.normal(size=(6, 5, 3)) * 1e4
    Y = np.eye(3)[rng.integers(0, 3, size=6)]
    loss, grad, final = E.loss_and_gradient(params, X, Y, activation=activation)
    assert np.isfinite(loss)
    assert np.all(np.isfinite(E.pack(grad)))
    proba, _ = E.forward(params, X, activation=activation)
    assert np.all(np.isfinite(proba))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_of_infinite_and_extreme_logits_is_finite(dtype):
    big = np.finfo(dtype).max
    Z = np.array(
        [[np.inf, 1, -np.inf], [np.inf, np.inf, 0], [big, -big, 0], [-np.inf] * 3],
        dtype=dtype,
    )
    with np.errstate(over="raise", invalid="raise"):
        P = E.softmax(Z)
        log_p = E.log_softmax(Z)
    assert_array_equal(P[0], [1, 0, 0])
    assert_array_equal(P[1], [0.5, 0.5, 0])
    assert_array_equal(P[2], [1, 0, 0])
    assert_allclose(P[3], 1 / 3, rtol=1e-6)
    assert np.isfinite(log_p).all()


@given(
    A=st.lists(st.floats(-1e3, 1e3), min_size=12, max_size=12),
    W=st.lists(st.floats(-1e3, 1e3), min_size=8, max_size=8),
)
def test_saturating_matmul_is_matmul_where_nothing_overflows(A, W):
    A, W = np.reshape(A, (3, 4)), np.reshape(W, (4, 2))
    assert_allclose(E.saturating_matmul(A, W), A @ W, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturating_matmul_overflows_to_inf_never_nan(dtype):
    big = np.finfo(dtype).max
    # Row 0: partial sums overflow both ways, which a plain product can add up to
    # NaN (or to inf, depending on the order the BLAS sums in); the true values
    # are 0 and 4 * big.
    A = np.array([[big, big, -big, -big], [1, 2, 3, 4], [0, 0, 0, 0]], dtype=dtype)
    W = np.array([[1, 1], [1, 1], [1, -1], [1, -1]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise"):
        product = E.saturating_matmul(A, W)
    assert product.dtype == dtype
    assert product[0, 0] == 0 and product[0, 1] == np.inf
    assert_array_equal(product[1:], A[1:] @ W)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_saturating_forward_has_no_nan_at_the_end_of_the_range(activation, rng):
    params = E.init_params(3, 4, 3, rng)
    X = np.where(rng.random((6, 5, 3)) < 0.5, -1.0, 1.0) * np.finfo(float).max
    plain, _ = E.forward(params, rng.normal(size=(6, 5, 3)), activation=activation)
    assert np.isfinite(plain).all()
    with np.errstate(over="raise", invalid="raise"):
        proba, context = E.forward(params, X, activation=activation, saturate=True)
    assert np.isfinite(proba).all() and np.isfinite(context).all()
    assert_allclose(proba.sum(axis=1), 1)
    # Where nothing overflows, saturating changes nothing beyond rounding.
    X_small = rng.normal(size=(6, 5, 3))
    plain, _ = E.forward(params, X_small, activation=activation)
    saturated, _ = E.forward(params, X_small, activation=activation, saturate=True)
    assert_allclose(saturated, plain, rtol=1e-12)


def test_logistic_activation_is_stable_for_large_negative_input():
    Z = np.array([-1e4, -800.0, 0.0, 800.0, 1e4])
    with np.errstate(all="raise"):
        H = E.ACTIVATIONS["logistic"](Z.copy())
    assert_allclose(H, [0, 0, 0.5, 1, 1])


# ----------------------------------------------------------------------------------
# A worked example, by hand
# ----------------------------------------------------------------------------------


def hand_example():
    """Two steps, one feature, two hidden units, identity activation.

    Every intermediate value is a short binary fraction, so the forward pass is
    exact and the gradients are those fractions times q = sigmoid(4.25):

        h1 = 1 * [0.5, -1] + [0, 0] @ W_rec + [0, 0.5]            = [0.5, -0.5]
        h2 = 2 * [0.5, -1] + [0.5, -0.5] @ W_rec + [0, 0.5]        = [1.25, -1.75]
        z  = h2 @ W_out + b_out = [1.25, -1.25 - 1.75]             = [1.25, -3]
        p  = softmax(z) = [q, 1 - q],  target class 1, loss = log(1 + exp(4.25))
        dz = p - y = [q, -q]
        dh2 = dz @ W_out.T = [2q, -q]           (identity: da2 = dh2)
        da1 = da2 @ W_rec.T = [2q, 0.5q]
        dW_in  = 1 * da1 + 2 * da2              = [[6q, -1.5q]]
        dW_rec = h0.T da1 + h1.T da2            = [[q, -0.5q], [-q, 0.5q]]
        db_hid = da1 + da2                      = [4q, -0.5q]
        dW_out = h2.T dz                        = [[1.25q, -1.25q], [-1.75q, 1.75q]]
        db_out = dz                             = [q, -q]
    """
    params = E.ElmanParams(
        input_weights=np.array([[0.5, -1.0]]),
        context_weights=np.array([[1.0, 0.0], [0.5, 0.5]]),
        hidden_bias=np.array([0.0, 0.5]),
        output_weights=np.array([[1.0, -1.0], [0.0, 1.0]]),
        output_bias=np.array([0.0, 0.0]),
    )
    X = np.array([[[1.0], [2.0]]])
    Y = np.array([[0.0, 1.0]])
    q = 1.0 / (1.0 + math.exp(-4.25))
    return params, X, Y, q


def test_hand_computed_forward_pass():
    params, X, Y, q = hand_example()
    trace = E.run_hidden(params, X, activation="identity")
    assert_array_equal(trace.hidden[:, 0], [[0, 0], [0.5, -0.5], [1.25, -1.75]])
    assert_array_equal(E.output_layer(params, E.readout(trace)), [[1.25, -3.0]])
    proba, final = E.forward(params, X, activation="identity")
    # 1 - q would lose digits to cancellation: p1 = sigmoid(-4.25) directly.
    assert_allclose(proba, [[q, 1.0 / (1.0 + math.exp(4.25))]], rtol=1e-15)
    assert_array_equal(final, [[1.25, -1.75]])


def test_hand_computed_gradient():
    params, X, Y, q = hand_example()
    loss, grad, _ = E.loss_and_gradient(params, X, Y, activation="identity")
    # -log(p1) = log(1 + exp(4.25))
    assert loss == pytest.approx(math.log1p(math.exp(4.25)), rel=1e-15)
    expected = E.ElmanParams(
        input_weights=np.array([[6 * q, -1.5 * q]]),
        context_weights=np.array([[q, -0.5 * q], [-q, 0.5 * q]]),
        hidden_bias=np.array([4 * q, -0.5 * q]),
        output_weights=np.array([[1.25 * q, -1.25 * q], [-1.75 * q, 1.75 * q]]),
        output_bias=np.array([q, -q]),
    )
    for name, g, e in zip(E.ElmanParams._fields, grad, expected):
        assert_allclose(g, e, rtol=1e-15, atol=0, err_msg=name)


def test_hand_computed_gradient_with_elman_rule():
    """With bptt_steps=1 nothing flows into step 1: only da2 = [2q, -q] counts."""
    params, X, Y, q = hand_example()
    _, grad, _ = E.loss_and_gradient(params, X, Y, activation="identity", bptt_steps=1)
    assert_allclose(grad.input_weights, [[4 * q, -2 * q]], rtol=1e-15)
    assert_allclose(grad.context_weights, [[q, -0.5 * q], [-q, 0.5 * q]], rtol=1e-15)
    assert_allclose(grad.hidden_bias, [2 * q, -q], rtol=1e-15)


def test_hand_computed_l2_penalty():
    """alpha adds alpha * W / n to each weight gradient and nothing to biases."""
    params, X, Y, q = hand_example()
    _, plain, _ = E.loss_and_gradient(params, X, Y, activation="identity")
    loss, grad, _ = E.loss_and_gradient(params, X, Y, activation="identity", alpha=0.5)
    # ||W_in||^2 + ||W_rec||^2 + ||W_out||^2 = 1.25 + 1.5 + 3 = 5.75
    assert loss == pytest.approx(
        math.log1p(math.exp(4.25)) + 0.5 * 0.5 * 5.75, rel=1e-15
    )
    for name in E.WEIGHT_NAMES:
        assert_allclose(
            getattr(grad, name),
            getattr(plain, name) + 0.5 * getattr(params, name),
            rtol=1e-15,
        )
    assert_array_equal(grad.hidden_bias, plain.hidden_bias)
    assert_array_equal(grad.output_bias, plain.output_bias)


def test_hand_computed_regression_gradient():
    """The worked example with the identity head and targets y = [1, -2].

    z  = [1.25, -3],  dz = z - y = [0.25, -1],  loss = 0.5 * (1/16 + 1)
    dh2 = dz @ W_out.T = [1.25, -1]           (identity: da2 = dh2)
    da1 = da2 @ W_rec.T = [1.25, 0.125]
    dW_in  = 1 * da1 + 2 * da2              = [[3.75, -1.875]]
    dW_rec = h0.T da1 + h1.T da2            = [[0.625, -0.5], [-0.625, 0.5]]
    db_hid = da1 + da2                      = [2.5, -0.875]
    dW_out = h2.T dz                        = [[0.3125, -1.25], [-0.4375, 1.75]]
    db_out = dz                             = [0.25, -1]
    """
    params, X, _, _ = hand_example()
    Y = np.array([[1.0, -2.0]])
    outputs, _ = E.forward(params, X, activation="identity", head="identity")
    assert_array_equal(outputs, [[1.25, -3.0]])
    loss, grad, _ = E.loss_and_gradient(
        params, X, Y, activation="identity", head="identity"
    )
    assert loss == 0.53125
    expected = E.ElmanParams(
        input_weights=np.array([[3.75, -1.875]]),
        context_weights=np.array([[0.625, -0.5], [-0.625, 0.5]]),
        hidden_bias=np.array([2.5, -0.875]),
        output_weights=np.array([[0.3125, -1.25], [-0.4375, 1.75]]),
        output_bias=np.array([0.25, -1.0]),
    )
    for name, g, e in zip(E.ElmanParams._fields, grad, expected):
        assert_array_equal(g, e, err_msg=name)


def test_squared_error_matches_mlp_regressor_gradient():
    """Per output: half the squared error summed over targets; MLPRegressor's
    backward pass starts from the same ``dZ = Z - Y`` (divided by n)."""
    Z = np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 0.0]])
    Y = np.array([[0.0, 2.0], [1.5, 1.0], [1.0, -1.0]])
    loss_sum, dZ, weight_sum = E.squared_error(Z, Y)
    assert loss_sum == 0.5 * (1 + 0 + 1 + 4 + 1 + 1)
    assert weight_sum == 3
    assert_array_equal(dZ, Z - Y)
    w = np.array([1.0, 0.0, 2.0])
    loss_w, dZ_w, weight_sum_w = E.squared_error(Z, Y, w)
    assert loss_w == 0.5 * 1 + 2 * 0.5 * 2
    assert weight_sum_w == 3
    assert_array_equal(dZ_w, (Z - Y) * w[:, None])


# ----------------------------------------------------------------------------------
# Initialisation, dtypes, clipping
# ----------------------------------------------------------------------------------


def test_init_is_deterministic_glorot_and_orthogonal():
    a = E.init_params(4, 6, 3, np.random.default_rng(7))
    b = E.init_params(4, 6, 3, np.random.default_rng(7))
    for x, y in zip(a, b):
        assert_array_equal(x, y)
    c = E.init_params(4, 6, 3, np.random.default_rng(8))
    assert not np.array_equal(a.input_weights, c.input_weights)
    assert_allclose(a.context_weights @ a.context_weights.T, np.eye(6), atol=1e-12)
    assert np.abs(a.input_weights).max() <= np.sqrt(6 / (4 + 6))
    assert np.abs(a.output_weights).max() <= np.sqrt(6 / (6 + 3))
    assert_array_equal(a.hidden_bias, 0)
    assert_array_equal(a.output_bias, 0)


def test_logistic_init_has_gain_four():
    """The logistic's slope is 1/4 at zero; a gain of 4 keeps the signal's scale."""
    tanh = E.init_params(3, 5, 2, np.random.default_rng(1), activation="tanh")
    logistic = E.init_params(3, 5, 2, np.random.default_rng(1), activation="logistic")
    assert_allclose(logistic.context_weights, 4 * tanh.context_weights, rtol=1e-15)
    assert_allclose(logistic.input_weights, 4 * tanh.input_weights, rtol=1e-15)
    assert_array_equal(logistic.output_weights, tanh.output_weights)


def test_init_accepts_legacy_random_state():
    a = E.init_params(2, 3, 2, np.random.RandomState(0))
    b = E.init_params(2, 3, 2, np.random.RandomState(0))
    assert_array_equal(E.pack(a), E.pack(b))


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("bptt_steps", [None, 1, 2])
def test_float32_in_float32_out(per_step, bptt_steps, rng):
    params = E.init_params(3, 4, 2, rng, dtype=np.float32)
    X = rng.normal(size=(5, 6, 3)).astype(np.float32)
    X[0, 4:] = np.nan
    mask = ~np.isnan(X).all(axis=2)
    shape = (5, 6) if per_step else (5,)
    Y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, size=shape)]
    context = np.zeros((5, 4), np.float32)
    loss, grad, final = E.loss_and_gradient(
        params,
        X,
        Y,
        mask,
        context,
        per_step=per_step,
        alpha=0.1,
        bptt_steps=bptt_steps,
    )
    assert all(g.dtype == np.float32 for g in grad)
    assert final.dtype == np.float32
    proba, _ = E.forward(params, X, mask, per_step=per_step)
    assert proba.dtype == np.float32
    # float32 agrees with float64 to float32 precision.
    params64 = E.ElmanParams(*(p.astype(np.float64) for p in params))
    loss64, grad64, _ = E.loss_and_gradient(
        params64,
        X.astype(np.float64),
        Y.astype(np.float64),
        mask,
        context,
        per_step=per_step,
        alpha=0.1,
        bptt_steps=bptt_steps,
    )
    assert loss == pytest.approx(loss64, rel=1e-5)
    assert_allclose(E.pack(grad), E.pack(grad64), rtol=1e-4, atol=1e-6)


def test_zero_total_weight_is_an_error():
    params = E.init_params(1, 2, 2, np.random.default_rng(0))
    X = np.ones((1, 2, 1))
    Y = np.zeros((1, 2, 2))
    with pytest.raises(ValueError, match="total weight"):
        E.loss_and_gradient(params, X, Y, per_step=True, sample_weight=np.zeros((1, 2)))
