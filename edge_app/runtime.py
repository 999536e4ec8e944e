"""One small interface over the slim runtimes: LiteRT, tflite-runtime and onnxruntime.

A wrapper loads a model file, reads its inputs' and outputs' dtype, shape and quantization
(scale, zero point) from the model itself, and turns raw uint8 digits [N, 28, 28] into typed
results: probabilities and, where the model has one, the embedding the classifier reads.
Nothing about a model is a constant here: integer models are fed and read with the parameters
they carry, outputs are found by their names. ``bind``/``invoke``/``read`` are separate so the
benchmark can time the invoke alone. Every model is checked once at load (one inference on a
blank and on a drawn digit) so a file that loads but cannot infer is refused with one line.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.calibration_record import Calibration
from mnist_edge.core.contract import EMBEDDING, INPUT_SHAPE, LABELS, NUM_CLASSES, PROBABILITIES
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import check_regular, read_capped
from mnist_edge.core.quiet import quiet_stderr
from mnist_edge.core.registry import (
    EDGE_RUNTIMES,
    FAMILIES,
    RUNTIMES,
    Runtime,
    family_of,
    resolve,
)
from mnist_edge.edge_app.modelinfo import onnx_description, tflite_description

IMAGE_SHAPE = INPUT_SHAPE[:2]
#: Input element types a digit model may take (raw pixels, or quantized/float versions of them).
INPUT_DTYPES = (np.uint8, np.int8, np.float32, np.float16)
MAX_THREADS = 64  # more threads than any Pi-class CPU has cores only costs memory


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

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        out = raw.astype(np.float32)
        if self.quantized:
            out = (out - self.zero_point) * self.scale
        return out.reshape(len(out), -1)


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: np.ndarray = field(repr=False)  # float32 [10]
    embedding: np.ndarray | None = field(default=None, repr=False)  # float32 [D]

    def top(self, k: int = 3) -> list[tuple[int, float]]:
        order = np.argsort(-self.probabilities)[:k]
        return [(int(i), float(self.probabilities[i])) for i in order]


@dataclass(frozen=True)
class Outputs:
    """What one batch returns: probabilities [N, 10] and, if the model has one, embeddings."""

    probabilities: np.ndarray
    embedding: np.ndarray | None = None

    def predictions(self) -> list[Prediction]:
        emb = self.embedding
        return [
            Prediction(int(p.argmax()), float(p.max()), p, None if emb is None else emb[i])
            for i, p in enumerate(self.probabilities)
        ]


class Model(ABC):
    """A loaded model on one runtime."""

    runtime: str = ""

    def __init__(self, path: Path, content: bytes) -> None:
        self.path = path
        self.bytes = len(content)
        self.input: TensorSpec
        self.output: TensorSpec  # the probabilities
        self.embedding: TensorSpec | None = None
        self.description: dict[str, Any] | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        labels = (self.description or {}).get("labels")
        ok = (
            isinstance(labels, list)
            and len(labels) == NUM_CLASSES
            and all(isinstance(x, str) and 0 < len(x) <= 8 for x in labels)
        )
        return tuple(labels) if ok else LABELS  # type: ignore[arg-type]

    @property
    def threshold(self) -> float | None:
        """The "not sure" threshold the model was calibrated for (its metadata), if any."""
        return self.threshold_for(1)

    def threshold_for(self, tta: int) -> float | None:
        """The calibrated threshold for readings averaged over ``tta`` variants; a model
        calibrated only for plain reading gives its plain threshold (the best it knows)."""
        calibration = self.calibration
        return None if calibration is None else calibration.threshold_for(tta)

    def calibrated_tta_threshold(self, tta: int) -> float | None:
        """The threshold training chose for exactly ``tta`` averaged variants, if any."""
        own = self.calibration.tta.get(tta) if self.calibration is not None else None
        return None if own is None else own.threshold

    @property
    def calibration(self) -> Calibration | None:
        """The calibration record in the model's metadata (checked: a model is user input)."""
        return Calibration.from_json((self.description or {}).get("calibration"))

    @property
    def has_embedding(self) -> bool:
        return self.embedding is not None

    def _check_signature(self) -> None:
        shape = self.input.shape
        spatial = shape[1:] if len(shape) == 4 else (*shape[1:], 1) if len(shape) == 3 else ()
        if spatial != INPUT_SHAPE or self.output.shape[-1:] != (NUM_CLASSES,):
            raise ModelError(
                f"{self.path} takes input {list(shape)} and returns "
                f"{list(self.output.shape)}; mnist-edge models take [N, 28, 28, 1] "
                "digits and return 10 probabilities"
            )
        if self.input.dtype not in [np.dtype(t) for t in INPUT_DTYPES]:
            raise ModelError(
                f"{self.path} takes {self.input.dtype} input; mnist-edge models "
                "take uint8 pixels (or int8/float versions of them)"
            )

    def self_check(self) -> None:
        """One inference on a blank and on a drawn digit: finite probabilities summing to ~1."""
        blank = np.zeros((1, *IMAGE_SHAPE), np.uint8)
        bar = blank.copy()
        bar[0, 4:24, 13:16] = 255  # a one
        for name, image in (("a blank", blank), ("a drawn", bar)):
            try:
                out = self.run(image)
            except UserError:
                raise
            except Exception as exc:  # runtimes raise their own classes (XNNPACK prepare, ...)
                raise ModelError(
                    f"{self.path} loads but fails to run on {self.runtime} "
                    f"({_first_line(exc)}); export it again or use another "
                    "format"
                ) from None
            p = out.probabilities
            if (
                p.shape != (1, NUM_CLASSES)
                or not np.all(np.isfinite(p))
                or abs(float(p.sum()) - 1.0) > 0.05
                or p.min() < -1e-3
            ):
                raise ModelError(
                    f"{self.path} returns no valid probabilities for {name} digit "
                    f"(sum {float(np.nansum(p)):.3g}, finite "
                    f"{bool(np.all(np.isfinite(p)))}); the file is broken: export "
                    "it again"
                )
            if out.embedding is not None and not np.all(np.isfinite(out.embedding)):
                raise ModelError(f"{self.path} returns a non-finite embedding; export it again")

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

    @abstractmethod
    def bind(self, images: np.ndarray) -> None:
        """Place a batch of raw uint8 digits [N, 28, 28] into the model's input."""

    @abstractmethod
    def invoke(self) -> None:
        """Run the bound batch."""

    @abstractmethod
    def read_outputs(self) -> Outputs:
        """The outputs of the last invoke."""

    def read(self) -> np.ndarray:
        """Probabilities float32 [N, 10] of the last invoke."""
        return self.read_outputs().probabilities

    def run(self, images: np.ndarray) -> Outputs:
        images = np.asarray(images)
        if images.ndim == 2:
            images = images[None]
        self.bind(images)
        self.invoke()
        return self.read_outputs()

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        self.bind(images[None] if images.ndim == 2 else images)
        self.invoke()
        return self.read()

    def predict_proba_batched(self, images: np.ndarray, batch: int = 500) -> np.ndarray:
        """Probabilities for any number of digits, ``batch`` at a time (bounded memory)."""
        if len(images) == 0:
            return np.zeros((0, NUM_CLASSES), np.float32)
        return np.concatenate(
            [self.predict_proba(images[i : i + batch]) for i in range(0, len(images), batch)]
        )

    def predict(self, images: np.ndarray) -> list[Prediction]:
        return self.run(images).predictions()

    def predict_one(self, image: np.ndarray) -> Prediction:
        return self.predict(np.asarray(image)[None])[0]


def _fixed_batches(x: np.ndarray, batch: int) -> list[np.ndarray]:
    """``x`` cut into inputs of exactly ``batch`` rows, the last padded with blanks: how a model
    exported with a fixed batch reads any number of digits (the padded rows are dropped)."""
    parts = []
    for i in range(0, len(x), batch):
        part = x[i : i + batch]
        if len(part) < batch:
            pad = np.zeros((batch - len(part), *part.shape[1:]), part.dtype)
            part = np.concatenate([part, pad])
        parts.append(part)
    return parts


MODEL_HINT = "pass --model PATH to a .tflite or .onnx file exported by 'mnist-edge export'"


def _read_model_file(path: Path, limit: int = 64 << 20) -> bytes:
    content = read_capped(path, limit, "model file", ModelError, MODEL_HINT)  # ~100s of KB
    if not content:
        raise ModelError(f"model file {path} is empty; export it again")
    return content


class TFLiteModel(Model):
    def __init__(
        self, path: Path, interpreter_class: Any, runtime: str, threads: int | None = None
    ) -> None:
        content = _read_model_file(path)
        super().__init__(path, content)
        self.runtime = runtime
        try:
            with quiet_stderr():  # LiteRT announces its XNNPACK delegate on fd 2
                self._interpreter = interpreter_class(model_content=content, num_threads=threads)
                self._interpreter.allocate_tensors()
            inputs, outputs = self._named_tensors()
        except (ValueError, RuntimeError) as exc:
            text = " ".join(str(exc).split())
            if "Didn't find op" in text:
                detail = text.split("Didn't find op", 1)[1].split(".")[0]
                raise ModelError(
                    f"{path} needs an operator this {runtime} version lacks "
                    f"(op{detail}); use ai-edge-litert or another format of the "
                    "model"
                ) from None
            raise ModelError(
                f"{path} is not a valid TFLite model ({_first_line(exc)}); "
                "it may be truncated or corrupt: export it again"
            ) from None
        if len(inputs) != 1 or not outputs:
            raise ModelError(
                f"{path} has {len(inputs)} inputs and {len(outputs)} outputs; "
                "mnist-edge models take one image input"
            )
        ((self._input_index, self.input),) = inputs.values()
        self._output_index, self.output = outputs.get(PROBABILITIES) or next(iter(outputs.values()))
        self._embedding_index, self.embedding = outputs.get(EMBEDDING, (-1, None))
        self._batch = int(self._interpreter.get_input_details()[0]["shape"][0])
        self._dynamic_batch = self.input.shape[0] == -1
        # A fixed-batch model given another number of digits: the rows bound, and what the
        # per-batch invokes returned (None: the interpreter's own tensors hold the result).
        self._pending: np.ndarray | None = None
        self._chunked: tuple[np.ndarray, np.ndarray | None] | None = None
        self.description = tflite_description(content)
        self._check_signature()

    def _named_tensors(
        self,
    ) -> tuple[dict[str, tuple[int, TensorSpec]], dict[str, tuple[int, TensorSpec]]]:
        """Inputs and outputs by signature name; models without a signature by tensor name."""
        it = self._interpreter
        signatures = it.get_signature_list() if hasattr(it, "get_signature_list") else {}
        if len(signatures) == 1:
            runner = it.get_signature_runner(next(iter(signatures)))
            ins, outs = runner.get_input_details(), runner.get_output_details()
        else:
            ins = {d["name"]: d for d in it.get_input_details()}
            outs = {d["name"]: d for d in it.get_output_details()}
        # Signature details lack shape_signature: take it from the interpreter's own tensors.
        by_index = {d["index"]: d for d in [*it.get_input_details(), *it.get_output_details()]}
        return (
            {n: (d["index"], self._spec(n, by_index.get(d["index"], d))) for n, d in ins.items()},
            {n: (d["index"], self._spec(n, by_index.get(d["index"], d))) for n, d in outs.items()},
        )

    @staticmethod
    def _spec(name: str, detail: dict[str, Any]) -> TensorSpec:
        scale, zero_point = detail.get("quantization", (0.0, 0))
        signature = detail.get("shape_signature")
        shape = signature if signature is not None and len(signature) else detail["shape"]
        return TensorSpec(
            name,
            tuple(int(d) for d in shape),
            np.dtype(detail["dtype"]),
            float(scale),
            int(zero_point),
        )

    def bind(self, images: np.ndarray) -> None:
        x = self.to_input(images)
        self._pending = self._chunked = None
        if len(x) != self._batch:
            if not self._dynamic_batch:  # a fixed-batch export: invoked once per batch
                self._pending = x
                return
            self._interpreter.resize_tensor_input(self._input_index, x.shape, strict=True)
            self._interpreter.allocate_tensors()
            self._batch = len(x)
        self._interpreter.set_tensor(self._input_index, x)

    def invoke(self) -> None:
        if self._pending is None:
            self._interpreter.invoke()
            return
        it, n = self._interpreter, len(self._pending)
        probs, embs = [], []
        for part in _fixed_batches(self._pending, self._batch):
            it.set_tensor(self._input_index, part)
            it.invoke()
            probs.append(it.get_tensor(self._output_index).copy())
            if self.embedding is not None:
                embs.append(it.get_tensor(self._embedding_index).copy())
        self._chunked = (
            _rows(probs, n, self.output.shape),
            _rows(embs, n, self.embedding.shape) if self.embedding is not None else None,
        )

    def _raw(self) -> tuple[np.ndarray, np.ndarray | None]:
        if self._chunked is not None:
            return self._chunked
        get = self._interpreter.get_tensor
        return get(self._output_index), (
            None if self.embedding is None else get(self._embedding_index)
        )

    def read(self) -> np.ndarray:
        """Probabilities only: the timed path never copies the embedding it does not use."""
        chunked = self._chunked
        raw = (
            chunked[0] if chunked is not None else self._interpreter.get_tensor(self._output_index)
        )
        return self.output.dequantize(raw)

    def read_outputs(self) -> Outputs:
        probs, emb = self._raw()
        return Outputs(
            self.output.dequantize(probs),
            None if emb is None or self.embedding is None else self.embedding.dequantize(emb),
        )


def _rows(parts: list[np.ndarray], n: int, shape: tuple[int, ...]) -> np.ndarray:
    """The first ``n`` rows of per-batch outputs (padding dropped); empty in the right shape."""
    if not parts:
        return np.zeros((0, *[max(d, 1) for d in shape[1:]]), np.float32)
    return np.concatenate(parts)[:n]


_ORT_TYPES = {
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
}


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
            self._session = ort.InferenceSession(
                content, options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph classes
            raise ModelError(
                f"{path} is not a valid ONNX model ({_first_line(exc)}); "
                "it may be truncated or corrupt: export it again"
            ) from None
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise ModelError(
                f"{path} has {len(inputs)} inputs and {len(outputs)} outputs; "
                "mnist-edge models take one image input"
            )
        inp = inputs[0]
        if inp.type not in _ORT_TYPES:
            raise ModelError(
                f"{path} takes {inp.type} input; mnist-edge models take uint8 "
                "pixels (or int8/float versions of them)"
            )
        self.input = TensorSpec(inp.name, _dims(inp.shape), np.dtype(_ORT_TYPES[inp.type]))
        named = {o.name: o for o in outputs}
        out = named.get(PROBABILITIES, outputs[0])
        self.output = TensorSpec(out.name, _dims(out.shape), np.dtype(np.float32))
        emb = named.get(EMBEDDING)
        self.embedding = (
            None if emb is None else TensorSpec(emb.name, _dims(emb.shape), np.dtype(np.float32))
        )
        self._names = [out.name] + ([emb.name] if emb is not None else [])
        self.description = onnx_description(self._session.get_modelmeta().custom_metadata_map)
        self._check_signature()
        # A batch fixed in the graph (e.g. exported for batch 1) is fed that many rows per run,
        # as TFLite fixed-batch models are: TTA and --multi read several digits at once.
        first = self.input.shape[0] if self.input.shape else -1
        self._fixed_batch = first if first > 0 else None
        self._feed: dict[str, np.ndarray] = {}
        self._result: list[np.ndarray] | None = None

    def bind(self, images: np.ndarray) -> None:
        self._feed = {self.input.name: self.to_input(images)}

    def invoke(self) -> None:
        x = self._feed.get(self.input.name)
        batch = self._fixed_batch
        if batch is None or x is None or len(x) == batch:
            self._result = self._session.run(self._names, self._feed)
            return
        runs = [
            self._session.run(self._names, {self.input.name: part})
            for part in _fixed_batches(x, batch)
        ]
        shapes = [self.output.shape] + ([self.embedding.shape] if self.embedding else [])
        self._result = [
            _rows([np.asarray(r[k]) for r in runs], len(x), shapes[k])
            for k in range(len(self._names))
        ]

    def read(self) -> np.ndarray:
        if self._result is None:
            raise RuntimeError("read() before invoke()")
        return self.output.dequantize(np.asarray(self._result[0]))

    def read_outputs(self) -> Outputs:
        if self._result is None:
            raise RuntimeError("read() before invoke()")
        probs = self.output.dequantize(np.asarray(self._result[0]))
        emb = (
            None
            if self.embedding is None
            else self.embedding.dequantize(np.asarray(self._result[1]))
        )
        return Outputs(probs, emb)


def _dims(shape: list[Any]) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else -1 for d in shape)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:200]


# ----------------------------------------------------------------------------- loading


def _tflite(path: Path, runtime: Runtime, threads: int | None) -> Model:
    if runtime.interpreter is None:
        raise ModelError(f"runtime {runtime.name} names no TFLite interpreter")
    return TFLiteModel(path, resolve(runtime.interpreter), runtime.name, threads)


def _onnx(path: Path, runtime: Runtime, threads: int | None) -> Model:
    return OnnxModel(path, threads)


#: The wrapper class per family (formats and runtimes themselves live in the registry).
_LOADERS: dict[str, Callable[[Path, Runtime, int | None], Model]] = {
    "tflite": _tflite,
    "onnx": _onnx,
}


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
    path: str | Path, runtime: str = "auto", threads: int | None = None, *, check: bool = True
) -> Model:
    """Load a .tflite or .onnx digit model on ``runtime`` (``auto``: the best installed).

    ``check`` runs one inference to prove the file works (see :meth:`Model.self_check`).
    """
    path = Path(path)
    family = family_of(str(path))
    if family is None:
        raise ModelError(f"{path} is neither a .tflite nor an .onnx file")
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise UserError(f"--threads must be from 1 to {MAX_THREADS}, got {threads}")
    check_regular(path, "model file", ModelError, MODEL_HINT)
    name = choose_runtime(family, runtime)
    try:
        model = _LOADERS[family](path, RUNTIMES[name], threads)
    except ImportError as exc:  # installed but broken, e.g. a numpy ABI mismatch
        raise RuntimeMissing(
            f"runtime {name} failed to import ({_first_line(exc)}); "
            f"reinstall {RUNTIMES[name].distribution}"
        ) from None
    if check:
        model.self_check()
    return model
