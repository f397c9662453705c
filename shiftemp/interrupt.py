"""Ctrl-C that Python dropped.

Python's own SIGINT handler raises ``KeyboardInterrupt`` wherever the main thread happens to be.
Where that is a weakref callback or a ``__del__`` (an import's module-lock callback is one), Python
prints "Exception ignored in ..." and carries on: the run would finish, write its report and exit
0 after the user pressed Ctrl-C, with a traceback on stderr. The handler installed here raises the
same exception but also remembers the interrupt, and :func:`check` raises it again at the points
that must not be passed after one: at every batch of a streaming pass (a long run stops there),
before an output file is put in place, before a report is written, before exit. The dropped
exception itself is not printed: it is not lost any more.

SIGTERM (``kill``, a CI job's ``timeout``) is handled the same way, as :class:`Terminated`: the
run unwinds, removes what it had started, prints ``shiftemp: terminated`` and exits 143.
"""

from __future__ import annotations

import signal
import sys
import threading

_seen = threading.Event()
_terminated = threading.Event()


class Terminated(KeyboardInterrupt):
    """SIGTERM: the run stopped from outside (``kill``, a CI job's ``timeout``). A
    ``KeyboardInterrupt``, so that it unwinds as Ctrl-C does: temporary files removed, a Dask
    cluster closed; Python's own reaction to SIGTERM is to die on the spot."""


def _on_sigint(signum, frame) -> None:
    _seen.set()
    raise KeyboardInterrupt


def _on_sigterm(signum, frame) -> None:
    _seen.set()
    _terminated.set()
    raise Terminated


def terminated() -> bool:
    """Whether the interrupt was a SIGTERM."""
    return _terminated.is_set()


def _unraisable(info, default=sys.unraisablehook) -> None:
    if _seen.is_set():
        # the interrupt itself is remembered (check() raises it again where it cannot be
        # dropped); anything else is the teardown it cut short (a Dask cluster half started,
        # closed by distributed's atexit hook), not news to a user who pressed Ctrl-C
        return
    default(info)


def install() -> None:
    """Remember every SIGINT from now on; call from the main thread (``signal`` requires it)."""
    signal.signal(signal.SIGINT, _on_sigint)
    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.unraisablehook = _unraisable


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a SIGINT has arrived, whether or not it was dropped."""
    if _seen.is_set():
        raise Terminated if _terminated.is_set() else KeyboardInterrupt
