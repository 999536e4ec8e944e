"""User-facing errors: one clear line, exit status 2, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix (bad flag, missing file, corrupt data).

    The CLI prints ``str(error)`` as a single line prefixed with ``mnist-edge:`` and exits with
    :attr:`exit_code`. Messages say what is wrong and what to do about it.
    """

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
