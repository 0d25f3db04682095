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
  :func:`flush_subnormals` sets the CPU's flush-to-zero and denormals-are-zero
  modes for the calling thread while the estimator computes: numbers below
  ``tiny`` (about 1e-38 in float32) count as zero, a change far below rounding.
  It is implemented for x86-64 Linux, where the slowdown was measured; elsewhere
  it does nothing (ARM processors handle subnormal numbers at full speed).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import platform
import sys

import numpy as np
from threadpoolctl import ThreadpoolController

_controller = None


def _blas_controller():
    # Building a controller scans the loaded libraries (~0.2 ms); keep one.
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


class _FloatEnvironment(ctypes.Structure):
    # glibc and musl's fenv_t on x86-64: 28 bytes of x87 state, then MXCSR.
    _fields_ = [("words", ctypes.c_uint32 * 8)]


_MXCSR_WORD = 7
_MXCSR_FTZ_DAZ = 0x8000 | 0x0040  # flush-to-zero | denormals-are-zero
_libm = None
_supported = None


def _load_libm():
    """libm's fegetenv/fesetenv, or None where the layout above is not known."""
    if not (sys.platform.startswith("linux") and platform.machine() == "x86_64"):
        return None
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        libm.fegetenv.argtypes = libm.fesetenv.argtypes = [ctypes.c_void_p]
        return libm
    except (OSError, AttributeError):
        return None


def _flushes(dtype=np.float32):
    """Whether subnormal results and inputs are now treated as zero."""
    tiny = np.finfo(dtype).tiny
    halved = np.array([tiny], dtype=dtype) * dtype(0.5)
    return bool(halved[0] == 0)


def subnormals_flushed_here() -> bool:
    """Tell whether :func:`flush_subnormals` has an effect on this platform.

    Returns
    -------
    supported : bool
        True where the flush-to-zero mode is implemented and was seen to work.
    """
    global _libm, _supported
    if _supported is None:
        _libm = _load_libm()
        _supported = False
        if _libm is not None:
            # Check, once, that setting the bits has the documented effect.
            with _set_flush_mode(_libm) as applied:
                _supported = applied and _flushes(np.float32) and _flushes(np.float64)
    return _supported


@contextlib.contextmanager
def _set_flush_mode(libm):
    saved = _FloatEnvironment()
    if libm.fegetenv(ctypes.byref(saved)) != 0:
        yield False
        return
    flushing = _FloatEnvironment.from_buffer_copy(saved)
    flushing.words[_MXCSR_WORD] |= _MXCSR_FTZ_DAZ
    if libm.fesetenv(ctypes.byref(flushing)) != 0:
        yield False
        return
    try:
        yield True
    finally:
        libm.fesetenv(ctypes.byref(saved))


@contextlib.contextmanager
def flush_subnormals():
    """Treat subnormal floats as zero on this thread within the block.

    Does nothing where :func:`subnormals_flushed_here` is False.

    Yields
    ------
    None
        The floating-point environment is restored when the block exits.
    """
    if not subnormals_flushed_here():
        yield
        return
    with _set_flush_mode(_libm):
        yield


@contextlib.contextmanager
def computation_settings(blas_threads):
    """Set BLAS threads and subnormal flushing for the block; restore them after.

    Parameters
    ----------
    blas_threads : int or None
        Maximum number of BLAS threads within the block; None leaves BLAS as it
        is.

    Yields
    ------
    None
        BLAS threads and the floating-point environment are restored when the
        block exits.
    """
    with contextlib.ExitStack() as stack:
        if blas_threads is not None:
            stack.enter_context(
                _blas_controller().limit(limits=blas_threads, user_api="blas")
            )
        stack.enter_context(flush_subnormals())
        yield
