"""Ctrl-C during training that is never lost.

Python's default handler raises ``KeyboardInterrupt`` wherever the main thread happens to be.
During ``fit`` that is often inside a finalizer or a weakref callback of a TensorFlow object,
where the exception is printed as "Exception ignored" and swallowed: training then runs on to
the end as if nothing happened (the likely cause of one CI run that trained all its epochs
after SIGINT). Here the handler only sets a flag, and a Keras callback raises
``KeyboardInterrupt`` at the next batch, in ordinary code. A second Ctrl-C falls back to
Python's own handler, so an impatient user is never stuck.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class InterruptAtBatch:
    def __init__(self) -> None:
        self.requested = False
        self.callback = self._make_callback()

    def _handler(self, signum: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: at once

    def _make_callback(self) -> Any:
        import keras

        owner = self

        class _Check(keras.callbacks.Callback):
            def _check(self, *_: Any, **__: Any) -> None:
                if owner.requested:
                    raise KeyboardInterrupt

            on_train_batch_end = on_test_batch_end = on_epoch_end = _check

        return _Check()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The flag-setting handler for the block (main thread only: elsewhere Python lets no
        code install one, and the default handler stays)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self._handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
