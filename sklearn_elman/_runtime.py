"""How the computation runs: BLAS threads and subnormal numbers.

Two traps make a recurrent network on a CPU much slower than it should be:

- BLAS threads. The matrix products of one time step are small (a mini-batch by
  the hidden units), and a second BLAS thread never makes them faster; on a busy
  two-core machine extra threads make them many times slower. The estimator
  therefore limits BLAS to ``blas_threads`` threads (one by default) while it
  computes, through threadpoolctl, and restores the setting afterwards.
- Subnormal floats. When gradients vanish through a long sequence, float32 values
  fall below ``numpy.finfo(np.float32).tiny`` and x86 CPUs process them about a
  hundred times more slowly, in the matrix products of the backward pass above all.
  :func:`run_with_settings` sets the CPU's flush-to-zero and denormals-are-zero
  modes for the calling thread while the estimator computes: numbers below
  ``tiny`` (about 1e-38 in float32) count as zero, a change far below rounding.
  It is implemented for x86-64 Linux, where the slowdown was measured; elsewhere
  it does nothing (ARM processors handle subnormal numbers at full speed).
"""

from __future__ import annotations

import ctypes
import platform
import sys
import threading

import numpy as np
from threadpoolctl import ThreadpoolController

_blas_libraries = None


def _blas_controllers():
    # Scanning the loaded libraries takes ~0.2 ms: do it once.
    global _blas_libraries
    if _blas_libraries is None:
        controller = ThreadpoolController().select(user_api="blas")
        _blas_libraries = tuple(controller.lib_controllers)
    return _blas_libraries


class _FloatEnvironment(ctypes.Structure):
    # glibc and musl's fenv_t on x86-64: 28 bytes of x87 state, then MXCSR.
    _fields_ = [("words", ctypes.c_uint32 * 8)]


_MXCSR_WORD = 7
_MXCSR_FTZ_DAZ = 0x8000 | 0x0040  # flush-to-zero | denormals-are-zero
_libm = None
_supported = None


def _load_libm():
    """libm's fegetenv/fesetenv, or None where the layout above is not known.

    The library is opened by name, or found among those already loaded (musl
    keeps fenv in libc), never through ``ctypes.util.find_library``, which runs
    ``ldconfig`` or a compiler found on PATH.
    """
    if not (sys.platform.startswith("linux") and platform.machine() == "x86_64"):
        return None
    for name in ("libm.so.6", None):
        try:
            libm = ctypes.CDLL(name)
            libm.fegetenv.argtypes = libm.fesetenv.argtypes = [ctypes.c_void_p]
        except (OSError, AttributeError):
            continue
        return libm
    return None


def _flushes(dtype=np.float32):
    """Whether subnormal results and inputs are now treated as zero."""
    tiny = np.finfo(dtype).tiny
    halved = np.array([tiny], dtype=dtype) * dtype(0.5)
    return bool(halved[0] == 0)


def subnormals_flushed_here() -> bool:
    """Tell whether flushing subnormals has an effect on this platform.

    Returns
    -------
    supported : bool
        True where the flush-to-zero mode is implemented and was seen to work.
    """
    global _libm, _supported
    if _supported is None:
        libm = _load_libm()
        # Check, once, that setting the bits has the documented effect.
        supported = libm is not None and _probe(libm)
        _libm, _supported = libm, supported
    return _supported


def _flushing(saved):
    """A copy of the environment ``saved`` with flush-to-zero and DAZ set."""
    flushing = _FloatEnvironment.from_buffer_copy(saved)
    flushing.words[_MXCSR_WORD] |= _MXCSR_FTZ_DAZ
    return flushing


def _probe(libm):
    saved = _FloatEnvironment()
    if libm.fegetenv(ctypes.byref(saved)) != 0:
        return False
    works = False
    # Restored twice, as in run_with_settings: see there why.
    try:
        try:
            status = libm.fesetenv(ctypes.byref(_flushing(saved)))
            works = status == 0 and _flushes(np.float32) and _flushes(np.float64)
        finally:
            libm.fesetenv(ctypes.byref(saved))
    finally:
        libm.fesetenv(ctypes.byref(saved))
    return works


# The BLAS thread count is one setting for the whole process, so calls running
# in several threads at once share one limit: the first to start sets it and
# remembers the count found, the last to finish puts that count back. (Each call
# setting and restoring on its own would leave the limit in place whenever two
# calls overlap.) Every step below leaves a state that a second
# ``_leave_blas_limit`` completes, so an interrupt at any line loses nothing. The
# lock is reentrant so that a thread an interrupt left holding it (one landing
# as ``with`` calls ``__exit__``) can take it again, then let it go for good.
_blas_lock = threading.RLock()
_blas_callers = set()  # a token per call now computing under the limit
_blas_found = None  # [(library, its count before the first caller, if changed)]


def _set_blas_threads(settings):
    for library, n_threads in settings:
        # threadpoolctl (>= 3.6) lets only one thread at a time change OpenBLAS,
        # and takes a lock of its own to choose it: an interrupt there leaves
        # that lock held, and every later call, our cleanup included, would
        # wait for it forever. Our own lock already serialises our changes, so
        # the count is set directly, without that lock and without making a
        # thread of ours the controlling one (which would void the user's later
        # limits).
        setter = getattr(library, "_real_set_num_threads", library.set_num_threads)
        setter(n_threads)


def _enter_blas_limit(token, blas_threads):
    global _blas_found
    with _blas_lock:
        _blas_callers.add(token)
        if _blas_found is None:
            found = [(lib, lib.num_threads) for lib in _blas_controllers()]
            _blas_found = [(lib, n) for lib, n in found if n != blas_threads]
            _set_blas_threads([(lib, blas_threads) for lib, _ in _blas_found])


def _leave_blas_limit(token):
    global _blas_found
    with _blas_lock:
        _blas_callers.discard(token)
        if not _blas_callers and _blas_found is not None:
            _set_blas_threads(_blas_found)
            _blas_found = None


def _let_go_of_blas_lock():
    # Release every hold this thread has; RLock.release raises RuntimeError
    # when the calling thread holds none, and never releases another's.
    while True:
        try:
            _blas_lock.release()
        except RuntimeError:
            return


#: Multiply-adds below which a call is computed as it is. BLAS libraries run
#: products this small on one thread anyway (OpenBLAS splits none below ~9000),
#: and subnormal numbers cannot cost much in so little work, while setting and
#: restoring both settings takes tens of microseconds: more than a stream step.
SMALL_WORK = 8192


def work_of(params, X3):
    """Count the multiply-adds of the recurrence over some sequences.

    Parameters
    ----------
    params : ElmanParams
        Network parameters.
    X3 : ndarray of shape (n_sequences, n_steps, n_features)
        The sequences.

    Returns
    -------
    work : int
        Multiply-adds of the hidden layer's products over every step.
    """
    n_hidden = params.context_weights.shape[0]
    n_rows, n_steps, n_features = X3.shape
    return n_rows * n_steps * (n_hidden + n_features + 1) * n_hidden


class _ChangedSettings:
    """What one call changed, so that it can be put back however often asked.

    Each attribute is set before the change it records is made, so that
    :meth:`restore` completes whatever part of :meth:`apply` an interrupt let
    run, and running :meth:`restore` again changes nothing more.
    """

    __slots__ = ("blas_token", "saved_environment")

    def __init__(self):
        self.blas_token = self.saved_environment = None

    def apply(self, blas_threads):
        if blas_threads is not None:
            self.blas_token = object()
            _enter_blas_limit(self.blas_token, blas_threads)
        if subnormals_flushed_here():
            saved = _FloatEnvironment()
            _libm.fegetenv(ctypes.byref(saved))
            self.saved_environment = saved
            _libm.fesetenv(ctypes.byref(_flushing(saved)))

    def restore(self):
        try:
            if self.saved_environment is not None:
                _libm.fesetenv(ctypes.byref(self.saved_environment))
        finally:
            if self.blas_token is not None:
                try:
                    _leave_blas_limit(self.blas_token)
                finally:
                    _let_go_of_blas_lock()


def run_with_settings(blas_threads, function, *args, work=None):
    """Call ``function(*args)`` with BLAS threads limited and subnormals flushed.

    BLAS threads are a process-wide setting: while calls overlap in several
    threads, they share the limit of the first, and the count found before the
    first is restored when the last one leaves. Subnormal floats count as zero
    on the calling thread for the duration of the call.

    Both settings are restored whatever exception or interrupt (Ctrl-C) arrives,
    at whatever line, in this package or in the libraries and the standard
    library it calls. That is why this is a function and not a context manager:
    a ``with`` statement hands the restoring to the manager's ``__exit__``
    (for a generator-based one, to ``contextlib``'s), and an interrupt landing
    there before it restores anything leaves the settings changed, with no
    handler left to retry. Here the restoring runs in two nested ``finally``
    blocks of this frame, which are in place before anything is changed, and
    each completes whatever the other left undone: one interrupt can never skip
    both.

    Parameters
    ----------
    blas_threads : int or None
        Maximum number of BLAS threads during the call; None leaves BLAS as it
        is.
    function : callable
        What to compute.
    *args
        Its positional arguments.
    work : int, default=None
        Multiply-adds the call computes, if known (see :func:`work_of`): below
        :data:`SMALL_WORK` nothing is set, as neither setting can matter.

    Returns
    -------
    result : object
        What ``function(*args)`` returned.
    """
    if work is not None and work < SMALL_WORK:
        return function(*args)
    changed = _ChangedSettings()
    try:
        try:
            changed.apply(blas_threads)
            return function(*args)
        finally:
            changed.restore()
    finally:
        changed.restore()
