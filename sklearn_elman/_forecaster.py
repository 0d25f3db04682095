"""ElmanForecaster: whole series in, forecasts on the original scale out."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from sklearn_elman._regressor import ElmanRegressor
from sklearn_elman._transforms import (
    SeriesTransform,
    detect_season,
    lag_of,
    season_of_index,
    seasonal_columns,
)

CALENDARS = ("auto", "none", "season", "trend", "season+trend")


@dataclass
class _Series:
    """One training (or history) series, as the forecaster holds it."""

    y: np.ndarray  # (n_timepoints, n_targets) levels
    X: np.ndarray  # (n_timepoints, n_exogenous) user inputs, maybe 0 columns
    start: int  # position in the season of the first timepoint
    index: object  # the pandas index, or None
    kind: str  # 'numpy', 'series' or 'frame'
    name: object  # Series name or DataFrame columns
    transform: SeriesTransform | None = None


class ElmanForecaster(BaseEstimator):
    """Forecast whole series with an Elman network on their season and trend.

    The forecaster follows skforecast's convention: ``fit(y, X)`` on a series and
    its exogenous inputs, ``predict(n_steps, X_future)`` for the steps after it,
    and ``last_window`` to forecast a series that was not in training from its
    own history (a global model's main use). Each series is logged, differenced
    and standardised (each ``'auto'`` by the rules below, inverted exactly on
    output); an :class:`ElmanRegressor` learns the next value of the working
    series from windows of it, together with inputs known in the future (the
    position in the season, the user's ``X``), and is rolled forward
    recursively with :meth:`ElmanRegressor.forecast`.

    Parameters
    ----------
    regressor : ElmanRegressor or None, default=None
        The network, cloned at fit. None means :meth:`default_regressor`: 16
        hidden units, ``alpha=0.1``, ``batch_size=24``,
        ``learning_rate_init=0.01``, ``n_iter_no_change=10`` and an ensemble of
        ``n_ensemble=5`` seeds. Tune it as ``regressor__hidden_units``.

    season : int or 'auto', default='auto'
        Length of the season (12 for monthly data with a yearly season, 1 for
        none). 'auto' reads it from a pandas index's frequency (monthly 12,
        quarterly 4, daily 7, hourly 24, weekly 52, yearly 1); without one, it
        is the first of 4, 7, 12, 24 and 52 at which the first differences of
        every training series pass the M4 Theta benchmark's 90% seasonality test
        (autocorrelation at the season above 1.645 of Bartlett's standard
        errors), with at least three seasons of data; else 1.

    log : bool or 'auto', default='auto'
        Whether to forecast the log of the series (for positive series whose
        swings grow with their level). 'auto' takes the log of a positive series
        when the slope of log(spread) against log(level), over blocks of one
        season (at least 4 values), exceeds 0.5.

    difference : {'auto', 'none', 'first', 'seasonal'}, default='auto'
        Differencing of the (logged) series. 'auto' is 'seasonal' for a
        seasonal series, else 'first' when its lag-1 autocorrelation exceeds 0.5
        (the differences then vary less than the series), else 'none'.

    scale : bool, default=True
        Standardise each differenced series by its own mean and standard
        deviation.

    calendar : {'auto', 'none', 'season', 'trend', 'season+trend'}, \
            default='auto'
        Known future inputs derived from the time: 'season' is the position in
        the season as a sine and a cosine, 'trend' the time divided by the
        series' length. 'auto' is 'season' for a seasonal series not seasonally
        differenced, else 'none' (seasonal differencing removes the season).

    window : int or 'auto', default='auto'
        Number of steps the network reads for each prediction: the training
        rows are windows of this many steps of the working series. 'auto' is two
        seasons, at least 8, at most what the shortest training series allows.

    calibration_steps : int or 'auto', default='auto'
        Length of the tail held back, at fit, to calibrate
        :meth:`predict_interval`: a clone of the network is trained without the
        last ``calibration_steps`` values of each series and forecasts them
        from every origin inside that tail; the errors give the intervals.
        'auto' is two seasons, at least 8; 0 skips the calibration (a faster
        fit, and no intervals).

    random_state : int, RandomState instance or None, default=None
        Seed given to the network (overriding its own) for reproducible fits.

    Attributes
    ----------
    regressor_ : ElmanRegressor
        The fitted network.

    season_ : int
        The season used.

    window_ : int
        The window used.

    calendar_ : str
        The calendar inputs used.

    transforms_ : list of SeriesTransform
        Per training series: ``log``, ``lag`` (0, 1 or the season) and the
        standardisation (``mean``, ``scale``).

    n_targets_ : int
        Number of target columns of each series.

    n_exogenous_ : int
        Number of exogenous inputs of each series (columns of ``X``).

    calibration_scores_ : ndarray or None
        Calibration errors of the held-back tail, each divided by the square
        root of its horizon and by its series' scale; None without calibration.

    See Also
    --------
    ElmanRegressor.forecast : The recursion this forecaster calls, on windows
        the user builds by hand.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elman import ElmanForecaster
    >>> t = np.arange(96)
    >>> y = 10 + 0.1 * t + np.sin(2 * np.pi * t / 12)
    >>> model = ElmanForecaster(season=12, random_state=0).fit(y)
    >>> model.predict(12).shape
    (12,)
    """

    @staticmethod
    def default_regressor():
        """The network trained when ``regressor=None``, a new instance each call.

        Chosen by validation on the training parts of the development series
        (``examples/bench_forecasting.py --validate``): a small network, strongly
        regularised, averaged over five seeds. Pass it as ``regressor`` to tune
        its parameters as ``regressor__<name>``.

        Returns
        -------
        regressor : ElmanRegressor
            The default network, unfitted.
        """
        return ElmanRegressor(
            hidden_units=16,
            alpha=0.1,
            batch_size=24,
            learning_rate_init=0.01,
            n_iter_no_change=10,
            n_ensemble=5,
        )

    def __init__(
        self,
        regressor=None,
        *,
        season="auto",
        log="auto",
        difference="auto",
        scale=True,
        calendar="auto",
        window="auto",
        calibration_steps="auto",
        random_state=None,
    ):
        self.regressor = regressor
        self.season = season
        self.log = log
        self.difference = difference
        self.scale = scale
        self.calendar = calendar
        self.window = window
        self.calibration_steps = calibration_steps
        self.random_state = random_state

    # ------------------------------------------------------------------------
    # Persistence: a saved forecaster holds only public classes and plain data,
    # so that skops trusts it with the estimators' public names alone.
    # ------------------------------------------------------------------------

    def __getstate__(self):
        state = super().__getstate__()
        if "transforms_" in state:
            state = {
                **state,
                "transforms_": [vars(t).copy() for t in state["transforms_"]],
                "_series": [_plain_series(s) for s in state["_series"]],
            }
        return state

    def __setstate__(self, state):
        if "transforms_" in state and isinstance(state["transforms_"][0], dict):
            transforms = [SeriesTransform(**t) for t in state["transforms_"]]
            state = {
                **state,
                "transforms_": transforms,
                "_series": [
                    _series_of(s, t) for s, t in zip(state["_series"], transforms)
                ],
            }
        super().__setstate__(state)

    # ------------------------------------------------------------------------
    # fit
    # ------------------------------------------------------------------------

    def fit(self, y, X=None):
        """Fit the transforms and the network on one series or a panel.

        Parameters
        ----------
        y : array-like of shape (n_timepoints,) or (n_timepoints, n_targets), \
                or list of such
            One series, or a list of series (a panel, trained as one global
            model). A pandas Series or DataFrame with a DatetimeIndex or
            PeriodIndex gives the season and the position in it, and
            :meth:`predict` continues its index.

        X : array-like of shape (n_timepoints, n_exogenous), or list of such, \
                default=None
            Exogenous inputs aligned with ``y`` (the same structure): the value
            of ``X`` at time t is an input of the prediction of ``y`` at t, so
            :meth:`predict` needs them for the forecast steps.

        Returns
        -------
        self : ElmanForecaster
            The fitted forecaster.
        """
        self._check_params()
        self.is_panel_ = isinstance(y, (list, tuple))
        series = _as_panel(y, X, "y", "X")
        self.n_targets_ = series[0].y.shape[1]
        self.n_exogenous_ = series[0].X.shape[1]
        for k, s in enumerate(series):
            if s.y.shape[1] != self.n_targets_ or s.X.shape[1] != self.n_exogenous_:
                raise ValueError(
                    f"Series {k} of the panel has {s.y.shape[1]} target(s) and "
                    f"{s.X.shape[1]} exogenous input(s), series 0 "
                    f"{self.n_targets_} and {self.n_exogenous_}: every series "
                    "of a panel needs the same columns."
                )
        self.season_ = self._resolve_season(series)
        for k, s in enumerate(series):
            self._fit_transform_of(s, k, "y", self.is_panel_)
        self.calendar_ = self._resolve_calendar(series)
        if self.n_exogenous_:
            all_X = np.concatenate([s.X for s in series])
            self._X_mean = all_X.mean(axis=0)
            spread = all_X.std(axis=0)
            self._X_scale = np.where(spread > 0, spread, 1.0)
        shortest = min(len(s.y) - s.transform.lag for s in series)
        self.window_ = self._resolve_window(shortest, series)
        n_hold = self._resolve_calibration()
        self.calibration_scores_ = None
        if n_hold:
            self.calibration_scores_ = self._calibrate(series, n_hold)
        self.regressor_ = self._fit_network(series)
        self.transforms_ = [s.transform for s in series]
        self._series = series
        return self

    def _check_params(self):
        if self.regressor is not None and not isinstance(
            self.regressor, ElmanRegressor
        ):
            raise TypeError(
                "regressor must be an ElmanRegressor or None, got "
                f"{type(self.regressor).__name__}."
            )
        for name in ("season", "window"):
            value = getattr(self, name)
            if value != "auto" and not _is_int(value, 1):
                raise ValueError(
                    f"{name} must be 'auto' or an int >= 1, got {value!r}."
                )
        if self.log not in ("auto", True, False):
            raise ValueError(f"log must be 'auto', True or False, got {self.log!r}.")
        if self.difference not in ("auto", "none", "first", "seasonal"):
            raise ValueError(
                "difference must be one of 'auto', 'none', 'first', 'seasonal', "
                f"got {self.difference!r}."
            )
        if self.calendar not in CALENDARS:
            raise ValueError(
                f"calendar must be one of {CALENDARS}, got {self.calendar!r}."
            )
        steps = self.calibration_steps
        if steps != "auto" and not _is_int(steps, 0):
            raise ValueError(
                f"calibration_steps must be 'auto' or an int >= 0, got {steps!r}."
            )

    def _resolve_season(self, series):
        if self.season != "auto":
            return int(self.season)
        if series[0].index is not None:
            from_index = season_of_index(series[0].index)
            if from_index is not None:
                return from_index
        seasons = {detect_season(s.y) for s in series}
        return seasons.pop() if len(seasons) == 1 else 1

    def _fit_transform_of(self, s, k, name="y", panel=False):
        if self.log is True and np.any(s.y <= 0):
            where = np.argwhere(s.y <= 0)[0]
            raise ValueError(
                f"log=True needs positive values, but {_which(name, k, panel)} has "
                f"{s.y[tuple(where)]:.6g} at position {where[0]}. Use log=False "
                "or 'auto' (which takes no log of a series that is not positive)."
            )
        if self.difference == "seasonal" and self.season_ < 2:
            raise ValueError(
                "difference='seasonal' needs a season of at least 2, but the "
                f"season is {self.season_}: set season, or choose 'first'."
            )
        if self.difference != "auto":
            self._check_length(s, k, name, panel, lag_of(self.difference, self.season_))
        s.transform = SeriesTransform.fit(
            s.y,
            season=self.season_,
            log=self.log,
            difference=self.difference,
            scale=self.scale,
        )
        self._check_length(s, k, name, panel, s.transform.lag)

    @staticmethod
    def _check_length(s, k, name, panel, lag):
        needed = lag + 3
        if len(s.y) < needed:
            difference = {0: "no", 1: "first"}.get(lag, "seasonal")
            raise ValueError(
                f"{_which(name, k, panel)} has {len(s.y)} values, too short for "
                f"{difference} differencing (lag {lag}) and a window of 2 steps: "
                f"it needs at least {needed}."
            )

    def _resolve_calendar(self, series):
        if self.calendar != "auto":
            return self.calendar
        # The position in the season helps a seasonal series that is not
        # seasonally differenced (that difference removes the season).
        wanted = [
            s.transform.difference != "seasonal"
            and seasonal_columns(s.transform.to_log_level(s.y), self.season_)
            for s in series
        ]
        return "season" if any(wanted) else "none"

    def _resolve_window(self, shortest, series):
        if self.window != "auto":
            window = int(self.window)
            if shortest - window < 1:
                k = min(
                    range(len(series)),
                    key=lambda i: len(series[i].y) - series[i].transform.lag,
                )
                s = series[k]
                raise ValueError(
                    f"{_which('y', k, self.is_panel_)} has "
                    f"{len(s.y)} values, {shortest} after differencing (lag "
                    f"{s.transform.lag}): too short for window={window}, which "
                    f"needs {window + 1} after differencing. Use a smaller "
                    "window, or 'auto'."
                )
            return window
        return int(max(2, min(max(2 * self.season_, 8), shortest - 2)))

    def _resolve_calibration(self):
        if self.calibration_steps == "auto":
            return max(2 * self.season_, 8)
        return int(self.calibration_steps)

    # ------------------------------------------------------------------------
    # The network's rows
    # ------------------------------------------------------------------------

    def _known(self, s, times):
        """Inputs known in the future, at the given times (positions in ``s``)."""
        parts = []
        if "season" in self.calendar_ and self.season_ > 1:
            angle = 2 * np.pi * ((s.start + times) % self.season_) / self.season_
            parts += [np.sin(angle)[:, None], np.cos(angle)[:, None]]
        if "trend" in self.calendar_:
            parts.append((times / len(s.y))[:, None])
        if self.n_exogenous_:
            parts.append((_rows_at(s.X, times) - self._X_mean) / self._X_scale)
        if not parts:
            return np.empty((len(times), 0))
        return np.hstack(parts)

    def _steps(self, s, z):
        """Step t of the working series: [z_t, known inputs of the next time]."""
        times = s.transform.lag + np.arange(len(z)) + 1
        return np.hstack([z, self._known(s, times)])

    def _fit_network(self, series, hold=0):
        windows, targets = [], []
        L = self.window_
        for s in series:
            if hold:
                s = _truncated(s, len(s.y) - hold)
            z = s.transform.transform(s.y)
            # The last value is only a target: its step's inputs lie in the future.
            steps = self._steps(s, z[:-1])
            for end in range(L, len(z)):
                windows.append(steps[end - L : end])
                targets.append(z[end])
        if not windows:
            raise ValueError(
                f"No series is longer than its differencing lag plus window="
                f"{L}: there is nothing to train on."
            )
        regressor = (
            self.default_regressor()
            if self.regressor is None
            else clone(self.regressor)
        )
        if self.random_state is not None:
            regressor.set_params(random_state=self.random_state)
        targets = np.asarray(targets)
        return regressor.fit(
            np.asarray(windows), targets[:, 0] if self.n_targets_ == 1 else targets
        )

    def _roll(self, regressor, items, n_steps):
        """Forecast the working series of each (series, z, X_future) item.

        A series' ``X`` must reach ``n_steps - 1`` steps past its ``y``: the
        user's ``X_future`` is appended to it here.
        """
        L = self.window_
        histories, futures = [], []
        for s, z, X_future in items:
            if X_future is not None:
                s = _Series(
                    np.asarray(s.y),
                    np.vstack([s.X, X_future]),
                    s.start,
                    None,
                    "numpy",
                    None,
                    s.transform,
                )
            histories.append(self._steps(s, z)[-L:])
            # Step k of the forecast (time n + k) carries the inputs of n + k + 1;
            # the last step's are never read, so the last known ones stand in.
            n = len(s.y)
            times = np.minimum(n + np.arange(n_steps) + 1, n + n_steps - 1)
            futures.append(self._known(s, times))
        future = np.asarray(futures) if futures[0].shape[1] else None
        out = regressor.forecast(np.asarray(histories), n_steps, future, window=L)
        return out.reshape(len(items), n_steps, self.n_targets_)

    # ------------------------------------------------------------------------
    # Calibration of the intervals
    # ------------------------------------------------------------------------

    def _calibrate(self, series, n_hold):
        """Errors of forecasts from every origin of the held-back tails."""
        usable = [
            s for s in series if len(s.y) - n_hold - s.transform.lag > self.window_ + 1
        ]
        if not usable:
            return None
        network = self._fit_network(usable, hold=n_hold)
        scores = []
        for s in usable:
            origins = np.arange(len(s.y) - n_hold, len(s.y))
            # Each origin's past, with the known inputs of the whole series.
            pasts = [_truncated(s, origin, keep_X=True) for origin in origins]
            items = [(p, p.transform.transform(p.y), None) for p in pasts]
            z_hat = self._roll(network, items, n_hold)
            w = s.transform.to_log_level(s.y)
            for past, origin, z_path in zip(pasts, origins, z_hat):
                horizon = len(s.y) - origin
                level = s.transform.inverse(z_path[:horizon], past.y)
                error = np.abs(s.transform.to_log_level(level) - w[origin:])
                h = np.arange(1, horizon + 1)[:, None]
                scores.append((error / np.sqrt(h) / _unit(s)).ravel())
        return np.concatenate(scores)

    # ------------------------------------------------------------------------
    # predict
    # ------------------------------------------------------------------------

    def predict(self, n_steps, X_future=None, last_window=None, last_window_X=None):
        """Forecast the next ``n_steps`` values of each series, on their scale.

        Parameters
        ----------
        n_steps : int
            Number of steps ahead, at least 1.

        X_future : array-like of shape (n_steps, n_exogenous), or list of such, \
                default=None
            The exogenous inputs of the forecast steps, for each series (the
            structure of ``X`` at fit); required exactly when ``X`` was given. A
            longer array is read for its first ``n_steps`` rows.

        last_window : array-like or list of such, default=None
            The history of series not seen in training, forecast from their own
            end (each is transformed by the same rules, fitted on itself). None
            forecasts the training series.

        last_window_X : array-like or list of such, default=None
            The exogenous inputs aligned with ``last_window``.

        Returns
        -------
        forecast : ndarray, pandas Series or DataFrame, or list of such
            For each series, ``n_steps`` values (of shape (n_steps,) for one
            target, (n_steps, n_targets) for several); a pandas input gives a
            pandas output with its index continued, a panel a list.
        """
        series, levels, panel = self._forecast_levels(
            n_steps, X_future, last_window, last_window_X
        )
        out = [_like(s, level, n_steps) for s, level in zip(series, levels)]
        return out if panel else out[0]

    def predict_interval(
        self, n_steps, coverage=0.9, X_future=None, last_window=None, last_window_X=None
    ):
        """Forecast with conformal prediction intervals.

        The errors of the calibration at fit (forecasts of the held-back tail
        from every origin in it, on the log scale for a logged series), divided
        by the square root of their horizon and by their series' scale (the
        standard deviation of its one-step changes), give one quantile; the
        interval at horizon h is the forecast plus and minus that quantile times
        sqrt(h) times the series' scale (multiplicatively for a logged series).

        Parameters
        ----------
        n_steps : int
            Number of steps ahead, at least 1.

        coverage : float, default=0.9
            The probability, strictly between 0 and 1, that an interval is meant
            to hold the true value.

        X_future : array-like or list of such, default=None
            As for :meth:`predict`.

        last_window : array-like or list of such, default=None
            As for :meth:`predict`.

        last_window_X : array-like or list of such, default=None
            As for :meth:`predict`.

        Returns
        -------
        lower, upper : ndarray, pandas Series or DataFrame, or lists of such
            The bounds, each like the output of :meth:`predict`.
        """
        check_is_fitted(self)
        if not (isinstance(coverage, float | Integral) and 0 < coverage < 1):
            raise ValueError(f"coverage must be in (0, 1), got {coverage!r}.")
        if self.calibration_scores_ is None:
            raise ValueError(
                "This forecaster has no calibration: it was fitted with "
                "calibration_steps=0, or no series was long enough to hold back "
                f"{self._resolve_calibration()} steps beyond its window. Refit "
                "with calibration_steps > 0 (and series long enough)."
            )
        scores = np.sort(self.calibration_scores_)
        n = len(scores)
        rank = int(np.ceil((n + 1) * coverage))
        q = scores[rank - 1] if rank <= n else np.inf
        series, levels, panel = self._forecast_levels(
            n_steps, X_future, last_window, last_window_X
        )
        lowers, uppers = [], []
        for s, level in zip(series, levels):
            w = s.transform.to_log_level(level)
            half = q * np.sqrt(np.arange(1, n_steps + 1))[:, None] * _unit(s)
            lower = s.transform.from_log_level(w - half)
            upper = s.transform.from_log_level(w + half)
            lowers.append(_like(s, lower, n_steps))
            uppers.append(_like(s, upper, n_steps))
        return (lowers, uppers) if panel else (lowers[0], uppers[0])

    def _forecast_levels(self, n_steps, X_future, last_window, last_window_X):
        """The series forecast, their forecasts on the original scale, panel or not."""
        series, futures, panel = self._series_to_forecast(
            n_steps, X_future, last_window, last_window_X
        )
        items = [
            (s, s.transform.transform(s.y), future)
            for s, future in zip(series, futures)
        ]
        z_hat = self._roll(self.regressor_, items, n_steps)
        levels = [s.transform.inverse(z, s.y) for s, z in zip(series, z_hat)]
        return series, levels, panel

    def _series_to_forecast(self, n_steps, X_future, last_window, last_window_X):
        check_is_fitted(self)
        if not _is_int(n_steps, 1):
            raise ValueError(f"n_steps must be an int >= 1, got {n_steps!r}.")
        if last_window is None:
            if last_window_X is not None:
                raise ValueError("last_window_X was given without last_window.")
            series, panel = self._series, self.is_panel_
        else:
            panel = isinstance(last_window, (list, tuple))
            series = _as_panel(
                last_window, last_window_X, "last_window", "last_window_X"
            )
            for k, s in enumerate(series):
                if s.y.shape[1] != self.n_targets_ or s.X.shape[1] != self.n_exogenous_:
                    raise ValueError(
                        f"last_window has {s.y.shape[1]} target(s) and "
                        f"{s.X.shape[1]} exogenous input(s), but the forecaster "
                        f"was fitted on {self.n_targets_} and {self.n_exogenous_}."
                    )
                self._fit_transform_of(s, k, "last_window", panel)
                needed = s.transform.lag + self.window_
                if len(s.y) < needed:
                    raise ValueError(
                        f"{_which('last_window', k, panel)} has "
                        f"{len(s.y)} values, too short for the window of "
                        f"{self.window_} steps after differencing (lag "
                        f"{s.transform.lag}): it needs at least {needed}."
                    )
        futures = self._check_future(X_future, len(series), n_steps, panel)
        return series, futures, panel

    def _check_future(self, X_future, n_series, n_steps, panel):
        if not self.n_exogenous_:
            if X_future is not None:
                raise ValueError(
                    "X_future was given, but the forecaster was fitted without X: "
                    "it has no exogenous inputs to read."
                )
            return [None] * n_series
        if X_future is None:
            raise ValueError(
                f"The forecaster was fitted with {self.n_exogenous_} exogenous "
                f"input(s): predict needs their values for the {n_steps} forecast "
                "steps as X_future."
            )
        arrays = list(X_future) if panel else [X_future]
        if len(arrays) != n_series:
            raise ValueError(
                f"X_future holds {len(arrays)} series, but {n_series} are forecast."
            )
        futures = []
        for k, future in enumerate(arrays):
            future = _as_2d(future, "X_future", k)
            if future.shape[1] != self.n_exogenous_:
                raise ValueError(
                    f"X_future has {future.shape[1]} column(s), but X had "
                    f"{self.n_exogenous_}."
                )
            if len(future) < n_steps:
                raise ValueError(
                    f"X_future covers {len(future)} step(s){_of(k, panel)}, but "
                    f"n_steps={n_steps}: the exogenous inputs are needed for every "
                    f"forecast step. Forecast at most {len(future)} steps, or give "
                    "X_future for all of them."
                )
            futures.append(future[:n_steps])
        return futures


# ----------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------


def _is_int(value, low):
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= low


def _which(name, k, panel):
    return f"series {k} of {name}" if panel else name


def _of(k, panel):
    return f" for series {k}" if panel else ""


def _as_2d(values, name, k):
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name} (series {k}) must hold numbers: {error}. Convert it first."
        ) from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(
            f"{name} (series {k}) has {array.ndim} dimensions; a series is "
            "(n_timepoints,) or (n_timepoints, n_columns)."
        )
    return array


def _as_panel(y, X, y_name, X_name):
    """The series of ``y`` (one or a list) with their aligned ``X``."""
    panel = isinstance(y, (list, tuple))
    ys = list(y) if panel else [y]
    if not ys:
        raise ValueError(f"{y_name} is an empty list: give at least one series.")
    if X is None:
        Xs = [None] * len(ys)
    else:
        Xs = list(X) if panel else [X]
        if len(Xs) != len(ys):
            raise ValueError(
                f"{X_name} holds {len(Xs)} series, {y_name} {len(ys)}: give one "
                f"{X_name} per series."
            )
    out = []
    for k, (values, inputs) in enumerate(zip(ys, Xs)):
        index = getattr(values, "index", None)
        kind = "numpy"
        name = None
        if hasattr(values, "columns"):
            kind, name = "frame", list(values.columns)
        elif hasattr(values, "to_numpy") and index is not None:
            kind, name = "series", getattr(values, "name", None)
        array = _as_2d(values, y_name, k)
        missing = np.argwhere(~np.isfinite(array))
        if missing.size:
            where = "" if not panel else f" of series {k}"
            raise ValueError(
                f"{y_name} has NaN or inf at position {missing[0][0]}{where}: the "
                "forecaster needs complete series. Fill (e.g. interpolate) or "
                "drop the missing values first."
            )
        if inputs is None:
            exogenous = np.empty((len(array), 0))
        else:
            exogenous = _as_2d(inputs, X_name, k)
            if len(exogenous) != len(array):
                raise ValueError(
                    f"{X_name} has {len(exogenous)} rows{_of(k, panel)}, but "
                    f"{y_name} has {len(array)}: X must be aligned with y."
                )
            if not np.isfinite(exogenous).all():
                raise ValueError(f"{X_name} contains NaN or inf{_of(k, panel)}.")
        out.append(
            _Series(
                y=array,
                X=exogenous,
                start=_position(index),
                index=_time_index(index),
                kind=kind if _time_index(index) is not None else "numpy",
                name=name,
            )
        )
    return out


def _time_index(index):
    if index is None:
        return None
    kind = type(index).__name__
    return index if kind in ("DatetimeIndex", "PeriodIndex") else None


def _position(index):
    """Position in the season of the first timepoint, from a pandas index."""
    index = _time_index(index)
    if index is None or len(index) == 0:
        return 0
    first = index[0]
    season = season_of_index(index)
    if season == 12:
        return first.month - 1
    if season == 4:
        return first.quarter - 1
    if season == 7:
        return first.dayofweek
    if season == 24:
        return first.hour
    return 0


def _rows_at(X, times):
    # Past the end only for forecast steps whose inputs are never read (the
    # calibration's last origins); every read one is checked by predict.
    return X[np.minimum(np.asarray(times, dtype=int), len(X) - 1)]


def _truncated(s, n, keep_X=False):
    """The first ``n`` values of ``s`` (and its ``X``, or all of it), same transform."""
    X = s.X if keep_X else s.X[:n]
    return _Series(s.y[:n], X, s.start, None, "numpy", None, s.transform)


def _plain_series(s):
    """A training series as plain values (its pandas index as strings)."""
    index = None
    if s.index is not None:
        freq = s.index.freqstr if s.index.freq is not None else s.index.inferred_freq
        index = {
            "period": type(s.index).__name__ == "PeriodIndex",
            "values": [str(v) for v in s.index],
            "freq": freq or "",
        }
    name = (
        s.name
        if s.name is None or isinstance(s.name, (str, int, float))
        else ([str(n) for n in s.name])
    )
    return {"y": s.y, "X": s.X, "start": int(s.start), "index": index,
            "kind": s.kind, "name": name}  # fmt: skip


def _series_of(plain, transform):
    """Undo :func:`_plain_series`."""
    index = plain["index"]
    if index is not None:
        import pandas as pd

        if index["period"]:
            index = pd.PeriodIndex(index["values"], freq=index["freq"])
        else:
            index = pd.DatetimeIndex(index["values"], freq=index["freq"] or None)
    return _Series(
        plain["y"], plain["X"], plain["start"], index, plain["kind"], plain["name"],
        transform,
    )  # fmt: skip


def _unit(s):
    """Scale of a series' one-step changes (on the log scale if logged)."""
    changes = np.diff(s.transform.to_log_level(s.y), axis=0)
    spread = changes.std(axis=0) if len(changes) > 1 else np.ones(s.y.shape[1])
    return np.where(spread > 0, spread, 1.0)


def _like(s, values, n_steps):
    """The forecast of ``s`` in the kind of ``s``: numpy or pandas, index continued."""
    values = values[:, 0] if values.shape[1] == 1 and s.kind != "frame" else values
    if s.kind == "numpy":
        return values
    import pandas as pd

    index = s.index
    if type(index).__name__ == "PeriodIndex":
        future = pd.period_range(start=index[-1] + 1, periods=n_steps, freq=index.freq)
    else:
        freq = index.freq or pd.infer_freq(index)
        future = pd.date_range(start=index[-1], periods=n_steps + 1, freq=freq)[1:]
    if s.kind == "frame":
        return pd.DataFrame(values, index=future, columns=s.name)
    return pd.Series(values, index=future, name=s.name)
