"""
===============================
Handwritten digits as sequences
===============================

An 8x8 image of a handwritten digit can be read the way an eye scans a page: one row
of 8 pixels after another. :class:`~sklearn_elman.ElmanClassifier` reads each image as
a sequence of 8 steps of 8 features, carries what it has seen so far in its context
units, and classifies the digit after the last row. This example compares it with a
feed-forward :class:`~sklearn.neural_network.MLPClassifier` and a
:class:`~sklearn.linear_model.LogisticRegression`, both of which see the 64 pixels as
one flat vector, on the same train/test split and inside the same kind of
:class:`~sklearn.pipeline.Pipeline`.
"""

# %%
# Data: one image is one row of 64 pixels
# ----------------------------------------
# ``load_digits`` already stores each image as a row of 64 pixels, row after row. With
# ``n_features_per_step=8`` the Elman network reads such a row as 8 steps of 8 pixels,
# so the data needs no reshaping and fits in a pipeline like any other table.
import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_elman import ElmanClassifier

digits = load_digits()
X, y = digits.data, digits.target
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
print(f"{len(X_train)} training and {len(X_test)} test images of 8 x 8 pixels")

# %%
# Three models on the same split
# ------------------------------
# Every model gets standardised pixels (pixel intensities run from 0 to 16; centred
# and scaled they keep the tanh hidden units of the Elman network out of saturation).
# For the Elman network, a little L2 penalty (``alpha``) helps with only about 1300
# training images, and a step of 0.005 (above the default 0.003) gives a smooth
# descent; training stops once the loss stops improving. The classifier's default
# pools the states over the rows (``readout='max'``); this example classifies
# after the last row, as Elman's network does.
models = {
    "Elman network": make_pipeline(
        StandardScaler(),
        ElmanClassifier(
            hidden_units=128,
            n_features_per_step=8,
            readout="last",
            alpha=1e-2,
            learning_rate_init=0.005,
            random_state=0,
        ),
    ),
    "MLP": make_pipeline(StandardScaler(), MLPClassifier(max_iter=400, random_state=0)),
    "Logistic regression": make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000)
    ),
}

# All three models compute with one BLAS thread, the Elman network's default: at these
# sizes a second thread does not make the fits faster, and on a busy machine it makes
# those of the MLP and the logistic regression many times slower.
accuracy, fit_time = {}, {}
with threadpool_limits(1, user_api="blas"):
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        fit_time[name] = time.perf_counter() - start
        accuracy[name] = model.score(X_test, y_test)

# Fit times are printed for scale only: on a shared machine they vary several-fold
# from run to run, so they are not a comparison of the models.
print(f"\n{'model':<20} {'test accuracy':>13} {'fit time (varies)':>18}")
for name in models:
    print(f"{name:<20} {accuracy[name]:>13.3f} {fit_time[name]:>16.2f} s")
difference = accuracy["Elman network"] - accuracy["MLP"]
n_images = round(abs(difference) * len(X_test))
# A few images either way is what another seed or split moves: call it a tie.
verdict = "a tie" if n_images <= 5 else ("ahead" if difference > 0 else "behind")
print(
    f"\nElman network: {accuracy['Elman network']:.3f} test accuracy against "
    f"{accuracy['MLP']:.3f} for the MLP ({difference:+.3f}, {n_images} of "
    f"{len(X_test)} test images: {verdict})."
)

# %%
# The networks differ in size: the Elman network reads 8 pixels at a time through
# input weights shared by the 8 rows, but spends most of its weights on the
# 128 x 128 context matrix that carries what it has seen from row to row; the MLP's
# 100 hidden units each see all 64 pixels at once, with fewer weights in all.
elman = models["Elman network"][-1]
mlp = models["MLP"][-1]
n_elman = sum(
    getattr(elman, name).size
    for name in (
        "input_weights_",
        "context_weights_",
        "hidden_bias_",
        "output_weights_",
        "output_bias_",
    )
)
n_mlp = sum(w.size for w in mlp.coefs_) + sum(b.size for b in mlp.intercepts_)
print(
    f"Parameters: Elman network {n_elman}, MLP {n_mlp} "
    f"({n_elman / n_mlp:.1f} times as many in the Elman network)"
)

# %%
# Training curve and mistakes
# ---------------------------
# ``loss_curve_`` holds the training loss after every epoch, for both networks: the
# mean cross-entropy plus an L2 penalty scaled the same way (with a larger ``alpha``
# for the Elman network). On the right, some of the test digits the Elman network
# gets wrong.
predicted = models["Elman network"].predict(X_test)
wrong = np.flatnonzero(predicted != y_test)

fig = plt.figure(figsize=(11, 4.2), layout="constrained")
loss_fig, digits_fig = fig.subfigures(1, 2, width_ratios=[1.2, 1])

ax = loss_fig.subplots()
ax.plot(np.arange(1, elman.n_iter_ + 1), elman.loss_curve_, label="Elman network")
ax.plot(np.arange(1, mlp.n_iter_ + 1), mlp.loss_curve_, label="MLP", alpha=0.8)
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss (log scale)")
# Each loss includes its own L2 term, so the curves are not on one scale.
ax.set_title(
    f"Training loss per epoch (L2 term alpha={elman.alpha:g} for the Elman "
    f"network, {mlp.alpha:g} for the MLP)",
    fontsize=9,
)
ax.legend()

axes = digits_fig.subplots(2, 4)
for ax, index in zip(axes.flat, wrong):
    ax.imshow(X_test[index].reshape(8, 8), cmap="gray_r", interpolation="nearest")
    ax.set_title(f"{y_test[index]} read as {predicted[index]}", fontsize=10)
for ax in axes.flat:
    ax.set_axis_off()
digits_fig.suptitle(
    f"Misclassified by the Elman network ({len(wrong)} of {len(y_test)})"
)
fig.savefig("plot_digits_sequences.png", dpi=100)
print(f"Saved the figure to {os.path.abspath('plot_digits_sequences.png')}")
