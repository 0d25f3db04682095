"""Series transforms for forecasting: season, log, differencing and scaling.

Each rule here is cheap and documented in :class:`ElmanForecaster`'s docstring, and
every transform is inverted exactly on the forecast: the network learns and rolls
forward on the working series ``z``, and the forecaster hands back the level.

The chain, per series and per target column::

    level y  --log?-->  w  --difference (lag 0, 1 or season)-->  d  --scale-->  z

Inverting a forecast of ``z`` takes the last ``lag`` values of ``w`` before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Periods that a series without a calendar is tested for, in this order; a period
# is accepted only if the series holds at least three of its seasons.
USUAL_PERIODS = (4, 7, 12, 24, 52)

# pandas frequency prefixes and the season they imply (yearly and unknown: 1).
SEASON_OF_FREQUENCY = {
    "Q": 4,
    "BQ": 4,
    "M": 12,
    "BM": 12,
    "MS": 12,
    "BMS": 12,
    "W": 52,
    "D": 7,
    "B": 5,
    "h": 24,
    "H": 24,
}

# Critical value of the seasonality test (one-sided, 90%), as in the M4 Theta
# benchmark: the autocorrelation at the season must exceed this many standard
# errors (Bartlett's) of an autocorrelation.
SEASONALITY_Z = 1.645

# A log is taken ('auto') when the spread of a series grows with its level at
# least this fast: the slope of log(spread) against log(level) over its seasons or
# blocks. 1 is a purely multiplicative series, 0 an additive one.
LOG_SLOPE = 0.5

# First differences ('auto') when the lag-1 autocorrelation exceeds this: then
# the differences vary less than the series itself (var(dy) = 2 var(y)(1 - r1)).
DIFFERENCE_R1 = 0.5


def autocorrelation(values: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation of a 1D series at lags 0 to ``max_lag``.

    Parameters
    ----------
    values : ndarray of shape (n_timepoints,)
        The series.
    max_lag : int
        The largest lag.

    Returns
    -------
    ndarray of shape (max_lag + 1,)
        The autocorrelations (all 0 for a constant series).
    """
    centred = values - values.mean()
    denominator = float(centred @ centred)
    if denominator == 0:
        return np.zeros(max_lag + 1)
    return (
        np.array(
            [
                float(centred[k:] @ centred[: len(centred) - k])
                for k in range(max_lag + 1)
            ]
        )
        / denominator
    )


def is_seasonal(values: np.ndarray, period: int) -> bool:
    """The M4 Theta benchmark's 90% test for seasonality at ``period``.

    Parameters
    ----------
    values : ndarray of shape (n_timepoints,)
        The series, at least three periods long (else False).
    period : int
        The period tested.

    Returns
    -------
    bool
        Whether the autocorrelation at ``period`` exceeds ``SEASONALITY_Z``
        of Bartlett's standard errors.
    """
    if period < 2 or len(values) < 3 * period:
        return False
    acf = autocorrelation(values, period)
    limit = SEASONALITY_Z * np.sqrt((1 + 2 * np.sum(acf[1:period] ** 2)) / len(values))
    return bool(acf[period] > limit)


def season_of_index(index) -> int | None:
    """The season a pandas index's frequency implies, or None if it has none.

    Parameters
    ----------
    index : pandas.Index
        A DatetimeIndex or PeriodIndex (its ``freq``, else the inferred one).

    Returns
    -------
    int or None
        12 for monthly, 4 quarterly, 7 daily, 24 hourly, 52 weekly, 5 business
        days, 1 yearly; None for another or unknown frequency.
    """
    freq = getattr(index, "freqstr", None)
    if freq is None:
        try:
            import pandas as pd

            freq = pd.infer_freq(index)
        except (TypeError, ValueError):
            return None
        if freq is None:
            return None
    prefix = freq.split("-")[0].lstrip("0123456789")
    for name in (prefix, prefix.rstrip("E"), prefix[:1]):
        if name in SEASON_OF_FREQUENCY:
            return SEASON_OF_FREQUENCY[name]
    return 1 if prefix[:1] in {"A", "Y"} else None


def detect_season(values: np.ndarray) -> int:
    """The first usual period at which the series tests seasonal, or 1.

    The test runs on the first differences, since a trend makes every
    autocorrelation of the level large.

    Parameters
    ----------
    values : ndarray of shape (n_timepoints,) or (n_timepoints, n_columns)
        The series.

    Returns
    -------
    int
        The first of ``USUAL_PERIODS`` at which every column tests seasonal.
    """
    for period in USUAL_PERIODS:
        if seasonal_columns(values, period):
            return period
    return 1


def _blocks(values: np.ndarray, season: int) -> np.ndarray | None:
    """The series' last whole blocks of one season (at least 4 values), or None."""
    block = max(season, 4)
    n_blocks = len(values) // block
    if n_blocks < 3:
        return None
    return values[len(values) - n_blocks * block :].reshape(n_blocks, block)


def _straightness(values: np.ndarray) -> float:
    """R^2 of a straight line through ``values`` (1 for a line, NaN if flat)."""
    time = np.arange(len(values), dtype=float)
    residuals = values - np.polyval(np.polyfit(time, values, 1), time)
    spread = values.var()
    return 1 - residuals.var() / spread if spread > 0 else np.nan


def grows_with_level(values: np.ndarray, season: int) -> bool:
    """Whether a positive series is multiplicative: the log rule.

    The series is cut into blocks of one season (at least 4 values). Its
    spread must grow with its level: the slope of the log of each block's
    spread (of its first differences) against the log of its mean exceeds
    ``LOG_SLOPE``. And its trend must be closer to exponential than to linear:
    a line through the logs of the block means fits at least as well (R^2) as
    one through the means. (A linear trend times a season is left unlogged: its
    seasonal differences are then exactly periodic.)

    Parameters
    ----------
    values : ndarray of shape (n_timepoints,)
        A positive series.
    season : int
        The season (the block length, at least 4).

    Returns
    -------
    bool
        Whether to take the log.
    """
    blocks = _blocks(values, season)
    if blocks is None:
        return False
    spread = np.diff(blocks, axis=1).std(axis=1)
    level = blocks.mean(axis=1)
    if np.any(spread <= 0) or np.ptp(np.log(level)) < 1e-8:
        return False
    slope = np.polyfit(np.log(level), np.log(spread), 1)[0]
    if slope <= LOG_SLOPE:
        return False
    exponential, linear = _straightness(np.log(level)), _straightness(level)
    return bool(not exponential < linear)


def seasonal_columns(values: np.ndarray, season: int) -> bool:
    """Whether every column's first differences test seasonal at ``season``.

    Parameters
    ----------
    values : ndarray of shape (n_timepoints,) or (n_timepoints, n_columns)
        The series.
    season : int
        The period tested (1 gives False).

    Returns
    -------
    bool
        The verdict of :func:`is_seasonal` on every column.
    """
    changes = np.diff(values, axis=0).reshape(len(values) - 1, -1)
    return season > 1 and all(is_seasonal(column, season) for column in changes.T)


def choose_difference(values: np.ndarray, season: int) -> str:
    """'seasonal' for a seasonal series, 'first' for a persistent one, else 'none'.

    A season from a calendar is taken only if the series tests seasonal at it;
    'first' needs every column's lag-1 autocorrelation above ``DIFFERENCE_R1``.

    Parameters
    ----------
    values : ndarray of shape (n_timepoints,) or (n_timepoints, n_columns)
        The series.
    season : int
        The season.

    Returns
    -------
    str
        'seasonal', 'first' or 'none'.
    """
    if seasonal_columns(values, season):
        return "seasonal"
    columns = values.reshape(len(values), -1).T
    if len(values) < 4:
        return "first"
    persistent = all(autocorrelation(c, 1)[1] > DIFFERENCE_R1 for c in columns)
    return "first" if persistent else "none"


def lag_of(difference: str, season: int) -> int:
    return {"none": 0, "first": 1, "seasonal": season}[difference]


def differenced(values: np.ndarray, lag: int) -> np.ndarray:
    return values if lag == 0 else values[lag:] - values[:-lag]


def integrate(changes: np.ndarray, before: np.ndarray, lag: int) -> np.ndarray:
    """Invert :func:`differenced`: the values that follow ``before``.

    Parameters
    ----------
    changes : ndarray of shape (n_timepoints, n_columns)
        Differences at lag ``lag``.
    before : ndarray of shape (n_before, n_columns)
        The values preceding ``changes``, at least ``lag`` of them.
    lag : int
        The lag of the differences (0: ``changes`` are the values).

    Returns
    -------
    ndarray of shape (n_timepoints, n_columns)
        The values whose differences are ``changes``.
    """
    if lag == 0:
        return changes.copy()
    out = np.concatenate([before[len(before) - lag :], np.empty_like(changes)])
    for k in range(len(changes)):
        out[lag + k] = out[k] + changes[k]
    return out[lag:]


@dataclass
class SeriesTransform:
    """The fitted chain of one series (all its target columns).

    Attributes
    ----------
    log : bool
    lag : int
        0 (no differencing), 1 (first) or the season (seasonal).
    mean, scale : ndarray of shape (n_targets,)
        Standardisation of the differenced series.
    """

    log: bool
    lag: int
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, y, *, season, log, difference, scale):
        """Decide the transforms of ``y`` (n_timepoints, n_targets) and fit them."""
        if log == "auto":
            log = bool(np.all(y > 0)) and all(
                grows_with_level(column, season) for column in y.T
            )
        w = np.log(y) if log else y
        if difference == "auto":
            difference = choose_difference(w, season)
        lag = lag_of(difference, season)
        d = differenced(w, lag)
        if scale:
            mean, spread = d.mean(axis=0), d.std(axis=0)
            spread = np.where(spread > 0, spread, 1.0)
        else:
            mean, spread = np.zeros(y.shape[1]), np.ones(y.shape[1])
        return cls(bool(log), lag, mean, spread)

    @property
    def difference(self) -> str:
        return {0: "none", 1: "first"}.get(self.lag, "seasonal")

    def to_log_level(self, y):
        return np.log(y) if self.log else np.asarray(y, dtype=float)

    def from_log_level(self, w):
        return np.exp(w) if self.log else w

    def transform(self, y):
        """The working series ``z`` of ``y``: ``lag`` values shorter."""
        d = differenced(self.to_log_level(y), self.lag)
        return (d - self.mean) / self.scale

    def inverse(self, z, y_before):
        """The levels that follow ``y_before`` whose working series is ``z``."""
        d = z * self.scale + self.mean
        w = integrate(d, self.to_log_level(y_before), self.lag)
        return self.from_log_level(w)
