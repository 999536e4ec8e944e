"""Canvas -> reading: the one path the app, ``predict``, the replay and the benchmark share.

A reading is the model's prediction for the digit ``to_mnist`` made of the canvas, optionally
averaged over test-time-augmented variants, then combined with what the app learned from its
user (a :class:`~mnist_edge.edge_app.learn.Learner`), in that order.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Sequence

import numpy as np

from mnist_edge.core.contract import DEFAULT_THRESHOLD
from mnist_edge.edge_app.learn import Learner
from mnist_edge.edge_app.numbers.reader import NumberReader, digit_strokes
from mnist_edge.edge_app.numbers.render import ink_brush
from mnist_edge.edge_app.pen.fusion import FusedPrediction, PenChannel
from mnist_edge.edge_app.results import NumberDigit, Reading
from mnist_edge.edge_app.runtime import Model, Prediction
from mnist_edge.edge_app.tta import averaged, batch_variants
from mnist_edge.ink.preprocess import to_mnist
from mnist_edge.ink.strokes import Stroke


class Recognizer:
    def __init__(
        self,
        model: Model,
        threshold: float = DEFAULT_THRESHOLD,
        tta: int = 1,
        learner: Learner | None = None,
        pen: PenChannel | None = None,
    ) -> None:
        self.model = model
        self.threshold = threshold
        self.tta = tta
        self.learner = learner
        self.pen = pen  # read with the strokes when a drawing has them (docs/pen.md)
        # A result remembers which recognizer read it, so that a correction is learned only by
        # the one whose model made its embedding: random, so unique across processes too.
        self.serial = secrets.randbits(63)

    def _predict(self, images: np.ndarray) -> list[Prediction]:
        if self.tta <= 1:
            return self.model.run(images).predictions()
        out = self.model.run(batch_variants(images, self.tta))
        probs = averaged(out.probabilities, self.tta)
        emb = (
            None
            if out.embedding is None
            else out.embedding.reshape(len(images), self.tta, -1)[:, 0]
        )  # the digit's own
        return [
            Prediction(int(p.argmax()), float(p.max()), p, None if emb is None else emb[i])
            for i, p in enumerate(probs)
        ]

    def _finish(self, prediction: Prediction, image: np.ndarray, started: float) -> Reading:
        model_digit = prediction.digit
        learned = False
        if self.learner is not None and len(self.learner):
            adjusted = self.learner.adjust(prediction.probabilities, prediction.embedding)
            p = adjusted.probabilities
            # replace keeps the class: a fused reading stays judged by the fused threshold
            prediction = dataclasses.replace(
                prediction, digit=int(p.argmax()), confidence=float(p.max()), probabilities=p
            )
            learned = adjusted.changed
        return Reading(
            prediction, image, (time.perf_counter() - started) * 1000, model_digit, learned
        )

    def read_image(self, image: np.ndarray) -> Reading:
        """Read a 28x28 digit that is already model input."""
        started = time.perf_counter()
        return self._finish(self._predict(image[None])[0], image, started)

    def read(self, canvas: np.ndarray, strokes: Sequence[Stroke] | None = None) -> Reading | None:
        """Read one digit; None for an empty canvas. With ``strokes`` (the drawing's, in
        canvas-normalised points) and a pen channel, the picture's and the pen's readings are
        fused; the embedding stays the picture's, so learning reads the same space either way."""
        if not np.any(canvas):
            return None
        started = time.perf_counter()
        image = to_mnist(canvas)
        prediction = self._predict(image[None])[0]
        if self.pen is not None and strokes:
            prediction = self.pen.combine(prediction, strokes, canvas.shape[1] / canvas.shape[0])
        return self._finish(prediction, image, started)

    def read_images(self, images: np.ndarray) -> list[Reading]:
        """Read digits that are already model input ([N, 28, 28] uint8), in one batch."""
        started = time.perf_counter()
        return [
            self._finish(pred, img, started) for pred, img in zip(self._predict(images), images)
        ]

    def read_number(
        self, strokes: list[list[tuple[float, float]]], width: int, height: int, brush: int
    ) -> list[NumberDigit]:
        """Read a number from its strokes (time order, canvas-normalized), left to right.

        The split comes from :class:`~mnist_edge.edge_app.numbers.NumberReader` (all candidate
        digits in one batched call, cached between reads); each digit it chose is then read
        exactly as a single digit is (its own ink through ``to_mnist``, TTA, its own strokes
        fused with the pen's reading when there is a pen channel, learning). The ink is drawn
        with a brush relative to the writing's height (``ink_brush``): a number written small
        is not read as blobs; at the usual sizes it is the canvas' brush."""
        started = time.perf_counter()
        # Made on first use (not in __init__): single-digit reading never pays for it.
        reader: NumberReader | None = getattr(self, "_number_reader", None)
        if reader is None or reader.model is not self.model:
            reader = self._number_reader = NumberReader(self.model)
        split = reader.split(strokes, width, height, ink_brush(strokes, width, height, brush))
        if not split.digits:
            return []
        todo = [c for c in split.digits if c.key not in reader.finals]
        if todo:
            images = reader.exact_images(split, todo)
            predictions = self._predict(images)
            if self.pen is not None:
                drawings = digit_strokes(split, todo)
                pen = self.pen.probabilities(drawings, width / height)
                predictions = [
                    self.pen.fused(p, q, in_number=True) for p, q in zip(predictions, pen)
                ]
            for c, img, pred in zip(todo, images, predictions):
                reader.finals[c.key] = (img, pred)
        images = [reader.finals[c.key][0] for c in split.digits]
        predictions = [reader.finals[c.key][1] for c in split.digits]
        return [
            NumberDigit(
                c.box, tuple(own), self._finish(pred, img, started), split.margin, contested
            )
            for c, own, pred, img, contested in zip(
                split.digits, split.strokes_of, predictions, images, split.contested
            )
        ]

    def sure(self, prediction: Prediction) -> bool:
        """Whether the app shows this reading as sure: a fused reading is judged by the pen
        channel's threshold (a digit of a number by its number threshold), a picture-only one
        by the image model's."""
        if isinstance(prediction, FusedPrediction) and self.pen is not None:
            pen = self.pen
            threshold = pen.number_threshold if prediction.in_number else pen.threshold
        else:
            threshold = self.threshold
        return prediction.confidence >= threshold

    @property
    def split_margin(self) -> float | None:
        """The split threshold: a number whose best split into another number of digits
        scores within it of the chosen one is not sure (its contested digits show "?").
        Calibrated with the pen's fusion (docs/pen.md); None: not judged."""
        return self.pen.split_margin if self.pen is not None else None

    def digit_sure(self, digit: NumberDigit) -> bool:
        """Whether the app shows this digit of a number as sure: its reading is, and no
        near-tying split into another number of digits cuts its ink otherwise."""
        threshold = self.split_margin
        doubted = threshold is not None and digit.contested and digit.split_margin < threshold
        return not doubted and self.sure(digit.reading.prediction)

    def number_confidence(self, digits: Sequence[NumberDigit]) -> float:
        """How sure a number's digits are: its least sure digit's confidence (0 for no
        digit). The number is sure iff every digit is (:meth:`number_sure`: each confident
        and none contested by a near-tying split), so the screen shows a "?" on a digit
        exactly when the number is not sure."""
        return min((d.reading.prediction.confidence for d in digits), default=0.0)

    def number_sure(self, digits: Sequence[NumberDigit]) -> bool:
        return bool(digits) and all(self.digit_sure(d) for d in digits)
