"""
=========================
Classifying a live stream
=========================

A sensor sends one value at a time, and the signal switches without warning between
three regimes: a sine wave, a square wave and plain noise. Which regime is on cannot be
told from one value; it shows in how the values follow each other. A stateful
:class:`~sklearn_elman.ElmanClassifier` (``stateful=True``) treats its rows as
consecutive pieces of one stream: it learns with ``partial_fit`` chunk by chunk as the
stream arrives, carries its context from one call to the next, and starts afresh on a
new, independent stream after ``reset_context()``.
"""

# %%
# A signal that switches regimes
# ------------------------------
# Regimes last 60 to 200 steps. The sine and the square wave share one period of 16
# steps and have noise on top; the noise regime has about the same spread. One row of
# ``X`` is one time step (one column), and ``y`` is the regime at that step.
import os
import time

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from sklearn_elman import ElmanClassifier

REGIMES = ["sine", "square", "noise"]
COLORS = ["tab:blue", "tab:orange", "tab:gray"]


def make_stream(n_steps, rng):
    """A signal of ``n_steps`` values and the regime (0, 1 or 2) of each."""
    regime = np.empty(n_steps, dtype=int)
    start = 0
    while start < n_steps:
        length = rng.randint(60, 201)
        regime[start : start + length] = rng.randint(len(REGIMES))
        start += length
    phase = 2 * np.pi * np.arange(n_steps) / 16
    waves = np.stack(
        [
            np.sin(phase),
            np.sign(np.sin(phase + 0.1)),
            rng.normal(scale=0.8, size=n_steps),
        ]
    )
    signal = waves[regime, np.arange(n_steps)] + rng.normal(scale=0.2, size=n_steps)
    return signal[:, None], regime


rng = np.random.RandomState(0)
X_stream, y_stream = make_stream(100_000, rng)

# %%
# Learning as the stream arrives
# ------------------------------
# The stream arrives in chunks of 500 steps, and each chunk is used twice: first to
# test the model on data it has not seen yet, then to train on it ("test, then
# train"). Predicting advances the context, so the context is saved before the test
# and restored before training: ``context_`` is a plain attribute for exactly that.
#
# Within a chunk, ``partial_fit`` takes mini-batches of ``batch_size=32`` consecutive
# steps and backpropagates through time within each batch, two periods of the waves,
# while the context itself flows on from batch to batch and from chunk to chunk.
model = ElmanClassifier(
    stateful=True,
    # The regime at the end of a row is read from the state after its last step;
    # the default readout='max' gives the same on rows of one step, slower.
    # (patch_size='auto' reads single steps in a stream.)
    readout="last",
    hidden_units=16,
    batch_size=32,
    learning_rate_init=0.003,
    random_state=0,
)
chunk_size = 500
chunk_accuracy = []
start_time = time.perf_counter()
for start in range(0, len(X_stream), chunk_size):
    X_chunk = X_stream[start : start + chunk_size]
    y_chunk = y_stream[start : start + chunk_size]
    if start > 0:
        context = model.context_.copy()
        chunk_accuracy.append(np.mean(model.predict(X_chunk) == y_chunk))
        model.context_ = context
    model.partial_fit(X_chunk, y_chunk, classes=[0, 1, 2])
train_time = time.perf_counter() - start_time
print(
    f"Learnt from {len(X_stream)} steps in {len(X_stream) // chunk_size} chunks "
    f"in {train_time:.1f} s"
)
print(
    f"Accuracy on the first 10 chunks, before training on each: "
    f"{np.mean(chunk_accuracy[:10]):.3f}"
)
print(
    f"Accuracy on the last 10 chunks, before training on each:  "
    f"{np.mean(chunk_accuracy[-10:]):.3f}"
)

# %%
# A new, independent stream
# -------------------------
# ``reset_context()`` forgets the training stream: the test stream starts from a zero
# context, as a freshly deployed model would. It is read in small chunks of 50 steps,
# as it would arrive; the context carries over from each chunk to the next.
X_test, y_test = make_stream(3000, rng)
model.reset_context()
proba = np.vstack(
    [model.predict_proba(X_test[start : start + 50]) for start in range(0, 3000, 50)]
)
predicted = proba.argmax(axis=1)
print(
    f"\nAccuracy on the test stream ({len(y_test)} steps): "
    f"{np.mean(predicted == y_test):.3f}"
)
for regime, name in enumerate(REGIMES):
    print(f"  {name:<7} {np.mean(predicted[y_test == regime] == regime):.3f}")

# %%
# The plot shows the accuracy on each new chunk while the model learns, then the first
# 800 steps of the test stream over its true regimes, and the predicted probability of
# each regime at every step. After a switch, the model needs a period or two of the
# new signal before it changes its mind.
shown = slice(0, 800)
steps = np.arange(len(y_test))[shown]


def shade_regimes(ax, regime):
    """Colour the background of ``ax`` by regime, one band per run of equal values."""
    change = np.flatnonzero(np.diff(regime)) + 1
    for begin, end in zip(np.r_[0, change], np.r_[change, len(regime)]):
        ax.axvspan(begin, end, color=COLORS[regime[begin]], alpha=0.2, linewidth=0)


fig, (ax_learn, ax_signal, ax_proba) = plt.subplots(
    3, 1, figsize=(11, 8), height_ratios=[1, 1.2, 1], layout="constrained"
)
seen = np.arange(1, len(chunk_accuracy) + 1) * chunk_size
ax_learn.plot(seen / 1000, chunk_accuracy, color="black")
ax_learn.axhline(1 / 3, color="0.5", linestyle="--", label="guessing")
ax_learn.set_ylim(0, 1)
ax_learn.set_xlabel("steps of the training stream seen (thousands)")
ax_learn.set_ylabel("accuracy")
ax_learn.set_title("Accuracy on each new chunk of 500 steps, before training on it")
ax_learn.legend(loc="lower right")

shade_regimes(ax_signal, y_test[shown])
ax_signal.plot(steps, X_test[shown, 0], color="black", linewidth=0.8)
ax_signal.set_xlim(steps[0], steps[-1] + 1)
ax_signal.set_ylim(-3, 3.5)  # room for the legend
ax_signal.set_ylabel("signal")
ax_signal.set_title("Test stream, on its true regimes")
ax_signal.legend(
    handles=[Patch(color=c, alpha=0.3, label=n) for c, n in zip(COLORS, REGIMES)],
    loc="upper right",
    ncols=3,
)

ax_proba.stackplot(steps, proba[shown].T, colors=COLORS, alpha=0.7, step="post")
ax_proba.set_xlim(steps[0], steps[-1] + 1)
ax_proba.set_ylim(0, 1)
ax_proba.set_xlabel("time step of the test stream")
ax_proba.set_ylabel("probability")
ax_proba.set_title("Predicted probability of each regime (colours as above)")
fig.savefig("plot_live_stream.png", dpi=100)
print(f"Saved the figure to {os.path.abspath('plot_live_stream.png')}")
