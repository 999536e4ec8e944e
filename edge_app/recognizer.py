"""Canvas -> prediction: the one path the app, ``predict`` and the benchmark share."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from edge_app.preprocess import to_mnist
from edge_app.runtime import Model, Prediction
from edge_app.segment import Piece, split_digits


@dataclass(frozen=True)
class Reading:
    prediction: Prediction
    image: np.ndarray  # the 28x28 uint8 the model saw
    milliseconds: float  # preprocessing + inference


@dataclass(frozen=True)
class DigitReading:
    piece: Piece
    reading: Reading


class Recognizer:
    def __init__(self, model: Model, threshold: float = 0.6) -> None:
        self.model = model
        self.threshold = threshold

    def read(self, canvas: np.ndarray) -> Reading | None:
        """Read one digit; None for an empty canvas."""
        if not np.any(canvas):
            return None
        started = time.perf_counter()
        image = to_mnist(canvas)
        prediction = self.model.predict_one(image)
        return Reading(prediction, image, (time.perf_counter() - started) * 1000)

    def read_many(self, canvas: np.ndarray, brush: int) -> list[DigitReading]:
        """Read every digit on the canvas, left to right, in one batch."""
        started = time.perf_counter()
        pieces = split_digits(canvas, brush)
        if not pieces:
            return []
        images = np.stack([to_mnist(p.crop(canvas)) for p in pieces])
        predictions = self.model.predict(images)
        ms = (time.perf_counter() - started) * 1000
        return [DigitReading(piece, Reading(pred, img, ms))
                for piece, pred, img in zip(pieces, predictions, images)]

    def sure(self, prediction: Prediction) -> bool:
        return prediction.confidence >= self.threshold
