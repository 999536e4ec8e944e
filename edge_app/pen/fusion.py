"""Fusing the picture's reading with the pen's: a weighted sum of log-probabilities.

``fused ∝ exp((log p_image + weight * log p_pen) / temperature)``: the product of the two
readings, the pen's tempered by ``weight`` (0: the picture alone), and a temperature because a
product of two calibrated readings is over-confident. Weight, temperature and the fused "not
sure" threshold are calibrated on held-out writers (``train.pen_fusion``) and travel in the pen
model's metadata.
Without strokes, or without a pen model, the reading is the picture's, unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnist_edge.core.contract import DEFAULT_THRESHOLD
from mnist_edge.edge_app.pen.features import batch_features, fusion_of
from mnist_edge.edge_app.runtime import Model, Prediction
from mnist_edge.ink.strokes import Stroke

FLOOR = 1e-6  # an int8 probability of 0 must not veto a digit outright


def fuse(image: np.ndarray, pen: np.ndarray, weight: float, temperature: float = 1.0) -> np.ndarray:
    """[N, 10] image and pen probabilities -> [N, 10] fused probabilities."""
    if weight == 0 and temperature == 1:
        return np.asarray(image, np.float32)
    z = np.log(np.maximum(image, FLOOR)) + weight * np.log(np.maximum(pen, FLOOR))
    z /= temperature
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class FusedPrediction(Prediction):
    """A prediction that read the pen too: the app judges it by the fused threshold (a digit
    of a number by the fused number threshold)."""

    fused: bool = True
    in_number: bool = False


@dataclass(frozen=True)
class PenChannel:
    """A loaded pen model with the fusion it was calibrated for."""

    model: Model
    weight: float
    threshold: float
    temperature: float = 1.0
    #: A number's digits are judged by this one (a number is sure iff all its digits are);
    #: the single-digit threshold where the file carries none.
    number_threshold: float = -1.0
    #: A number is not sure when its best split into another number of digits scores within
    #: this much (log score) of the chosen split; None: not judged (files without it).
    split_margin: float | None = None

    def __post_init__(self) -> None:
        if self.number_threshold < 0:
            object.__setattr__(self, "number_threshold", self.threshold)

    @classmethod
    def from_model(cls, model: Model, threshold: float | None = None) -> PenChannel:
        """The fusion the file was calibrated for; a file without one fuses as a plain product.
        ``threshold`` (--threshold) replaces both thresholds."""
        fusion = fusion_of(model) or {
            "weight": 1.0,
            "threshold": DEFAULT_THRESHOLD,
            "temperature": 1.0,
        }
        if threshold is not None:
            fusion = {**fusion, "threshold": threshold, "number_threshold": threshold}
        return cls.from_fusion(model, fusion)

    @classmethod
    def from_fusion(cls, model: Model, fusion: Mapping[str, Any]) -> PenChannel:
        """A fusion record's values (weight, threshold, temperature; where fitted the number
        threshold, else the threshold, and the split margin) on ``model``."""
        return cls(
            model,
            fusion["weight"],
            fusion["threshold"],
            fusion.get("temperature", 1.0),
            fusion.get("number_threshold", fusion["threshold"]),
            fusion.get("split_margin"),
        )

    def probabilities(self, drawings: Sequence[Sequence[Stroke]], aspect: float) -> np.ndarray:
        return self.model.run(batch_features(drawings, aspect)).probabilities

    def combine(self, image: Prediction, strokes: Sequence[Stroke], aspect: float) -> Prediction:
        """The image reading fused with the pen's; the image embedding kept (for learning)."""
        if not any(len(s) for s in strokes):
            return image
        return self.fused(image, self.probabilities([strokes], aspect)[0])

    def fused(self, image: Prediction, pen: np.ndarray, in_number: bool = False) -> Prediction:
        """The image reading fused with pen probabilities [10] already read."""
        p = fuse(image.probabilities[None], pen[None], self.weight, self.temperature)[0]
        return FusedPrediction(int(p.argmax()), float(p.max()), p, image.embedding, True, in_number)
