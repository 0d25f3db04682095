"""
=========================
Variable-length sequences
=========================

Real sequences rarely share one length. :class:`~sklearn_elman.ElmanClassifier` takes
sequences of different lengths in one array: shorter ones are padded at the end with
NaN, and padded steps change nothing, neither in training nor in prediction. This
example classifies event logs of 3 to 40 events by whether event A happens before
event B, gives the same data as 2D rows and as a 3D array, checks that both layouts
give identical predictions and that padding changes nothing, and compares the
accuracy by sequence length with a feed-forward network.
"""

# %%
# Event logs of different lengths
# -------------------------------
# Each step is one of four events, one-hot encoded: A, B, and two filler events C and
# D. Every log holds exactly one A and one B at random places among the fillers, and
# its class is 1 if A comes first: which events a log holds says nothing about its
# class, only their order does.
import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sklearn_elman import ElmanClassifier

EVENTS = "ABCD"
rng = np.random.RandomState(0)
n_logs, max_length = 600, 40

lengths = rng.randint(3, max_length + 1, size=n_logs)
X3 = np.full((n_logs, max_length, len(EVENTS)), np.nan)  # NaN = end padding
y = np.empty(n_logs, dtype=int)
for i, length in enumerate(lengths):
    events = rng.randint(2, len(EVENTS), size=length)  # fillers C and D
    where_a, where_b = rng.choice(length, size=2, replace=False)
    events[where_a], events[where_b] = 0, 1
    X3[i, :length] = np.eye(len(EVENTS))[events]
    y[i] = int(where_a < where_b)

# The same data as 2D rows: step after step, 4 columns per step.
X2 = X3.reshape(n_logs, -1)
print(f"3D: {X3.shape} (logs, steps, events);  2D: {X2.shape}")
short = np.flatnonzero(lengths == 4)[0]
letters = "".join(EVENTS[e] for e in X3[short, :4].argmax(axis=1))
print(f"Log {short} has 4 steps, {letters}; the first 24 columns of its 2D row:")
print(X2[short, :24])

train, test = train_test_split(
    np.arange(n_logs), test_size=0.5, stratify=y, random_state=0
)

# %%
# Two layouts, one model
# ----------------------
# With ``n_features_per_step=4`` a 2D row is read as steps of 4 columns; a 3D array
# gives the steps directly. Fitted with the same ``random_state``, the two layouts give
# the same network, and a fitted model reads either layout.
# A step of 0.01 (about three times the default 0.003) learns these clean logs in
# fewer epochs.
elman = ElmanClassifier(
    hidden_units=16,
    n_features_per_step=len(EVENTS),
    learning_rate_init=0.01,
    random_state=0,
)
model_2d = clone(elman).fit(X2[train], y[train])
model_3d = clone(elman).fit(X3[train], y[train])

proba_2d = model_2d.predict_proba(X2[test])
for name, proba in [
    ("3D-fitted model on 3D input", model_3d.predict_proba(X3[test])),
    ("2D-fitted model on 3D input", model_2d.predict_proba(X3[test])),
]:
    difference = np.abs(proba - proba_2d).max()
    print(f"{name}: probabilities differ from 2D on 2D by at most {difference:.1e}")
    assert np.allclose(proba, proba_2d)
    assert np.array_equal(proba.argmax(axis=1), proba_2d.argmax(axis=1))

# %%
# Padding changes nothing
# -----------------------
# Predicting each test log alone, cut to its real length (no padding at all), gives
# the probabilities of its padded row.
alone = np.vstack([model_2d.predict_proba(X3[[i], : lengths[i]]) for i in test])
difference = np.abs(alone - proba_2d).max()
print(f"Each log alone, unpadded: probabilities differ by at most {difference:.1e}")
assert np.allclose(alone, proba_2d)

predicted = proba_2d.argmax(axis=1)
elman_correct = predicted == y[test]
print(f"\nElman network test accuracy: {elman_correct.mean():.3f}")

# %%
# Against a feed-forward network
# ------------------------------
# :class:`~sklearn.neural_network.MLPClassifier` cannot read NaN, so it gets the rows
# with the padding set to 0. It sees each position as a separate input and must learn
# "A before B" for every pair of positions separately, which the training logs cannot
# cover for long sequences. The Elman network learns one rule that applies at every
# step: it remembers whether it has seen A when B comes.
mlp = MLPClassifier(max_iter=1000, random_state=0)
mlp.fit(np.nan_to_num(X2[train]), y[train])
mlp_correct = mlp.predict(np.nan_to_num(X2[test])) == y[test]
print(f"MLP (zero padding) test accuracy: {mlp_correct.mean():.3f}")

bins = [(3, 10), (11, 18), (19, 26), (27, 34), (35, 40)]
print(f"\n{'length':>8} {'logs':>5} {'Elman':>6} {'MLP':>6}")
elman_by_length, mlp_by_length = [], []
for low, high in bins:
    in_bin = (lengths[test] >= low) & (lengths[test] <= high)
    elman_by_length.append(elman_correct[in_bin].mean())
    mlp_by_length.append(mlp_correct[in_bin].mean())
    print(
        f"{low:>3}-{high:<4} {in_bin.sum():>5} {elman_by_length[-1]:>6.3f} "
        f"{mlp_by_length[-1]:>6.3f}"
    )

# %%
# On the left, the first ten test logs, one per row, with the NaN padding left white;
# on the right, the test accuracy by length.
fig, (ax_logs, ax_accuracy) = plt.subplots(
    1, 2, figsize=(11, 4.2), width_ratios=[1.3, 1], layout="constrained"
)
shown = test[:10]
event_index = np.where(
    np.isnan(X3[shown, :, 0]), np.nan, np.nanargmax(np.nan_to_num(X3[shown]), axis=2)
)
colors = ListedColormap(["tab:red", "tab:blue", "0.8", "0.6"])
ax_logs.imshow(
    event_index, cmap=colors, vmin=-0.5, vmax=3.5, aspect="auto", interpolation="none"
)
for row, i in enumerate(shown):
    for step in np.flatnonzero(X3[i, : lengths[i], :2].any(axis=1)):
        event = EVENTS[int(event_index[row, step])]
        ax_logs.text(step, row, event, ha="center", va="center", color="white")
ax_logs.set_yticks(
    range(len(shown)),
    [f"{lengths[i]} steps, class {y[i]}" for i in shown],
)
ax_logs.set_xlabel("step (white: NaN padding)")
ax_logs.set_title("Ten test logs (A red, B blue, fillers grey)")

centers = [(low + high) / 2 for low, high in bins]
ax_accuracy.plot(centers, elman_by_length, "o-", label="Elman network (NaN padding)")
ax_accuracy.plot(centers, mlp_by_length, "s-", label="MLP (zero padding)")
ax_accuracy.axhline(0.5, color="0.5", linestyle="--", label="guessing")
ax_accuracy.set_xticks(centers, [f"{low}-{high}" for low, high in bins])
ax_accuracy.set_ylim(0.25, 1.02)
ax_accuracy.set_xlabel("sequence length")
ax_accuracy.set_ylabel("test accuracy")
ax_accuracy.set_title("Accuracy by sequence length")
ax_accuracy.legend(loc="lower left")
fig.savefig("plot_variable_length.png", dpi=100)
print(f"Saved the figure to {os.path.abspath('plot_variable_length.png')}")
