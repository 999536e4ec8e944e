"""Quiet by default: frameworks' start-up chatter hidden unless ``--verbose`` (or
``MNIST_EDGE_VERBOSE=1``).

TensorFlow prints oneDNN banners and CUDA probes through its C++ logger, LiteRT prints "Created
TensorFlow Lite XNNPACK delegate" straight to file descriptor 2 (no Python API turns it off),
Keras warns about numpy 2. None of it helps a user; all of it is one flag away.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

ENV_VERBOSE = "MNIST_EDGE_VERBOSE"


def verbose() -> bool:
    return os.environ.get(ENV_VERBOSE, "") not in ("", "0")


def configure(verbose_flag: bool = False) -> None:
    """Set the frameworks' log levels before any of them is imported."""
    if verbose_flag:
        os.environ[ENV_VERBOSE] = "1"
    if verbose():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++: errors only
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="keras")
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")
    warnings.filterwarnings("ignore", category=UserWarning, module="tensorflow")


@contextlib.contextmanager
def quiet_stderr(*, stdout: bool = False) -> Iterator[None]:
    """Silence file descriptor 2 (and 1 with ``stdout``: TFLite's quantizer prints its settings
    there) for a block, unless verbose. Python exceptions still carry their messages; only the
    native chatter is dropped."""
    if verbose():
        yield
        return
    fds = (1, 2) if stdout else (2,)
    saved: list[int] = []
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(fd) for fd in fds]
    except (OSError, ValueError, AttributeError):  # no real stdio (embedded, tests capturing)
        for fd in saved:
            os.close(fd)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            for fd in fds:
                os.dup2(devnull.fileno(), fd)
            try:
                yield
            finally:
                for fd, copy in zip(fds, saved):
                    os.dup2(copy, fd)
    finally:
        for copy in saved:
            os.close(copy)


def import_keras() -> Any:
    """Import TensorFlow and Keras with their start-up chatter (absl, oneDNN, CUDA probes, which
    TF_CPP_MIN_LOG_LEVEL does not reach) silenced unless verbose."""
    configure()
    with quiet_stderr():
        import keras
        import tensorflow  # noqa: F401 - imported here, under the silencer
    return keras


def load_keras_model(
    path: str | os.PathLike[str], hint: str = "pass the model.keras written by 'mnist-edge train'"
) -> Any:
    """Load a ``.keras`` file with a one-line error for a missing or corrupt file, ending in
    ``hint`` (what to pass instead)."""
    import zipfile
    from pathlib import Path

    from mnist_edge.core.errors import UserError
    from mnist_edge.core.fsutil import check_regular
    from mnist_edge.core.text import error_line

    path = Path(path)
    check_regular(path, "model file", hint=hint)
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path} is not a .keras file (not a zip archive); {hint}")
    keras = import_keras()
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # zipfile, h5py, JSON and Keras errors alike
        reason = error_line(exc, 160)
        raise UserError(f"cannot load model {path}: {reason}; {hint}") from None
