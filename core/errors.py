"""User-facing errors (one clear line, exit status 2, never a traceback) and stops (SIGTERM as
an exception a job cleans up after)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any


class UserError(Exception):
    """A mistake the user can fix (bad flag, missing file, corrupt data).

    The CLI prints ``str(error)`` as a single line prefixed with ``mnist-edge:`` and exits with
    :attr:`exit_code`. Messages say what is wrong and what to do about it.
    """

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class Stopped(BaseException):
    """SIGTERM arrived while a job that cleans up after itself ran (:func:`sigterm_stops`).

    A BaseException, as KeyboardInterrupt is: no ``except Exception`` swallows it, every
    ``finally`` and context manager on the way out runs (output locks, temporary files, worker
    processes), and the CLI ends with the one line "stopped by SIGTERM", exit 143."""

    exit_code = 128 + signal.SIGTERM


@contextlib.contextmanager
def sigterm_stops() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Stopped` instead of killing the process
    outright. Only for jobs whose main thread returns to Python often (waiting on worker
    processes, reading files): a handler cannot run while the thread is inside one long call
    into a native library, where the default kill is the better stop."""

    def handler(_signum: int, _frame: Any) -> None:
        raise Stopped

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
