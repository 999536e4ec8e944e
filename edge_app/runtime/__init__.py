"""The runtime wrapper's package: the model interface (``model``), the TFLite and ONNX families
(``tflite_model``, ``onnx_model``, loaded lazily so a Pi needs only the one it has), what a file
describes about itself (``metadata``), the shipped files (``shipped``), and here the factory that
picks a family and runtime for a file. The families import ``model``, never this package's
factory, so no import circle forms.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import check_regular
from mnist_edge.core.registry import (
    EDGE_RUNTIMES,
    FAMILIES,
    RUNTIMES,
    Runtime,
    family_of,
    resolve,
)
from mnist_edge.core.text import error_line
from mnist_edge.edge_app.runtime.model import (
    IMAGE_SHAPE,
    INPUT_DTYPES,
    MAX_THREADS,
    MODEL_HINT,
    Model,
    ModelError,
    Outputs,
    Prediction,
    RuntimeMissing,
    TensorSpec,
    fixed_batches,
    read_model_file,
    rows,
)

__all__ = [
    "IMAGE_SHAPE",
    "INPUT_DTYPES",
    "MAX_THREADS",
    "MODEL_HINT",
    "Loader",
    "Model",
    "ModelError",
    "Outputs",
    "Prediction",
    "RuntimeMissing",
    "TensorSpec",
    "choose_runtime",
    "family_loaders",
    "fixed_batches",
    "installed_runtimes",
    "is_installed",
    "load_model",
    "read_model_file",
    "rows",
    "runtime_version",
]

# ----------------------------------------------------------------------------- loading


def _tflite(path: Path, runtime: Runtime, threads: int | None, wrapper: Any = None) -> Model:
    if runtime.interpreter is None:
        raise ModelError(f"runtime {runtime.name} names no TFLite interpreter")
    if wrapper is None:
        from mnist_edge.edge_app.runtime.tflite_model import TFLiteModel as wrapper
    return wrapper(path, resolve(runtime.interpreter), runtime.name, threads)  # type: ignore[no-any-return]


def _onnx(path: Path, runtime: Runtime, threads: int | None, wrapper: Any = None) -> Model:
    if wrapper is None:
        from mnist_edge.edge_app.runtime.onnx_model import OnnxModel as wrapper
    return wrapper(path, threads)  # type: ignore[no-any-return]


#: Makes a family's wrapper for a file on a runtime.
Loader = Callable[[Path, Runtime, int | None], Model]


def family_loaders(
    tflite: type[Model] | None = None, onnx: type[Model] | None = None
) -> dict[str, Loader]:
    """The wrapper class per family (formats and runtimes themselves live in the registry):
    these (a pen model's), else the digit model's, imported when a file of the family loads."""
    return {
        "tflite": functools.partial(_tflite, wrapper=tflite),
        "onnx": functools.partial(_onnx, wrapper=onnx),
    }


_LOADERS = family_loaders()


def is_installed(name: str) -> bool:
    module = RUNTIMES[name].module
    try:
        return (
            importlib.util.find_spec(module.split(".")[0]) is not None
            and importlib.util.find_spec(module) is not None
        )
    except (ImportError, ValueError):
        return False


def installed_runtimes() -> list[str]:
    """The slim runtimes installed here, in the order ``auto`` prefers them."""
    return [name for name in EDGE_RUNTIMES if is_installed(name)]


def runtime_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(RUNTIMES[name].distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def choose_runtime(family: str, runtime: str = "auto") -> str:
    """The runtime that will run a ``family`` model: the one asked for, or the first installed."""
    if runtime == "auto":
        for name in FAMILIES[family].runtimes:
            if is_installed(name):
                return name
        wanted = " or ".join(RUNTIMES[n].distribution for n in FAMILIES[family].runtimes)
        raise RuntimeMissing(
            f"no runtime for .{family} models is installed; "
            f"pip install {wanted} (or: pip install 'mnist-edge[edge]')"
        )
    if runtime not in EDGE_RUNTIMES:
        raise UserError(
            f"unknown runtime {runtime!r}; choose one of: auto, {', '.join(EDGE_RUNTIMES)}"
        )
    if RUNTIMES[runtime].family != family:
        fits = ", ".join(FAMILIES[family].runtimes)
        raise UserError(f"runtime {runtime} cannot run .{family} models; use {fits}")
    if not is_installed(runtime):
        raise RuntimeMissing(f"runtime {runtime} is not installed; {RUNTIMES[runtime].hint()}")
    return runtime


def load_model(
    path: str | Path,
    runtime: str = "auto",
    threads: int | None = None,
    *,
    check: bool = True,
    loaders: Mapping[str, Loader] | None = None,
    what: str = "model file",
    hint: str = MODEL_HINT,
) -> Model:
    """Load a .tflite or .onnx digit model on ``runtime`` (``auto``: the best installed).

    ``check`` runs one inference to prove the file works (see :meth:`Model.self_check`).
    ``loaders`` (the wrapper per family), ``what`` and ``hint`` serve another kind of model
    file on the same runtimes: the pen model's.
    """
    path = Path(path)
    family = family_of(str(path))
    if family is None:
        raise ModelError(f"{what} {path} is neither a .tflite nor an .onnx file; {hint}")
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise UserError(f"threads must be from 1 to {MAX_THREADS}, got {threads}")
    check_regular(path, what, ModelError, hint)
    name = choose_runtime(family, runtime)
    try:
        model = (loaders or _LOADERS)[family](path, RUNTIMES[name], threads)
    except ImportError as exc:  # installed but broken, e.g. a numpy ABI mismatch
        raise RuntimeMissing(
            f"runtime {name} failed to import ({error_line(exc)}); "
            f"reinstall {RUNTIMES[name].distribution}"
        ) from None
    if check:
        model.self_check()
    return model
