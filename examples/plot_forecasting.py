"""
==============================
Forecasting airline passengers
==============================

:class:`~sklearn_elman.ElmanForecaster` takes a whole series and returns its next
values on the original scale: it logs, differences and standardises the series by
documented rules, trains an Elman network on windows of what is left, averages a few
seeds, and rolls the network forward. This example forecasts the last two years of the
monthly international airline passengers of 1949-1960 (Box & Jenkins) from the ten
years before: first with the forecaster's defaults, then with settings chosen on a
validation tail cut from the training months. It compares both with the seasonal naive
forecast (the same month a year earlier), with
:class:`~sklearn.neural_network.MLPRegressor` on 12 lags of the same transformed series,
and with statsforecast's ``AutoETS`` when statsforecast is installed, and reports the
errors whichever way they fall.
"""

# %%
# The series
# ----------
# 144 monthly totals, in thousands of passengers: a trend, and a yearly season whose
# swing grows with the level. The first 120 months (1949-1958) are for training, the
# last 24 (1959-1960) only for the final comparison. A pandas ``PeriodIndex`` tells the
# forecaster that the data are monthly (a season of 12) and which month each value is.
import os
import textwrap
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, root_mean_squared_error
from sklearn.model_selection import ParameterGrid
from sklearn.neural_network import MLPRegressor

from sklearn_elman import ElmanForecaster

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
HORIZON = 24
N_TRAIN = len(PASSENGERS) - HORIZON
months = pd.period_range("1949-01", periods=len(PASSENGERS), freq="M")
series = pd.Series(PASSENGERS, index=months, name="passengers")
train, test = series[:N_TRAIN], series[N_TRAIN:]
print(f"{len(train)} training months (1949-1958), {len(test)} test months (1959-60)")
start_time = time.perf_counter()

# %%
# The forecaster's defaults
# -------------------------
# ``fit`` decides the transforms (here: the season from the index, a log because the
# swing grows with an exponential-looking trend, a seasonal difference because the
# differences test seasonal) and trains the network; ``predict_interval`` also gives
# 90% intervals, calibrated on forecasts of a held-back tail of the training months.
default = ElmanForecaster(random_state=0).fit(train)
transform = default.transforms_[0]
print(
    f"Chosen by the rules: season {default.season_}, log {transform.log}, "
    f"{transform.difference} differencing, window {default.window_}, "
    f"calendar inputs {default.calendar_!r}"
)
forecasts = {"ElmanForecaster, defaults": default.predict(HORIZON)}
lower, upper = default.predict_interval(HORIZON, coverage=0.9)

# %%
# Settings chosen on the training months
# --------------------------------------
# A small grid over the network's size and the calendar inputs (the position in the
# season and a trend term, on first differences instead of seasonal ones), scored on
# 1957-1958 after fitting on 1949-1956. The test years are not read.
fit_part, validation = train[:-HORIZON], train[-HORIZON:]
grid = ParameterGrid(
    [
        {"regressor__hidden_units": [8, 16, 32]},
        {
            "regressor__hidden_units": [8, 16, 32],
            "difference": ["first"],
            "calendar": ["season+trend"],
        },
    ]
)
validation_mae = {}
for params in grid:
    model = ElmanForecaster(
        ElmanForecaster.default_regressor(), calibration_steps=0, random_state=0
    ).set_params(**params)
    forecast = model.fit(fit_part).predict(HORIZON)
    validation_mae[tuple(sorted(params.items()))] = mean_absolute_error(
        validation, forecast
    )
best = min(validation_mae, key=validation_mae.get)
print("\nValidation MAE (forecasting 1957-58 from 1949-56):")
for params, score in validation_mae.items():
    print(f"  {dict(params)}: {score:.1f}")
print(f"Chosen: {dict(best)}")
tuned = ElmanForecaster(ElmanForecaster.default_regressor(), random_state=0).set_params(
    **dict(best)
)
forecasts["ElmanForecaster, tuned"] = tuned.fit(train).predict(HORIZON)

# %%
# The baselines
# -------------
# The MLP reads 12 lags of the same working series as the default forecaster (the
# log seasonal difference, standardised) and is rolled forward the same way; five
# seeds are averaged, as the forecaster averages five networks.
z = transform.transform(train.to_numpy()[:, None])[:, 0]
lags, targets = np.lib.stride_tricks.sliding_window_view(z[:-1], SEASON), z[SEASON:]
mlps = [
    MLPRegressor(max_iter=2000, random_state=seed).fit(lags, targets)
    for seed in range(5)
]
path = list(z)
for _ in range(HORIZON):
    recent = np.array(path[-SEASON:])[None]
    path.append(np.mean([mlp.predict(recent)[0] for mlp in mlps]))
mlp_z = np.array(path[len(z) :])[:, None]
forecasts["MLP on 12 lags"] = transform.inverse(mlp_z, train.to_numpy()[:, None])[:, 0]
forecasts["seasonal naive"] = np.resize(train.to_numpy()[-SEASON:], HORIZON)
try:
    from statsforecast.models import AutoETS
except ImportError:
    print("statsforecast is not installed: AutoETS is left out")
else:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ets = AutoETS(season_length=SEASON).forecast(
            y=np.log(train.to_numpy()), h=HORIZON
        )
    forecasts["AutoETS on log"] = np.exp(ets["mean"])

# %%
# The final comparison
# --------------------
errors = {
    name: (mean_absolute_error(test, f), root_mean_squared_error(test, f))
    for name, f in forecasts.items()
}
inside = np.mean((lower.to_numpy() <= test.to_numpy()) & (test <= upper).to_numpy())
print("\nTest errors, 1959-1960, in thousands of passengers")
print(f"{'forecaster':<26} {'MAE':>6} {'RMSE':>6}")
for name, (mae, rmse) in sorted(errors.items(), key=lambda item: item[1][0]):
    print(f"{name:<26} {mae:6.1f} {rmse:6.1f}")
ranking = sorted(errors, key=lambda name: errors[name][0])
lines = [
    f"Ranked by MAE: {', '.join(ranking)}.",
    f"The default forecaster's 90% intervals hold {inside:.0%} of the 24 test months.",
]
tuned_mae, default_mae = (
    errors["ElmanForecaster, tuned"][0],
    errors["ElmanForecaster, defaults"][0],
)
if tuned_mae > default_mae:
    lines.append(
        f"The settings chosen on 1957-58 forecast 1959-60 worse than the defaults "
        f"(MAE {tuned_mae:.1f} against {default_mae:.1f}): a single 24-month "
        "validation tail is a noisy guide."
    )
print("\n" + "\n".join(textwrap.fill(line, 88) for line in lines))
print(f"(all fits and forecasts: {time.perf_counter() - start_time:.1f} s)")

# %%
# The training months, the two test years, the forecasts and the intervals.
fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
years = 1949 + np.arange(len(series)) / SEASON
ax.plot(years[:N_TRAIN], train, color="0.3", label="training months (1949-1958)")
ax.plot(years[N_TRAIN:], test, color="black", linewidth=2.5, label="truth (1959-60)")
ax.fill_between(
    years[N_TRAIN:], lower, upper, color="tab:red", alpha=0.15,
    label="90% interval (defaults)",
)  # fmt: skip
styles = {
    "ElmanForecaster, defaults": {"color": "tab:red", "marker": "o"},
    "ElmanForecaster, tuned": {"color": "tab:purple", "marker": "^"},
    "MLP on 12 lags": {"color": "tab:blue", "marker": "s"},
    "seasonal naive": {"color": "tab:green", "linestyle": "--"},
    "AutoETS on log": {"color": "tab:orange", "linestyle": "-."},
}
for name, forecast in forecasts.items():
    ax.plot(
        years[N_TRAIN:],
        np.asarray(forecast),
        markersize=3,
        label=f"{name} (MAE {errors[name][0]:.1f})",
        **styles[name],
    )
ax.axvline(years[N_TRAIN], color="0.6", linestyle=":")
ax.set_xlabel("year")
ax.set_ylabel("passengers (thousands)")
ax.set_title("International airline passengers: forecasting 1959-1960 from 1949-1958")
ax.legend(loc="upper left", fontsize=8)
fig.savefig("plot_forecasting.png", dpi=100)
print(f"Saved the figure to {os.path.abspath('plot_forecasting.png')}")
