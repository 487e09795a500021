"""Ctrl-C and SIGTERM stop a grid within seconds, at any grid size.

Ray Tune's own SIGINT handling waits for the running trials to reach their next report
(a trial function cannot be interrupted between two reports) and then up to 10 s more per
trial before it kills them. A grid keeps its own record of finished trials (the ledger,
written as each trial ends), so it does not need that: a signal raises
:class:`GridStopped` (a BaseException, which Tune's ``except Exception`` lets through);
``run_sweep`` then writes the results table and shuts Ray down, which ends the running
trials. They were not finished: a rerun runs them again, from their last checkpoint.

While Ray Tune's loop runs, the main thread is mostly inside Ray's compiled code, where an
exception raised by a signal handler corrupts the call (Python's SystemError "returned a
result with an exception set"). There the handler only records the signal, and
:func:`check`, called by the grid's Tune callback at every step of the loop (every 0.1 s
at most), raises it from plain Python.
"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + signal number, as shells do


class GridStopped(BaseException):
    """A signal asked the grid to stop; ``exit_code`` is 130 (SIGINT) or 143 (SIGTERM)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = EXIT_CODES.get(signum, 128 + signum)
        super().__init__(f"stopped by {self.name}")


class _State:
    received: int | None = None   # the first signal received
    deferred: bool = False         # inside Ray Tune's loop: record, raise at the next check


_state = _State()


def _handler(signum: int, frame: object) -> None:
    if _state.received is None:
        _state.received = signum
    if not _state.deferred:
        raise GridStopped(_state.received)


def check() -> None:
    """Raise GridStopped if a signal arrived (call it from plain Python code)."""
    if _state.received is not None:
        raise GridStopped(_state.received)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM stop the grid (see the module docstring).

    Enter it before ``ray.init`` and run ``ray.init`` inside :func:`deferred`: it forks
    Ray's processes, and a KeyboardInterrupt raised in one of Python's at-fork callbacks
    is printed and swallowed ("Exception ignored in ... _releaseLock"), so a Ctrl-C in the
    first seconds of a grid was lost (measured: the grid went on). ``ray.init`` also
    installs a SIGTERM handler of its own: call :func:`reinstall` after it. Tune's SIGINT
    handler is disabled (TUNE_DISABLE_SIGINT_HANDLER) so it cannot replace ours; the
    previous handlers come back at the end. Outside the main thread (where Python cannot
    install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    before = {s: signal.getsignal(s) for s in EXIT_CODES}
    _state.received = None
    reinstall()
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def reinstall() -> None:
    """Put the grid's handlers (back) in place, e.g. after ``ray.init`` replaced one."""
    if threading.current_thread() is threading.main_thread():
        for s in EXIT_CODES:
            signal.signal(s, _handler)


@contextmanager
def deferred() -> Iterator[None]:
    """Around Ray Tune's loop: a signal is only recorded; ``check()`` raises it."""
    _state.deferred = True
    try:
        yield
    finally:
        _state.deferred = False
    check()
