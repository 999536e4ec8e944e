"""What the edge app reads, as typed records: one digit's reading, a number's digit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_edge.edge_app.runtime import Prediction


@dataclass(frozen=True)
class Reading:
    prediction: Prediction  # what is shown: after TTA and learning
    image: np.ndarray  # the 28x28 uint8 the model saw
    milliseconds: float  # preprocessing + inference (+ learning)
    model_digit: int  # what the model alone read (before learning)
    learned: bool = False  # learning changed the digit


@dataclass(frozen=True)
class NumberDigit:
    """One digit of a number as the app shows it: where its ink is, its strokes, its reading."""

    box: tuple[int, int, int, int]  # left, top, right, bottom (exclusive), canvas px
    strokes: tuple[int, ...]  # its strokes, as indices in time order
    reading: Reading
    #: The number's split against its best rival into another number of digits: how far
    #: below it the rival scored (log score; inf: none), and whether the rival splits this
    #: digit's ink otherwise (the recognizer judges it with its split threshold).
    split_margin: float = float("inf")
    contested: bool = False
