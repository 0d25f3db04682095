"""ONNX export: onnxruntime's outputs against predict and predict_proba."""

import copy
import importlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline

from sklearn_elman import ElmanClassifier, ElmanRegressor, SequenceScaler

# In the test extra, so CI runs these; a checkout without it skips them.
ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
elman_onnx = pytest.importorskip("sklearn_elman.onnx")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ATOL = 1e-5


def padded(rng, n_rows, n_steps, n_features, ndim):
    """Float32 sequences of random lengths (1 to n_steps), NaN-padded at the end."""
    X = rng.normal(size=(n_rows, n_steps, n_features)).astype(np.float32)
    lengths = rng.integers(1, n_steps + 1, size=n_rows)
    lengths[0] = n_steps
    X[np.arange(n_steps)[None, :] >= lengths[:, None]] = np.nan
    return X if ndim == 3 else X.reshape(n_rows, -1)


def data(ndim=2, n_features=1, seed=0, n_steps=9):
    """Training and held-out sequences (held-out 3D rows are longer)."""
    rng = np.random.default_rng(seed)
    X = padded(rng, 60, n_steps, n_features, ndim)
    X_test = padded(rng, 25, n_steps + 3 * (ndim == 3), n_features, ndim)
    return X, X_test


def first_steps_sum(X, n_features):
    X3 = X.reshape(X.shape[0], -1, n_features)
    return np.nansum(X3[:, :3, 0], axis=1)


def run(model, X, **options):
    onx = elman_onnx.to_onnx(model, X, **options)
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {"X": X})


def check_classifier(clf, X_test):
    label, proba = run(clf, X_test, options={"zipmap": False})[:2]
    # Copies: a stateful estimator's predictions advance its context.
    expected = copy.deepcopy(clf).predict_proba(X_test)
    assert_allclose(proba, expected, rtol=0, atol=ATOL)
    assert_array_equal(label, copy.deepcopy(clf).predict(X_test))
    return np.abs(proba - expected).max()


def check_regressor(reg, X_test):
    values = run(reg, X_test)[0]
    expected = reg.predict(X_test)
    assert_allclose(values.reshape(expected.shape), expected, rtol=0, atol=ATOL)
    return np.abs(values.reshape(expected.shape) - expected).max()


def fitted_classifier(ndim=2, n_features=1, n_classes=2, labels=None, **params):
    X, X_test = data(ndim, n_features)
    score = first_steps_sum(X, n_features)
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    if labels is not None:
        y = np.asarray(labels)[y]
    params = {"hidden_units": 4, "max_iter": 15, "random_state": 0, **params}
    clf = ElmanClassifier(n_features_per_step=n_features, **params).fit(X, y)
    return clf, X_test


@pytest.mark.parametrize("activation", ["tanh", "logistic", "relu", "identity"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_every_activation_in_2d_and_3d(activation, ndim):
    # 'last' reads the RNN's Y_h, which only sequence_lens stops at the padding.
    clf, X_test = fitted_classifier(
        ndim, n_features=2, activation=activation, readout="last"
    )
    check_classifier(clf, X_test)


@pytest.mark.parametrize("readout", ["last", "mean", "max", "last_mean_max"])
def test_every_readout(readout):
    clf, X_test = fitted_classifier(3, n_features=2, n_classes=3, readout=readout)
    check_classifier(clf, X_test)


@pytest.mark.parametrize("ndim", [2, 3])
def test_patches(ndim):
    # 9 steps in patches of 4: a partly filled last patch, and rows of one patch.
    clf, X_test = fitted_classifier(ndim, n_features=2, patch_size=4, readout="mean")
    check_classifier(clf, X_test)


def test_multiclass_with_string_labels():
    clf, X_test = fitted_classifier(labels=["ant", "bee", "cat"], n_classes=3)
    check_classifier(clf, X_test)


def test_ensemble_averages_probabilities():
    clf, X_test = fitted_classifier(n_classes=3, n_ensemble=3, readout="max")
    check_classifier(clf, X_test)


def test_reverse_pass():
    clf, X_test = fitted_classifier(
        3, n_features=2, solver="echo_state", reverse_pass=True, readout="last_mean_max"
    )
    check_classifier(clf, X_test)


@pytest.mark.parametrize("readout", ["last", "last_mean_max"])
def test_stateful_reads_rows_as_one_stream_from_context(readout):
    # A stream of chunks of 3 steps of 2 features; the last chunk is shorter.
    X, X_test = data(2, n_features=2, n_steps=3)
    y = (first_steps_sum(X, 2) > 0).astype(int)
    clf = ElmanClassifier(
        hidden_units=4, max_iter=10, random_state=0, stateful=True,
        n_features_per_step=2, readout=readout,
    ).fit(X, y)  # fmt: skip
    assert np.abs(clf.context_).max() > 0  # the graph starts from the fitted state
    check_classifier(clf, X_test)
    clf.reset_context()
    check_classifier(clf, X_test)


def test_stateful_context_is_an_optional_input_and_an_output():
    X, X_test = data(2, n_features=2, n_steps=3)
    y = (first_steps_sum(X, 2) > 0).astype(int)
    clf = ElmanClassifier(
        hidden_units=4, max_iter=10, random_state=0, stateful=True,
        n_features_per_step=2, readout="last",
    ).fit(X, y)  # fmt: skip
    onx = elman_onnx.to_onnx(clf, X_test, options={"zipmap": False})
    assert "initial_context" in [i.name for i in onx.graph.input]
    assert [o.name for o in onx.graph.output][-1] == "final_context"
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    first, second = X_test[:7], X_test[7:]
    stream = copy.deepcopy(clf)
    # Two runs, the second from the first's final context: the stream goes on,
    # as two predict_proba calls of the stateful estimator.
    _, proba_1, context = session.run(None, {"X": first})
    _, proba_2, _ = session.run(None, {"X": second, "initial_context": context})
    assert_allclose(proba_1, stream.predict_proba(first), rtol=0, atol=ATOL)
    assert_allclose(proba_2, stream.predict_proba(second), rtol=0, atol=ATOL)
    assert_allclose(context.ravel(), _context_after(clf, first), rtol=0, atol=ATOL)
    # Zeros start a fresh stream, as reset_context does.
    zeros = np.zeros_like(context)
    _, fresh, _ = session.run(None, {"X": second, "initial_context": zeros})
    reset = copy.deepcopy(clf).reset_context()
    assert_allclose(fresh, reset.predict_proba(second), rtol=0, atol=ATOL)


def _context_after(clf, X):
    stream = copy.deepcopy(clf)
    stream.predict_proba(X)
    return stream.context_


@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("ndim", [2, 3])
def test_regressor(n_targets, ndim):
    X, X_test = data(ndim, n_features=2)
    score = first_steps_sum(X, 2)
    y = score if n_targets == 1 else np.column_stack([score * k for k in (1, -1, 2)])
    reg = ElmanRegressor(
        hidden_units=4, max_iter=15, random_state=0, n_features_per_step=2,
        readout="mean", n_ensemble=2,
    ).fit(X, y)  # fmt: skip
    check_regressor(reg, X_test)


def test_pipeline_through_skl2onnx_to_onnx():
    X, X_test = data(2, n_features=2)
    X, X_test = 10 * X + 3, 10 * X_test + 3
    y = (first_steps_sum(X, 2) > 30).astype(int)
    model = make_pipeline(
        SequenceScaler(n_features_per_step=2),
        ElmanClassifier(
            hidden_units=4, max_iter=15, random_state=0, n_features_per_step=2
        ),
    ).fit(X, y)
    onx = skl2onnx.to_onnx(model, X_test, options={"zipmap": False})
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    label, proba = session.run(None, {session.get_inputs()[0].name: X_test})
    assert_allclose(proba, model.predict_proba(X_test), rtol=0, atol=ATOL)
    assert_array_equal(label, model.predict(X_test))


def test_scaler_alone_keeps_the_padding():
    X, X_test = data(3, n_features=2)
    scaler = SequenceScaler().fit(10 * X + 3)
    (scaled,) = run(scaler, X_test)
    assert_allclose(scaled, scaler.transform(X_test), rtol=0, atol=ATOL)
    assert np.isnan(scaled).sum() == np.isnan(X_test).sum()


def test_default_zipmap_gives_maps_of_class_probabilities():
    clf, X_test = fitted_classifier(n_classes=3)
    label, maps = run(clf, X_test)
    assert_array_equal(label, clf.predict(X_test))
    proba = np.array([[row[c] for c in clf.classes_] for row in maps])
    assert_allclose(proba, clf.predict_proba(X_test), rtol=0, atol=ATOL)


def test_zipmap_columns_and_nocl():
    clf, X_test = fitted_classifier(labels=["ant", "bee", "cat"], n_classes=3)
    label, *columns = run(clf, X_test, options={"zipmap": "columns"})
    assert_array_equal(label, clf.predict(X_test))
    assert_allclose(np.column_stack(columns), clf.predict_proba(X_test), atol=ATOL)
    label, _ = run(clf, X_test, options={"zipmap": False, "nocl": True})
    assert_array_equal(label, clf.predict_proba(X_test).argmax(axis=1))


def test_refuses_double_input_and_old_opsets():
    clf, X_test = fitted_classifier()
    with pytest.raises(NotImplementedError, match="float32 input only"):
        skl2onnx.to_onnx(clf, X_test.astype(np.float64))
    with pytest.raises(NotImplementedError, match="target_opset=13"):
        elman_onnx.to_onnx(clf, X_test, target_opset=13)


def test_float_classes_give_int64_labels():
    clf, X_test = fitted_classifier(labels=[-1.0, 2.0])
    check_classifier(clf, X_test)


@pytest.mark.parametrize("Estimator", [ElmanClassifier, ElmanRegressor, SequenceScaler])
def test_refuses_an_unfitted_estimator(Estimator):
    X, _ = data()
    with pytest.raises(NotFittedError):
        elman_onnx.to_onnx(Estimator(), X)


def test_the_package_does_not_import_onnx():
    code = (
        "import sys, sklearn_elman; "
        "assert not {'onnx', 'skl2onnx', 'onnxruntime'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_without_the_extra_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    monkeypatch.delitem(sys.modules, "sklearn_elman.onnx")
    with pytest.raises(ImportError, match=r'pip install "sklearn-elman\[onnx\]"'):
        importlib.import_module("sklearn_elman.onnx")


def test_register_twice_is_harmless():
    elman_onnx.register()
    clf, X_test = fitted_classifier()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_classifier(clf, X_test)
