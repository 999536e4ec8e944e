"""The connected-component splitter the app used before the number reader: the baseline the
number benchmarks measure against. Several digits on one canvas, split into digits left to right.

Connected ink (after a small dilation that bridges pen lifts inside a digit) forms pieces;
pieces that overlap horizontally belong to one digit (the bar of a 5, the two strokes of a 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mnist_edge.edge_app.recognizer import Recognizer
from mnist_edge.edge_app.results import Reading
from mnist_edge.ink.preprocess import to_mnist


@dataclass(frozen=True)
class Piece:
    left: int
    top: int
    right: int  # exclusive
    bottom: int  # exclusive
    mask: np.ndarray  # bool, canvas-sized: the ink of this digit

    def crop(self, canvas: np.ndarray) -> np.ndarray:
        region = np.where(self.mask, canvas, 0)
        return region[self.top : self.bottom, self.left : self.right]


def split_digits(canvas: np.ndarray, brush: int, min_overlap: float = 0.5) -> list[Piece]:
    """Digits on ``canvas`` (uint8, ink > 0), ordered left to right; specks are dropped."""
    ink = canvas > 0
    if not ink.any():
        return []
    bridge = max(3, brush // 2) | 1
    joined = cv2.dilate(ink.astype(np.uint8), np.ones((bridge, bridge), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    boxes = []
    min_area = max(4, (brush * brush) // 2)
    for i in range(1, count):
        x, y, w, h, area = stats[i]
        if area >= min_area:
            boxes.append([int(x), int(y), int(x + w), int(y + h), [i]])
    boxes.sort(key=lambda b: b[0])
    merged: list[list] = []
    for box in boxes:
        if merged:
            last = merged[-1]
            overlap = min(last[2], box[2]) - max(last[0], box[0])
            narrower = min(last[2] - last[0], box[2] - box[0])
            if overlap >= min_overlap * narrower:
                last[0], last[1] = min(last[0], box[0]), min(last[1], box[1])
                last[2], last[3] = max(last[2], box[2]), max(last[3], box[3])
                last[4] += box[4]
                continue
        merged.append(box)
    pieces = []
    for left, top, right, bottom, ids in merged:
        mask = np.isin(labels, ids) & ink
        pieces.append(Piece(left, top, right, bottom, mask))
    return pieces


@dataclass(frozen=True)
class DigitReading:
    piece: Piece
    reading: Reading


def read_many(recognizer: Recognizer, canvas: np.ndarray, brush: int) -> list[DigitReading]:
    """Read every digit the splitter finds on the canvas, left to right, in one batch."""
    pieces = split_digits(canvas, brush)
    if not pieces:
        return []
    images = np.stack([to_mnist(p.crop(canvas)) for p in pieces])
    return [DigitReading(p, r) for p, r in zip(pieces, recognizer.read_images(images))]
