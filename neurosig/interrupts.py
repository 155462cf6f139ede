"""Ctrl-C and SIGTERM: one flag that says the user asked the run to stop.

:func:`install` (called by the CLI) makes SIGINT and SIGTERM (a batch system's time limit, or
``kill``) raise :class:`KeyboardInterrupt` in the main thread and sets a flag. A child program
(a Brian2 standalone binary) in the same process group gets the same Ctrl-C and dies of it, so
its runner may see a failed program before it sees the interrupt: :func:`requested` lets it
report the interrupt rather than a crash.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

__all__ = ["install", "requested"]

_requested = False


def _handler(signum, frame) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install() -> Callable[[], None]:
    """Route SIGINT and SIGTERM to :class:`KeyboardInterrupt` (main thread only); returns a
    function that puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.signal(sig, _handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def requested() -> bool:
    """Whether SIGINT or SIGTERM arrived since :func:`install`."""
    return _requested
