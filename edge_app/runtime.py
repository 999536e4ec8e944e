"""One small interface over the slim runtimes: LiteRT, tflite-runtime and onnxruntime.

A wrapper loads a model file, reads its input/output dtype, shape and quantization (scale,
zero point) from the model itself, and turns raw uint8 digits [N, 28, 28] into probabilities.
Nothing about a model is a constant here: integer models are fed and read with the parameters
they carry. ``bind``/``invoke``/``read`` are separate so the benchmark can time the invoke alone.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_app.modelinfo import onnx_description, tflite_description
from mnist_edge.errors import UserError
from mnist_edge.formats import RUNTIMES_BY_FAMILY, family_of

IMAGE_SHAPE = (28, 28)
DEFAULT_LABELS = tuple(str(d) for d in range(10))


class ModelError(UserError):
    """A model file that is missing, unreadable, or not an mnist-edge digit model."""


class RuntimeMissing(UserError):
    """The runtime asked for is not installed."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]  # -1 where the dimension is dynamic
    dtype: np.dtype
    scale: float = 0.0  # 0 means not quantized
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.scale > 0


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: np.ndarray = field(repr=False)  # float32 [10]

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        order = np.argsort(-self.probabilities)[:k]
        return [(int(i), float(self.probabilities[i])) for i in order]


class Model(ABC):
    """A loaded model on one runtime."""

    runtime: str = ""

    def __init__(self, path: Path, content: bytes) -> None:
        self.path = path
        self.bytes = len(content)
        self.input: TensorSpec
        self.output: TensorSpec
        self.description: dict[str, Any] | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        labels = (self.description or {}).get("labels")
        return tuple(labels) if isinstance(labels, list) and len(labels) == 10 else DEFAULT_LABELS

    def _check_signature(self) -> None:
        shape = self.input.shape
        spatial = shape[1:] if len(shape) == 4 else (*shape[1:], 1) if len(shape) == 3 else ()
        if spatial != (28, 28, 1) or self.output.shape[-1:] != (10,):
            raise ModelError(f"{self.path} takes input {list(shape)} and returns "
                             f"{list(self.output.shape)}; mnist-edge models take [N, 28, 28, 1] "
                             "digits and return 10 probabilities")

    def to_input(self, images: np.ndarray) -> np.ndarray:
        """Raw uint8 digits [N, 28, 28] -> the input tensor this model wants."""
        x = np.asarray(images, dtype=np.uint8).reshape((-1, *IMAGE_SHAPE))
        x = x.reshape((len(x), *self.input.shape[1:])) if len(self.input.shape) > 1 else x
        spec = self.input
        if spec.quantized:
            info = np.iinfo(spec.dtype)
            q = np.round(x.astype(np.float32) / spec.scale + spec.zero_point)
            return np.clip(q, info.min, info.max).astype(spec.dtype)
        return x.astype(spec.dtype, copy=False)

    def from_output(self, raw: np.ndarray) -> np.ndarray:
        spec = self.output
        out = raw.astype(np.float32)
        if spec.quantized:
            out = (out - spec.zero_point) * spec.scale
        return out.reshape(len(out), -1)

    @abstractmethod
    def bind(self, images: np.ndarray) -> None:
        """Place a batch of raw uint8 digits [N, 28, 28] into the model's input."""

    @abstractmethod
    def invoke(self) -> None:
        """Run the bound batch."""

    @abstractmethod
    def read(self) -> np.ndarray:
        """Probabilities float32 [N, 10] of the last invoke."""

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim == 2:
            images = images[None]
        self.bind(images)
        self.invoke()
        return self.read()

    def predict(self, images: np.ndarray) -> list[Prediction]:
        probs = self.predict_proba(images)
        return [Prediction(int(p.argmax()), float(p.max()), p) for p in probs]

    def predict_one(self, image: np.ndarray) -> Prediction:
        return self.predict(np.asarray(image)[None])[0]


def _read_model_file(path: Path) -> bytes:
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"model file {path} not found; pass --model PATH to a .tflite or "
                         ".onnx file exported by 'mnist-edge export'") from None
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    if not content:
        raise ModelError(f"model file {path} is empty; export it again")
    return content


class TFLiteModel(Model):
    def __init__(self, path: Path, interpreter_class: Any, runtime: str,
                 threads: int | None = None) -> None:
        content = _read_model_file(path)
        super().__init__(path, content)
        self.runtime = runtime
        try:
            self._interpreter = interpreter_class(model_content=content, num_threads=threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            text = " ".join(str(exc).split())
            if "Didn't find op" in text:
                detail = text.split("Didn't find op", 1)[1].split(".")[0]
                raise ModelError(f"{path} needs an operator this {runtime} version lacks "
                                 f"(op{detail}); use ai-edge-litert or another format of the "
                                 "model") from None
            raise ModelError(f"{path} is not a valid TFLite model ({_first_line(exc)}); "
                             "it may be truncated or corrupt: export it again") from None
        self.input = self._spec(self._interpreter.get_input_details()[0])
        self.output = self._spec(self._interpreter.get_output_details()[0])
        self._input_index = self._interpreter.get_input_details()[0]["index"]
        self._output_index = self._interpreter.get_output_details()[0]["index"]
        self._batch = int(self._interpreter.get_input_details()[0]["shape"][0])
        self._dynamic_batch = self.input.shape[0] == -1
        self.description = tflite_description(content)
        self._check_signature()

    @staticmethod
    def _spec(detail: dict[str, Any]) -> TensorSpec:
        scale, zero_point = detail.get("quantization", (0.0, 0))
        signature = detail.get("shape_signature")
        shape = signature if signature is not None and len(signature) else detail["shape"]
        return TensorSpec(detail["name"], tuple(int(d) for d in shape), np.dtype(detail["dtype"]),
                          float(scale), int(zero_point))

    def bind(self, images: np.ndarray) -> None:
        x = self.to_input(images)
        if len(x) != self._batch:
            if not self._dynamic_batch:
                raise ModelError(f"{self.path} has a fixed batch of {self._batch}; "
                                 f"cannot run {len(x)} images at once")
            self._interpreter.resize_tensor_input(self._input_index, x.shape, strict=True)
            self._interpreter.allocate_tensors()
            self._batch = len(x)
        self._interpreter.set_tensor(self._input_index, x)

    def invoke(self) -> None:
        self._interpreter.invoke()

    def read(self) -> np.ndarray:
        return self.from_output(self._interpreter.get_tensor(self._output_index))


_ORT_TYPES = {"tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(float)": np.float32,
              "tensor(float16)": np.float16}


class OnnxModel(Model):
    runtime = "onnxruntime"

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        content = _read_model_file(path)
        super().__init__(path, content)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(content, options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph classes
            raise ModelError(f"{path} is not a valid ONNX model ({_first_line(exc)}); "
                             "it may be truncated or corrupt: export it again") from None
        inp, out = self._session.get_inputs()[0], self._session.get_outputs()[0]
        self.input = TensorSpec(inp.name, _dims(inp.shape), np.dtype(_ORT_TYPES.get(inp.type,
                                                                                    np.float32)))
        self.output = TensorSpec(out.name, _dims(out.shape), np.dtype(np.float32))
        self._output_name = out.name
        self.description = onnx_description(self._session.get_modelmeta().custom_metadata_map)
        self._check_signature()
        self._feed: dict[str, np.ndarray] = {}
        self._result: np.ndarray | None = None

    def bind(self, images: np.ndarray) -> None:
        self._feed = {self.input.name: self.to_input(images)}

    def invoke(self) -> None:
        self._result = self._session.run([self._output_name], self._feed)[0]

    def read(self) -> np.ndarray:
        if self._result is None:
            raise RuntimeError("read() before invoke()")
        return self.from_output(self._result)


def _dims(shape: list[Any]) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else -1 for d in shape)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:200]


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class RuntimeInfo:
    name: str
    family: str  # which model files it runs
    module: str  # importing it proves the runtime is installed
    distribution: str  # pip name, for versions and install hints
    load: Callable[[Path, int | None], Model]


def _litert(path: Path, threads: int | None) -> Model:
    from ai_edge_litert.interpreter import Interpreter

    return TFLiteModel(path, Interpreter, "litert", threads)


def _tflite_runtime(path: Path, threads: int | None) -> Model:
    from tflite_runtime.interpreter import Interpreter

    return TFLiteModel(path, Interpreter, "tflite-runtime", threads)


def _onnxruntime(path: Path, threads: int | None) -> Model:
    return OnnxModel(path, threads)


RUNTIMES: dict[str, RuntimeInfo] = {
    r.name: r
    for r in (
        RuntimeInfo("litert", "tflite", "ai_edge_litert.interpreter", "ai-edge-litert", _litert),
        RuntimeInfo("tflite-runtime", "tflite", "tflite_runtime.interpreter", "tflite-runtime",
                    _tflite_runtime),
        RuntimeInfo("onnxruntime", "onnx", "onnxruntime", "onnxruntime", _onnxruntime),
    )
}


def is_installed(name: str) -> bool:
    module = RUNTIMES[name].module
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None and \
            importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def installed_runtimes() -> list[str]:
    return [name for name in RUNTIMES if is_installed(name)]


def runtime_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(RUNTIMES[name].distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def choose_runtime(family: str, runtime: str = "auto") -> str:
    """The runtime that will run a ``family`` model: the one asked for, or the first installed."""
    if runtime == "auto":
        for name in RUNTIMES_BY_FAMILY[family]:
            if is_installed(name):
                return name
        wanted = " or ".join(RUNTIMES[n].distribution for n in RUNTIMES_BY_FAMILY[family])
        raise RuntimeMissing(f"no runtime for .{family} models is installed; "
                             f"pip install {wanted} (or: pip install 'mnist-edge[edge]')")
    if runtime not in RUNTIMES:
        raise UserError(f"unknown runtime {runtime!r}; choose one of: auto, {', '.join(RUNTIMES)}")
    if RUNTIMES[runtime].family != family:
        fits = ", ".join(RUNTIMES_BY_FAMILY[family])
        raise UserError(f"runtime {runtime} cannot run .{family} models; use {fits}")
    if not is_installed(runtime):
        raise RuntimeMissing(f"runtime {runtime} is not installed; "
                             f"pip install {RUNTIMES[runtime].distribution}")
    return runtime


def load_model(path: str | Path, runtime: str = "auto", threads: int | None = None) -> Model:
    """Load a .tflite or .onnx digit model on ``runtime`` (``auto``: the best installed)."""
    path = Path(path)
    family = family_of(str(path))
    if family is None:
        raise ModelError(f"{path} is neither a .tflite nor an .onnx file")
    if not path.is_file():
        raise ModelError(f"model file {path} not found; pass --model PATH to a .tflite or "
                         ".onnx file exported by 'mnist-edge export'")
    name = choose_runtime(family, runtime)
    try:
        return RUNTIMES[name].load(path, threads)
    except ImportError as exc:  # installed but broken, e.g. a numpy ABI mismatch
        raise RuntimeMissing(f"runtime {name} failed to import ({_first_line(exc)}); "
                             f"reinstall {RUNTIMES[name].distribution}") from None
