"""Progress of the numerical core goes to :mod:`logging` (never ``print``); ``verbose=True`` makes it visible."""

from __future__ import annotations

import contextlib
import logging
import threading

__all__ = ["verbose_logging"]

_STATE: dict[str, list] = {}   # logger name -> [users, handler added or None, level before]
_LOCK = threading.Lock()


@contextlib.contextmanager
def verbose_logging(log: logging.Logger, verbose: bool):
    """While active with ``verbose``: ``log``'s INFO records are emitted, on stderr if logging is unconfigured.

    Parameters
    ----------
    log : the logger whose INFO lines should be visible.  verbose : do nothing when False.

    Notes
    -----
    The logger's level is lowered to INFO for the duration (if it was higher), and when no handler would
    receive its records (logging not configured) a stderr handler printing the bare message is added; both are
    undone when the last concurrent user leaves. Configured logging (handlers, their levels) is respected.
    """
    if not verbose:
        yield
        return
    with _LOCK:
        state = _STATE.get(log.name)
        if state is None:
            handler = None
            if not log.hasHandlers():
                handler = logging.StreamHandler()
                handler.setFormatter(logging.Formatter("%(message)s"))
                log.addHandler(handler)
            state = _STATE[log.name] = [0, handler, log.level]
            if not log.isEnabledFor(logging.INFO):
                log.setLevel(logging.INFO)
        state[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            state[0] -= 1
            if state[0] == 0:
                if state[1] is not None:
                    log.removeHandler(state[1])
                log.setLevel(state[2])
                del _STATE[log.name]
