"""Steps 1-2 of reading a number: strokes become *units* (each stroke, and the pieces of a
stroke wide enough to hold two digits, cut at turning points), in time order and in a second
order by position (a delayed stroke, the bar of a 5 or a 7, moved back beside what it
completes); and the writing height every size in the reader is measured against."""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mnist_edge.ink.strokes import Stroke

MAX_STROKES = 4  # strokes in one digit: a 4 or a 5 of up to four strokes


MAX_UNITS = 6  # units in one digit: its strokes and the pieces of cut ones


MAX_CUTS = 6  # per stroke: a joined "12" has turning points in its 2 too


CUT_WIDTH = 1.05  # a stroke is cut only if wider than this many writing heights


MIN_PIECE = 0.6  # writing heights: how tall the ink before and after a cut is at least


WIDEST = 1.6  # a candidate of several strokes is at most this many writing heights wide


@dataclass(frozen=True)
class Unit:
    """A stroke, or a piece of one between cut points, in canvas pixels."""

    stroke: int  # index of the stroke in time order
    start: int  # first point
    end: int  # last point (inclusive)
    key: tuple[int, int, int]  # content hash of the stroke, start, end: the cache key
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.key[2] == -1


def pixels_of(stroke: Stroke, width: int, height: int) -> np.ndarray:
    """The stroke's points in canvas pixels, as :func:`~mnist_edge.ink.strokes.to_pixels`
    maps each (clamped to the canvas, rounded half to even), for all points at once."""
    if not stroke:
        return np.zeros((0, 2), np.int32)
    points = np.clip(np.asarray(stroke, np.float64).reshape(-1, 2), 0.0, 1.0)
    return np.rint(points * (width - 1, height - 1)).astype(np.int32)


def _cut_points(px: np.ndarray, brush: int, ref: float) -> list[int]:
    """Indices where a stroke wider than one digit (``ref``: how tall this person writes) may
    pass from one digit to the next: its turning points (where it stops going down and goes
    up, or the other way; a point repeated at the turn does not hide it), each leaving ink
    on both sides at least ``MIN_PIECE`` writing heights tall (a 1's foot, not a hook's tip),
    some points long and a brush apart, at most ``MAX_CUTS``."""
    x0, x1 = px[:, 0].min(), px[:, 0].max()
    if len(px) < 8 or x1 - x0 < max(3 * brush, CUT_WIDTH * ref):
        return []
    y = px[:, 1].astype(np.float64)
    k = max(1, len(px) // 30)
    smooth = np.convolve(np.pad(y, k, mode="edge"), np.ones(2 * k + 1) / (2 * k + 1), "valid")
    sign = np.sign(np.round(np.diff(smooth), 6))
    moving = np.flatnonzero(sign)
    # A turn: the first point after the last move one way, where the next move goes the other.
    turns = [int(a) + 1 for a, b in itertools.pairwise(moving) if sign[a] != sign[b]]
    # Each side's extent so far, from the start and from the end (for the piece sizes).
    lo, hi = np.minimum.accumulate(px, 0), np.maximum.accumulate(px, 0)
    rlo, rhi = np.minimum.accumulate(px[::-1], 0)[::-1], np.maximum.accumulate(px[::-1], 0)[::-1]
    least = MIN_PIECE * ref
    kept: list[int] = []
    for i in turns:  # turning points a brush apart, as evenly spread as the stroke allows
        if i - (kept[-1] if kept else 0) < 4 or len(px) - 1 - i < 4:
            continue  # a piece of a few points is a speck, not part of a digit
        if hi[i, 1] - lo[i, 1] < least or rhi[i, 1] - rlo[i, 1] < least:
            continue  # a hook or a tail, not a digit before or after
        if not kept or abs(int(px[i, 0]) - int(px[kept[-1], 0])) >= brush:
            kept.append(i)
    if len(kept) > MAX_CUTS:
        kept = [kept[round(j * (len(kept) - 1) / (MAX_CUTS - 1))] for j in range(MAX_CUTS)]
    return kept


def overlap(a: Unit, b: Unit) -> float:
    """Horizontal overlap of two units, as a share of the narrower (1: one spans the other)."""
    inter = min(a.x1, b.x1) - max(a.x0, b.x0)
    narrower = max(1.0, min(a.x1 - a.x0, b.x1 - b.x0))
    return float(np.clip(inter / narrower, 0.0, 1.0)) if inter > 0 else 0.0


ORDERS = ("time", "position")


def make_units(
    strokes: Sequence[Stroke], width: int, height: int, brush: int, order: str = "time"
) -> tuple[list[Unit], list[np.ndarray]]:
    """Units in reading order (see :func:`in_order`), and each stroke's pixels."""
    per_stroke, pixels = stroke_units(strokes, width, height, brush)
    return in_order(per_stroke, order), pixels


def in_order(per_stroke: list[list[Unit]], order: str) -> list[Unit]:
    """The units in reading order. ``time``: time order with delayed strokes moved back;
    ``position``: strokes left to right by the centre of their ink (a bar added late that
    reaches past its digit's body is then beside it again)."""
    ranked = _with_delayed_moved_back(per_stroke) if order == "time" else _by_position(per_stroke)
    return [u for s in ranked for u in per_stroke[s]]


def stroke_units(
    strokes: Sequence[Stroke],
    width: int,
    height: int,
    brush: int,
    pixels: list[np.ndarray] | None = None,
    cache: dict[tuple[object, ...], list[Unit]] | None = None,
) -> tuple[list[list[Unit]], list[np.ndarray]]:
    """Each stroke's units (itself, or its pieces between cut points), and its pixels.

    Whether a stroke is cut depends on how tall this person writes as far as that stroke
    (the strokes up to it, not after): a new stroke never re-cuts the strokes before it, so
    while a person writes only the newest stroke's candidates are new. ``cache`` keeps the
    units of strokes already cut (keyed by their content and that height)."""
    if pixels is None:
        pixels = [pixels_of(s, width, height) for s in strokes]
    heights: list[float] = []
    per_stroke: list[list[Unit]] = []
    for s, (stroke, px) in enumerate(zip(strokes, pixels)):
        if not len(px):
            per_stroke.append([])
            continue
        heights.append(float(np.ptp(px[:, 1])) + brush)
        tall = [h for h in heights if h >= 0.5 * max(heights)]
        ref = max(statistics.median(tall), 2.0 * brush)
        digest = hash(tuple(stroke))
        key = (width, height, brush, s, len(stroke), digest, ref)
        units = None if cache is None else cache.get(key)
        if units is None:
            units = _units_of(s, px, digest, _cut_points(px, brush, ref))
            if cache is not None:
                cache[key] = units
        per_stroke.append(units)
    return per_stroke, pixels


def _units_of(s: int, px: np.ndarray, digest: int, cuts: list[int]) -> list[Unit]:
    """Stroke ``s`` as units: its pieces between the cut points (itself if there are none)."""
    bounds = [0, *cuts, len(px) - 1]
    units = []
    for a, b in itertools.pairwise(bounds):
        part = px[a : b + 1]
        end_key = -1 if (a, b) == (0, len(px) - 1) else b
        units.append(
            Unit(
                s,
                a,
                b,
                (digest, a, end_key),
                float(part[:, 0].min()),
                float(part[:, 1].min()),
                float(part[:, 0].max()),
                float(part[:, 1].max()),
            )
        )
    return units


def _by_position(per_stroke: list[list[Unit]]) -> list[int]:
    """Strokes ordered by the centre of their ink, left to right (ties in time order)."""
    centres = {
        s: (min(u.x0 for u in units) + max(u.x1 for u in units)) / 2
        for s, units in enumerate(per_stroke)
        if units
    }
    return sorted(centres, key=lambda s: (centres[s], s))


def _with_delayed_moved_back(per_stroke: list[list[Unit]]) -> list[int]:
    """Stroke order for reading: a stroke that lies over an earlier stroke clearly more than
    over the stroke before it (a bar added late) is read right after that earlier stroke."""
    order: list[int] = []
    for s, units in enumerate(per_stroke):
        if not units:
            continue
        if len(units) == 1 and len(order) >= 2:
            me = units[0]
            previous = per_stroke[order[-1]]
            mine = max(overlap(me, p) for p in previous)
            best, where = 0.0, -1
            for k, earlier in enumerate(order[:-1]):
                share = max(overlap(me, e) for e in per_stroke[earlier])
                if share > best:
                    best, where = share, k
            # It lies over an earlier stroke clearly more than over the one just before it.
            if best >= 0.5 and best >= mine + 0.3:
                order.insert(where + 1, s)
                continue
        order.append(s)
    return order


def tall_median(heights: Sequence[float]) -> float:
    """How tall a person writes digits, from their strokes' heights: the median of the tall
    ones (at least half the tallest; a bar or a flag is short, most strokes span the digit)."""
    return tall_median_of_sorted(sorted(heights))


def tall_median_of_sorted(ordered: Sequence[float]) -> float:
    """:func:`tall_median` of heights already in ascending order (one cut, no sorting)."""
    return float(statistics.median(ordered[bisect.bisect_left(ordered, 0.5 * ordered[-1]) :]))


def writing_height(units: Sequence[Unit], brush: int) -> float:
    """How tall this person writes digits, in px of ink (:func:`tall_median`). Whole strokes,
    not the pieces of cut ones: a joined-up stroke's pieces are each only part of a digit's
    height."""
    spans: dict[int, tuple[float, float]] = {}
    for u in units:
        top, bottom = spans.get(u.stroke, (u.y0, u.y1))
        spans[u.stroke] = (min(top, u.y0), max(bottom, u.y1))
    heights = [b - t + brush for t, b in spans.values()]
    if not heights:  # no ink kept (a picture of specks, or one solid blot)
        return 2.0 * brush
    return max(tall_median(heights), 2.0 * brush)
