"""SIGTERM (systemd's stop, ``timeout``, a CI limit) as a request to finish, not a kill.

``draw`` ends its loop and files what it holds; a replay stops after its sample; ``bench``
raises :class:`Stopped` so that its worker, its output folder's lock and its temporary files go
with it. Elsewhere SIGTERM keeps its default: a handler cannot run while the main thread is
inside one long call into a native library (a TensorFlow step), and a kill is the better stop
there.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any


class Stopped(BaseException):
    """SIGTERM arrived inside :func:`sigterm_stops`. A BaseException, as KeyboardInterrupt is:
    no ``except Exception`` swallows it, every ``finally`` on the way out runs, and the CLI
    ends with the one line "stopped by SIGTERM", exit 143."""

    exit_code = 128 + signal.SIGTERM


@contextlib.contextmanager
def stop_on_sigterm(stop: Callable[[int], None]) -> Iterator[None]:
    """Call ``stop(signum)`` on SIGTERM while the block runs; the previous handler after."""

    def handler(signum: int, _frame: Any) -> None:
        stop(signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_stopped(_signum: int) -> None:
    raise Stopped


def sigterm_stops() -> contextlib.AbstractContextManager[None]:
    """While the block runs, SIGTERM raises :class:`Stopped` instead of killing the process.
    Only for jobs whose main thread returns to Python often (waiting on workers, reading)."""
    return stop_on_sigterm(_raise_stopped)
