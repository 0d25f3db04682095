"""Elman recurrent networks as scikit-learn estimators."""

from sklearn_elman._classifier import ElmanClassifier
from sklearn_elman._forecaster import ElmanForecaster
from sklearn_elman._preprocessing import SequenceScaler
from sklearn_elman._regressor import ElmanRegressor
from sklearn_elman._sequences import ChannelFirstWarning, pad_sequences

__version__ = "0.1.0.dev0"

# The public path is the one files record (pickle, joblib, skops) and the one a
# user trusts when loading: the modules behind it are private and may move.
for _public in (
    ChannelFirstWarning,
    ElmanClassifier,
    ElmanForecaster,
    ElmanRegressor,
    SequenceScaler,
):
    _public.__module__ = __name__
del _public

__all__ = [
    "ChannelFirstWarning",
    "ElmanClassifier",
    "ElmanForecaster",
    "ElmanRegressor",
    "SequenceScaler",
    "pad_sequences",
    "__version__",
]
