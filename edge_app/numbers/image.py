"""Reading a number from a picture: components and cuts as units, then the strokes' reader.

A picture has no strokes, so its *units* come from the ink itself:

1. connected components of the ink (a small dilation bridges tiny gaps; specks are dropped),
   ordered left to right by the centre of their ink;
2. a component wider than ``CUT_WIDTH`` writing heights (touching digits) is cut at minima
   of its vertical projection (thin columns) well inside its width; the pieces between cuts
   are units too.

From there it is :mod:`~mnist_edge.edge_app.numbers`: every run of up to ``MAX_UNITS`` units
is a candidate digit (the bar of a 5 and its body, the two parts of a 4 are neighbours in x
order, so a run joins them), its ink alone goes through the one preprocessing path
(:func:`~mnist_edge.ink.preprocess.to_mnist`), all candidates are read in one batched
model call, scored by the rejection model (``score.feature_matrix`` / ``score.digit_scores``)
and the best split is found by ``numbers.best_path``. The chosen digits are then read as
single digits by the :class:`~mnist_edge.edge_app.recognizer.Recognizer` (TTA, "not sure").
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.numbers.score import digit_scores, feature_matrix
from mnist_edge.edge_app.numbers.search import Candidate, best_path
from mnist_edge.edge_app.numbers.units import CUT_WIDTH, WIDEST, Unit, writing_height
from mnist_edge.edge_app.numbers.weights import NumberScores, shipped_scores
from mnist_edge.ink.preprocess import to_mnist

if TYPE_CHECKING:
    from mnist_edge.edge_app.recognizer import Recognizer
    from mnist_edge.edge_app.results import Reading

MAX_UNITS = 6  # units in one digit: its components and the pieces of cut ones
MAX_COMPONENTS = 4  # components in one digit (a 4 or a 5 in up to four parts)
# CUT_WIDTH (a component is cut only if wider) and WIDEST (a run of several components wider
# is no digit) are the strokes' reader's, in writing heights, from units.
PICTURE_CUTS = 3  # per component: enough for a touching "1234" (strokes allow more)
#: What each digit adds to a split's score: below the strokes' reader's (its fitted scores),
#: since a picture's pieces carry no pen-lift evidence; chosen on numbers of training writers.
PER_DIGIT = 0.0
MAX_MARKS = 64  # components in one picture: more is a page, not a number


class TooManyMarks(UserError):
    """A picture with more separate marks than a number has."""


@dataclass(frozen=True)
class Part:
    """Where a unit's ink is: a component, or a piece of one between cuts."""

    label: int  # the component
    piece: int  # which piece of it, left to right (0: the first, or the whole)
    box: tuple[int, int, int, int]  # left, top, right, bottom (exclusive): its ink
    mask: np.ndarray = field(repr=False)  # bool, box-sized: its pixels


@dataclass(frozen=True)
class ImageDigit:
    """One digit of a number read from a picture."""

    digit: int
    confidence: float  # 0 where the model gave no finite confidence
    sure: bool
    box: tuple[int, int, int, int]  # left, top, right, bottom (exclusive), picture px
    reading: Reading


@dataclass(frozen=True)
class ImageNumber:
    """A picture's number, its digits left to right (none: no ink)."""

    digits: tuple[ImageDigit, ...]
    candidates: int  # how many candidate digits were read

    @property
    def number(self) -> str:
        return "".join(str(d.digit) for d in self.digits)

    @property
    def sure(self) -> bool:
        return bool(self.digits) and all(d.sure for d in self.digits)


def stroke_width(canvas: np.ndarray) -> int:
    """The pen's width in px, estimated from the ink: twice the distance transform along the
    strokes' ridge (less the pixel the transform counts at each edge)."""
    solid = (np.asarray(canvas) >= 128).astype(np.uint8)
    if not solid.any():
        solid = (np.asarray(canvas) > 0).astype(np.uint8)
    # Ink with no background anywhere has no distance to it (the transform's "infinity"):
    # at most the picture's size, never an overflow.
    dist = np.minimum(cv2.distanceTransform(solid, cv2.DIST_L2, 3), max(solid.shape))
    ridge = (dist > 0) & (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8)))
    if not ridge.any():
        return 2
    return max(2, round(2 * float(np.median(dist[ridge])) - 2))


def _components(canvas: np.ndarray, brush: int) -> tuple[np.ndarray, list[int]]:
    """Labels of the ink's connected components (dilated: a tiny gap does not split a digit)
    and the labels kept (specks dropped)."""
    ink = (canvas > 0).astype(np.uint8)
    bridge = max(3, brush // 2) | 1
    joined = cv2.dilate(ink, np.ones((bridge, bridge), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    min_area = max(4, (brush * brush) // 2)
    kept = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= min_area]
    if len(kept) > MAX_MARKS:
        raise TooManyMarks(
            f"{len(kept)} separate marks are too many for a number; crop the picture to it"
        )
    return np.where(ink > 0, labels, 0), kept


def _ink_box(mask: np.ndarray, left: int = 0, top: int = 0) -> tuple[int, int, int, int] | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return (
        left + int(cols[0]),
        top + int(rows[0]),
        left + int(cols[-1]) + 1,
        top + int(rows[-1]) + 1,
    )


def _path_costs(cost: np.ndarray, centres: np.ndarray, bend: int) -> tuple[np.ndarray, Any]:
    """The least ink a top-to-bottom path crosses near each column of ``centres`` (moving at
    most one column a row, within ``bend`` of it), and a function giving that path (its
    column per row). With ``bend`` 0 this is the vertical projection."""
    h, w = cost.shape
    cols = np.clip(centres[:, None] + np.arange(-bend, bend + 1)[None, :], 0, w - 1)
    total = cost[0][cols]
    back = np.zeros((h, *cols.shape), np.int8)
    wall = np.full((len(centres), 1), np.inf)
    for y in range(1, h):
        moves = np.stack([np.hstack([wall, total[:, :-1]]), total, np.hstack([total[:, 1:], wall])])
        choice = moves.argmin(0)
        total = moves.min(0) + cost[y][cols] + 0.01 * (choice != 1)  # straight when free
        back[y] = choice - 1

    def path(i: int) -> np.ndarray:
        k, out = int(total[i].argmin()), np.zeros(h, np.int64)
        for y in range(h - 1, -1, -1):
            out[y] = cols[i, k]
            k += int(back[y, i, k])
        return out

    return total.min(1), path


def cut_paths(region: np.ndarray, ref: float, brush: int) -> list[np.ndarray]:
    """Where touching digits in one component's ink (``region``, uint8) may meet, left to
    right: at minima of its vertical projection (thin columns), each bent by up to half a
    pen's width to cross the least ink (two digits that touch at a point, or overlap a
    little, are parted where they meet), well inside the width, apart, at most ``PICTURE_CUTS``.
    Each is the cut's column per row of ``region``; none for a component no wider than a
    digit."""
    width = region.shape[1]
    if width <= max(3 * brush, CUT_WIDTH * ref):
        return []
    margin = max(brush, round(0.12 * width))
    centres = np.arange(margin, width - margin)
    if not len(centres):
        return []
    costs, path = _path_costs(region / 255.0, centres, max(1, brush // 2))
    reach = max(2, brush // 2)
    minima = [
        i for i in range(len(centres)) if costs[i] <= costs[max(0, i - reach) : i + reach + 1].min()
    ]
    apart = max(2 * brush, round(0.25 * ref))
    kept: list[int] = []
    for i in sorted(minima, key=lambda i: (costs[i], i)):  # the least ink first
        if len(kept) < PICTURE_CUTS and all(abs(centres[i] - centres[j]) >= apart for j in kept):
            kept.append(i)
    return [path(i) for i in sorted(kept)]


def _pieces(region: np.ndarray, cuts: list[np.ndarray]) -> list[np.ndarray]:
    """The region's ink between consecutive cuts (each a column per row), left to right."""
    height, width = region.shape
    x = np.arange(width)[None, :]
    bounds = [np.zeros(height, np.int64), *cuts, np.full(height, width)]
    return [
        (region > 0) & (x >= a[:, None]) & (x < b[:, None]) for a, b in itertools.pairwise(bounds)
    ]


def _unit(index: int, part: Part, brush: int, cut_left: bool, cut_right: bool) -> Unit:
    """The part as the strokes' reader sees a unit: the box of its pen's centre line (ink less
    half the pen on each side that is an ink edge, not a cut)."""
    left, top, right, bottom = part.box
    half = brush / 2
    x0, x1 = left + (0 if cut_left else half), right - 1 - (0 if cut_right else half)
    y0, y1 = top + half, bottom - 1 - half
    if x0 > x1:
        x0 = x1 = (x0 + x1) / 2
    if y0 > y1:
        y0 = y1 = (y0 + y1) / 2
    return Unit(index, part.piece, part.piece, (part.label, part.piece, 0), x0, y0, x1, y1)


@dataclass(frozen=True)
class Layout:
    """A picture's units left to right, where each one's ink is, and the writing height."""

    units: list[Unit]  # ``stroke``: the unit's own index (a cut piece is its own "stroke")
    parts: list[Part]
    ref: float  # how tall the digits are written, px (from whole components)


def find_units(canvas: np.ndarray, brush: int) -> Layout:
    """Components, and the pieces of wide ones between cuts, as units left to right."""
    labels, kept = _components(canvas, brush)
    whole = []
    for label in kept:
        box = _ink_box(labels == label)
        if box is not None:
            left, top, right, bottom = box
            mask = labels[top:bottom, left:right] == label
            whole.append(Part(label, 0, box, mask))
    ref = writing_height([_unit(n, p, brush, False, False) for n, p in enumerate(whole)], brush)
    found: list[tuple[Unit, Part]] = []
    for part in whole:
        left, top, right, bottom = part.box
        region = np.where(part.mask, canvas[top:bottom, left:right], 0)
        pieces = []
        for mask in _pieces(region, cut_paths(region, ref, brush)):
            box = _ink_box(mask, left, top)
            if box is not None:
                x0, y0, x1, y1 = (box[0] - left, box[1] - top, box[2] - left, box[3] - top)
                pieces.append(Part(part.label, len(pieces), box, mask[y0:y1, x0:x1]))
        for p, piece in enumerate(pieces):
            found.append((_unit(0, piece, brush, p > 0, p < len(pieces) - 1), piece))
    found.sort(key=lambda f: ((f[0].x0 + f[0].x1) / 2, f[1].label, f[1].piece))
    # Each unit its own "stroke": the score, fitted on pen lifts, all but forbids a digit
    # to end at a cut inside a stroke; a cut in a picture is where touching digits meet.
    units = [dataclasses.replace(u, stroke=n) for n, (u, _) in enumerate(found)]
    return Layout(units, [p for _, p in found], ref)


def candidate_spans(layout: Layout) -> list[tuple[int, int]]:
    """Runs [first, last) of units that may be one digit: up to ``MAX_UNITS`` units of at most
    ``MAX_COMPONENTS`` components, no wider than a digit can be (a component cut because it
    is wide is not a candidate whole: the score, fitted on strokes, never saw such a blob)."""
    units, parts = layout.units, layout.parts
    return [
        (i, j)
        for i in range(len(units))
        for j in range(i + 1, min(len(units), i + MAX_UNITS) + 1)
        if len({p.label for p in parts[i:j]}) <= MAX_COMPONENTS
        and (
            j - i == 1
            or max(u.x1 for u in units[i:j]) - min(u.x0 for u in units[i:j]) <= WIDEST * layout.ref
        )
    ]


def candidate_ink(
    canvas: np.ndarray, parts: Sequence[Part]
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """These parts' ink alone, cropped to it, and its box on the canvas."""
    left = min(p.box[0] for p in parts)
    top = min(p.box[1] for p in parts)
    right = max(p.box[2] for p in parts)
    bottom = max(p.box[3] for p in parts)
    mask = np.zeros((bottom - top, right - left), bool)
    for p in parts:
        x0, y0, x1, y1 = p.box
        mask[y0 - top : y1 - top, x0 - left : x1 - left] |= p.mask
    return np.where(mask, canvas[top:bottom, left:right], 0), (left, top, right, bottom)


@dataclass(frozen=True)
class ImageSplit:
    """The best split's digits, left to right, and how many candidates were read."""

    digits: list[Candidate]
    candidates: int


def split_image(
    canvas: np.ndarray,
    model: Any,
    brush: int | None = None,
    per_digit: float = PER_DIGIT,
    scores: NumberScores | None = None,
) -> ImageSplit:
    """The best split of a picture's ink (uint8, ink > 0) into digits; no digits for no ink.
    ``brush``: the pen's width in px, else estimated from the ink; ``per_digit``: what each
    digit adds to the path's score; ``scores``: the fitted scores (else the shipped ones)."""
    canvas = np.asarray(canvas, np.uint8)
    if not canvas.any():
        return ImageSplit([], 0)
    brush = brush or stroke_width(canvas)
    layout = find_units(canvas, brush)
    units, ref = layout.units, layout.ref
    if not units:
        return ImageSplit([], 0)
    spans = candidate_spans(layout)
    inks = [candidate_ink(canvas, layout.parts[i:j]) for i, j in spans]
    images = np.stack([to_mnist(ink) for ink, _ in inks])
    out = model.run(images)  # every candidate in one call
    centre = float(np.median([(u.y0 + u.y1) / 2 for u in units]))
    # The strokes' reader's features and score, for all candidates at once.
    scores = digit_scores(
        feature_matrix(units, np.array(spans, np.int64), out.probabilities, ref, centre),
        scores or shipped_scores(),
    )
    scored = []
    for n, ((i, j), (_, box)) in enumerate(zip(spans, inks)):
        probs = out.probabilities[n]
        score = float(scores[n])
        emb = None if out.embedding is None else out.embedding[n]
        scored.append(
            Candidate(
                first=i,
                last=j,
                image=images[n],
                probabilities=probs,
                embedding=emb,
                box=box,
                score=score,
            )
        )
    path, _ = best_path(len(units), scored, per_digit)
    return ImageSplit(sorted(path, key=lambda c: (c.box[0] + c.box[2]) / 2), len(scored))


def read_number_image(
    canvas: np.ndarray, recognizer: Recognizer, brush: int | None = None
) -> ImageNumber:
    """A picture's number: the split, then each digit read as a single digit (TTA, the
    recognizer's "not sure" threshold)."""
    split = split_image(canvas, recognizer.model, brush)
    digits = []
    for c in split.digits:
        reading = recognizer.read_image(c.image)
        p = reading.prediction
        confidence = p.confidence if math.isfinite(p.confidence) else 0.0
        digits.append(ImageDigit(p.digit, confidence, recognizer.sure(p), c.box, reading))
    return ImageNumber(tuple(digits), split.candidates)
