"""Tests of ``SequenceScaler``."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_elman import ElmanClassifier, SequenceScaler


def padded_sequences(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(loc=[3.0, -2.0], scale=[2.0, 0.5], size=(30, 7, 2))
    X[::4, 5:] = np.nan
    return X


def test_channels_are_scaled_over_all_real_steps():
    X = padded_sequences()
    scaler = SequenceScaler().fit(X)
    real = X[~np.isnan(X).all(axis=2)]
    assert_allclose(scaler.mean_, real.mean(axis=0))
    assert_allclose(scaler.scale_, real.std(axis=0))
    scaled = scaler.transform(X)
    assert scaled.shape == X.shape
    assert_array_equal(np.isnan(scaled), np.isnan(X))
    assert_allclose(np.nanmean(scaled.reshape(-1, 2), axis=0), 0, atol=1e-12)
    assert_allclose(np.nanstd(scaled.reshape(-1, 2), axis=0), 1)


def test_2d_rows_with_several_features_per_step_match_3d():
    X = padded_sequences()
    X2 = X.reshape(30, -1)
    scaler2 = SequenceScaler(n_features_per_step=2).fit(X2)
    scaler3 = SequenceScaler().fit(X)
    assert_allclose(scaler2.mean_, scaler3.mean_)
    scaled2 = scaler2.transform(X2)
    assert scaled2.shape == X2.shape
    assert_allclose(scaled2.reshape(X.shape), scaler3.transform(X))
    # Unlike StandardScaler, every step shares its channel's scale.
    univariate = SequenceScaler().fit(X[:, :, 0])
    assert univariate.mean_.shape == (1,)


def test_inverse_transform_round_trips_and_keeps_padding():
    X = padded_sequences()
    scaler = SequenceScaler().fit(X)
    assert_allclose(scaler.inverse_transform(scaler.transform(X)), X)
    longer = np.concatenate([X, np.full((30, 3, 2), np.nan)], axis=1)
    assert scaler.transform(longer).shape == (30, 10, 2)


def test_constant_channel_and_switches():
    X = np.ones((5, 4, 2))
    X[:, :, 1] = np.arange(4)
    scaler = SequenceScaler().fit(X)
    assert scaler.scale_[0] == 1.0
    assert_array_equal(scaler.transform(X)[:, :, 0], 0)
    raw = SequenceScaler(with_mean=False, with_std=False).fit(X)
    assert_array_equal(raw.transform(X), X)


def test_float32_stays_float32():
    X = padded_sequences().astype(np.float32)
    assert SequenceScaler().fit(X).transform(X).dtype == np.float32


def test_feature_names_follow_the_columns():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.arange(12.0).reshape(3, 4), columns=["a", "b", "c", "d"])
    scaler = SequenceScaler().fit(frame)
    assert list(scaler.get_feature_names_out()) == ["a", "b", "c", "d"]
    assert list(SequenceScaler().fit(padded_sequences()).get_feature_names_out()) == [
        "x0",
        "x1",
    ]


def test_wrong_channel_count_is_an_error():
    scaler = SequenceScaler().fit(padded_sequences())
    with pytest.raises(ValueError, match="3 features per time step"):
        scaler.transform(np.zeros((2, 4, 3)))


def test_in_a_pipeline_before_the_network():
    X = padded_sequences()
    y = (np.nanmean(X[:, :, 0], axis=1) > 3).astype(int)
    model = make_pipeline(
        SequenceScaler(), ElmanClassifier(max_iter=50, random_state=0)
    )
    model.fit(X, y)
    assert model.score(X, y) > 0.8


@pytest.mark.parametrize("magnitude", [1e155, 1e300, 1e-300])
def test_channels_near_either_end_of_the_float_range_are_scaled_soundly(magnitude):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 6, 2))
    X[:, :, 0] *= magnitude
    X[::2, 4:] = np.nan
    scaler = SequenceScaler().fit(X)
    assert np.isfinite(scaler.scale_).all() and (scaler.scale_ > 0).all()
    scaled = scaler.transform(X)
    assert_allclose(np.nanmean(scaled, axis=(0, 1)), 0, atol=1e-12)
    assert_allclose(np.nanstd(scaled, axis=(0, 1)), 1, rtol=1e-12)
    assert_allclose(scaler.inverse_transform(scaled), X, rtol=1e-12)


def test_a_tiny_but_real_spread_is_scaled_as_standard_scaler_scales_it():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 5, 2)) * [1e-16, 1.0]  # channel 0: std 1e-16
    X[:, :, 1] += 7.0
    steps = X.reshape(-1, 2)
    reference = StandardScaler().fit(steps)
    scaler = SequenceScaler().fit(X)
    assert_allclose(scaler.scale_, reference.scale_, rtol=1e-12)
    assert_allclose(scaler.mean_, reference.mean_, rtol=1e-12, atol=1e-30)
    # A truly constant channel is still left unscaled.
    X[:, :, 1] = 7.0
    assert SequenceScaler().fit(X).scale_[1] == 1.0


def test_a_refused_refit_leaves_the_scaler_as_it_was():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(10, 4, 2))
    scaler = SequenceScaler().fit(X)
    before = {key: np.copy(value) for key, value in vars(scaler).items()}
    bad = rng.normal(size=(10, 4, 3))
    bad[0, 0, 0] = np.inf
    with pytest.raises(ValueError):
        scaler.fit(bad)
    assert vars(scaler).keys() == before.keys()
    for key, value in before.items():
        assert_array_equal(getattr(scaler, key), value)
    scaler.transform(X)  # still the 2-channel scaler
    with pytest.raises(ValueError, match="3 features"):
        scaler.transform(bad)


def test_pandas_output_keeps_3d_sequences_as_arrays_and_wraps_2d_rows():
    pd = pytest.importorskip("pandas")
    import sklearn

    X = padded_sequences()
    y = np.arange(len(X)) % 2
    with sklearn.config_context(transform_output="pandas"):
        scaled = SequenceScaler().fit_transform(X)
        assert isinstance(scaled, np.ndarray) and scaled.shape == X.shape
        rows = SequenceScaler(n_features_per_step=2).fit_transform(X.reshape(30, -1))
        assert isinstance(rows, pd.DataFrame) and rows.shape == (30, 14)
        pipe = make_pipeline(SequenceScaler(), ElmanClassifier(max_iter=2))
        assert pipe.fit(X, y).predict(X).shape == (30,)
    local = SequenceScaler().set_output(transform="pandas").fit(X)
    assert isinstance(local.transform(X), np.ndarray)
