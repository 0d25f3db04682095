"""scikit-learn's callbacks (``sklearn.callback``, 1.9+): tasks, bars and scores.

Every test but the last needs scikit-learn >= 1.9 and is skipped, with the
reason, on an older one; the last runs only there, and checks that nothing of
the callbacks shows or breaks.
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_elman import ElmanClassifier, ElmanRegressor, SequenceScaler
from sklearn_elman._callbacks import CALLBACKS_SUPPORTED, NO_TASKS

needs_callbacks = pytest.mark.skipif(
    not CALLBACKS_SUPPORTED,
    reason=f"sklearn.callback is new in scikit-learn 1.9; {sklearn.__version__} "
    "is installed",
)

rng = np.random.RandomState(0)
X = rng.normal(size=(24, 5, 2))
LABELS = (X[:, :, 0].sum(axis=1) > 0).astype(int)
TARGETS = X[:, -1, 0]
SMALL = {"hidden_units": 3, "random_state": 0}
WEIGHTS = ("input_weights_", "context_weights_", "hidden_bias_")
WEIGHTS += ("output_weights_", "output_bias_")
SUBTASKS = ("epoch", "lbfgs-iter")


class Recorder:
    """A callback that records its hooks, and may ask to stop after n sub-tasks."""

    def __init__(self, stop_after=None, fail_after=None):
        self.calls, self.stop_after, self.fail_after = [], stop_after, fail_after

    def setup(self, estimator, context):
        self.calls.append({"hook": "setup", "task": context.task_name})

    def teardown(self, estimator, context):
        self.calls.append({"hook": "teardown", "task": context.task_name})

    def on_fit_task_begin(
        self,
        estimator,
        context,
        *,
        X=None,
        y=None,
        metadata=None,
        fitted_estimator=None,
    ):
        self._record("begin", context, X, y, metadata, fitted_estimator)

    def on_fit_task_end(
        self,
        estimator,
        context,
        *,
        X=None,
        y=None,
        metadata=None,
        fitted_estimator=None,
    ):
        self._record("end", context, X, y, metadata, fitted_estimator)
        ended = len(self.fitted("end"))
        if ended == self.fail_after:
            raise RuntimeError("the callback failed")
        return ended == self.stop_after

    def _record(self, hook, context, X, y, metadata, fitted):
        self.calls.append(
            {
                "hook": hook,
                "task": context.task_name,
                "estimator": context.estimator_name,
                "X": X,
                "y": y,
                "metadata": metadata,
                "fitted": fitted,
            }
        )

    def hooks(self):
        return [(call["hook"], call["task"]) for call in self.calls]

    def fitted(self, hook):
        """The fitted estimators given at that hook of each sub-task."""
        return [
            call["fitted"]
            for call in self.calls
            if call["hook"] == hook and call["task"] in SUBTASKS
        ]


class PropagatedRecorder(Recorder):
    """A recorder that a meta-estimator hands down to its steps."""

    max_propagation_depth = None


def expected_hooks(task, subtask, n):
    return (
        [("setup", task), ("begin", task)]
        + [("begin", subtask), ("end", subtask)] * n
        + [("end", task), ("teardown", task)]
    )


@needs_callbacks
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "Estimator, y", [(ElmanClassifier, LABELS), (ElmanRegressor, TARGETS)]
)
@pytest.mark.parametrize(
    "solver, subtask", [("adam", "epoch"), ("sgd", "epoch"), ("lbfgs", "lbfgs-iter")]
)
def test_fit_reports_each_epoch_or_lbfgs_iteration_as_a_subtask(
    Estimator, y, solver, subtask
):
    recorder = Recorder()
    weights = np.linspace(0.5, 2, len(y))
    model = Estimator(solver=solver, max_iter=4, **SMALL).set_callbacks(recorder)
    model.fit(X, y, sample_weight=weights)
    assert model.n_iter_ == 4
    assert recorder.hooks() == expected_hooks("fit", subtask, 4)
    for call in recorder.calls[1:-1]:
        assert call["X"] is X and call["y"] is y
        assert call["metadata"]["sample_weight"] is weights
    # Each sub-task ends with an estimator ready to predict.
    for fitted in recorder.fitted("end"):
        assert fitted is not model
        assert fitted.predict(X).shape == np.shape(y)


@needs_callbacks
def test_lbfgs_to_convergence_reports_its_iterations_only():
    recorder = Recorder()
    model = ElmanClassifier(solver="lbfgs", max_iter=500, **SMALL)
    model.set_callbacks(recorder).fit(X, LABELS)
    assert 4 < model.n_iter_ < 500  # converged
    assert recorder.hooks() == expected_hooks("fit", "lbfgs-iter", model.n_iter_)


@needs_callbacks
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_is_one_task_of_one_epoch(solver):
    recorder = Recorder()
    model = ElmanClassifier(solver=solver, **SMALL).set_callbacks(recorder)
    model.partial_fit(X, LABELS, classes=[0, 1]).partial_fit(X, LABELS)
    assert recorder.hooks() == expected_hooks("partial_fit", "epoch", 1) * 2
    assert_array_equal(recorder.fitted("end")[-1].input_weights_, model.input_weights_)


@needs_callbacks
def test_echo_state_and_the_scaler_fit_in_one_task():
    for model, y in [
        (ElmanClassifier(solver="echo_state", **SMALL), LABELS),
        (ElmanRegressor(solver="echo_state", **SMALL), TARGETS),
        (SequenceScaler(), None),
    ]:
        recorder = Recorder()
        model.set_callbacks(recorder).fit(X, y)
        assert recorder.hooks() == expected_hooks("fit", None, 0)


@needs_callbacks
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_each_epoch_ends_with_its_own_weights():
    """Copies, not views into the weights that training goes on updating."""
    recorder = Recorder()
    # Three mini-batches an epoch: fit keeps the weights at the end of its best.
    model = ElmanClassifier(solver="sgd", batch_size=8, shuffle=False, max_iter=6)
    model.set_params(**SMALL).set_callbacks(recorder).fit(X, LABELS)
    ends = recorder.fitted("end")
    assert len(ends) == 6
    for earlier, later in zip(ends, ends[1:]):
        assert not np.array_equal(earlier.input_weights_, later.input_weights_)
    kept = ends[model.best_epoch_ - 1]
    for name in WEIGHTS:
        assert_array_equal(getattr(kept, name), getattr(model, name), err_msg=name)
    # The weights an epoch begins with are those the previous one ended with.
    begins = recorder.fitted("begin")
    assert_array_equal(begins[3].context_weights_, ends[2].context_weights_)


@needs_callbacks
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_last_lbfgs_iteration_ends_with_the_fitted_weights():
    recorder = Recorder()
    model = ElmanRegressor(solver="lbfgs", max_iter=5, **SMALL)
    model.set_callbacks(recorder).fit(X, TARGETS)
    ends = recorder.fitted("end")
    assert [fitted.n_iter_ for fitted in ends] == [1, 2, 3, 4, 5]
    assert [fitted.loss_ for fitted in ends] == model.loss_curve_
    for name in WEIGHTS:
        assert_array_equal(getattr(ends[-1], name), getattr(model, name))


@needs_callbacks
def test_callbacks_change_no_result():
    kwargs = {"solver": "sgd", "batch_size": 8, "max_iter": 5, **SMALL}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = ElmanClassifier(**kwargs).fit(X, LABELS)
        watched = ElmanClassifier(**kwargs).set_callbacks(Recorder()).fit(X, LABELS)
    assert plain.loss_curve_ == watched.loss_curve_
    for name in WEIGHTS:
        assert_array_equal(getattr(plain, name), getattr(watched, name))
    # What the framework keeps during fit is gone after it.
    assert not {"_callback_fit_ctx", "_skl_callbacks_to_teardown"} & set(vars(plain))


@needs_callbacks
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_callback_can_stop_training(solver):
    model = ElmanClassifier(solver=solver, max_iter=50, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # asked for: no warning
        model.set_callbacks(Recorder(stop_after=2)).fit(X, LABELS)
    assert model.n_iter_ == len(model.loss_curve_) == 2


@needs_callbacks
def test_a_failing_callback_leaves_the_estimator_as_it_was():
    model = ElmanClassifier(max_iter=3, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, LABELS)
    recorder = Recorder(fail_after=2)
    model.set_callbacks(recorder)
    names = set(vars(model))
    before = {name: np.copy(getattr(model, name)) for name in WEIGHTS}
    curve = list(model.loss_curve_)
    with pytest.raises(RuntimeError, match="the callback failed"):
        model.fit(X, LABELS)
    assert set(vars(model)) == names
    assert model.loss_curve_ == curve and model.n_iter_ == 3
    for name in WEIGHTS:
        assert_array_equal(getattr(model, name), before[name], err_msg=name)
    # The callbacks were torn down all the same.
    assert recorder.hooks()[-1] == ("teardown", "fit")


@needs_callbacks
def test_scoring_monitor_scores_every_epoch():
    from sklearn.callback import ScoringMonitor

    monitor = ScoringMonitor(scoring="accuracy")
    model = ElmanClassifier(solver="sgd", batch_size=8, shuffle=False, max_iter=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_params(**SMALL).set_callbacks(monitor).fit(X, LABELS)
    rows = monitor.get_logs().data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert [row["task_id"] for row in epochs] == list(range(6))
    # The kept epoch's score is the fitted model's, as is the whole fit's.
    assert epochs[model.best_epoch_ - 1]["accuracy"] == model.score(X, LABELS)
    (fit,) = [row for row in rows if row["task_name"] == "fit"]
    assert fit["accuracy"] == model.score(X, LABELS)


@needs_callbacks
def test_scoring_monitor_scores_every_lbfgs_iteration():
    from sklearn.callback import ScoringMonitor

    monitor = ScoringMonitor(scoring="neg_mean_squared_error")
    model = ElmanRegressor(solver="lbfgs", max_iter=300, **SMALL)
    model.set_callbacks(monitor).fit(X, TARGETS)
    rows = monitor.get_logs().data
    scores = [
        r["neg_mean_squared_error"] for r in rows if r["task_name"] == "lbfgs-iter"
    ]
    assert len(scores) == model.n_iter_
    # L-BFGS on a squared error lowers it: the last iteration scores best.
    assert scores[-1] > scores[0]


def completed_bars(output):
    """Every progress bar printed is at 100%: none stopped part way."""
    return "100%" in output and not re.search(r"\b[0-9]{1,2}%", output)


@needs_callbacks
def test_progress_bar_in_a_pipeline(capsys):
    from sklearn.callback import ProgressBar

    recorder = PropagatedRecorder()
    pipe = make_pipeline(SequenceScaler(), ElmanClassifier(max_iter=4, **SMALL))
    with warnings.catch_warnings():
        # Such as "The estimator SequenceScaler does not support callbacks".
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.set_callbacks(ProgressBar(), recorder).fit(X, LABELS)
    output = capsys.readouterr().out
    assert "SequenceScaler - fit" in output
    assert "ElmanClassifier - fit" in output
    assert completed_bars(output)
    # The bar of the network followed its epochs.
    epochs = [c for c in recorder.calls if c["task"] == "epoch" and c["hook"] == "end"]
    assert len(epochs) == 4 and {c["estimator"] for c in epochs} == {"ElmanClassifier"}


@needs_callbacks
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_progress_bar_and_scores_in_a_grid_search(capsys):
    from sklearn.callback import ProgressBar, ScoringMonitor

    recorder = PropagatedRecorder()
    monitor = ScoringMonitor(scoring="accuracy")
    network = ElmanClassifier(max_iter=3, **SMALL).set_callbacks(monitor)
    search = GridSearchCV(
        make_pipeline(SequenceScaler(), network),
        {"elmanclassifier__hidden_units": [2, 3]},
        cv=2,
    )
    search.set_callbacks(ProgressBar(max_propagation_depth=None), recorder)
    search.fit(X, LABELS)
    output = capsys.readouterr().out
    # 2 candidates x 2 folds, and the refit: 5 fits of the network.
    assert output.count("ElmanClassifier - fit") == 5
    assert completed_bars(output)
    ends = [c for c in recorder.calls if c["task"] == "epoch" and c["hook"] == "end"]
    assert len(ends) == 5 * 3
    logs = monitor.get_logs(select="all")
    epochs = [r for log in logs for r in log.data if r["task_name"] == "epoch"]
    assert len(epochs) == 5 * 3


@pytest.mark.skipif(
    CALLBACKS_SUPPORTED, reason="scikit-learn >= 1.9 has sklearn.callback"
)
def test_without_sklearn_callback_nothing_changes():
    for model, y in [
        (ElmanClassifier(max_iter=2, **SMALL), LABELS),
        (ElmanRegressor(solver="lbfgs", max_iter=2, **SMALL), TARGETS),
        (SequenceScaler(), None),
    ]:
        assert not hasattr(model, "set_callbacks")
        with pytest.raises(AttributeError) as raised:
            model.set_callbacks()
        assert "needs scikit-learn >= 1.9" in str(raised.value.__cause__)
        assert model._start_fit_tasks(X, y, None, task_name="fit", max_subtasks=2) is (
            NO_TASKS
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        assert not any("callback" in name for name in vars(model))
    model = ElmanClassifier(solver="sgd", **SMALL).partial_fit(X, LABELS, [0, 1])
    assert model.n_iter_ == 1


def readme_block(marker):
    """The body of the first fenced block after ``<!-- marker -->`` in README.md."""
    readme = Path(__file__).parents[1] / "README.md"
    after = readme.read_text().split(f"<!-- {marker} -->\n", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


@needs_callbacks
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_readme_example_runs(capsys):
    # Not a doctest: the README's doctests run on every scikit-learn >= 1.6.
    exec(readme_block("test: callbacks-example"), {})
    output = capsys.readouterr().out
    assert re.search(r"^30 [01]\.\d+$", output, flags=re.MULTILINE)  # 30 epochs
    assert "GridSearchCV - fit" in output and "ElmanClassifier - fit" in output
    assert completed_bars(output)
