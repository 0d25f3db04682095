"""Trace functions that interrupt the traced code at one of its lines."""

import sys


class LineInterrupter:
    """Raise KeyboardInterrupt at the n-th line event of the traced code.

    Parameters
    ----------
    n : int
        Which line event (1-based) to interrupt.
    traced : callable
        ``traced(code)`` tells whether a code object's lines count (and are
        traced at all).
    """

    def __init__(self, n, traced):
        self.n, self.traced, self.seen, self.fired = n, traced, 0, False

    def __call__(self, frame, event, arg):
        if event == "call":
            return self if self.traced(frame.f_code) else None
        if event == "line" and not self.fired:
            self.seen += 1
            if self.seen == self.n:
                self.fired = True
                raise KeyboardInterrupt
        return self


class InterrupterFromFirstCall:
    """Raise KeyboardInterrupt at the n-th line event, in any file, after a start.

    Every line that runs counts, in the package, the libraries it calls and the
    standard library alike, from the first call of a code object that ``starts``
    accepts to the end of tracing. (Before that call the traced code has
    changed nothing that the test checks.) Once it has fired the tracer turns
    tracing off, so that the rest of the call runs at full speed.

    Parameters
    ----------
    n : int
        Which line event (1-based) after the start to interrupt.
    starts : callable
        ``starts(code)`` tells whether a call of ``code`` starts the count.
    outside : frame
        The frame that runs the traced call: neither it nor its callers are
        traced.
    """

    def __init__(self, n, starts, outside):
        self.n, self.starts, self.outside, self.seen = n, starts, outside, 0
        self.started = self.fired = False

    def __call__(self, frame, event, arg):
        if not self.started:
            if event != "call" or not self.starts(frame.f_code):
                return None  # no line events before the start: they are free
            self.started = True
            # The callers' frames, untraced so far, are traced from here on:
            # their lines after the start count too.
            caller = frame.f_back
            while caller is not None and caller is not self.outside:
                caller.f_trace = self
                caller = caller.f_back
        if event == "line":
            self.seen += 1
            if self.seen == self.n:
                self.fired = True
                sys.settrace(None)
                raise KeyboardInterrupt
        return self


def raises_interrupt(call, tracer):
    """Run ``call()`` under the trace function ``tracer``.

    Returns
    -------
    raised : bool
        Whether the call raised ``KeyboardInterrupt`` (other errors propagate).
    """
    sys.settrace(tracer)
    try:
        call()
        return False
    except KeyboardInterrupt:
        return True
    finally:
        sys.settrace(None)
