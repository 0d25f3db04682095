"""Training data and the two ways of reading rows.

An estimator reads the rows of ``X`` in one of two modes, each a class here with
one interface, chosen once (``stateful``) instead of tested in every method:

- :class:`SequenceRows`: every row is a whole sequence read from a zero context;
  rows are independent, so they may be shuffled and split at random.
- :class:`StreamRows`: the rows are consecutive chunks of one stream; row ``i``
  continues from the context row ``i - 1`` left, and order is kept.

An instance holds training data (inputs, targets as the head expects them) and
serves mini-batches, validation splits and the loss of a batch; the class methods
:meth:`~SequenceRows.predict`, :meth:`~SequenceRows.hidden_states` and
:meth:`~SequenceRows.forecast` read new rows with fitted parameters. A future mode
(a target at every step of many sequences) is one more class with the same methods.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import gen_batches

from sklearn_elman import _elman
from sklearn_elman._sequences import compact_stream, sequence_lengths

# Rows per chunk in prediction are chosen so that the hidden-state buffer of a
# chunk stays near this many bytes: memory stays bounded whatever the data size.
PREDICT_CHUNK_BYTES = 16 * 2**20


def steps_per_chunk(params: _elman.ElmanParams, itemsize: int) -> int:
    """How many (sequence, step) pairs one chunk of prediction may hold."""
    n_features, n_hidden = params.input_weights.shape
    # run_hidden keeps [h, x, 1] for every step of the chunk.
    return max(1, PREDICT_CHUNK_BYTES // ((n_hidden + n_features + 1) * itemsize))


class _Rows:
    """What the two modes share: reading their own rows with fixed weights."""

    def evaluate(self, params, context, activation, head, kind, reverse_pass=False):
        """Outputs of the rows and their mean loss, with the weights held fixed.

        The rows are read in bounded memory, as prediction reads them (a stream
        from ``context``). The loss is the weighted mean of the head's loss over
        the rows that carry one (no L2 term), the data term of the objective.

        Returns
        -------
        outputs : ndarray of shape (n_rows, n_outputs)
            The head's output at the end of each row.
        loss : float
            Weighted mean loss of the rows.
        context : ndarray of shape (n_hidden,) or None
            The state after the last row (None for independent sequences).
        """
        # The identity head gives the logits, from which both are computed.
        logits, context = self.predict(
            params, self.X3, self.mask, context, activation, "identity", kind,
            reverse_pass,
        )  # fmt: skip
        loss_head = _elman.output_head(head)
        loss_sum, _, weight_sum = loss_head.loss(
            logits.copy(), self.targets, self.loss_weights
        )
        return loss_head.output(logits), loss_sum / weight_sum, context

    def objective(
        self, params, context, activation, head, kind, alpha, reverse_pass=False, **_
    ):
        """The training objective of fixed weights over all the rows.

        The weighted mean loss plus ``0.5 * alpha * ||W||^2`` divided by the
        total weight: the loss of one mini-batch holding every row, and what
        ``lbfgs`` minimises. ``loss_`` and ``best_loss_`` of a ``fit`` are this
        objective of the weights it keeps.
        """
        _, loss, _ = self.evaluate(
            params, context, activation, head, kind, reverse_pass
        )
        # For an ensemble, the mean of the members' penalties, as for the loss.
        penalty = _elman.l2_penalty(params) / _elman.output_head(head).n_members
        return loss + alpha * penalty / self.total_weight


def _rows_per_chunk(params, X3, extra_steps=0):
    """Rows of ``X3`` that one chunk of prediction may hold (at least one).

    ``extra_steps`` are steps each row gains on the way (those of a forecast).
    """
    per_row = X3.shape[1] + extra_steps + 1
    return max(1, steps_per_chunk(params, X3.dtype.itemsize) // per_row)


def _chunks_of_rows(params, X3, mask, lengths, extra_steps=0):
    """Yield ``(rows, X3[rows], mask[rows])`` in chunks of rows that bound memory.

    Each chunk is cut to its longest real length: steps that are padding in
    every row of a chunk need not be run.
    """
    for rows in gen_batches(X3.shape[0], _rows_per_chunk(params, X3, extra_steps)):
        n_real = int(lengths[rows].max())
        yield rows, X3[rows, :n_real], None if mask is None else mask[rows, :n_real]


class SequenceRows(_Rows):
    """Independent sequences, one per row, each read from a zero context.

    Parameters
    ----------
    X3 : ndarray of shape (n_rows, n_steps, n_features)
        Sequences, NaN-padded at the end.
    mask : ndarray of bool of shape (n_rows, n_steps) or None
        Real steps; None if every step is real.
    targets : ndarray of shape (n_rows, n_outputs)
        Target of each row, in the form the head's loss takes.
    stratify : ndarray of shape (n_rows,) or None, default=None
        Labels that a validation split keeps in proportion (classification).
    warm_up_steps : int, default=0
        Must be 0: every row has its target at its end, after its whole
        sequence, so there is no warm-up to skip.
    weights : ndarray of shape (n_rows,) or None, default=None
        Weight of each row's loss; rows of weight zero are left out.
    """

    #: Whether rows continue each other's context (and so keep their order).
    stateful = False

    def __init__(self, X3, mask, targets, stratify=None, warm_up_steps=0, weights=None):
        if warm_up_steps:
            raise ValueError(
                f"warm_up_steps={warm_up_steps} only applies with stateful=True, "
                "where the first steps of a stream are read from an empty context. "
                "Independent sequences have their only target at their end; set "
                "warm_up_steps=0."
            )
        if weights is not None and not weights.all():
            # A row of weight zero teaches nothing: leave it out, as if removed.
            kept = np.flatnonzero(weights)
            X3, targets, weights = X3[kept], targets[kept], weights[kept]
            mask = None if mask is None else mask[kept]
            stratify = None if stratify is None else stratify[kept]
        self.X3 = X3
        self.mask = mask
        self.targets = targets
        self.stratify = stratify
        self.weights = weights
        self.n_rows = X3.shape[0]
        self.n_targets = self.n_rows
        self.total_weight = self.n_rows if weights is None else float(weights.sum())
        self.loss_weights = weights
        self.lengths = sequence_lengths(X3, mask)

    def distinct(self):
        """The distinct rows, each once with the summed weight of its copies.

        For a full-batch solver: the rows are put in one canonical order (of
        their bytes), so that the fit depends neither on the order of the rows
        nor on whether a row is repeated or weighted; the loss is the same
        weighted mean either way.
        """
        n = self.n_rows
        keys = np.hstack(
            [
                np.ascontiguousarray(self.X3).reshape(n, -1).view(np.uint8),
                np.ascontiguousarray(self.targets).reshape(n, -1).view(np.uint8),
            ]
        )
        _, first, inverse = np.unique(
            keys, axis=0, return_index=True, return_inverse=True
        )
        weights = np.ones(n) if self.weights is None else self.weights
        merged = np.bincount(inverse.ravel(), weights=weights)
        rows = type(self)(
            self.X3[first],
            None if self.mask is None else self.mask[first],
            self.targets[first],
            None if self.stratify is None else self.stratify[first],
            weights=merged.astype(self.targets.dtype),
        )
        return rows

    def subset(self, rows):
        """The same mode over the given rows."""
        return type(self)(
            self.X3[rows],
            None if self.mask is None else self.mask[rows],
            self.targets[rows],
            None if self.stratify is None else self.stratify[rows],
            weights=None if self.weights is None else self.weights[rows],
        )

    def split(self, validation_fraction, random_state):
        """Hold out ``validation_fraction`` of the rows for validation.

        Returns
        -------
        train, validation : SequenceRows
            A random split, stratified when the data has labels.
        """
        n_validation = _validation_size(validation_fraction, self.n_rows)
        n_classes = 0 if self.stratify is None else len(np.unique(self.stratify))
        if n_validation < n_classes:
            raise ValueError(
                f"early_stopping holds out validation_fraction={validation_fraction} "
                f"of the {self.n_rows} training sequences, {n_validation} rows, "
                f"fewer than the {n_classes} classes it must keep in proportion. "
                f"Raise validation_fraction to at least {n_classes / self.n_rows:.2g}, "
                "or set early_stopping=False."
            )
        train_rows, validation_rows = train_test_split(
            np.arange(self.n_rows),
            test_size=n_validation,
            random_state=random_state,
            stratify=self.stratify,
        )
        return self.subset(train_rows), self.subset(validation_rows)

    def batch_size(self, batch_size):
        """Rows per mini-batch.

        ``'auto'`` cuts an epoch into 8 mini-batches of (nearly) equal size,
        fewer when they would hold fewer than 16 rows and more when they would
        hold more than 200: a recurrent network learns small data sets better
        from several updates an epoch, and large ones fast enough in batches of
        200. Under 32 rows, one batch holds them all.
        """
        if batch_size == "auto":
            n_batches = max(1, min(8, self.n_rows // 16), -(-self.n_rows // 200))
            return -(-self.n_rows // n_batches)
        return int(np.clip(batch_size, 1, self.n_rows))

    def batches(self, batch_size, shuffle, random_state):
        """Yield the row selections of one epoch, shuffled if asked."""
        order = random_state.permutation(self.n_rows) if shuffle else None
        for batch in gen_batches(self.n_rows, batch_size):
            yield batch if order is None else order[batch]

    def weight_of(self, rows):
        """Total weight of a batch: its number of rows when unweighted."""
        if self.weights is not None:
            return float(self.weights[rows].sum())
        if isinstance(rows, slice):
            return rows.stop - rows.start
        return len(rows)

    def loss_and_gradient(self, params, rows, context, grad_out, **options):
        """Loss of the sequences ``rows``; the gradient is written to ``grad_out``.

        Returns
        -------
        loss : float
            Mean loss of the batch plus its L2 term.
        context : None
            Independent sequences pass no context on.
        """
        # Steps that are padding in every row of the batch need not be run.
        n_real = int(self.lengths[rows].max())
        mask = None if self.mask is None else self.mask[rows, :n_real]
        loss, _, _ = _elman.loss_and_gradient(
            params,
            self.X3[rows, :n_real],
            self.targets[rows],
            mask,
            sample_weight=None if self.weights is None else self.weights[rows],
            out=grad_out,
            **options,
        )
        return loss, None

    def context_after(self, params, context, activation):
        """The context the rows leave: None, since every row starts afresh."""
        return None

    @classmethod
    def predict(
        cls, params, X3, mask, context, activation, head, kind="last",
        reverse_pass=False, saturate=False,
    ):  # fmt: skip
        """Outputs of each sequence, computed in chunks of rows to bound memory.

        ``saturate`` computes so that no output is NaN (see
        :func:`~sklearn_elman._elman.run_hidden`).

        Returns
        -------
        outputs : ndarray of shape (n_rows, n_outputs)
            The head's output after each row's last real step.
        context : None
            Independent sequences leave no context.
        """
        n_seq = X3.shape[0]
        lengths = sequence_lengths(X3, mask)
        outputs = None  # as wide as the head's output, known from the first chunk
        for rows, X_rows, mask_rows in _chunks_of_rows(params, X3, mask, lengths):
            chunk_outputs, _ = _elman.forward(
                params,
                X_rows,
                mask_rows,
                None,
                activation,
                head=head,
                kind=kind,
                saturate=saturate,
                reverse_pass=reverse_pass,
            )
            if outputs is None:
                outputs = np.empty((n_seq, chunk_outputs.shape[1]), dtype=X3.dtype)
            outputs[rows] = chunk_outputs
        return outputs, None

    def readouts(self, params, activation, kind, reverse_pass=False):
        """What the output layer reads of every row, computed in chunks of rows.

        Returns
        -------
        R : ndarray of shape (n_rows, n_readout)
            The readout ``kind`` of each row's hidden states; with
            ``reverse_pass``, that of its reversed pass beside it (see
            :func:`~sklearn_elman._elman.forward`).
        """
        width = _elman.READOUTS[kind].width(params.context_weights.shape[0])
        n_passes = 2 if reverse_pass else 1
        R = np.empty((self.n_rows, n_passes * width), dtype=self.X3.dtype)
        for rows, X3, mask in _chunks_of_rows(params, self.X3, self.mask, self.lengths):
            passes = [X3, _elman.reversed_real_steps(X3, mask)][:n_passes]
            for i, X_pass in enumerate(passes):
                trace = _elman.run_hidden(params, X_pass, mask, None, activation)
                R[rows, i * width : (i + 1) * width] = _elman.readout(trace, kind=kind)
        return R

    @classmethod
    def forecast(
        cls, params, X3, mask, context, activation, head, kind, n_steps, n_targets,
        future=None, window=None,
    ):  # fmt: skip
        """Forecast every sequence ``n_steps`` ahead, in chunks of rows.

        Each history is read from a zero context, then each prediction is fed
        back as the first ``n_targets`` features of the next step, the others
        taken from ``future`` (see :func:`~sklearn_elman._elman.roll_forward`).
        With an int ``window``, every prediction reads only the last ``window``
        steps (history and predictions so far), as :meth:`predict` reads a row.
        ``context`` is ignored: independent sequences start afresh.

        Returns
        -------
        predictions : ndarray of shape (n_rows, n_steps, n_targets)
            The head's output for each forecast step.
        """
        head = _elman.output_head(head)
        lengths = sequence_lengths(X3, mask)
        predictions = np.empty((X3.shape[0], n_steps, n_targets), dtype=X3.dtype)
        for rows, X_rows, mask_rows in _chunks_of_rows(
            params, X3, mask, lengths, n_steps
        ):
            future_rows = None if future is None else future[rows]
            if window is not None:
                predictions[rows] = cls._roll_windows(
                    params, X_rows, lengths[rows], activation, head, kind, n_steps,
                    n_targets, future_rows, window,
                )  # fmt: skip
                continue
            trace = _elman.run_hidden(
                params, X_rows, mask_rows, None, activation, n_members=head.n_members
            )
            predictions[rows] = _elman.roll_forward(
                params, trace.final_context(), _elman.readout(trace, kind=kind),
                lengths[rows], n_steps, n_targets, future_rows, activation, head,
                kind,
            )  # fmt: skip
        return predictions

    @staticmethod
    def _roll_windows(
        params, X3, lengths, activation, head, kind, n_steps, n_targets, future,
        window,
    ):  # fmt: skip
        """Forecast step by step, each step read as :meth:`predict` reads a row.

        Every prediction is the output of the last ``window`` real steps
        (history and predictions so far) from a zero context, computed by the
        function :meth:`predict` computes each chunk with.
        """
        n_seq, n_history, n_features = X3.shape
        predictions = np.empty((n_seq, n_steps, n_targets), dtype=X3.dtype)
        # History and predictions so far, each row's real steps first.
        history = np.full(
            (n_seq, n_history + n_steps, n_features), np.nan, dtype=X3.dtype
        )
        history[:, :n_history] = X3
        rows = np.arange(n_seq)
        ends = lengths.copy()
        for step in range(n_steps):
            starts = np.maximum(ends - window, 0)
            # Gather each row's last `window` real steps, left-aligned, NaN-padded;
            # no wider than the longest of them, so that a window beyond the
            # history runs no steps of padding.
            width = int(min(window, ends.max()))
            offsets = starts[:, None] + np.arange(width)[None, :]
            real = offsets < ends[:, None]
            recent = history[rows[:, None], np.minimum(offsets, history.shape[1] - 1)]
            recent[~real] = np.nan
            outputs, _ = _elman.forward(
                params, recent, real, None, activation, head=head, kind=kind
            )
            predictions[:, step] = outputs
            history[rows, ends, :n_targets] = outputs
            if future is not None:
                history[rows, ends, n_targets:] = future[:, step]
            ends += 1
        return predictions

    @classmethod
    def hidden_states(cls, params, X3, mask, context, activation, saturate=False):
        """Hidden state after every step, NaN at padded steps.

        Returns
        -------
        states : ndarray of shape (n_rows, n_steps, n_hidden)
        context : None
        """
        n_seq, n_steps, _ = X3.shape
        n_hidden = params.context_weights.shape[0]
        chunk = _rows_per_chunk(params, X3)
        states = np.empty((n_seq, n_steps, n_hidden), dtype=X3.dtype)
        for rows in gen_batches(n_seq, chunk):
            chunk_mask = None if mask is None else mask[rows]
            trace = _elman.run_hidden(
                params, X3[rows], chunk_mask, None, activation, saturate
            )
            states[rows] = _elman.readout(trace, per_step=True).transpose(1, 0, 2)
        if mask is not None:
            states[~mask] = np.nan
        return states, None


class StreamRows(_Rows):
    """Consecutive chunks of one stream, one per row, with a target at each row's end.

    The real steps of all rows are concatenated into one stream; a mini-batch is
    a run of consecutive rows read as one sequence from the context the previous
    batch left, with gradients truncated at the batch's start.

    Parameters
    ----------
    X3 : ndarray of shape (n_rows, n_steps, n_features)
        Consecutive chunks of the stream, NaN-padded at the end.
    mask : ndarray of bool of shape (n_rows, n_steps) or None
        Real steps; None if every step is real.
    targets : ndarray of shape (n_rows, n_outputs)
        Target at the end of each row, in the form the head's loss takes.
    stratify : ignored
        A stream is split at its tail, never at random.
    warm_up_steps : int, default=0
        The rows that end within the first ``warm_up_steps`` real steps of the
        stream carry no loss: their context is still close to its zero start.
        They are read at the start of the first mini-batch.
    weights : ndarray of shape (n_rows,) or None, default=None
        Weight of each row's loss; rows of weight zero are read but carry no
        loss.
    """

    stateful = True

    def __init__(self, X3, mask, targets, stratify=None, warm_up_steps=0, weights=None):
        self.X3 = X3
        self.mask = mask
        self.targets = targets
        self.weights = weights
        self.warm_up_steps = warm_up_steps
        self.n_rows = X3.shape[0]
        self.steps, self.row_ends = compact_stream(X3, mask)
        # Rows whose last step falls within the warm-up.
        self.n_warm_up_rows = int(np.searchsorted(self.row_ends, warm_up_steps))
        self.n_targets = self.n_rows - self.n_warm_up_rows
        if self.n_targets == 0:
            raise ValueError(
                f"warm_up_steps={warm_up_steps} covers the whole stream of "
                f"{len(self.steps)} steps ({self.n_rows} rows): no row is left to "
                "learn from. Use fewer warm-up steps or a longer stream."
            )
        # Targets and weights of the whole stream, built once: a mini-batch of
        # rows slices them, with a target only at the last step of each row.
        n_steps = len(self.steps)
        self.step_targets = np.zeros((1, n_steps, targets.shape[1]), targets.dtype)
        self.step_targets[0, self.row_ends] = targets
        # The weight of each row's target, zero in the warm-up.
        self.row_weights = np.ones(self.n_rows, dtype=targets.dtype)
        if weights is not None:
            self.row_weights[:] = weights
        self.row_weights[: self.n_warm_up_rows] = 0
        self.total_weight = (
            self.n_targets if weights is None else float(self.row_weights.sum())
        )
        if not self.total_weight > 0:
            raise ValueError(
                "Every row of the stream after the warm-up has sample_weight 0: "
                "no row is left to learn from."
            )
        # The rows of the warm-up are read but weigh nothing in the loss.
        self.loss_weights = self.row_weights
        self.step_weights = np.zeros((1, n_steps), dtype=targets.dtype)
        self.step_weights[0, self.row_ends] = self.row_weights
        # Pooled readouts restart at the first step of each row.
        self.step_starts = row_starts(self.row_ends, n_steps)[None]

    def distinct(self):
        """The stream itself: its rows are not interchangeable."""
        return self

    def subset(self, rows, warm_up_steps=0):
        """The same mode over the given (consecutive) rows."""
        mask = None if self.mask is None else self.mask[rows]
        return type(self)(
            self.X3[rows],
            mask,
            self.targets[rows],
            warm_up_steps=warm_up_steps,
            weights=None if self.weights is None else self.weights[rows],
        )

    def split(self, validation_fraction, random_state):
        """Hold out the tail of the stream for validation.

        Returns
        -------
        train, validation : StreamRows
            The head and the tail of the stream, in time order.
        """
        n_validation = _validation_size(validation_fraction, self.n_rows)
        cut = self.n_rows - n_validation
        train = self.subset(slice(0, cut), self.warm_up_steps)
        return train, self.subset(slice(cut, None))

    def batch_size(self, batch_size):
        """Rows with a target per mini-batch.

        ``'auto'`` splits the stream into the fewest batches of at most 200
        rows, all of (nearly) equal size, so that no short ragged batch is left
        at the end: 240 rows make two batches of 120, not 200 and 40.
        """
        if batch_size == "auto":
            n_batches = -(-self.n_targets // 200)
            return -(-self.n_targets // n_batches)
        return int(np.clip(batch_size, 1, self.n_targets))

    def batches(self, batch_size, shuffle, random_state):
        """Yield consecutive runs of rows; a stream is never shuffled.

        The warm-up rows, which carry no target, open the first batch.
        """
        warm_up = self.n_warm_up_rows
        for batch in gen_batches(self.n_targets, batch_size):
            start = 0 if batch.start == 0 else batch.start + warm_up
            yield slice(start, batch.stop + warm_up)

    def weight_of(self, rows):
        """Total weight of a batch's targets (the warm-up weighs nothing)."""
        if self.weights is None:
            return rows.stop - max(rows.start, self.n_warm_up_rows)
        return float(self.row_weights[rows].sum())

    def loss_and_gradient(self, params, rows, context, grad_out, **options):
        """Loss of the consecutive rows ``rows`` read from ``context``.

        Returns
        -------
        loss : float or None
            Mean loss over the row ends of the batch plus its L2 term; None when
            every row of the batch weighs zero (no gradient is written).
        context : ndarray of shape (n_hidden,)
            The state after the batch's last step, for the next batch.
        """
        start = 0 if rows.start == 0 else self.row_ends[rows.start - 1] + 1
        stop = self.row_ends[rows.stop - 1] + 1
        if not self.row_weights[rows].any():
            # Nothing to learn here: only carry the context on.
            trace = _elman.run_hidden(
                params,
                self.steps[None, start:stop],
                None,
                context[None],
                options["activation"],
            )
            return None, trace.final_context()[0]
        loss, _, final = _elman.loss_and_gradient(
            params,
            self.steps[None, start:stop],
            self.step_targets[:, start:stop],
            context=context[None],
            per_step=True,
            sample_weight=self.step_weights[:, start:stop],
            out=grad_out,
            starts=self.step_starts[:, start:stop],
            **options,
        )
        return loss, final[0]

    def context_after(self, params, context, activation):
        """The state after reading every row from ``context``."""
        return self._run(
            params, self.steps, self.row_ends, context, activation, lambda *_: None
        )

    @staticmethod
    def _run(params, steps, row_ends, context, activation, visit, saturate=False):
        """Run a compacted stream in chunks of whole rows, carrying the context.

        Each chunk holds at most the step budget (or one row); ``visit(rows,
        start, trace)`` receives every chunk's rows, its first step in the
        compacted stream and its trace. Returns the final context.
        ``saturate`` computes so that no state is NaN (see
        :func:`~sklearn_elman._elman.run_hidden`).
        """
        budget = steps_per_chunk(params, steps.dtype.itemsize)
        first_row, start = 0, 0
        while first_row < len(row_ends):
            # The last row that still ends within the budget (at least one row).
            last_row = np.searchsorted(row_ends, start + budget - 1, side="right")
            rows = slice(first_row, max(last_row, first_row + 1))
            stop = row_ends[rows.stop - 1] + 1
            trace = _elman.run_hidden(
                params,
                steps[None, start:stop],
                None,
                context[None],
                activation,
                saturate,
            )
            visit(rows, start, trace)
            context = trace.final_context()[0]
            first_row, start = rows.stop, stop
        return context

    @classmethod
    def predict(
        cls, params, X3, mask, context, activation, head, kind="last",
        reverse_pass=False, saturate=False,
    ):  # fmt: skip
        """Outputs at the end of each row, continuing the stream from ``context``.

        The readout reads the steps of its own row (the last state reads one).
        ``saturate`` computes so that no output is NaN (see
        :func:`~sklearn_elman._elman.run_hidden`). A stream has no reversed pass
        (``reverse_pass`` is refused before any stream is read).

        Returns
        -------
        outputs : ndarray of shape (n_rows, n_outputs)
            The head's output after each row's last real step.
        context : ndarray of shape (n_hidden,)
            The state after the last row.
        """
        readout_at_ends, context = cls._readouts_at_row_ends(
            params, X3, mask, context, activation, kind, saturate
        )
        logits = _elman.output_layer(params, readout_at_ends, saturate)
        return _elman.output_head(head).output(logits), context

    @classmethod
    def _readouts_at_row_ends(
        cls, params, X3, mask, context, activation, kind, saturate=False
    ):
        """The readout at the end of each row, and the state after the last row.

        The rows continue the stream from ``context``; the readout reads the
        steps of its own row (the last state reads one).
        """
        steps, row_ends = compact_stream(X3, mask)
        n_readout = params.output_weights.shape[0]
        readout_at_ends = np.empty((len(row_ends), n_readout), dtype=X3.dtype)
        starts = row_starts(row_ends, len(steps))[None]

        def keep_row_ends(rows, start, trace):
            chunk_starts = starts[:, start : start + trace.hidden.shape[0] - 1]
            readouts = _elman.readout(trace, True, kind, chunk_starts, saturate)
            readout_at_ends[rows] = readouts[row_ends[rows] - start, 0]

        context = cls._run(
            params, steps, row_ends, context, activation, keep_row_ends, saturate
        )
        return readout_at_ends, context

    @classmethod
    def forecast(
        cls, params, X3, mask, context, activation, head, kind, n_steps, n_targets,
        future=None, window=None,
    ):  # fmt: skip
        """Forecast the stream ``n_steps`` ahead of its rows, from ``context``.

        The rows are read as :meth:`predict` reads them, continuing the stream
        from ``context``; then every forecast step is a one-step row of its own
        (see :func:`~sklearn_elman._elman.roll_forward`). Rows with no steps
        forecast from ``context`` alone, which only a readout of the last state
        can (the caller checks). With an int ``window``, the rows' real steps
        are one history of which every prediction reads the last ``window``
        steps from a zero context, as :meth:`SequenceRows.forecast` reads it.

        Returns
        -------
        predictions : ndarray of shape (1, n_steps, n_targets)
            The head's output for each forecast step.
        """
        if window is not None:
            steps, _ = compact_stream(X3, mask)
            return SequenceRows.forecast(
                params, steps[None], None, None, activation, head, kind, n_steps,
                n_targets, future, window,
            )  # fmt: skip
        if X3.shape[1] == 0:
            R = context[None]  # the stream so far: its state is its readout
        else:
            R, context = cls._readouts_at_row_ends(
                params, X3, mask, context, activation, kind
            )
            R = R[-1:]
        # Every forecast step restarts the readout: its count of steps so far
        # is never read.
        return _elman.roll_forward(
            params, context[None], R, np.ones(1, dtype=np.intp), n_steps, n_targets,
            future, activation, head, kind, restart=True,
        )  # fmt: skip

    @classmethod
    def hidden_states(cls, params, X3, mask, context, activation, saturate=False):
        """Hidden state after every step of every row, NaN at padded steps.

        Returns
        -------
        states : ndarray of shape (n_rows, n_steps, n_hidden)
        context : ndarray of shape (n_hidden,)
            The state after the last row.
        """
        n_rows, n_steps, _ = X3.shape
        states = np.full((n_rows, n_steps, len(context)), np.nan, dtype=X3.dtype)
        real = np.ones((n_rows, n_steps), dtype=bool) if mask is None else mask
        row_of_step, step_in_row = np.nonzero(real)

        def keep_all(rows, start, trace):
            stream = _elman.readout(trace, per_step=True)[:, 0]
            where = slice(start, start + len(stream))
            states[row_of_step[where], step_in_row[where]] = stream

        steps, row_ends = compact_stream(X3, mask)
        context = cls._run(
            params, steps, row_ends, context, activation, keep_all, saturate
        )
        return states, context


def row_starts(row_ends, n_steps):
    """Mask of the first step of each row in a compacted stream."""
    starts = np.zeros(n_steps, dtype=bool)
    starts[0] = True
    starts[row_ends[:-1] + 1] = True
    return starts


def _validation_size(validation_fraction, n_rows):
    n_validation = int(np.ceil(validation_fraction * n_rows))
    if n_validation < 2 or n_validation >= n_rows:
        raise ValueError(
            f"The validation set is too small: validation_fraction="
            f"{validation_fraction} of {n_rows} sequences gives "
            f"{n_validation} for validation and {n_rows - n_validation} for "
            "training. Increase validation_fraction or the size of your data."
        )
    return n_validation
