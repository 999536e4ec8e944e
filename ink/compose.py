"""Numbers composed from real drawn digits: one writer per number, written left to right.

Handwritten-number data is scarce; single drawn digits with their writer are not. A composed
number takes 2-5 digits of one writer, scales them to one height with jitter, sets them on a
wandering baseline with gaps from overlapping to wide, and keeps the strokes in time order,
digit by digit (optionally the flat last stroke of a 4, 5 or 7 after the next digit, as people
add a bar late). Each stroke remembers its digit (``stroke_digits``), so the reader's rejection
score can be fitted on true groups against fragments and pairs, and spacing can be measured.

Spacing is measured in ink, rendered with the app's brush on the app's canvas: ``touching``
(the inks of two neighbours touch), ``close`` (a gap narrower than the brush), ``apart``.
A number's spacing is that of its tightest pair.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from mnist_edge.ink.canvas import Canvas
from mnist_edge.ink.layout import DEFAULT_SIZE, SCREENS, compute
from mnist_edge.ink.strokes import Sample, Stroke, render

SPACINGS = ("apart", "close", "touching")
LENGTHS = (2, 3, 4, 5)
#: Gap between neighbours' point boxes, as a fraction of the digit height, per style: chosen so
#: that every spacing bucket is well filled once measured in ink (the brush adds ~1/12 a side).
GAP_STYLES = {
    "wide": (0.35, 0.7),
    "normal": (0.12, 0.35),
    "close": (0.0, 0.14),
    "overlap": (-0.16, 0.0),
}
BAR_DIGITS = (4, 5, 7)  # digits whose last flat stroke people add after the next digit


def strip_canvas(size: tuple[int, int] = DEFAULT_SIZE) -> Canvas:
    c = compute(*size, wide_canvas=True).canvas
    return Canvas.sized(c.w, c.h)


def strip_canvases(screens: Sequence[tuple[int, int]] = SCREENS) -> list[Canvas]:
    return [strip_canvas(s) for s in screens]


@dataclass(frozen=True)
class ComposedNumber:
    sample: Sample  # label: the digits as a string; strokes canvas-normalized, in time order
    stroke_digits: tuple[int, ...]  # the digit (0-based position) each stroke belongs to
    spacing: str  # one of SPACINGS, measured in ink on ``canvas``
    canvas: Canvas
    #: The digit of every point, per stroke: differs from ``stroke_digits`` only where a
    #: stroke runs on from one digit into the next (``join``), which a stroke file cannot say.
    point_digits: tuple[tuple[int, ...], ...] = ()


def digits_by_writer(samples: Sequence[Sample]) -> dict[str, list[Sample]]:
    """Single labelled digits with ink, grouped by writer (unnamed ones under "?"), without
    those whose ink is clearly several digits (:func:`several_digits`)."""
    found: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        inked = isinstance(s.label, int) and any(len(st) for st in s.strokes)
        if inked and not several_digits(s.strokes):
            found[s.writer or "?"].append(s)
    return dict(found)


def several_digits(strokes: Sequence[Stroke]) -> bool:
    """Whether a "digit" sample's ink is clearly several digits side by side: its strokes
    fall into at least two groups apart in x (a gap of a tenth of its height), two of them
    at least half its height, and the ink at least as wide as tall. Segmentation slips in
    the source data ("00", "66" labelled as one 0 or 6) look so; a number composed with one
    would have a digit more in its ink than in its label. Geometry only, no model: the
    filter must not favour what the reader reads."""
    boxes = sorted(_bounds([s]) for s in strokes if len(s))
    if len(boxes) < 2:
        return False
    groups: list[list[float]] = []  # x0, y0, x1, y1 of strokes overlapping in x, merged
    for x0, y0, x1, y1 in boxes:
        if groups and x0 <= groups[-1][2]:
            g = groups[-1]
            g[1], g[2], g[3] = min(g[1], y0), max(g[2], x1), max(g[3], y1)
        else:
            groups.append([x0, y0, x1, y1])
    left, top, right, bottom = _bounds(strokes)
    height = bottom - top
    if len(groups) < 2 or right - left < height or height <= 0:
        return False
    widest_gap = max(b[0] - a[2] for a, b in itertools.pairwise(groups))
    tall = sum(g[3] - g[1] >= 0.5 * height for g in groups)
    return widest_gap >= 0.1 * height and tall >= 2


def _bounds(strokes: Sequence[Stroke]) -> tuple[float, float, float, float]:
    pts = np.array([p for s in strokes for p in s], np.float64).reshape(-1, 2)
    return (
        float(pts[:, 0].min()),
        float(pts[:, 1].min()),
        float(pts[:, 0].max()),
        float(pts[:, 1].max()),
    )


def compose(
    digits: Sequence[Sample],
    canvas: Canvas,
    rng: np.random.Generator,
    *,
    style: str | None = None,
    delay_bars: float = 0.3,
    join: float = 0.0,
    lift: float = 0.0,
    height: float | None = None,
) -> ComposedNumber:
    """One number of ``digits`` (one writer's samples, in writing order) on ``canvas``; with
    probability ``join`` a digit's last stroke runs on into the next digit's first (no pen
    lift between them); with probability ``lift`` a digit's longest stroke is lifted midway
    and goes on a little aside (a 0 in two arcs, a 6 in two pieces). ``height``: the digits'
    height as a fraction of the strip's (default: 0.45-0.75 at random; the random draw is
    made either way, so the same seed composes the same numbers at another height)."""
    style = style or str(rng.choice(list(GAP_STYLES)))
    lo, hi = GAP_STYLES[style]
    drawn = rng.uniform(0.45, 0.75)
    height = (drawn if height is None else height) * canvas.height  # px: the digit height
    boxes = [_bounds(d.strokes) for d in digits]
    sizes, widths = [], []
    for x0, y0, x1, y1 in boxes:
        h = max(y1 - y0, 0.3 * (x1 - x0), 1e-3)  # a flat stroke is not stretched to full height
        scale = height * float(np.exp(rng.normal(0, 0.07))) / h
        sizes.append(scale)
        widths.append((x1 - x0) * scale)
    gaps = [height * (rng.uniform(lo, hi) + rng.normal(0, 0.03)) for _ in digits[1:]]
    total = sum(widths) + sum(gaps)
    room = 0.92 * canvas.width
    shrink = min(1.0, room / max(total, 1.0))  # too wide for the strip: the writer writes smaller
    height *= shrink
    total *= shrink
    x = rng.uniform(
        0.04 * canvas.width, max(0.04 * canvas.width, canvas.width - total - 0.04 * canvas.width)
    )
    low = min(height + 0.08 * canvas.height, canvas.height * 0.96)  # tall writing: no room
    base = rng.uniform(low, canvas.height * 0.96)
    slope = rng.normal(0, 0.04)  # a baseline that wanders up or down across the number
    placed: list[list[Stroke]] = []
    for i, ((x0, y0, x1, y1), scale) in enumerate(zip(boxes, sizes)):
        scale *= shrink
        bottom = base + slope * (x - 0.04 * canvas.width) + rng.normal(0, 0.03 * height)
        bottom = min(max(bottom, (y1 - y0) * scale + 2), canvas.height - 2)
        top = bottom - (y1 - y0) * scale
        dx, dy = x - x0 * scale, top - y0 * scale
        placed.append(
            [
                [
                    (
                        (px * scale + dx) / (canvas.width - 1),
                        (py * scale + dy) / (canvas.height - 1),
                    )
                    for px, py in stroke
                ]
                for stroke in digits[i].strokes
                if stroke
            ]
        )
        if lift and rng.random() < lift:
            placed[-1] = _lifted(placed[-1], rng, 0.12 * height / canvas.width)
        x += (x1 - x0) * scale + (gaps[i] * shrink if i < len(gaps) else 0.0)
    order: list[tuple[int, Stroke]] = []
    late: list[tuple[int, Stroke]] = []
    for i, strokes in enumerate(placed):
        own = [(i, s) for s in strokes]
        if (
            i + 1 < len(placed)
            and digits[i].label in BAR_DIGITS
            and len(own) >= 2
            and rng.random() < delay_bars
        ):
            x0, y0, x1, y1 = _bounds([own[-1][1]])
            if (y1 - y0) * canvas.height < 0.35 * height:  # flat: a bar, added after the next digit
                order.extend(own[:-1])
                order.extend(late)
                late = [own[-1]]
                continue
        order.extend(own)
        order.extend(late)
        late = []
    order.extend(late)
    label = "".join(str(d.label) for d in digits)
    writer = digits[0].writer
    strokes_out = [s for _, s in order]
    owners = tuple(i for i, _ in order)
    spacing = spacing_of(strokes_out, owners, canvas)  # measured before any join
    points = [tuple([o] * len(st)) for o, st in zip(owners, strokes_out)]
    k = 0
    while k + 1 < len(strokes_out):
        last_of_digit = owners[k] not in owners[k + 1 :]
        if last_of_digit and owners[k + 1] == owners[k] + 1 and rng.random() < join:
            bridge = _ligature(strokes_out[k], strokes_out[k + 1], canvas)
            strokes_out[k] = strokes_out[k] + bridge + strokes_out.pop(k + 1)
            points[k] = points[k] + (owners[k + 1],) * len(bridge) + points.pop(k + 1)
            owners = owners[: k + 1] + owners[k + 2 :]
        k += 1
    return ComposedNumber(
        # the canvas it was laid out on travels with it: replayed elsewhere, it keeps its shape
        Sample(strokes_out, label, writer, list(owners), (canvas.width, canvas.height)),
        owners,
        spacing,
        canvas,
        tuple(points),
    )


def _ligature(a: Stroke, b: Stroke, canvas: Canvas) -> list[tuple[float, float]]:
    """The points a pen that does not lift leaves between the end of ``a`` and the start of
    ``b``: a straight run sampled as densely as the writer's own strokes (a touch screen
    samples the travel too; the next digit's lead-in)."""
    scale = np.array([canvas.width - 1, canvas.height - 1], np.float64)
    pts = np.array(a + b, np.float64) * scale
    step = float(np.median(np.hypot(*np.diff(pts, axis=0).T))) if len(pts) > 1 else 1.0
    start, end = np.array(a[-1]) * scale, np.array(b[0]) * scale
    n = int(np.hypot(*(end - start)) // max(step, 1.0))
    return [
        (float(x), float(y))
        for x, y in ((start + (end - start) * t) / scale for t in np.arange(1, n + 1) / (n + 1))
    ]


def _lifted(strokes: list[Stroke], rng: np.random.Generator, reach: float) -> list[Stroke]:
    """The longest stroke cut in two at a random point of its middle, the second part moved
    sideways by up to ``reach`` (canvas widths), away from the first."""
    k = max(range(len(strokes)), key=lambda s: len(strokes[s]))
    stroke = strokes[k]
    if len(stroke) < 10:
        return strokes
    cut = int(rng.integers(len(stroke) * 3 // 10, len(stroke) * 7 // 10))
    head, tail = stroke[:cut], stroke[cut:]
    side = 1.0 if np.mean([p[0] for p in tail]) >= np.mean([p[0] for p in head]) else -1.0
    shift = side * float(rng.uniform(0.2, 1.0)) * reach
    moved = [(min(max(px + shift, 0.0), 1.0), py) for px, py in tail]
    return [*strokes[:k], head, moved, *strokes[k + 1 :]]


def spacing_of(strokes: Sequence[Stroke], owners: Sequence[int], canvas: Canvas) -> str:
    """The tightest neighbour pair of a number, measured in the app's ink."""
    count = max(owners) + 1 if owners else 0
    masks = [
        render(
            [s for s, o in zip(strokes, owners) if o == k],
            canvas.width,
            canvas.height,
            canvas.brush,
        )
        > 0
        for k in range(count)
    ]
    near = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * canvas.brush + 1,) * 2)
    worst = 0
    for a, b in itertools.pairwise(masks):
        grown = cv2.dilate(a.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        if (grown & b).any():
            return "touching"
        if (cv2.dilate(a.astype(np.uint8), near) > 0)[b].any():
            worst = 1
    return SPACINGS[worst]


def compose_numbers(
    by_writer: dict[str, list[Sample]],
    count: int,
    seed: int,
    canvases: Sequence[Canvas],
    lengths: Sequence[int] = LENGTHS,
    delay_bars: float = 0.3,
    join: float = 0.0,
    lift: float = 0.0,
    height: float | None = None,
) -> list[ComposedNumber]:
    """``count`` numbers, cycling lengths and canvases; each of one random writer's digits
    (``height``: see :func:`compose`)."""
    rng = np.random.default_rng(seed)
    writers = sorted(w for w, d in by_writer.items() if len(d) >= max(lengths))
    out = []
    for i in range(count):
        pool = by_writer[writers[int(rng.integers(len(writers)))]]
        length = lengths[i % len(lengths)]
        picks = rng.choice(len(pool), size=length, replace=False)
        canvas = canvases[(i // len(lengths)) % len(canvases)]
        out.append(
            compose(
                [pool[int(k)] for k in picks],
                canvas,
                rng,
                delay_bars=delay_bars,
                join=join,
                lift=lift,
                height=height,
            )
        )
    return out
