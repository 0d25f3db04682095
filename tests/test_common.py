"""scikit-learn's estimator checks, with no expected failures.

Warnings raised inside the checks are handled as scikit-learn's own common tests
handle them (``sklearn/tests/test_common.py``): the checks fit on tiny data with
default iteration budgets, so convergence and user warnings are expected there and
ignored; anything else still surfaces.
"""

from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._testing import ignore_warnings
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_elman import ElmanClassifier, ElmanRegressor, SequenceScaler

ESTIMATORS = [
    Estimator(**options)
    for Estimator in (ElmanClassifier, ElmanRegressor)
    for options in (
        {},
        {"solver": "lbfgs"},
        {"solver": "sgd", "bptt_steps": 2},
        {"solver": "echo_state"},
        {"n_ensemble": 2, "hidden_units": 32},
        {"solver": "echo_state", "reverse_pass": True},
    )
] + [SequenceScaler(), SequenceScaler(with_mean=False, with_std=False)]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    with ignore_warnings(category=(ConvergenceWarning, UserWarning)):
        check(estimator)
