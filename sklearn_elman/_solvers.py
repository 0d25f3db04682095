"""Optimizers for the Elman network's flat parameter vector.

The stochastic optimizers follow the interface of scikit-learn's private
``sklearn.neural_network._stochastic_optimizers`` (``update_params``,
``iteration_ends``, ``trigger_stopping``) and reproduce its update rules, but work
on one flat parameter vector with preallocated buffers: a single vectorised update
per mini-batch instead of one per array. L-BFGS is a thin wrapper around
:func:`scipy.optimize.minimize`, and :func:`clip_grad_norm` bounds the step the
stochastic solvers take.

Nothing here knows about the network: parameters and gradients are flat arrays.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning


class BaseOptimizer:
    """Shared behaviour of the stochastic optimizers.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Flat parameter vector the optimizer will update.
    learning_rate_init : float
        Initial step size.

    Attributes
    ----------
    learning_rate : float
        Current step size.
    n_params : int
        Length of the parameter vector the optimizer was built for.
    """

    #: The solver's name, as the estimators' ``solver`` parameter spells it.
    solver = ""
    #: Work buffers of an update (rebuilt, not saved), and the state array whose
    #: shape and dtype they take.
    _buffers: tuple[str, ...] = ()
    _shaped_like = ""

    def __init__(self, params, learning_rate_init):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.n_params = params.size

    def state(self):
        """The optimizer as plain data, for a file that needs no trust in it.

        Returns
        -------
        state : dict
            The solver's name under ``'solver'``, and every number, string and
            array the next update needs (the work buffers are left out).
        """
        state = {k: v for k, v in vars(self).items() if k not in self._buffers}
        return {"solver": self.solver, **state}

    @staticmethod
    def from_state(state):
        """Rebuild the optimizer that :meth:`state` described.

        Parameters
        ----------
        state : dict
            What :meth:`state` returned.

        Returns
        -------
        optimizer : BaseOptimizer
            An optimizer whose next update is the one the saved one would make.
        """
        state = dict(state)
        cls = OPTIMIZERS[state.pop("solver")]
        optimizer = cls.__new__(cls)
        optimizer.__dict__.update(state)
        for name in cls._buffers:
            setattr(optimizer, name, np.empty_like(state[cls._shaped_like]))
        return optimizer

    def update_params(self, params, grads):
        """Update ``params`` in place from ``grads``.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            Flat parameter vector, updated in place.
        grads : ndarray of shape (n_params,)
            Gradient of the loss at ``params``; left unchanged.
        """
        raise NotImplementedError

    def iteration_ends(self, time_step):
        """Hook called at the end of each epoch.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far.
        """

    def trigger_stopping(self, msg, verbose):
        """Decide whether training stops when the loss no longer improves.

        Parameters
        ----------
        msg : str
            Reason, printed when ``verbose``.
        verbose : bool
            Whether to print.

        Returns
        -------
        is_stopping : bool
            True if training should stop.
        """
        if verbose:
            print(msg + " Stopping.")
        return True


class SGDOptimizer(BaseOptimizer):
    """Stochastic gradient descent with (Nesterov) momentum.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Flat parameter vector; sets the shape and dtype of the velocity.
    learning_rate_init : float, default=0.1
        Initial step size.
    lr_schedule : {'constant', 'invscaling', 'adaptive'}, default='constant'
        'constant' keeps the step size; 'invscaling' sets it to
        ``learning_rate_init / (t + 1) ** power_t`` after each epoch, ``t`` being
        the number of samples seen; 'adaptive' divides it by 5 each time the loss
        stops improving, and stops once it falls below 1e-6.
    momentum : float, default=0.9
        Momentum of the velocity.
    nesterov : bool, default=True
        Whether to use Nesterov's momentum.
    power_t : float, default=0.5
        Exponent of 'invscaling'.

    Attributes
    ----------
    velocity : ndarray of shape (n_params,)
        Current velocity.
    """

    solver = "sgd"
    _buffers = ("_scratch",)
    _shaped_like = "velocity"

    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
    ):
        super().__init__(params, learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocity = np.zeros_like(params)
        self._scratch = np.empty_like(params)

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = (
                float(self.learning_rate_init) / (time_step + 1) ** self.power_t
            )

    def trigger_stopping(self, msg, verbose):
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False

    def update_params(self, params, grads):
        scaled_grad = np.multiply(grads, self.learning_rate, out=self._scratch)
        # v <- momentum * v - lr * g
        self.velocity *= self.momentum
        self.velocity -= scaled_grad
        if self.nesterov:
            # Look ahead: the step is momentum * v - lr * g with the new v.
            step = np.multiply(self.velocity, self.momentum, out=self._scratch)
            step -= grads * self.learning_rate
            params += step
        else:
            params += self.velocity


class AdamOptimizer(BaseOptimizer):
    """Adam (Kingma and Ba, 2014).

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Flat parameter vector; sets the shape and dtype of the moments.
    learning_rate_init : float, default=0.001
        Step size.
    beta_1, beta_2 : float, default=0.9, 0.999
        Decay rates of the first and second moment estimates.
    epsilon : float, default=1e-8
        Added to the root of the second moment for numerical stability.

    Attributes
    ----------
    t : int
        Number of updates made.
    first_moment, second_moment : ndarray of shape (n_params,)
        Moment estimates.

    References
    ----------
    Kingma, D. P. and Ba, J. (2014). Adam: a method for stochastic optimization.
    arXiv:1412.6980.
    """

    solver = "adam"
    _buffers = ("_scratch", "_step")
    _shaped_like = "first_moment"

    def __init__(
        self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        super().__init__(params, learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.first_moment = np.zeros_like(params)
        self.second_moment = np.zeros_like(params)
        self._scratch = np.empty_like(params)
        self._step = np.empty_like(params)

    def update_params(self, params, grads):
        self.t += 1
        m, v, scratch = self.first_moment, self.second_moment, self._scratch
        m *= self.beta_1
        m += np.multiply(grads, 1 - self.beta_1, out=scratch)
        v *= self.beta_2
        np.multiply(grads, grads, out=scratch)
        scratch *= 1 - self.beta_2
        v += scratch
        # The bias corrections of both moments folded into the step size.
        # A Python float, so that float32 parameters are updated in float32.
        self.learning_rate = float(
            self.learning_rate_init
            * np.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
        )
        denom = np.sqrt(v, out=scratch)
        denom += self.epsilon
        step = np.multiply(m, self.learning_rate, out=self._step)
        step /= denom
        params -= step


STOCHASTIC_SOLVERS = ("sgd", "adam")
#: The optimizer class of each stochastic solver.
OPTIMIZERS = {"sgd": SGDOptimizer, "adam": AdamOptimizer}


def clip_grad_norm(grad: np.ndarray, max_norm: float | None) -> float:
    """Scale a flat gradient in place so that its norm is at most ``max_norm``.

    Parameters
    ----------
    grad : ndarray of shape (n_params,)
        Gradient vector, modified in place when its norm exceeds ``max_norm``.
    max_norm : float or None
        Largest allowed norm; None disables clipping.

    Returns
    -------
    norm : float
        The norm before clipping.
    """
    norm = float(np.sqrt(np.vdot(grad, grad)))
    if max_norm is not None and norm > max_norm:
        grad *= max_norm / norm
    return norm


class MemberClipping:
    """Per-member gradients and clipping for networks trained side by side.

    An ensemble trained as one wide network (see
    :func:`~sklearn_elman._elman.join_members`) minimises the mean of its
    members' losses, so each member's block of the gradient is its own loss's
    gradient divided by the number of members, and a norm taken over the whole
    vector would clip every member by the others' gradients. Calling an
    instance undoes both: each member's block is scaled back to its own loss's
    gradient and clipped to ``max_norm`` alone, as a single network would be,
    and the entries between members are set to zero, so that the optimizers
    (whose updates are element-wise) leave them at zero.

    Parameters
    ----------
    members : ndarray of int of shape (n_params,)
        The member of each parameter; -1 between members (see
        :func:`~sklearn_elman._elman.member_of_each_param`).
    n_members : int
        Number of members.
    max_norm : float or None
        Largest norm of a member's gradient; None disables clipping.
    """

    def __init__(self, members, n_members, max_norm):
        self.index = members + 1  # 0 between members
        self.n_members, self.max_norm = n_members, max_norm

    def __call__(self, grad):
        """Scale, clip and mask the flat gradient ``grad`` in place.

        Returns
        -------
        norms : ndarray of shape (n_members,)
            The norm of each member's own gradient before clipping.
        """
        squares = np.bincount(
            self.index, weights=grad * grad, minlength=self.n_members + 1
        )
        norms = self.n_members * np.sqrt(squares[1:])
        factors = np.full(self.n_members + 1, float(self.n_members))
        factors[0] = 0.0
        if self.max_norm is not None:
            over = norms > self.max_norm
            factors[1:][over] *= self.max_norm / norms[over]
        grad *= factors.astype(grad.dtype)[self.index]
        return norms


def make_optimizer(solver, params, **options):
    """Build the stochastic optimizer named ``solver`` for ``params``.

    Parameters
    ----------
    solver : {'sgd', 'adam'}
        Update rule.
    params : ndarray of shape (n_params,)
        Flat parameter vector.
    **options
        Keyword arguments of :class:`SGDOptimizer` or :class:`AdamOptimizer`.

    Returns
    -------
    optimizer : BaseOptimizer
        A new optimizer with zero state.
    """
    if solver not in OPTIMIZERS:
        raise ValueError(f"No stochastic optimizer named {solver!r}.")
    return OPTIMIZERS[solver](params, **options)


def minimize_lbfgs(
    loss_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta0: np.ndarray,
    max_iter: int,
    max_fun: int,
    tol: float,
    verbose: bool = False,
    ftol: float | None = None,
    iteration_ends: Callable[[np.ndarray, float], bool] | None = None,
):
    """Minimise a smooth loss with L-BFGS-B.

    Parameters
    ----------
    loss_and_grad : callable
        ``loss_and_grad(theta) -> (loss, grad)`` with ``theta`` and ``grad`` flat
        float64 vectors.
    theta0 : ndarray of shape (n_params,)
        Starting point.
    max_iter : int
        Maximum number of iterations.
    max_fun : int
        Maximum number of loss evaluations.
    tol : float
        Stop when the largest gradient component falls below ``tol``.
    verbose : bool, default=False
        Print the loss after each iteration.
    ftol : float or None, default=None
        Also stop when the loss falls by less than this fraction in an
        iteration; None keeps scipy's default. 0 stops on ``tol`` alone.
    iteration_ends : callable, default=None
        ``iteration_ends(theta, loss) -> stop``, called after each iteration
        with its weights and loss; a true ``stop`` ends the minimisation there,
        without a convergence warning (the caller asked for it).

    Returns
    -------
    theta : ndarray of shape (n_params,)
        The minimiser found.
    loss : float
        Loss at ``theta``.
    n_iter : int
        Iterations run.
    loss_curve : list of float
        Loss after each iteration.
    """
    loss_curve = []
    start = time.perf_counter()
    stopped = False

    def record(intermediate_result):
        nonlocal stopped
        loss_curve.append(float(intermediate_result.fun))
        if verbose:
            print(
                f"Iteration {len(loss_curve)}, loss = {loss_curve[-1]:.8f}, "
                f"{time.perf_counter() - start:.2f} s"
            )
        if iteration_ends is not None and iteration_ends(
            intermediate_result.x, loss_curve[-1]
        ):
            stopped = True
            # scipy >= 1.11 ends the minimisation on it, at this iteration.
            raise StopIteration

    result = scipy.optimize.minimize(
        loss_and_grad,
        np.asarray(theta0, dtype=np.float64),
        method="L-BFGS-B",
        jac=True,
        callback=record,
        options={"maxiter": max_iter, "maxfun": max_fun, "gtol": tol}
        | ({} if ftol is None else {"ftol": ftol}),
    )
    n_iter = min(int(result.nit), max_iter)
    if result.status != 0 and not stopped:
        message = result.message
        if isinstance(message, bytes):
            message = message.decode()
        warnings.warn(
            f"lbfgs stopped after {n_iter} iteration(s) without converging: "
            f"{message}. Increase max_iter (now {max_iter}) or max_fun (now "
            f"{max_fun}), or scale the input.",
            ConvergenceWarning,
        )
    return result.x, float(result.fun), n_iter, loss_curve
