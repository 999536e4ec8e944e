"""Step 3 of reading a number: a candidate's units rendered alone exactly as the app renders
ink (the same segment calls as :func:`~mnist_edge.ink.strokes.render`, on a crop of the
canvas) and turned into model input by the one preprocessing path."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

import numpy as np

from mnist_edge.edge_app.numbers.units import Unit, tall_median_of_sorted
from mnist_edge.ink.preprocess import from_ink, to_mnist
from mnist_edge.ink.strokes import Stroke, draw_segment


def _window(
    units: Sequence[Unit], width: int, height: int, brush: int
) -> tuple[int, int, int, int]:
    """The crop of the canvas that holds these units' ink (and a margin), clamped to it."""
    pad = brush // 2 + 3
    left = max(0, int(min(u.x0 for u in units)) - pad)
    top = max(0, int(min(u.y0 for u in units)) - pad)
    right = min(width, int(max(u.x1 for u in units)) + pad + 1)
    bottom = min(height, int(max(u.y1 for u in units)) + pad + 1)
    return left, top, right, bottom


def _draw_unit(
    crop: np.ndarray,
    shift: tuple[int, int],
    unit: Unit,
    strokes: Sequence[Stroke],
    pixels: Sequence[np.ndarray],
    brush: int,
) -> None:
    """The exact calls ``render`` makes for this (piece of a) stroke, shifted by the crop: a dot
    where it starts, a segment per new point, repeats skipped."""
    points = strokes[unit.stroke]
    # Plain tuples once: the per-point numpy indexing cost more than the drawing.
    px = [tuple(p) for p in (pixels[unit.stroke][unit.start : unit.end + 1] - shift).tolist()]
    draw_segment(crop, px[0], px[0], brush)
    for k, i in enumerate(range(unit.start, unit.end)):
        if points[i] != points[i + 1]:
            draw_segment(crop, px[k], px[k + 1], brush)


def render_units(
    units: Sequence[Unit],
    strokes: Sequence[Stroke],
    pixels: Sequence[np.ndarray],
    width: int,
    height: int,
    brush: int,
) -> tuple[np.ndarray, tuple[int, int]]:
    """These units' ink alone, in time order, on a crop of the canvas; and the crop's origin."""
    left, top, right, bottom = _window(units, width, height, brush)
    crop = np.zeros((bottom - top, right - left), np.uint8)
    for u in sorted(units, key=lambda u: (u.stroke, u.start)):
        _draw_unit(crop, (left, top), u, strokes, pixels, brush)
    return crop, (left, top)


def model_input(
    crop: np.ndarray, origin: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``to_mnist`` of the crop and its ink's box in canvas px (left, top, right, bottom), from
    one look at where its ink is (``to_mnist`` would look again)."""
    rows = np.flatnonzero(crop.any(axis=1))
    cols = np.flatnonzero(crop.any(axis=0))
    if not len(rows):
        return to_mnist(crop), (origin[0], origin[1], origin[0] + 1, origin[1] + 1)
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return from_ink(crop[top:bottom, left:right]), (
        origin[0] + left,
        origin[1] + top,
        origin[0] + right,
        origin[1] + bottom,
    )


#: A number's ink is drawn at most this thick for its writing height (px of points): the
#: canvas' brush against the smallest usual writing (0.45 of the strip: 13 px for 100 px on
#: the default strip), so a number written at the usual sizes is drawn exactly as the canvas
#: draws it, and one written small is not drawn as blobs (a 4 read as 6, a 2 as 8).
INK_PER_HEIGHT = 1 / 8

#: While a number is written, its brush changes only when the writing height asks for one at
#: least this much thicker or thinner (px): a new stroke that nudges the median height across
#: a rounding step would otherwise redraw, and read again, every digit already written.
BRUSH_HOLD = 1.5

#: The brush is set by a number's first strokes (with ink) and kept after them: by then the
#: writing size is known, and a change later redraws and reads again every digit written,
#: a whole number's read (10-25 ms here) after a stroke that should cost 3. Four strokes keep
#: the last stroke of a 5-digit number written in five or more strokes from changing it.
BRUSH_STROKES = 4


def _writing_heights(strokes: Sequence[Stroke], height: int) -> list[float]:
    """The first ``BRUSH_STROKES`` strokes' heights in canvas px (points, without the brush);
    none for an empty one. Later strokes are not measured: every read calls this."""
    inked = (s for s in strokes if s)
    return [
        (max(p[1] for p in s) - min(p[1] for p in s)) * (height - 1)
        for s in itertools.islice(inked, BRUSH_STROKES)
    ]


def ink_brush(strokes: Sequence[Stroke], width: int, height: int, brush: int) -> int:
    """The brush to draw (and read) a number's ink with: the canvas' ``brush``, thinner where
    the writing is small (``INK_PER_HEIGHT`` of the writing height, as the reader measures it).

    The brush follows the first ``BRUSH_STROKES`` strokes in the order they were written and
    holds until the writing asks for one ``BRUSH_HOLD`` px away, or for the canvas' own; later
    strokes keep it. A function of the strokes alone (a replay, an undo or a reading from
    scratch gets the brush the app had), which does not flap while writing."""
    held: int | None = None
    ordered: list[float] = []  # the heights so far, kept sorted: one insertion per stroke
    for h in _writing_heights(strokes, height):
        bisect.insort(ordered, h)
        ideal = min(float(brush), max(1.0, tall_median_of_sorted(ordered) * INK_PER_HEIGHT))
        # Writing that asks for the canvas' brush gets it: the usual sizes read as drawn.
        if held is None or abs(ideal - held) >= BRUSH_HOLD or ideal == brush:
            held = int(ideal + 0.5)
    return brush if held is None else held
