"""
==============================
Forecasting airline passengers
==============================

:meth:`~sklearn_elman.ElmanRegressor.forecast` rolls a network trained to predict the
next value of a series forward, feeding each prediction back as the next input. This
example forecasts the last two years of the monthly international airline passengers
of 1949-1960 (Box & Jenkins) from the ten years before, with the recipe the design
notes found to work on short series: stateless windows of two seasons as rows,
``alpha`` and the size chosen on a held-out tail of the training months, and an
ensemble of a few seeds. It compares the forecast with the seasonal naive forecast
(the same month a year earlier) and with :class:`~sklearn.neural_network.MLPRegressor`
on 12 lags, rolled forward the same way, and reports the errors whichever way they
fall.
"""

# %%
# The series
# ----------
# 144 monthly totals, in thousands of passengers: a trend, and a yearly season whose
# swing grows with the level. The log turns the growing swing into a constant one,
# which a network fitted on the early years can carry over to the later ones. The
# first 120 months (1949-1958) are for training, the last 24 (1959-1960) only for the
# final comparison.
import os
import textwrap
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import mean_absolute_error, root_mean_squared_error
from sklearn.neural_network import MLPRegressor

from sklearn_elman import ElmanRegressor

PASSENGERS = np.array(
    [
        [112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118],  # 1949
        [115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140],
        [145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166],
        [171, 180, 193, 181, 183, 218, 230, 242, 209, 191, 172, 194],
        [196, 196, 236, 235, 229, 243, 264, 272, 237, 211, 180, 201],
        [204, 188, 235, 227, 234, 264, 302, 293, 259, 229, 203, 229],
        [242, 233, 267, 269, 270, 315, 364, 347, 312, 274, 237, 278],
        [284, 277, 317, 313, 318, 374, 413, 405, 355, 306, 271, 306],
        [315, 301, 356, 348, 355, 422, 465, 467, 404, 347, 305, 336],
        [340, 318, 362, 348, 363, 435, 491, 505, 404, 359, 310, 337],
        [360, 342, 406, 396, 420, 472, 548, 559, 463, 407, 362, 405],
        [417, 391, 419, 461, 472, 535, 622, 606, 508, 461, 390, 432],  # 1960
    ],
    dtype=float,
).ravel()
assert PASSENGERS.size == 144 and PASSENGERS.sum() == 40363  # no typo in the table

SEASON = 12
WINDOW = 2 * SEASON  # Elman rows: two seasons, each month of the year twice
N_LAGS = SEASON  # MLP rows: one season of lags
HORIZON = 24
N_TRAIN = len(PASSENGERS) - HORIZON
SEEDS = [0, 1, 2]
months = 1949 + np.arange(len(PASSENGERS)) / SEASON
train, test = PASSENGERS[:N_TRAIN], PASSENGERS[N_TRAIN:]
print(f"{len(train)} training months (1949-1958), {len(test)} test months (1959-60)")

start_time = time.perf_counter()

# %%
# Three forecasters
# -----------------
# Every forecaster sees only a history and returns the next ``n_steps`` months. The
# scaling (log, then standardisation) is fitted on that history alone, so the months
# being forecast never leak into it. Each row of the training set is a run of
# consecutive months and its target the month after; both networks then roll forward
# from the end of the history, and the forecasts of three seeds are averaged, which
# evens out the luck of one initialisation on so few rows.


def scaled(history):
    """The log of `history`, standardised with its own mean and spread."""
    log = np.log(history)
    center, spread = log.mean(), log.std()
    return (log - center) / spread, lambda z: np.exp(z * spread + center)


def next_value_rows(z, length):
    """Every run of `length` consecutive values as a row, the next value as target."""
    return np.lib.stride_tricks.sliding_window_view(z[:-1], length), z[length:]


def fit_elman(history, hidden_units, alpha):
    z, unscale = scaled(history)
    X, y = next_value_rows(z, WINDOW)
    # Mini-batches of 24 give a few updates per epoch on these 72-96 rows, where one
    # full batch gave worse validation forecasts; stopping after 5 epochs without
    # progress, instead of the default 50, takes a third of the time for as low a
    # best validation error. The settings were chosen with a step of 0.01, about
    # three times the default 0.003.
    models = [
        ElmanRegressor(
            hidden_units=hidden_units,
            alpha=alpha,
            batch_size=24,
            n_iter_no_change=5,
            learning_rate_init=0.01,
            random_state=seed,
        ).fit(X, y)
        for seed in SEEDS
    ]
    return models, z, unscale


def elman_forecast(fitted, n_steps, window=WINDOW):
    models, z, unscale = fitted
    runs = [model.forecast(z[None], n_steps, window=window)[0] for model in models]
    return unscale(np.mean(runs, axis=0))


def mlp_forecast(history, n_steps, alpha):
    z, unscale = scaled(history)
    X, y = next_value_rows(z, N_LAGS)
    runs = []
    for seed in SEEDS:
        mlp = MLPRegressor(alpha=alpha, max_iter=2000, random_state=seed).fit(X, y)
        lags = list(z[-N_LAGS:])
        for _ in range(n_steps):
            # The newest prediction becomes the newest lag, as forecast does.
            lags.append(mlp.predict(np.array(lags[-N_LAGS:])[None])[0])
        runs.append(lags[N_LAGS:])
    return unscale(np.mean(runs, axis=0))


def seasonal_naive(history, n_steps):
    return np.resize(history[-SEASON:], n_steps)


# %%
# Choosing the settings on the training months only
# -------------------------------------------------
# The last 24 months are kept for the final comparison, so the settings are chosen on
# a validation tail cut from the training months: fit on 1949-1956 (96 months, 72
# windows), forecast 1957-1958 recursively, score the mean absolute error. The MLP's
# ``alpha`` is chosen the same way, over the same grid. A model trained on windows
# should forecast as it was trained, each step reading only the last 24 months from a
# zero context (``window=24``); ``window=None`` instead carries the context over the
# whole history, which the model never saw in training. Both are scored, on the same
# fitted models.
fit_part, validation = train[:-HORIZON], train[-HORIZON:]
alphas = [1e-3, 1e-2, 1e-1, 1.0]
hidden_sizes = [8, 16]
windows = [WINDOW, None]


def score_elman(hidden_units, alpha):
    fitted = fit_elman(fit_part, hidden_units, alpha)
    return [
        mean_absolute_error(validation, elman_forecast(fitted, HORIZON, window))
        for window in windows
    ]


def score_mlp(alpha):
    return mean_absolute_error(validation, mlp_forecast(fit_part, HORIZON, alpha))


elman_scores = {}
for hidden_units in hidden_sizes:
    for alpha in alphas:
        row = score_elman(hidden_units, alpha)
        elman_scores.update(
            {(hidden_units, alpha, w): score for w, score in zip(windows, row)}
        )
mlp_scores = {alpha: score_mlp(alpha) for alpha in alphas}

print(f"\nValidation MAE (forecasting 1957-58 from 1949-56), {len(SEEDS)} seeds")
header = [f"h={h},w={w}" for h in hidden_sizes for w in windows] + ["MLP"]
print(f"{'alpha':>6} " + " ".join(f"{name:>11}" for name in header))
for alpha in alphas:
    row = [elman_scores[h, alpha, w] for h in hidden_sizes for w in windows]
    row.append(mlp_scores[alpha])
    print(f"{alpha:>6g} " + " ".join(f"{score:11.1f}" for score in row))
naive_validation = mean_absolute_error(validation, seasonal_naive(fit_part, HORIZON))
print(f"seasonal naive: {naive_validation:.1f}")

best_hidden, best_alpha, best_window = min(elman_scores, key=elman_scores.get)
mlp_alpha = min(mlp_scores, key=mlp_scores.get)
print(
    f"Chosen: Elman hidden_units={best_hidden}, alpha={best_alpha:g}, "
    f"window={best_window} "
    f"(MAE {elman_scores[best_hidden, best_alpha, best_window]:.1f}); "
    f"MLP alpha={mlp_alpha:g} (MAE {mlp_scores[mlp_alpha]:.1f})"
)

# %%
# The final forecast
# ------------------
# With the settings fixed, every model is refitted on all 120 training months and
# forecasts 1959-1960, which nothing so far has looked at.
forecasts = {
    "Elman network": elman_forecast(
        fit_elman(train, best_hidden, best_alpha), HORIZON, window=best_window
    ),
    "seasonal naive": seasonal_naive(train, HORIZON),
    "MLP on 12 lags": mlp_forecast(train, HORIZON, mlp_alpha),
}
errors = {
    name: (mean_absolute_error(test, f), root_mean_squared_error(test, f))
    for name, f in forecasts.items()
}
# The bias (mean of forecast minus truth) tells a forecast that misses the growth
# from one that misses the shape of the season.
print("\nTest errors, 1959-1960, in thousands of passengers")
print(f"{'forecaster':<16} {'MAE':>6} {'RMSE':>6} {'bias':>6}")
for name, (mae, rmse) in errors.items():
    bias = np.mean(forecasts[name] - test)
    print(f"{name:<16} {mae:6.1f} {rmse:6.1f} {bias:6.1f}")

# The verdict is read off the numbers above, whichever way they fall.
elman_mae, elman_rmse = errors["Elman network"]
verdict = []
for name in ["seasonal naive", "MLP on 12 lags"]:
    mae, rmse = errors[name]
    if elman_mae < mae and elman_rmse < rmse:
        outcome = "beats"
    elif elman_mae > mae and elman_rmse > rmse:
        outcome = "loses to"
    else:
        outcome = "splits the two measures with"
    verdict.append(
        f"The Elman network {outcome} the {name} "
        f"(MAE {elman_mae:.1f} vs {mae:.1f}, RMSE {elman_rmse:.1f} vs {rmse:.1f})."
    )
elman_validation = elman_scores[best_hidden, best_alpha, best_window]
if (elman_validation < mlp_scores[mlp_alpha]) != (
    elman_mae < errors["MLP on 12 lags"][0]
):
    verdict.append(
        "The validation tail ranked the two networks the other way round (MAE "
        f"{elman_validation:.1f} vs {mlp_scores[mlp_alpha]:.1f}): a single 24-month "
        "tail is a noisy guide."
    )
ranking = sorted(errors, key=lambda name: errors[name][0])
verdict.append(f"Ranked by MAE: {', '.join(ranking)}.")
print("\n" + "\n".join(textwrap.fill(line, 88) for line in verdict))
print(f"(all fits and forecasts: {time.perf_counter() - start_time:.1f} s)")

# %%
# The training months, the two test years and the three forecasts.
fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
ax.plot(months[:N_TRAIN], train, color="0.3", label="training months (1949-1958)")
ax.plot(months[N_TRAIN:], test, color="black", linewidth=2.5, label="truth (1959-60)")
styles = {
    "Elman network": {"color": "tab:red", "marker": "o"},
    "seasonal naive": {"color": "tab:green", "linestyle": "--"},
    "MLP on 12 lags": {"color": "tab:blue", "marker": "s"},
}
for name, forecast in forecasts.items():
    ax.plot(
        months[N_TRAIN:],
        forecast,
        markersize=4,
        label=f"{name} (MAE {errors[name][0]:.1f})",
        **styles[name],
    )
ax.axvline(months[N_TRAIN], color="0.6", linestyle=":")
ax.set_xlabel("year")
ax.set_ylabel("passengers (thousands)")
ax.set_title("International airline passengers: forecasting 1959-1960 from 1949-1958")
ax.legend(loc="upper left")
fig.savefig("plot_forecasting.png", dpi=100)
print(f"Saved the figure to {os.path.abspath('plot_forecasting.png')}")

# %%
# Why the comparison comes out as it does
# ---------------------------------------
# On this split the Elman network beats the seasonal naive forecast but loses clearly
# to the MLP, although it had the lowest error on the validation tail. Its bias is
# minus its MAE, so it forecasts every test month too low: it reproduces the season
# but hardly the growth, staying just above the level of 1958, a year that grew little
# on 1957. The reasons, as far as this run and the design notes show:
#
# * One short series is few examples. The 96 training windows overlap and are all cut
#   from one history of 120 months, which a recurrent network tends to memorise (as
#   the design notes found) rather than learn a rule that carries the trend on.
# * The test years climb past the training months: their summer peaks, 559 and 622,
#   top the highest training month, 505. The tanh units and the L2 penalty pull the
#   forecasts back towards the training levels (the more, the stronger ``alpha``:
#   ``alpha=1`` flattened the validation forecasts), while the MLP's ReLU units
#   extrapolate linearly and carry the growth on.
# * The settings were chosen on one 24-month tail, 1957-1958. The two networks were
#   close there, and a single draw that short cannot tell them apart reliably.
# * Errors compound: each forecast month is fed back as an input, 24 times over.
#
# Removing the trend first, for example by forecasting the change from the same month
# a year earlier, would leave the network only the season to learn; this example keeps
# the plain recipe, and reports what it gives.
