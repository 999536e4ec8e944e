"""The pen channel: a drawing's strokes as a fixed-size trajectory, and the model that reads it.

The picture loses what the pen did: a 7 starts with a left-to-right bar, a European 1 with an
up-stroke; a 9 starts with a loop, a one-stroke 4 with a down-stroke. :func:`features` keeps it:
the strokes, in the order drawn, resampled to ``POINTS`` points evenly spaced along the ink
(every stroke gets at least one), each point with its position, the direction the pen moves
there, and marks where a stroke starts and ends (the pen-up moves). Normalised like the picture:
centred on the ink's bounding box and scaled by its longer side, so size and position on the
canvas do not matter. Replay files carry no timing, so nothing here depends on speed.

Numpy only. The pen model runs on the same runtime wrappers as the digit model
(:mod:`~mnist_edge.edge_app.runtime`); only its input differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.contract import NUM_CLASSES
from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.runtime import Model, ModelError, family_loaders, load_model
from mnist_edge.edge_app.runtime.onnx_model import OnnxModel
from mnist_edge.edge_app.runtime.tflite_model import TFLiteModel
from mnist_edge.ink.strokes import Stroke

KIND = "pen"  # the ``kind`` a pen model's metadata names
INPUT_NAME = "strokes"
POINTS = 64
FEATURES = ("x", "y", "dx", "dy", "stroke_start", "stroke_end")
#: A dot (a tap) counts as this much ink, in units of the drawing's longer side, so it still
#: gets points of its own beside long strokes.
DOT_LENGTH = 0.02
NORMALISATION = (
    "mnist_edge.edge_app.pen.features.features: strokes in drawing order; x scaled by the canvas' "
    "width/height; centred on the ink's bounding box, divided by its longer side (x, y in "
    f"[-0.5, 0.5], y down); resampled to {POINTS} points evenly spaced along the ink, at least "
    "one per stroke, each stroke's first and last point kept; dx, dy: unit direction of the pen "
    "at the point (0 for a dot); stroke_start, stroke_end: 1 at a stroke's first/last point"
)


def _clean(strokes: Sequence[Stroke], aspect: float) -> list[np.ndarray]:
    kept = [np.asarray(s, np.float64).reshape(-1, 2) for s in strokes if len(s)]
    kept = [s[np.all(np.isfinite(s), axis=1)] for s in kept]
    kept = [s * (aspect, 1.0) for s in kept if len(s)]
    return kept[:POINTS]  # more strokes than points: the rest would get none


def _allocate(lengths: np.ndarray, total: int) -> np.ndarray:
    """Points per stroke: one each, the rest by ink length (largest remainder: sums exactly)."""
    spare = total - len(lengths)
    share = lengths / lengths.sum() * spare
    counts = np.floor(share).astype(int)
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[: spare - counts.sum()]] += 1
    return counts + 1


def _along(points: np.ndarray, count: int) -> np.ndarray:
    """``count`` points evenly spaced along a polyline, its first and last point included."""
    if len(points) == 1 or count == 1:
        return np.repeat(points[:1], count, axis=0)
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    where = np.concatenate([[0.0], np.cumsum(steps)])
    if where[-1] <= 0:
        return np.repeat(points[:1], count, axis=0)
    at = np.linspace(0.0, where[-1], count)
    return np.stack([np.interp(at, where, points[:, 0]), np.interp(at, where, points[:, 1])], 1)


def _directions(points: np.ndarray) -> np.ndarray:
    """Unit direction at each point: towards the next one, the last point keeps the one before."""
    if len(points) < 2:
        return np.zeros_like(points)
    step = np.diff(points, axis=0)
    step = np.concatenate([step, step[-1:]])
    norm = np.linalg.norm(step, axis=1, keepdims=True)
    return np.where(norm > 1e-9, step / np.maximum(norm, 1e-9), 0.0)


def features(strokes: Sequence[Stroke], aspect: float = 1.0) -> np.ndarray | None:
    """float32 [POINTS, len(FEATURES)] for one drawing; None when it has no point at all.

    ``aspect`` is the canvas' width / height (points are in [0, 1] of each side).
    """
    kept = _clean(strokes, aspect)
    if not kept:
        return None
    everything = np.concatenate(kept)
    low, high = everything.min(axis=0), everything.max(axis=0)
    size = float((high - low).max())
    scale = size if size > 1e-9 else 1.0
    kept = [(s - (low + high) / 2) / scale for s in kept]
    lengths = np.array(
        [np.linalg.norm(np.diff(s, axis=0), axis=1).sum() + DOT_LENGTH for s in kept]
    )
    out = np.zeros((POINTS, len(FEATURES)), np.float32)
    row = 0
    for stroke, count in zip(kept, _allocate(lengths, POINTS), strict=True):
        points = _along(stroke, int(count))
        out[row : row + count, 0:2] = points
        out[row : row + count, 2:4] = _directions(points)
        out[row, 4] = 1.0
        out[row + count - 1, 5] = 1.0
        row += int(count)
    return out


def batch_features(drawings: Sequence[Sequence[Stroke]], aspect: float = 1.0) -> np.ndarray:
    """float32 [N, POINTS, F]; a drawing without points gives zeros (blank input)."""
    out = np.zeros((len(drawings), POINTS, len(FEATURES)), np.float32)
    for i, strokes in enumerate(drawings):
        f = features(strokes, aspect)
        if f is not None:
            out[i] = f
    return out


# ----------------------------------------------------------------------------- the model


class _PenInput:
    """What a pen model overrides of the digit-model wrapper: its input is a trajectory."""

    path: Path
    input: Any
    output: Any
    description: dict[str, Any] | None

    def _check_signature(self) -> None:
        shape = tuple(self.input.shape)
        if shape[1:] != (POINTS, len(FEATURES)) or tuple(self.output.shape[-1:]) != (NUM_CLASSES,):
            raise ModelError(
                f"{self.path} takes input {list(shape)}; a pen model takes "
                f"[N, {POINTS}, {len(FEATURES)}] trajectories and returns 10 probabilities"
            )
        info = self.description or {}
        wanted = info.get("input") if isinstance(info.get("input"), dict) else {}
        if info.get("kind") != KIND or wanted.get("features") != list(FEATURES):
            raise ModelError(
                f"{self.path} is not a pen model of this version (its metadata must name kind "
                f"{KIND!r} and features {', '.join(FEATURES)}); export it with 'python -m "
                "mnist_edge.export.pen'"
            )

    def to_input(self, images: np.ndarray) -> np.ndarray:
        """Trajectories float32 [N, POINTS, F] -> this model's input tensor."""
        x = np.asarray(images, np.float32).reshape((-1, POINTS, len(FEATURES)))
        spec = self.input
        if spec.quantized:
            info = np.iinfo(spec.dtype)
            q = np.round(x / spec.scale + spec.zero_point)
            return np.clip(q, info.min, info.max).astype(spec.dtype)
        return x.astype(spec.dtype, copy=False)

    def self_check(self) -> None:
        """One inference on a drawn stroke: finite probabilities summing to ~1."""
        probe = features([[(0.5, 0.1), (0.5, 0.9)]])
        try:
            p = self.run(probe[None]).probabilities  # type: ignore[attr-defined]
        except UserError:
            raise
        except Exception as exc:  # runtimes raise their own classes
            raise ModelError(
                f"{self.path} loads but fails to run ({exc}); export it again"
            ) from None
        if p.shape != (1, NUM_CLASSES) or not np.all(np.isfinite(p)) or abs(p.sum() - 1) > 0.05:
            raise ModelError(f"{self.path} returns no valid probabilities; export it again")


class PenTFLiteModel(_PenInput, TFLiteModel):
    pass


class PenOnnxModel(_PenInput, OnnxModel):
    pass


#: The wrapper per family for a pen file (the digit model's runtimes, a trajectory input).
PEN_LOADERS = family_loaders(PenTFLiteModel, PenOnnxModel)
PEN_HINT = (
    "name a pen-*.tflite or .onnx file exported by 'mnist-edge pen export' (--pen, or "
    "load(pen=...))"
)


def load_pen_model(path: str | Path, runtime: str = "auto", threads: int | None = None) -> Model:
    """Load a pen model (.tflite or .onnx) on the runtimes the digit model uses; one-line errors."""
    return load_model(path, runtime, threads, loaders=PEN_LOADERS, what="pen model", hint=PEN_HINT)


def fusion_of(model: Model) -> dict[str, float] | None:
    """The fusion a pen model was calibrated for (its metadata): weight, temperature,
    threshold and, where fitted, the threshold for a number's digits and the split margin;
    None when it carries none or a broken one."""
    fusion = (model.description or {}).get("fusion")
    if not isinstance(fusion, dict):
        return None
    values = [fusion.get(k, 1.0 if k == "temperature" else None) for k in _FUSION]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    weight, temperature, threshold = (float(v) for v in values)  # type: ignore[arg-type]
    if not (0 <= weight <= 10 and 0.05 <= temperature <= 20 and 0 < threshold < 1):
        return None
    out = {"weight": weight, "temperature": temperature, "threshold": threshold}
    number = fusion.get("number_threshold")  # optional: files before it judge digits alike
    if isinstance(number, (int, float)) and not isinstance(number, bool) and 0 < number < 1:
        out["number_threshold"] = float(number)
    split = fusion.get("split_margin")  # optional: files before it do not judge the split
    if isinstance(split, (int, float)) and not isinstance(split, bool) and 0 <= split <= 100:
        out["split_margin"] = float(split)
    return out


_FUSION = ("weight", "temperature", "threshold")
