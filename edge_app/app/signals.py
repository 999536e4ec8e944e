"""SIGTERM (systemd's stop, ``timeout``) as a request to finish, not a kill: the app ends its
loop, files what it holds and exits; a replay stops after the current sample and says so."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any


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
