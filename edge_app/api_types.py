"""The public API's records: an ink, where it was written, and what was read.

Modelled on how on-device handwriting recognizers are offered elsewhere (ML Kit's digital
ink): an *ink* is strokes of points with optional times, an optional *writing area* says how
large the surface was, and a result is a ranked list of *candidates* with scores. Numpy-only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.ink.strokes import MAX_POINTS, MAX_STROKES

Point = tuple[float, ...]  # (x, y) or (x, y, t)
Box = tuple[float, float, float, float]  # left, top, right, bottom


#: An ink wider or taller than this (in its own units) is refused: its margins and aspect
#: would overflow a float, and no surface for digits is that large in any units.
MAX_SPAN = 1e15


def finite_number(value: object, where: str) -> float:
    """``value`` as a finite float; a UserError naming ``where`` for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise UserError(f"{where} must be a number, got {type(value).__name__} {str(value)[:40]!r}")
    try:
        number = float(value)
    except OverflowError:  # a Python int beyond a float's range
        raise UserError(
            f"{where} must be a finite number, got an int too large for a float"
        ) from None
    if not math.isfinite(number):
        raise UserError(f"{where} must be a finite number, got {number}")
    return number


def _scalar(value: object) -> bool:
    """A numpy array of no dimensions: Iterable by its type, yet it cannot be iterated."""
    return isinstance(value, np.ndarray) and value.ndim == 0


def _points(stroke: object, s: int) -> tuple[Point, ...]:
    if isinstance(stroke, (str, bytes)) or not isinstance(stroke, Iterable) or _scalar(stroke):
        raise UserError(f"ink stroke {s} must be a sequence of (x, y) or (x, y, t) points")
    out = []
    for p, point in enumerate(stroke):
        if p >= MAX_POINTS:
            raise UserError(
                f"ink stroke {s} has more than {MAX_POINTS:,} points; split it or sample it less"
            )
        where = f"ink stroke {s}, point {p}"
        if (
            isinstance(point, (str, bytes))
            or not isinstance(point, (Sequence, np.ndarray))
            or _scalar(point)
        ):
            raise UserError(f"{where} must be (x, y) or (x, y, t), got {str(point)[:40]!r}")
        if len(point) not in (2, 3):
            raise UserError(f"{where} must be (x, y) or (x, y, t), got {len(point)} values")
        out.append(tuple(finite_number(v, where) for v in point))
    return tuple(out)


@dataclass(frozen=True)
class Ink:
    """What was written: strokes (pen down to pen up) in the order written, each a sequence of
    ``(x, y)`` or ``(x, y, t)`` points, in any coordinate units with y pointing down.

    Times are kept for the caller; reading uses the points and their order. At most 100
    strokes of 5,000 points each (a replay file's bounds), spanning at most 1e15 units
    across and down; anything else raises
    :class:`~mnist_edge.core.errors.UserError` with one line saying what is wrong.
    """

    strokes: tuple[tuple[Point, ...], ...] = ()

    def __post_init__(self) -> None:
        raw = self.strokes
        if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable) or _scalar(raw):
            raise UserError("ink must be a sequence of strokes, each a sequence of (x, y) points")
        strokes = []
        for s, stroke in enumerate(raw):
            if s >= MAX_STROKES:
                raise UserError(f"ink has more than {MAX_STROKES} strokes; read it in parts")
            strokes.append(_points(stroke, s))
        object.__setattr__(self, "strokes", tuple(strokes))
        box = self.bounds()
        if box is not None and not (box[2] - box[0] <= MAX_SPAN and box[3] - box[1] <= MAX_SPAN):
            raise UserError(
                f"the ink's coordinates span more than {MAX_SPAN:.0e} units, more than can be "
                "read; scale them down"
            )

    @property
    def empty(self) -> bool:
        """True when no stroke has a point."""
        return not any(self.strokes)

    def bounds(self) -> Box | None:
        """(left, top, right, bottom) of all points, or None for an empty ink."""
        xs = [p[0] for s in self.strokes for p in s]
        ys = [p[1] for s in self.strokes for p in s]
        return (min(xs), min(ys), max(xs), max(ys)) if xs else None


@dataclass(frozen=True)
class WritingArea:
    """The surface the ink was written on: ``width`` x ``height`` in the ink's units, its
    top-left corner at (0, 0). It tells how large the writing is: a digit filling a small
    area reads like one filling the app's canvas. Without one, the ink's own bounding box
    with a margin stands in, keeping the ink's aspect."""

    width: float
    height: float

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = finite_number(getattr(self, name), f"writing area {name}")
            if value <= 0:
                raise UserError(f"writing area {name} must be positive, got {value}")
            object.__setattr__(self, name, value)


@dataclass(frozen=True)
class Candidate:
    """One possible reading and its score (the model's probability for a digit; for a whole
    number the product of its digits' probabilities), ranked best first in a result."""

    text: str
    score: float


@dataclass(frozen=True)
class DigitResult:
    """One digit as read: ``text`` the digit ("" for no ink), ``confidence`` its probability,
    ``sure`` whether that clears the model's calibrated "not sure" threshold, ``candidates``
    all ten digits ranked, ``box`` where its ink is (left, top, right, bottom; brush included,
    in the ink's units, or the picture's pixels), ``strokes`` its strokes (indices in the order
    written) when it is one digit of a number."""

    text: str
    confidence: float
    sure: bool
    candidates: tuple[Candidate, ...]
    box: Box | None
    strokes: tuple[int, ...] = ()
    #: What learning stores for a correction, and which reader read it (not shown, not
    #: compared): only that reader's model made this embedding.
    _embedding: np.ndarray | None = field(default=None, repr=False, compare=False)
    _reader: int = field(default=0, repr=False, compare=False)

    @property
    def digit(self) -> int | None:
        """The digit as an int, or None for no ink."""
        return int(self.text) if self.text else None


@dataclass(frozen=True)
class NumberResult:
    """A number as read: ``text`` its digits left to right ("" for no ink), ``confidence``
    its least sure digit's confidence, ``sure`` whether every digit is sure,
    ``candidates`` the ranked whole-number alternatives of the same split (the reading first,
    then e.g. "4021" when the third digit might be a 2), ``digits`` each digit's own result."""

    text: str
    confidence: float
    sure: bool
    candidates: tuple[Candidate, ...]
    digits: tuple[DigitResult, ...]

    @property
    def alternative(self) -> Candidate | None:
        """The best reading other than ``text`` when the number is not sure, else None: what
        "did you mean ...?" offers."""
        if self.sure:
            return None
        return next((c for c in self.candidates if c.text != self.text and c.score > 0), None)
