"""Test configuration: hypothesis profiles and the global seed.

Hypothesis profiles: ``ci`` (derandomized, so CI is reproducible, and large), ``dev``
(random, fewer examples) and ``debug``. The profile is picked by the
``HYPOTHESIS_PROFILE`` environment variable, else ``ci`` when ``CI`` is set, else
``dev``.

The global seed used to draw test data comes from ``SKLEARN_ELMAN_SEED``
(default 0) and is printed in the report header, so that a failure can be
replayed with the same data.
"""

import os

# scikit-learn's array-API check of every estimator is skipped unless this is set
# before scipy is imported; setting it lets check_estimator run that check too.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, Verbosity, settings  # noqa: E402

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=300,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.register_profile(
    "debug", deadline=None, max_examples=10, verbosity=Verbosity.verbose
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)

SEED = int(os.environ.get("SKLEARN_ELMAN_SEED", "0"))


def pytest_report_header(config):
    return [
        f"sklearn_elman test seed: SKLEARN_ELMAN_SEED={SEED}",
        f"hypothesis profile: {settings._current_profile}",
    ]


@pytest.fixture
def seed():
    """The global test seed (``SKLEARN_ELMAN_SEED``)."""
    return SEED


@pytest.fixture
def rng(seed):
    """A numpy Generator seeded with the global test seed."""
    return np.random.default_rng(seed)
