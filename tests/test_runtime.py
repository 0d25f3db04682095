"""Tests of the BLAS thread policy and the subnormal guard (``_runtime.py``)."""

import ctypes
import platform
import sys
import threading

import numpy as np
import pytest
from interrupts import InterrupterFromFirstCall  # a helper beside the tests
from joblib import parallel_config
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

from sklearn_elman import ElmanClassifier, ElmanRegressor, _runtime
from sklearn_elman import _elman as E
from sklearn_elman._callbacks import CALLBACKS_SUPPORTED

TINY32 = np.finfo(np.float32).tiny


def blas_threads():
    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas"}  # fmt: skip


def half_of_tiny():
    return (np.array([TINY32], dtype=np.float32) * np.float32(0.5))[0]


@pytest.mark.parametrize("limit", [1, 2])
def test_run_with_settings_limits_blas_threads_and_restores(limit):
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        assert before, "no BLAS library found: the limit would be untested"
        inside = _runtime.run_with_settings(limit, blas_threads)
        assert set(inside.values()) == {limit}
        assert blas_threads() == before


def test_run_with_settings_none_leaves_blas_alone():
    with threadpool_limits(limits=2, user_api="blas"):
        inside = _runtime.run_with_settings(None, blas_threads)
        assert set(inside.values()) == {2}


def test_run_with_settings_returns_what_the_function_returns():
    assert _runtime.run_with_settings(1, divmod, 7, 2) == (3, 1)
    assert _runtime.run_with_settings(None, divmod, 7, 2, work=0) == (3, 1)


def test_estimator_computes_under_its_thread_policy(monkeypatch):
    seen = []
    original = E.loss_and_gradient

    def spy(*args, **kwargs):
        seen.append(set(blas_threads().values()))
        return original(*args, **kwargs)

    monkeypatch.setattr(E, "loss_and_gradient", spy)
    X = np.random.RandomState(0).normal(size=(20, 5))
    y = np.arange(20) % 2
    with threadpool_limits(limits=2, user_api="blas"):
        ElmanClassifier(max_iter=1, random_state=0).partial_fit(X, y, classes=[0, 1])
        assert seen and all(threads == {1} for threads in seen)
        seen.clear()
        clf = ElmanClassifier(max_iter=1, random_state=0, blas_threads=None)
        clf.partial_fit(X, y, classes=[0, 1])
        assert seen and all(threads == {2} for threads in seen)
        assert set(blas_threads().values()) == {2}


def test_subnormals_are_flushed_inside_and_restored_after():
    if not _runtime.subnormals_flushed_here():
        pytest.skip("the subnormal guard is implemented for x86-64 Linux only")
    assert half_of_tiny() > 0
    # Denormals-are-zero: a subnormal input counts as zero in a product.
    subnormal = np.array([TINY32 / 4], dtype=np.float32)
    seen = []

    def look():
        seen.append(half_of_tiny())
        # Nesting is harmless.
        seen.append(_runtime.run_with_settings(None, lambda: subnormal * 8)[0])
        seen.append(half_of_tiny())

    _runtime.run_with_settings(None, look)
    assert seen == [0, 0, 0]
    assert half_of_tiny() > 0


def test_subnormals_are_restored_after_an_error():
    def fail():
        raise RuntimeError

    with pytest.raises(RuntimeError):
        _runtime.run_with_settings(None, fail)
    assert half_of_tiny() > 0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_guard_changes_no_result_beyond_rounding(monkeypatch):
    """Same seed and data: the same loss curve with and without the guard."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 30)).astype(np.float32)
    y = (X[:, 2] > 0).astype(int)
    kwargs = {"max_iter": 5, "random_state": 0, "hidden_units": 8}
    guarded = ElmanClassifier(**kwargs).fit(X, y)
    monkeypatch.setattr(_runtime, "subnormals_flushed_here", lambda: False)
    plain = ElmanClassifier(**kwargs).fit(X, y)
    assert_allclose(guarded.loss_curve_, plain.loss_curve_, rtol=1e-6)
    assert_allclose(guarded.input_weights_, plain.input_weights_, rtol=1e-5, atol=1e-7)


def test_loading_libm_runs_no_program(monkeypatch):
    """ctypes.util.find_library runs ldconfig, or gcc/cc/objdump from PATH."""
    import ctypes.util
    import subprocess

    def refuse(*args, **kwargs):
        raise AssertionError("a program was run to find libm")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(ctypes.util, "find_library", refuse)
    monkeypatch.setattr(_runtime, "_supported", None)
    monkeypatch.setattr(_runtime, "_libm", None)
    supported = _runtime.subnormals_flushed_here()
    if sys.platform.startswith("linux") and platform.machine() == "x86_64":
        assert supported


# ----------------------------------------------------------------------------------
# Nothing leaks out of a call: interrupts at every line, calls from many threads
# ----------------------------------------------------------------------------------


def float_environment():
    """The control modes of the calling thread's floating-point environment.

    Read through a libm handle of the test's own, whatever state the module's
    guard is in.
    """
    if not (sys.platform.startswith("linux") and platform.machine() == "x86_64"):
        pytest.skip("the subnormal guard is implemented for x86-64 Linux only")
    libm = ctypes.CDLL("libm.so.6")
    env = _runtime._FloatEnvironment()
    libm.fegetenv(ctypes.byref(env))
    # The modes, not the sticky exception flags that any arithmetic may raise:
    # the x87 control word, and MXCSR without its six flag bits.
    return env.words[0] & 0xFFFF, env.words[7] & ~0x3F


def run_flushed():
    _runtime.run_with_settings(None, np.ones(3).sum)


def _tiny_problem():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(6, 3, 2)), np.arange(6) % 2
    small = {"hidden_units": 3, "max_iter": 1, "random_state": 0}
    clf = ElmanClassifier(**small).fit(X, y)
    series = X[:, :, :1]
    reg = ElmanRegressor(**small).fit(series, series[:, -1, 0])
    return X, y, small, clf, reg


def _guarded_calls():
    X, y, small, clf, reg = _tiny_problem()
    calls = {
        "predict_proba": lambda: clf.predict_proba(X),
        "hidden_states": lambda: clf.hidden_states(X),
        "forecast": lambda: reg.forecast(X[:, :, :1], n_steps=2),
        "partial_fit": lambda: clone(clf).partial_fit(X, y, classes=[0, 1]),
        "guard alone": run_flushed,
    }
    for solver in ("adam", "sgd", "lbfgs", "echo_state"):
        calls[f"fit {solver}"] = lambda solver=solver: ElmanClassifier(
            solver=solver, **small
        ).fit(X, y)
    if CALLBACKS_SUPPORTED:
        # The hooks run inside the guard, and this one predicts there too.
        calls["fit adam, a callback"] = lambda: (
            ElmanClassifier(**small).set_callbacks(_Predicting()).fit(X, y)
        )
    return calls


class _Predicting:
    """A callback that predicts with the estimator of each task, as scorers do."""

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, X=None, fitted_estimator=None):
        if fitted_estimator is not None:
            fitted_estimator.predict_proba(X)


def _starts_the_guard(code):
    return code.co_filename == _runtime.__file__ and code.co_name != "work_of"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# The interrupt lands in whatever runs, pytest's own garbage-collection callback
# included, which then reports an exception it had to ignore.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
# An interrupt after an epoch has been recorded (in a callback's hook, say) stops
# the fit gracefully, with this warning.
@pytest.mark.filterwarnings("ignore:Training interrupted by user:UserWarning")
@pytest.mark.parametrize("call", list(_guarded_calls()))
def test_an_interrupt_at_any_line_anywhere_leaves_the_process_as_it_was(
    call, monkeypatch
):
    """Ctrl-C at every line that runs once the guard starts, in whatever file.

    The package's lines, threadpoolctl's, numpy's, scikit-learn's and the
    standard library's (where ``contextlib``'s exit machinery once lost the
    restoring) are each interrupted in turn, in prediction and in every
    solver's training loop.
    """
    monkeypatch.setattr(_runtime, "SMALL_WORK", 0)  # the tiny calls are guarded
    before = float_environment()
    set_blas_threads_from_a_passing_thread(2)
    threads_before = blas_threads()
    # Read directly from each library, rather than by a scan per run.
    libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    counts_before = [library.num_threads for library in libraries]
    run = _guarded_calls()[call]
    n = 1
    while True:
        # A fresh probe each time, so that its lines are interrupted too.
        _runtime._supported = None
        interrupter = InterrupterFromFirstCall(n, _starts_the_guard, sys._getframe())
        sys.settrace(interrupter)
        try:
            run()
        except BaseException:
            # numpy turns an interrupt inside some of its Python helpers into
            # another error: whatever the call raised, the process must be as
            # it was.
            if not interrupter.fired:
                raise
        finally:
            sys.settrace(None)
        assert interrupter.started, "the call never reached the guard"
        assert float_environment() == before, f"leaked at line event {n}"
        counts = [library.num_threads for library in libraries]
        assert counts == counts_before, f"leaked at line event {n}"
        assert not _runtime._blas_callers and _runtime._blas_found is None
        assert not _runtime._blas_lock._is_owned(), f"lock kept at line event {n}"
        if not interrupter.fired:
            break
        n += 1
    assert n > 50  # lines beyond the guard's own were reached
    assert blas_threads() == threads_before
    assert_blas_limit_released()
    assert half_of_tiny() > 0


def set_blas_threads_from_a_passing_thread(n):
    """Set BLAS threads as a user would, leaving no thread in control of them.

    threadpoolctl (>= 3.6) lets one thread at a time change OpenBLAS; a thread
    that has ended hands the role on.
    """
    thread = threading.Thread(
        target=lambda: threadpool_limits(limits=n, user_api="blas")
    )
    thread.start()
    thread.join()
    if set(blas_threads().values()) != {n}:
        pytest.skip(f"BLAS threads cannot be set to {n} here, so no limit is seen")


def assert_blas_limit_released():
    assert not _runtime._blas_callers and _runtime._blas_found is None
    # The lock is free: another thread can take it at once.
    taken = []

    def take_and_release():
        taken.append(_runtime._blas_lock.acquire(timeout=5))
        if taken[-1]:
            _runtime._blas_lock.release()

    thread = threading.Thread(target=take_and_release)
    thread.start()
    thread.join()
    assert taken == [True]


@pytest.fixture
def two_blas_threads():
    set_blas_threads_from_a_passing_thread(2)
    yield blas_threads()
    set_blas_threads_from_a_passing_thread(2)


def test_calls_from_four_threads_at_once_restore_blas_threads(two_blas_threads):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(100, 10, 3)), np.arange(100) % 2
    clf = ElmanClassifier(max_iter=2, random_state=0).fit(X, y)
    start = threading.Barrier(4)
    seen = []

    def predict_many():
        start.wait()
        for _ in range(10):
            clf.predict_proba(X)
            seen.append(clf.n_iter_)

    threads = [threading.Thread(target=predict_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 40
    assert blas_threads() == two_blas_threads
    assert_blas_limit_released()
    # No thread of the package keeps threadpoolctl's control of OpenBLAS.
    with threadpool_limits(limits=1, user_api="blas"):
        assert set(blas_threads().values()) == {1}


def test_overlapping_calls_share_one_limit(two_blas_threads):
    inside = []

    def record():
        inside.append(set(blas_threads().values()))

    def first_call():
        record()
        _runtime.run_with_settings(1, record)  # a second call, overlapping
        record()  # the first still computes

    _runtime.run_with_settings(1, first_call)
    assert inside == [{1}, {1}, {1}]
    assert blas_threads() == two_blas_threads


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_in_threads_restores_blas_threads(two_blas_threads):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(60, 8, 2)), np.arange(60) % 2
    for _ in range(3):  # the overlap of the workers varies from run to run
        search = GridSearchCV(
            ElmanClassifier(max_iter=3, random_state=0),
            {"hidden_units": [2, 4, 8, 16]},
            cv=2,
            n_jobs=2,
        )
        with parallel_config(backend="threading"):
            search.fit(X, y)
        assert blas_threads() == two_blas_threads
    assert_blas_limit_released()
    with threadpool_limits(limits=1, user_api="blas"):
        assert set(blas_threads().values()) == {1}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_only_calls_with_work_enough_to_matter_change_the_settings(
    monkeypatch, two_blas_threads
):
    seen = []
    original = E.run_hidden

    def spy(*args, **kwargs):
        seen.append(set(blas_threads().values()))
        return original(*args, **kwargs)

    monkeypatch.setattr(E, "run_hidden", spy)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    clf = ElmanClassifier(
        stateful=True, hidden_units=16, n_features_per_step=4, max_iter=2
    ).fit(X, np.arange(300) % 2)
    seen.clear()
    clf.predict_proba(X)  # 300 steps: worth a limit
    assert seen and all(threads == {1} for threads in seen)
    seen.clear()
    step = X[:1]
    assert _runtime.work_of(clf._fitted_params(), step[None]) < _runtime.SMALL_WORK
    clf.predict_proba(step)  # one step of the stream: computed as it is
    assert seen and all(threads == {2} for threads in seen)


def test_a_lock_that_threadpoolctl_left_held_blocks_no_call():
    """An interrupt inside threadpoolctl's ``with lock:`` leaves its lock held."""
    import threading

    import threadpoolctl

    shared = getattr(threadpoolctl, "OpenBLASController", None)
    if shared is None or not hasattr(shared, "_SHARED_STATE"):
        pytest.skip("this threadpoolctl has no OpenBLAS controlling-thread lock")
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(400, 30, 8)), np.arange(400) % 2
    model = ElmanClassifier(max_iter=1, random_state=0).fit(X[:50], y[:50])
    state = shared._SHARED_STATE
    saved = state.controlling_thread
    state.controlling_thread = None
    state.lock.acquire()
    try:
        done = []
        worker = threading.Thread(
            target=lambda: done.append(model.predict_proba(X)), daemon=True
        )
        worker.start()
        worker.join(timeout=30)
        assert done, "predict_proba waited for threadpoolctl's lock"
    finally:
        state.lock.release()
        state.controlling_thread = saved
