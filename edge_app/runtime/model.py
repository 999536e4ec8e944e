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

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.calibration_record import Calibration
from mnist_edge.core.contract import INPUT_SHAPE, LABELS, NUM_CLASSES
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import read_capped
from mnist_edge.core.text import error_line

IMAGE_SHAPE = INPUT_SHAPE[:2]
#: Input element types a digit model may take (raw pixels, or quantized/float versions of them).
INPUT_DTYPES = (np.uint8, np.int8, np.float32, np.float16)
RUN_SLICE = 500  # digits per call when run() is given more
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
                    f"({error_line(exc)}); export it again or use another "
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
        """The one way to read digits: raw uint8 [N, 28, 28] (or one [28, 28]) -> typed outputs.
        Any number at a time: large batches go through in slices (bounded memory)."""
        images = np.asarray(images)
        if images.ndim == 2:
            images = images[None]
        if len(images) > RUN_SLICE:
            parts = [self.run(images[i : i + RUN_SLICE]) for i in range(0, len(images), RUN_SLICE)]
            embeddings = [p.embedding for p in parts]
            return Outputs(
                np.concatenate([p.probabilities for p in parts]),
                None if embeddings[0] is None else np.concatenate(embeddings),  # type: ignore[arg-type]
            )
        self.bind(images)
        self.invoke()
        return self.read_outputs()


def fixed_batches(x: np.ndarray, batch: int) -> list[np.ndarray]:
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


#: What to do about a bad model file, from the command line or the API alike.
MODEL_HINT = (
    "name a .tflite or .onnx file exported by 'mnist-edge export' (--model, or load(model=...))"
)


def read_model_file(path: Path, limit: int = 64 << 20) -> bytes:
    content = read_capped(path, limit, "model file", ModelError, MODEL_HINT)  # ~100s of KB
    if not content:
        raise ModelError(f"model file {path} is empty; export it again")
    return content


def rows(parts: list[np.ndarray], n: int, shape: tuple[int, ...]) -> np.ndarray:
    """The first ``n`` rows of per-batch outputs (padding dropped); empty in the right shape."""
    if not parts:
        return np.zeros((0, *[max(d, 1) for d in shape[1:]]), np.float32)
    return np.concatenate(parts)[:n]
