"""
===============================
What the hidden state remembers
===============================

An Elman network reads a sequence one step at a time, and its hidden state (copied
into the context units) is all it carries from one step to the next.
:meth:`~sklearn_elman.ElmanClassifier.hidden_states` returns that state after every
step, so it can be looked at. This example trains a classifier on three kinds of
noisy series (rising, falling, oscillating), projects the hidden trajectories of
unseen series on their first two principal components, and colours them by class:
every trajectory starts at the zero context and the three classes drift apart as
the steps arrive, until the output layer can separate their last states.
"""

# %%
# Three kinds of series
# ---------------------
# Each series has 20 steps of noise around a rising ramp, a falling ramp or a
# sine wave, all starting at zero, with a random offset: the first steps of the
# three classes look alike, and no single step tells the class for sure.
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from sklearn_elman import ElmanClassifier

CLASSES = ["rising", "falling", "oscillating"]
COLOURS = ["tab:blue", "tab:orange", "tab:green"]
rng = np.random.RandomState(0)
n_series, n_steps = 600, 20
t = np.linspace(0, 1, n_steps)
shapes = np.stack([2 * t, -2 * t, np.sin(4 * np.pi * t)])
y = rng.randint(0, 3, size=n_series)
X = shapes[y] + rng.normal(scale=0.4, size=(n_series, n_steps))
X += rng.uniform(-0.5, 0.5, size=(n_series, 1))
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# Train, then read the hidden states of unseen series
# ---------------------------------------------------
# The output layer reads the state after the last step (the classifier's default
# pools the states, readout='max'): that last state is what this example looks at.
clf = ElmanClassifier(hidden_units=16, readout="last", random_state=0)
clf.fit(X_train, y_train)
print(f"Test accuracy: {clf.score(X_test, y_test):.3f} ({clf.n_iter_} epochs)")

states = clf.hidden_states(X_test)  # (n_series, n_steps, hidden_units)
print(f"hidden_states: {states.shape} (series, steps, hidden units)")

# One PCA over every step of every series, so that all trajectories share axes.
pca = PCA(n_components=2).fit(states.reshape(-1, states.shape[2]))
explained = pca.explained_variance_ratio_
print(f"The first two components explain {explained.sum():.0%} of the variance.")
paths = pca.transform(states.reshape(-1, states.shape[2])).reshape(
    len(X_test), n_steps, 2
)
origin = pca.transform(np.zeros((1, states.shape[2])))[0]  # the zero context

# How far apart the classes are, step by step: the distance between class means
# over the spread within classes, in the full hidden space.
separation = []
for step in range(n_steps):
    means = np.stack([states[y_test == k, step].mean(axis=0) for k in range(3)])
    spread = np.mean([states[y_test == k, step].std(axis=0).mean() for k in range(3)])
    gaps = [np.linalg.norm(means[a] - means[b]) for a, b in ((0, 1), (0, 2), (1, 2))]
    separation.append(min(gaps) / spread)
print(
    f"Closest pair of class means, in within-class spreads: "
    f"{separation[0]:.1f} after step 1, {separation[n_steps // 2 - 1]:.1f} after "
    f"step {n_steps // 2}, {separation[-1]:.1f} after step {n_steps}."
)

# %%
# Plot the trajectories and the states the output layer reads
# -----------------------------------------------------------
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
for k, (name, colour) in enumerate(zip(CLASSES, COLOURS)):
    members = np.flatnonzero(y_test == k)[:8]
    for i in members:
        path = np.vstack([origin, paths[i]])
        left.plot(path[:, 0], path[:, 1], color=colour, alpha=0.35, lw=1)
    left.plot([], [], color=colour, label=name)
    ends = paths[y_test == k, -1]
    right.scatter(ends[:, 0], ends[:, 1], color=colour, s=12, label=name)
left.scatter(*origin, color="black", marker="x", s=60, zorder=3, label="zero context")
left.set_title("Hidden trajectories of 8 test series per class")
right.set_title(f"State after step {n_steps}: what the output layer reads")
for ax in (left, right):
    ax.set_xlabel(f"principal component 1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"principal component 2 ({explained[1]:.0%} of variance)")
    ax.legend(loc="best", fontsize=8)
fig.tight_layout()
output = Path("plot_hidden_states.png").resolve()
fig.savefig(output, dpi=100)
print(f"Saved the figure to {output}")
