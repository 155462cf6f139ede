"""Ctrl-C and SIGTERM: one flag that says the user asked the run to stop.

:func:`install` (called by the CLI) makes SIGINT and SIGTERM (a batch system's time limit, or
``kill``) raise :class:`KeyboardInterrupt` in the main thread and sets a flag that stays set.

The flag covers the cases where the exception itself goes astray:

- a child program (a Brian2 standalone binary or its compiler) in the same process group gets
  the same Ctrl-C and dies of it, so its runner may see a failed program before it sees the
  interrupt: :func:`requested` lets it report the interrupt rather than a crash;
- a KeyboardInterrupt raised while Python runs a finaliser (``__del__``, a weakref callback) is
  printed as "Exception ignored" and dropped: the hook installed here drops it silently, and
  the loops that check :func:`requested` (after every batch, after every sweep point) raise it
  again where it can be handled.

Pool workers must not print a traceback each: :func:`ignored` starts them with SIGINT ignored
(an ignored signal stays ignored across ``exec``), and the driver stops them.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator

__all__ = [
    "forget_escaped_interrupt",
    "ignore",
    "ignored",
    "install",
    "raise_if_requested",
    "requested",
]

_requested = False


def _handler(signum, frame) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _unraisable(previous: Callable) -> Callable:
    def hook(unraisable) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            previous(unraisable)

    return hook


def install() -> Callable[[], None]:
    """Route SIGINT and SIGTERM to :class:`KeyboardInterrupt` (main thread only); returns a
    function that puts the previous handlers back."""
    global _requested
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _requested = False
    previous = {sig: signal.signal(sig, _handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _unraisable(previous_hook)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.unraisablehook = previous_hook

    return restore


def requested() -> bool:
    """Whether SIGINT or SIGTERM arrived since :func:`install`."""
    return _requested


def raise_if_requested() -> None:
    """Raise :class:`KeyboardInterrupt` if an interrupt arrived (one that a finaliser swallowed
    is raised here, at a point where the run can save its work)."""
    if _requested:
        raise KeyboardInterrupt("an interrupt arrived earlier")


@contextlib.contextmanager
def ignored() -> Iterator[None]:
    """SIGINT ignored for the duration (main thread only): processes started inside inherit it.
    An interrupt that arrives meanwhile is lost; keep the block short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def ignore() -> None:
    """Ignore SIGINT and SIGTERM from now on (main thread only): the work is over."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)


def forget_escaped_interrupt() -> None:
    """Let a process that handled a Ctrl-C exit with its own exit code.

    CPython sets a flag when code it evaluates from a string (``exec`` or ``eval`` of a
    string: dataclasses and namedtuples build their methods that way, so an import can be the
    place) ends with a KeyboardInterrupt, even one that is caught further up. Under
    ``python -m``, the interpreter checks that flag after the main module returned and then
    kills its own process with SIGINT instead of exiting with the code given to ``sys.exit``.
    ``strace`` of ``neurosig sweep run`` interrupted early showed the message printed, then the
    process sending SIGINT to itself, in about 1 case in 7. Every string evaluation clears the
    flag when it starts, so evaluating one that ends normally clears it.
    """
    exec("None", {})  # noqa: S102 - a constant string, for its side effect on the flag
