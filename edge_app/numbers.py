"""Reading a number from its strokes: candidate digits, one batched model call, best path.

The app knows more than the ink: the strokes, in time order, with pen lifts. A digit is (almost
always) a run of consecutive strokes, so the reader

1. cuts strokes into *units*: each stroke, and, for a stroke wide enough to hold two digits
   (a "12" with no pen lift), its pieces between turning points (where it stops going down
   and goes up: a 1's foot);
2. moves a *delayed* stroke (the bar of a 5 or a 7 added after the next digit) back next to
   the stroke it overlaps, so the digit it completes is again a run;
3. makes every run of up to ``MAX_UNITS`` units a candidate digit, renders it alone exactly as
   the app renders ink (the same calls as :func:`~mnist_edge.edge_app.strokes.render`, on a
   crop of the canvas), turns it into model input with the one preprocessing path
   (:func:`~mnist_edge.edge_app.preprocess.to_mnist`) and scores all candidates in one batch;
4. scores each candidate as a digit with a small network (``number_weights``: one hidden
   layer, about a thousand weights) on the
   model's probabilities and geometry (height and width against the writing's height, overlap
   and gap with the neighbouring units, cuts, vertical offset), fitted on fragments, pairs and
   true digits of numbers composed from training writers only (``mnist_edge.train.numbers``):
   a candidate that is not a digit loses even when the model is confident about it. A
   candidate that ends at a cut has a network of its own, fitted on numbers with joins;
5. takes the best split by dynamic programming over unit boundaries.

Candidate readings are cached by their strokes' content, so while a person writes, only the
candidates that contain the newest stroke are rendered and read again.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mnist_edge.edge_app import number_weights
from mnist_edge.edge_app.preprocess import from_ink, to_mnist
from mnist_edge.edge_app.strokes import Stroke, draw_segment

if TYPE_CHECKING:
    from mnist_edge.edge_app.recognizer import Reading

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


@dataclass(frozen=True)
class Candidate:
    """A run of units [first, last) read as one digit."""

    first: int
    last: int
    image: np.ndarray  # uint8 28x28: what the model read
    probabilities: np.ndarray  # float32 [10]
    embedding: np.ndarray | None
    box: tuple[int, int, int, int]  # left, top, right, bottom (exclusive) in canvas px, ink
    exact: bool = True  # ``image`` is pixel-equal to the single-digit path (no blended overlap)
    score: float = 0.0  # log P(this is one digit)
    key: tuple[object, ...] = ()  # its units' content: equal keys, equal ink


@dataclass(frozen=True)
class NumberDigit:
    """One digit of a number as the app shows it: where its ink is, its strokes, its reading."""

    box: tuple[int, int, int, int]  # left, top, right, bottom (exclusive), canvas px
    strokes: tuple[int, ...]  # its strokes, as indices in time order
    reading: Reading


@dataclass(frozen=True)
class Split:
    """The best reading's digits, left to right as written, and how it was found."""

    digits: list[Candidate]
    strokes_of: list[list[int]]  # the strokes (time-order indices) of each digit
    candidates: int  # how many candidates were scored
    log_score: float  # the path's summed log scores
    #: What it was read from, for :meth:`NumberReader.exact_images`: the strokes, the canvas
    #: (width, height, brush), each stroke's units and pixels.
    strokes: Sequence[Stroke] = ()
    size: tuple[int, int, int] = (0, 0, 0)
    per_stroke: Sequence[Sequence[Unit]] = ()
    pixels: Sequence[np.ndarray] = ()


def _pixels(stroke: Stroke, width: int, height: int) -> np.ndarray:
    """The stroke's points in canvas pixels, as :func:`~mnist_edge.edge_app.strokes.to_pixels`
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


def _overlap(a: Unit, b: Unit) -> float:
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
        pixels = [_pixels(s, width, height) for s in strokes]
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
            mine = max(_overlap(me, p) for p in previous)
            best, where = 0.0, -1
            for k, earlier in enumerate(order[:-1]):
                share = max(_overlap(me, e) for e in per_stroke[earlier])
                if share > best:
                    best, where = share, k
            # It lies over an earlier stroke clearly more than over the one just before it.
            if best >= 0.5 and best >= mine + 0.3:
                order.insert(where + 1, s)
                continue
        order.append(s)
    return order


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


def _model_input(
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


def writing_height(units: Sequence[Unit], brush: int) -> float:
    """How tall this person writes digits, in px: the median height of the tall strokes (a bar
    or a flag is short, most strokes span the digit). Whole strokes, not the pieces of cut
    ones: a joined-up stroke's pieces are each only part of a digit's height."""
    spans: dict[int, tuple[float, float]] = {}
    for u in units:
        top, bottom = spans.get(u.stroke, (u.y0, u.y1))
        spans[u.stroke] = (min(top, u.y0), max(bottom, u.y1))
    heights = [b - t + brush for t, b in spans.values()]
    tall = [h for h in heights if h >= 0.5 * max(heights)]
    return float(max(statistics.median(tall), 2.0 * brush))


FEATURES = (
    "log p1",
    "log p1 - log p2",
    "entropy",
    "log height / writing height",
    "log width / writing height",
    "units",
    "cut ends",
    "overlap with previous unit",
    "overlap with next unit",
    "overlap with the unit before the previous",
    "overlap with the unit after the next",
    "gap to previous unit",
    "gap to next unit",
    "largest gap inside",
    "vertical offset",
    *(f"log p({d})" for d in range(10)),
)
CUT_ENDS = FEATURES.index("cut ends")


def features(
    units: Sequence[Unit],
    first: int,
    last: int,
    probabilities: np.ndarray,
    ref: float,
    centre_y: float,
) -> np.ndarray:
    """The rejection model's inputs for the candidate made of ``units[first:last]``."""
    group = units[first:last]
    p = np.clip(probabilities.astype(np.float64), 1e-6, 1.0)
    logp = np.log(p)
    top2 = np.sort(logp)[-2:]
    x0, x1 = min(u.x0 for u in group), max(u.x1 for u in group)
    y0, y1 = min(u.y0 for u in group), max(u.y1 for u in group)
    before = units[first - 1] if first > 0 else None
    after = units[last] if last < len(units) else None
    before2 = units[first - 2] if first > 1 else None
    after2 = units[last + 1] if last + 1 < len(units) else None

    def cut(a: Unit | None, b: Unit | None) -> float:  # a boundary inside one stroke
        return float(a is not None and b is not None and a.stroke == b.stroke)

    whole = Unit(-1, 0, 0, (0, 0, 0), x0, y0, x1, y1)
    ordered = sorted(group, key=lambda u: u.x0)
    reach, inside = ordered[0].x1, 0.0
    for u in ordered[1:]:
        inside = max(inside, u.x0 - reach)
        reach = max(reach, u.x1)
    return np.array(
        [
            top2[1],
            top2[1] - top2[0],
            float(-(p * logp).sum()),
            np.log((y1 - y0 + 1) / ref),
            np.log((x1 - x0 + 1) / ref),
            float(len(group)),
            cut(before, group[0]) + cut(group[-1], after),
            _overlap(whole, before) if before is not None else 0.0,
            _overlap(whole, after) if after is not None else 0.0,
            _overlap(whole, before2) if before2 is not None else 0.0,
            _overlap(whole, after2) if after2 is not None else 0.0,
            (x0 - before.x1) / ref if before is not None else 1.0,
            (after.x0 - x1) / ref if after is not None else 1.0,
            inside / ref,
            abs((y0 + y1) / 2 - centre_y) / ref,
            *logp,
        ],
        np.float64,
    )


def feature_matrix(
    units: Sequence[Unit],
    spans: np.ndarray,
    probabilities: np.ndarray,
    ref: float,
    centre_y: float,
    blocks: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`features` of many candidates at once (``spans``: int [N, 2] of first, last;
    ``probabilities``: [N, 10]): the same numbers, as one array operation per feature, so
    the reading after each stroke does not pay a Python loop per candidate. ``blocks`` (int
    [N, 2], start and end of each row's units): ``units`` holds several reading orders one
    after the other, each row's neighbours are those of its own order."""
    n = len(units)
    lo, hi = (0, n) if blocks is None else (blocks[:, 0], blocks[:, 1])
    geo = np.array([(u.x0, u.y0, u.x1, u.y1, u.stroke) for u in units], np.float64)
    ux0, uy0, ux1, uy1, stroke = geo.T
    first, last = spans[:, 0], spans[:, 1]
    idx = first[:, None] + np.arange(MAX_UNITS)[None, :]
    inside_run = idx < last[:, None]
    idx = np.minimum(idx, n - 1)
    x0 = np.where(inside_run, ux0[idx], np.inf).min(1)
    x1 = np.where(inside_run, ux1[idx], -np.inf).max(1)
    y0 = np.where(inside_run, uy0[idx], np.inf).min(1)
    y1 = np.where(inside_run, uy1[idx], -np.inf).max(1)
    # np.minimum / np.maximum rather than np.clip: the same numbers, a fifth of the overhead.
    p = np.minimum(np.maximum(probabilities.astype(np.float64), 1e-6), 1.0)
    logp = np.log(p)
    top2 = np.sort(logp, axis=1)[:, -2:]

    def neighbour(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # (exists, index clamped)
        exists = (k >= lo) & (k < hi)
        return exists, np.minimum(np.maximum(k, 0), n - 1)

    def overlap(k: np.ndarray) -> np.ndarray:  # of the whole candidate with unit k
        exists, k = neighbour(k)
        inter = np.minimum(x1, ux1[k]) - np.maximum(x0, ux0[k])
        narrower = np.maximum(1.0, np.minimum(x1 - x0, ux1[k] - ux0[k]))
        share = np.minimum(np.maximum(inter / narrower, 0.0), 1.0)
        return np.where(exists & (inter > 0), share, 0.0)

    has_before, before = neighbour(first - 1)
    has_after, after = neighbour(last)
    cuts = (has_before & (stroke[before] == stroke[first])).astype(np.float64) + (
        has_after & (stroke[after] == stroke[last - 1])
    )
    # The largest gap inside: units by left edge, each against the reach of those before it.
    left = np.where(inside_run, ux0[idx], np.inf)
    order = np.argsort(left, axis=1, kind="stable")
    left = np.take_along_axis(left, order, 1)
    right = np.take_along_axis(np.where(inside_run, ux1[idx], -np.inf), order, 1)
    reach = np.maximum.accumulate(right, axis=1)
    gaps = np.where(np.isfinite(left[:, 1:]), left[:, 1:] - reach[:, :-1], 0.0)
    inside = np.maximum(gaps.max(1, initial=0.0), 0.0)
    return np.column_stack(
        [
            top2[:, 1],
            top2[:, 1] - top2[:, 0],
            -(p * logp).sum(1),
            np.log((y1 - y0 + 1) / ref),
            np.log((x1 - x0 + 1) / ref),
            (last - first).astype(np.float64),
            cuts,
            overlap(first - 1),
            overlap(last),
            overlap(first - 2),
            overlap(last + 1),
            np.where(has_before, (x0 - ux1[before]) / ref, 1.0),
            np.where(has_after, (ux0[after] - x1) / ref, 1.0),
            inside / ref,
            np.abs((y0 + y1) / 2 - centre_y) / ref,
            logp,
        ]
    )


@dataclass(frozen=True)
class ScoreNet:
    """log P(one digit) of candidates' features: one hidden layer (tanh) on standardized
    features, a logistic output."""

    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray  # [features, hidden]
    b1: np.ndarray
    w2: np.ndarray
    b2: float

    @classmethod
    def of(cls, mean: Any, scale: Any, w1: Any, b1: Any, w2: Any, b2: float) -> ScoreNet:
        mean = np.asarray(mean, np.float64)
        w1 = np.asarray(w1, np.float64).reshape(len(mean), -1)
        return cls(mean, np.asarray(scale), w1, np.asarray(b1), np.asarray(w2), float(b2))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        hidden = np.tanh(((x - self.mean) / self.scale) @ self.w1 + self.b1)
        return -np.logaddexp(0.0, -(hidden @ self.w2 + self.b2))  # log sigmoid, stable


@functools.cache
def _nets() -> tuple[ScoreNet, ScoreNet]:
    """The fitted networks (``number_weights``): for candidates ending at pen lifts, at cuts."""
    w = number_weights
    return (
        ScoreNet.of(w.MEAN, w.SCALE, w.W1, w.B1, w.W2, w.B2),
        ScoreNet.of(w.CUT_MEAN, w.CUT_SCALE, w.CUT_W1, w.CUT_B1, w.CUT_W2, w.CUT_B2),
    )


def digit_scores(x: np.ndarray) -> np.ndarray:
    """log P(one digit) of each row of ``x`` [N, features] of a candidate with no cut end."""
    return _nets()[0](x)


def scores_of(x: np.ndarray, net: ScoreNet, cut_net: ScoreNet, cut_prior: float) -> np.ndarray:
    """log P(one digit) of each candidate: ``net`` for candidates whose ends are pen lifts,
    ``cut_net`` less ``cut_prior`` for those that end at a cut (a stroke that runs on into
    the next digit). Two networks because pen lifts and joins look different: fitted as one
    on numbers with both, it read numbers with pen lifts 2-5 points worse."""
    cut = x[:, CUT_ENDS] > 0
    out = np.empty(len(x), np.float64)
    out[~cut] = net(x[~cut])
    out[cut] = cut_net(x[cut]) - cut_prior
    return out


def _spans(units: Sequence[Unit], brush: int) -> list[tuple[int, int]]:
    """The runs of units that may be one digit: up to ``MAX_UNITS`` units of at most
    ``MAX_STROKES`` strokes, no wider than a digit can be (unless one cut stroke)."""
    widest = WIDEST * (writing_height(units, brush) if units else 1.0)
    out = []
    for i in range(len(units)):
        strokes: set[int] = set()
        x0, x1 = np.inf, -np.inf
        for j in range(i + 1, min(len(units), i + MAX_UNITS) + 1):
            u = units[j - 1]
            strokes.add(u.stroke)
            if len(strokes) > MAX_STROKES:
                break  # longer runs only add strokes
            x0, x1 = min(x0, u.x0), max(x1, u.x1)
            if j - i == 1 or len(strokes) == 1 or x1 - x0 <= widest:  # one stroke, cut or not
                out.append((i, j))
    return out


def _span_key(size: tuple[int, int, int], units: Sequence[Unit]) -> tuple[object, ...]:
    """A candidate's cache key: the canvas and its units' content in time order, so the same
    ink in either reading order is read once (and its final reading kept once)."""
    return (*size, *(u.key for u in sorted(units, key=lambda u: (u.stroke, u.start))))


class NumberReader:
    """Reads numbers from strokes with one model; keeps candidate readings between reads."""

    def __init__(self, model: object) -> None:
        self.model = model
        self._cache: dict[
            tuple[object, ...],
            tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple[int, int, int, int], bool],
        ] = {}
        self._inks: dict[tuple[object, ...], tuple[np.ndarray, int, int]] = {}
        self._pixels: dict[tuple[int, int, int, int], np.ndarray] = {}
        self._units: dict[tuple[object, ...], list[Unit]] = {}
        #: Final readings of chosen digits by candidate key (the recognizer's TTA reading):
        #: while a person writes the next digit, the digits before it are not read again.
        self.finals: dict[tuple[object, ...], tuple[np.ndarray, Any]] = {}

    def candidates(
        self, strokes: Sequence[Stroke], width: int, height: int, brush: int
    ) -> tuple[list[Unit], list[Candidate]]:
        """Every candidate digit in time order with its model reading, unscored."""
        return self.candidate_sets(strokes, width, height, brush, ("time",))[0]

    def candidate_sets(
        self,
        strokes: Sequence[Stroke],
        width: int,
        height: int,
        brush: int,
        orders: Sequence[str] = ORDERS,
    ) -> list[tuple[list[Unit], list[Candidate]]]:
        """Per reading order whose units differ from the ones before, every candidate digit
        with its model reading (all new ones in one batch), unscored."""
        per_stroke, pixels = self._stroke_units(strokes, width, height, brush)
        return self._candidate_sets(strokes, per_stroke, pixels, (width, height, brush), orders)

    def _candidate_sets(
        self,
        strokes: Sequence[Stroke],
        per_stroke: list[list[Unit]],
        pixels: list[np.ndarray],
        size: tuple[int, int, int],
        orders: Sequence[str],
    ) -> list[tuple[list[Unit], list[Candidate]]]:
        width, height, brush = size
        plans: list[tuple[list[Unit], list[tuple[int, int]], list[tuple[object, ...]]]] = []
        for order in orders:
            units = in_order(per_stroke, order)
            if any(units == seen for seen, _, _ in plans):
                continue
            spans = _spans(units, brush)
            keys = [_span_key((width, height, brush), units[i:j]) for i, j in spans]
            plans.append((units, spans, keys))
        fresh: dict[tuple[object, ...], tuple[int, int, list[Unit]]] = {}
        for units, spans, keys in plans:
            for (i, j), key in zip(spans, keys):
                if key not in self._cache and key not in fresh:
                    fresh[key] = (i, j, units)
        if fresh:
            self._read_fresh(fresh, strokes, pixels, (width, height, brush))
        out = []
        for units, spans, keys in plans:
            found = []
            for (i, j), key in zip(spans, keys):
                image, probs, emb, box, whole = self._cache[key]
                found.append(Candidate(i, j, image, probs, emb, box, whole, key=key))
            out.append((units, found))
        # Keep what this drawing is made of, no more: memory stays that of one drawing
        # (a stroke added or undone finds its neighbours' readings still here).
        current = {key for _, _, keys in plans for key in keys}
        if len(self._cache) > len(current):
            self._cache = {k: v for k, v in self._cache.items() if k in current}
            self.finals = {k: v for k, v in self.finals.items() if k in current}
        inks = {(width, height, brush, u.key) for units, _, _ in plans for u in units}
        if len(self._inks) > len(inks):
            self._inks = {k: v for k, v in self._inks.items() if k in inks}
        if len(self._pixels) > len(strokes):
            self._pixels = {}
        if len(self._units) > len(strokes):
            self._units = {}
        return out

    def _stroke_units(
        self, strokes: Sequence[Stroke], width: int, height: int, brush: int
    ) -> tuple[list[list[Unit]], list[np.ndarray]]:
        pixels = self._stroke_pixels(strokes, width, height)
        return stroke_units(strokes, width, height, brush, pixels, self._units)

    def _stroke_pixels(
        self, strokes: Sequence[Stroke], width: int, height: int
    ) -> list[np.ndarray]:
        """Each stroke's pixels, kept by content: only a new stroke is mapped again."""
        out = []
        for stroke in strokes:
            key = (width, height, len(stroke), hash(tuple(stroke)))
            px = self._pixels.get(key)
            if px is None:
                px = self._pixels[key] = _pixels(stroke, width, height)
            out.append(px)
        return out

    def _read_fresh(
        self,
        fresh: dict[tuple[object, ...], tuple[int, int, list[Unit]]],
        strokes: Sequence[Stroke],
        pixels: list[np.ndarray],
        size: tuple[int, int, int],
    ) -> None:
        """Render the new candidates (grouped by order) and read them in one model call."""
        keys = list(fresh)
        images_parts, boxes, exact = [], [], []
        by_order: dict[int, tuple[list[Unit], list[tuple[int, int]]]] = {}
        for key in keys:
            i, j, units = fresh[key]
            by_order.setdefault(id(units), (units, []))[1].append((i, j))
        ordered_keys = []
        for units, spans in by_order.values():
            imgs, bxs, ex = self._render(
                units, strokes, pixels, spans, list(range(len(spans))), size
            )
            images_parts.append(imgs)
            boxes += bxs
            exact += ex
            ordered_keys += [_span_key(size, units[i:j]) for i, j in spans]
        images = np.concatenate(images_parts)
        out = self.model.run(images)  # type: ignore[attr-defined]
        for n, key in enumerate(ordered_keys):
            emb = None if out.embedding is None else out.embedding[n]
            self._cache[key] = (images[n], out.probabilities[n], emb, boxes[n], exact[n])

    def _unit_ink(
        self,
        unit: Unit,
        strokes: Sequence[Stroke],
        pixels: list[np.ndarray],
        size: tuple[int, int, int],
    ) -> tuple[np.ndarray, int, int]:
        """One unit's ink, drawn alone and exactly, on its own crop (cached by content)."""
        key = (*size, unit.key)
        found = self._inks.get(key)
        if found is None:
            width, height, brush = size
            found = render_units([unit], strokes, pixels, width, height, brush)
            found = (found[0], *found[1])
            self._inks[key] = found
        return found

    def _render(
        self,
        units: list[Unit],
        strokes: Sequence[Stroke],
        pixels: list[np.ndarray],
        spans: list[tuple[int, int]],
        fresh: list[int],
        size: tuple[int, int, int],
    ) -> tuple[np.ndarray, list[tuple[int, int, int, int]], list[bool]]:
        """Model input for the fresh spans, composed of each unit's ink drawn once.

        Where the units' inks do not overlap, this is exactly the ink ``render`` draws; where
        they do, anti-aliased ink is blended as it blends (screen: a + b - ab), within a level
        or two of drawing it. Each span says whether it is exact; the digits finally read are
        redrawn exactly where it is not (:meth:`exact_image`)."""
        images = np.zeros((len(fresh), 28, 28), np.uint8)
        boxes: list[tuple[int, int, int, int]] = [(0, 0, 1, 1)] * len(fresh)
        exact = [True] * len(fresh)
        by_start: dict[int, list[tuple[int, int]]] = {}
        for n, k in enumerate(fresh):
            by_start.setdefault(spans[k][0], []).append((spans[k][1], n))
        for i, wanted in by_start.items():
            wanted.sort()
            inks = [self._unit_ink(u, strokes, pixels, size) for u in units[i : wanted[-1][0]]]
            left = min(x for _, x, _ in inks)
            top = min(y for _, _, y in inks)
            right = max(x + ink.shape[1] for ink, x, _ in inks)
            bottom = max(y + ink.shape[0] for ink, _, y in inks)
            crop = np.zeros((bottom - top, right - left), np.uint8)
            drawn, overlapped = 0, False
            for j, n in wanted:
                while drawn < j - i:
                    ink, x, y = inks[drawn]
                    region = crop[
                        y - top : y - top + ink.shape[0], x - left : x - left + ink.shape[1]
                    ]
                    if drawn and np.logical_and(region, ink).any():
                        overlapped = True
                        a16, b16 = region.astype(np.uint16), ink.astype(np.uint16)
                        region[...] = a16 + b16 - (a16 * b16 + 127) // 255
                    else:
                        np.maximum(region, ink, out=region)
                    drawn += 1
                x0 = min(x for _, x, _ in inks[: j - i])
                y0 = min(y for _, _, y in inks[: j - i])
                x1 = max(x + ink.shape[1] for ink, x, _ in inks[: j - i])
                y1 = max(y + ink.shape[0] for ink, _, y in inks[: j - i])
                view = crop[y0 - top : y1 - top, x0 - left : x1 - left]
                images[n], boxes[n] = _model_input(view, (x0, y0))
                exact[n] = not overlapped
        return images, boxes, exact

    def exact_images(self, split: Split, digits: Sequence[Candidate]) -> np.ndarray:
        """The digits (of ``split``) as the single-digit path sees them: each one's strokes
        drawn exactly as ``render`` draws them, through ``to_mnist`` (uint8 [N, 28, 28])."""
        out = np.zeros((len(digits), 28, 28), np.uint8)
        width, height, brush = split.size
        by_key: dict[object, Unit] = {}
        for n, c in enumerate(digits):
            if c.exact:
                out[n] = c.image
                continue
            if not by_key:  # only when a digit needs redrawing
                by_key = {u.key: u for units in split.per_stroke for u in units}
            mine = [by_key[k] for k in c.key[3:]]
            crop, _ = render_units(mine, split.strokes, split.pixels, width, height, brush)
            out[n] = to_mnist(crop)
        return out

    def split(
        self,
        strokes: Sequence[Stroke],
        width: int,
        height: int,
        brush: int,
        per_digit: float | None = None,
    ) -> Split:
        """The best split of the strokes into digits (empty for no ink): the best path over
        the candidates of each reading order, the higher scoring one of them."""
        bias = number_weights.PER_DIGIT if per_digit is None else per_digit
        best: Split | None = None
        scored_count = 0
        per_stroke, pixels = self._stroke_units(strokes, width, height, brush)
        size = (width, height, brush)
        sets = self._candidate_sets(strokes, per_stroke, pixels, size, ORDERS)
        if not sets[0][0]:
            return Split([], [], 0, 0.0)
        for (units, found), scores in zip(sets, candidate_scores(sets, brush)):
            scored_count += len(found)
            path, total = best_path(len(units), found, bias, scores)
            if best is None or total > best.log_score:
                path.sort(key=lambda c: (c.box[0] + c.box[2]) / 2)  # read left to right
                strokes_of = [sorted({u.stroke for u in units[c.first : c.last]}) for c in path]
                best = Split(path, strokes_of, 0, total)
        assert best is not None  # at least one order
        return dataclasses.replace(
            best,
            candidates=scored_count,
            strokes=strokes,
            size=size,
            per_stroke=per_stroke,
            pixels=pixels,
        )


def candidate_scores(
    sets: Sequence[tuple[Sequence[Unit], Sequence[Candidate]]], brush: int
) -> list[np.ndarray]:
    """log P(one digit) of each candidate of each reading order, by the fitted networks
    (:func:`scores_of`), all in one pass."""
    matrices = candidate_matrices(sets, brush)
    scores = scores_of(np.concatenate(matrices), *_nets(), number_weights.CUT_PRIOR)
    return np.split(scores, np.cumsum([len(m) for m in matrices])[:-1])


def candidate_features(
    units: Sequence[Unit], found: Sequence[Candidate], brush: int
) -> list[tuple[Candidate, np.ndarray]]:
    """Each candidate with the rejection model's inputs."""
    return list(zip(found, candidate_matrix(units, found, brush)))


def candidate_matrix(units: Sequence[Unit], found: Sequence[Candidate], brush: int) -> np.ndarray:
    """The rejection model's inputs of the candidates, a row each [N, features]."""
    return candidate_matrices([(units, found)], brush)[0]


def candidate_matrices(
    sets: Sequence[tuple[Sequence[Unit], Sequence[Candidate]]], brush: int
) -> list[np.ndarray]:
    """:func:`candidate_matrix` of each reading order's candidates (the same units in another
    order), computed in one pass: the reading after a stroke pays numpy's per-call cost once."""
    units = sets[0][0]  # every order holds the same units: the same height and centre
    ref = writing_height(units, brush)
    centre = float(statistics.median([(u.y0 + u.y1) / 2 for u in units]))
    everything: list[Unit] = []
    spans, blocks, probabilities, sizes = [], [], [], []
    for order_units, found in sets:
        start = len(everything)
        everything += order_units
        spans += [(start + c.first, start + c.last) for c in found]
        blocks += [(start, len(everything))] * len(found)
        probabilities += [c.probabilities for c in found]
        sizes.append(len(found))
    x = feature_matrix(
        everything,
        np.array(spans, np.int64).reshape(-1, 2),
        np.array(probabilities, np.float64).reshape(-1, 10),
        ref,
        centre,
        np.array(blocks, np.int64).reshape(-1, 2),
    )
    return np.split(x, np.cumsum(sizes)[:-1])


def best_path(
    count: int,
    scored: Sequence[Candidate],
    per_digit: float,
    scores: Sequence[float] | np.ndarray | None = None,
) -> tuple[list[Candidate], float]:
    """Dynamic programming over unit boundaries: the candidates that cover units 0..count-1
    once, in order, with the highest summed score (each digit adds ``per_digit``). ``scores``
    (one per candidate) stand for their ``score``; the path's candidates then carry them."""
    values = [c.score for c in scored] if scores is None else [float(v) for v in scores]
    by_end: dict[int, list[int]] = {}
    for k, c in enumerate(scored):
        by_end.setdefault(c.last, []).append(k)
    best = [-np.inf] * (count + 1)
    best[0] = 0.0
    back = [-1] * (count + 1)
    for j in range(1, count + 1):
        for k in by_end.get(j, []):
            total = best[scored[k].first] + values[k] + per_digit
            if total > best[j]:
                best[j], back[j] = total, k
    path: list[Candidate] = []
    j = count
    while j > 0:
        k = back[j]
        assert k >= 0  # single units are always candidates: every end is reachable
        c = scored[k]
        path.append(c if scores is None else dataclasses.replace(c, score=values[k]))
        j = c.first
    path.reverse()
    return path, float(best[count])
