"""A trace function that interrupts chosen code at one of its lines."""


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
