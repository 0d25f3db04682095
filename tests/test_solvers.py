"""Tests of the optimizers in ``sklearn_elman._solvers``."""

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import _stochastic_optimizers as sk_optimizers

from sklearn_elman._solvers import (
    AdamOptimizer,
    SGDOptimizer,
    clip_grad_norm,
    make_optimizer,
    minimize_lbfgs,
)


def test_sgd_first_steps_by_hand():
    params = np.array([1.0, -2.0])
    grad = np.array([0.5, 0.25])
    opt = SGDOptimizer(params, learning_rate_init=0.1, momentum=0.5, nesterov=False)
    opt.update_params(params, grad)
    # v1 = -0.1 g = [-0.05, -0.025]
    assert_allclose(params, [0.95, -2.025], rtol=1e-15)
    opt.update_params(params, grad)
    # v2 = 0.5 v1 - 0.1 g = [-0.075, -0.0375]
    assert_allclose(params, [0.875, -2.0625], rtol=1e-15)


def test_nesterov_first_step_by_hand():
    params = np.array([1.0])
    opt = SGDOptimizer(params, learning_rate_init=0.1, momentum=0.5, nesterov=True)
    opt.update_params(params, np.array([2.0]))
    # v1 = -0.2; step = 0.5 * v1 - 0.1 * 2 = -0.3
    assert_allclose(params, [0.7], rtol=1e-15)
    assert_allclose(opt.velocity, [-0.2], rtol=1e-15)


def test_adam_first_step_by_hand():
    params = np.array([1.0, 1.0])
    grad = np.array([0.2, -3.0])
    opt = AdamOptimizer(params, learning_rate_init=0.01, epsilon=1e-8)
    opt.update_params(params, grad)
    # t = 1: m = 0.1 g, v = 0.001 g^2, step size 0.01 * sqrt(0.001) / 0.1,
    # so the step is 0.01 * g / (|g| + 1e-8 / sqrt(0.001)), about 0.01 * sign(g).
    expected = 1.0 - 0.01 * grad / (np.abs(grad) + 1e-8 / math.sqrt(0.001))
    assert_allclose(params, expected, rtol=1e-12)
    assert opt.t == 1
    assert_allclose(opt.first_moment, 0.1 * grad, rtol=1e-15)
    assert_allclose(opt.second_moment, 0.001 * grad**2, rtol=1e-15)


@pytest.mark.parametrize(
    "ours, theirs, options",
    [
        (AdamOptimizer, sk_optimizers.AdamOptimizer, {"learning_rate_init": 0.01}),
        (
            SGDOptimizer,
            sk_optimizers.SGDOptimizer,
            {"learning_rate_init": 0.05, "momentum": 0.8, "nesterov": True},
        ),
        (
            SGDOptimizer,
            sk_optimizers.SGDOptimizer,
            {"learning_rate_init": 0.05, "momentum": 0.8, "nesterov": False},
        ),
    ],
)
def test_matches_scikit_learn_optimizers_exactly(ours, theirs, options, rng):
    """scikit-learn's private optimizers serve as the oracle, to the last bit."""
    start = rng.normal(size=30)
    params, oracle = start.copy(), start.copy()
    opt, ref = ours(params, **options), theirs([oracle], **options)
    for _ in range(25):
        grad = rng.normal(size=30)
        opt.update_params(params, grad)
        ref.update_params([oracle], [grad])
    assert_array_equal(params, oracle)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_float32_parameters_stay_float32(solver, rng):
    params = rng.normal(size=10).astype(np.float32)
    opt = make_optimizer(solver, params)
    for _ in range(3):
        opt.update_params(params, rng.normal(size=10).astype(np.float32))
    assert params.dtype == np.float32
    assert all(
        getattr(opt, name).dtype == np.float32
        for name in ("velocity", "first_moment", "second_moment")
        if hasattr(opt, name)
    )


def test_invscaling_schedule():
    opt = SGDOptimizer(np.zeros(1), 0.1, lr_schedule="invscaling", power_t=0.5)
    opt.iteration_ends(99)
    assert opt.learning_rate == pytest.approx(0.1 / 10)


def test_adaptive_schedule_divides_then_stops(capsys):
    opt = SGDOptimizer(np.zeros(1), 1e-5, lr_schedule="adaptive")
    assert opt.trigger_stopping("No improvement.", verbose=True) is False
    assert opt.learning_rate == pytest.approx(2e-6)
    assert "Setting learning rate to" in capsys.readouterr().out
    assert opt.trigger_stopping("No improvement.", verbose=False) is False
    assert opt.trigger_stopping("No improvement.", verbose=True) is True
    assert "Learning rate too small" in capsys.readouterr().out


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_constant_schedule_stops_at_once(solver):
    opt = make_optimizer(solver, np.zeros(2))
    assert opt.trigger_stopping("msg", verbose=False) is True


def test_make_optimizer_rejects_unknown_solver():
    with pytest.raises(ValueError, match="'lbfgs'"):
        make_optimizer("lbfgs", np.zeros(1))


def quadratic(theta):
    target = np.array([1.0, -2.0, 3.0])
    diff = theta - target
    return float(diff @ diff), 2 * diff


def test_lbfgs_finds_minimum_of_quadratic():
    theta, loss, n_iter, curve = minimize_lbfgs(
        quadratic, np.zeros(3), max_iter=100, max_fun=1000, tol=1e-10
    )
    assert_allclose(theta, [1, -2, 3], atol=1e-8)
    assert loss == pytest.approx(0, abs=1e-14)
    assert 1 <= n_iter == len(curve)
    assert curve[-1] == pytest.approx(loss)


def test_lbfgs_warns_at_max_iter_and_reports_progress(capsys):
    def rosenbrock(theta):
        x, y = theta
        value = (1 - x) ** 2 + 100 * (y - x**2) ** 2
        grad = np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])
        return value, grad

    with pytest.warns(ConvergenceWarning, match=r"max_iter \(now 3\)"):
        _, _, n_iter, curve = minimize_lbfgs(
            rosenbrock,
            np.array([-1.0, 2.0]),
            max_iter=3,
            max_fun=100,
            tol=0,
            verbose=True,
        )
    assert n_iter == 3 == len(curve)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[0].startswith("Iteration 1, loss = ")
    assert out[0].endswith(" s")


def test_lbfgs_reports_each_iteration_and_stops_when_asked():
    seen = []

    def iteration_ends(theta, loss):
        seen.append((theta.copy(), loss))
        return len(seen) == 2

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a stop asked for
        theta, loss, n_iter, curve = minimize_lbfgs(
            quadratic,
            np.zeros(3),
            max_iter=100,
            max_fun=1000,
            tol=0,
            iteration_ends=iteration_ends,
        )
    assert n_iter == len(curve) == len(seen) == 2
    assert [loss for _, loss in seen] == curve
    assert_array_equal(seen[-1][0], theta)
    assert loss == curve[-1]


def test_clip_grad_norm():
    g = np.array([3.0, 4.0])
    assert clip_grad_norm(g, 10.0) == 5.0
    assert_array_equal(g, [3, 4])
    assert clip_grad_norm(g, 1.0) == 5.0
    assert_allclose(g, [0.6, 0.8])
    assert_allclose(np.linalg.norm(g), 1.0)
    assert clip_grad_norm(g, None) == pytest.approx(1.0)
