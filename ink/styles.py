"""Writing styles synthesised from real drawn digits by editing their pen trajectory.

Writers outside the US often write a 1 with a long lead-in up-stroke (and a foot), cross their
7s, start a 2 with a small loop, write an open 4 in one, two or three strokes, give a 9 a
straight stem or an open loop, slash their zeros and slant either way. Our drawn files barely
hold these styles, so the models misread them (a lead-in 1 as 7, an open 4 as 6). Each style
here edits one real sample's strokes: the writer's own stroke width, wobble and proportions
stay, only the part the style names changes. Outputs are ordinary replay samples (points in
[0, 1] of a square canvas, y down), so the app, the picture path (``render`` then
``to_mnist``) and the pen features read them exactly as they read real drawings.

Pure numpy, seeded by the caller's generator; an edit that cannot find the geometry it needs
(an odd base digit) returns None rather than a wrong drawing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from mnist_edge.ink.strokes import Sample, Stroke

Strokes = list[np.ndarray]  # each [n, 2] float64
Edit = Callable[[Strokes, np.random.Generator], Strokes | None]
MARGIN = 0.04  # an edited drawing is refitted inside the canvas with this margin


@dataclass(frozen=True)
class Style:
    name: str
    digits: tuple[int, ...]  # the digits it applies to
    edit: Edit
    what: str  # one line for reports


# ----------------------------------------------------------------------------- geometry


def _points(strokes: Strokes) -> np.ndarray:
    return np.concatenate(strokes)


def _step(strokes: Strokes) -> float:
    """The writer's point spacing: new ink is sampled as densely as the pen sampled theirs."""
    gaps = [np.linalg.norm(np.diff(s, axis=0), axis=1) for s in strokes if len(s) > 1]
    moving = np.concatenate(gaps) if gaps else np.zeros(0)
    moving = moving[moving > 1e-6]
    return float(np.median(moving)) if moving.size else 0.01


def _polyline(corners: Sequence[np.ndarray], step: float) -> np.ndarray:
    """Points along straight segments through ``corners``, about ``step`` apart."""
    out = [np.asarray(corners[0], np.float64)[None]]
    for a, b in itertools.pairwise(corners):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
        t = np.linspace(0, 1, n + 1)[1:, None]
        out.append(a + (b - a) * t)
    return np.concatenate(out)


def _bezier(a: np.ndarray, c: np.ndarray, b: np.ndarray, step: float) -> np.ndarray:
    """A quadratic curve a -> b pulled towards c (a hand's line is never quite straight)."""
    length = np.linalg.norm(c - a) + np.linalg.norm(b - c)
    t = np.linspace(0, 1, max(2, int(np.ceil(length / step)) + 1))[:, None]
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * c + t**2 * b


def _bowed(a: np.ndarray, b: np.ndarray, bow: float, step: float) -> np.ndarray:
    """a -> b bent sideways by ``bow`` times its length."""
    d = b - a
    normal = np.array([-d[1], d[0]])
    return _bezier(a, (a + b) / 2 + bow * normal, b, step)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else np.array([1.0, 0.0])


def _size(points: np.ndarray) -> tuple[float, float]:
    """(width, height) of the ink's point box."""
    span = np.ptp(points, axis=0)
    return float(span[0]), float(span[1])


def _arclength(stroke: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))])


# ----------------------------------------------------------------------------- the styles


def _one_lead_in(strokes: Strokes, rng: np.random.Generator, foot: bool) -> Strokes | None:
    """A 1 whose stem is reached by a straight up-stroke from the lower left, in one stroke."""
    points = _points(strokes)
    width, height = _size(points)
    if height < 1e-3 or width > 1.2 * height:
        return None  # not an upright 1
    which = int(np.argmax([-s[:, 1].min() for s in strokes]))
    stroke = strokes[which]
    top = int(np.argmin(stroke[:, 1]))
    stem = stroke[top:]  # whatever came before the top (an existing flag) is replaced
    if len(stem) < 3:
        return None
    step = _step(strokes)
    length = rng.uniform(0.25, 0.6) * height
    angle = np.deg2rad(rng.uniform(20, 60))  # above the horizontal
    start = stem[0] + length * np.array([-np.cos(angle), np.sin(angle)])
    lead = _bowed(start, stem[0], rng.uniform(-0.08, 0.12), step)
    out = [s for i, s in enumerate(strokes) if i != which]
    out.insert(0, np.concatenate([lead, stem[1:]]))
    if foot:
        bottom = stem[int(np.argmax(stem[:, 1]))]
        half = rng.uniform(0.18, 0.32) * height
        tilt = rng.uniform(-0.04, 0.04) * height
        left = bottom + np.array([-half * rng.uniform(0.8, 1.2), tilt + 0.01 * height])
        out.append(_polyline([left, bottom + np.array([half, -tilt])], step))
    return out


def _crossing(strokes: Strokes, y: float) -> float | None:
    """x where the ink first crosses height ``y`` going down (a 7's stem)."""
    for stroke in strokes:
        for a, b in itertools.pairwise(stroke):
            if a[1] <= y < b[1]:
                t = (y - a[1]) / (b[1] - a[1])
                return float(a[0] + t * (b[0] - a[0]))
    return None


def seven_crossed(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """A 7 with a short, roughly horizontal bar across its stem, drawn last, left to right."""
    points = _points(strokes)
    width, height = _size(points)
    y = points[:, 1].min() + rng.uniform(0.45, 0.62) * height
    x = _crossing(strokes, y)
    if x is None or height < 1e-3:
        return None
    length = rng.uniform(0.3, 0.55) * max(width, 0.6 * height)
    tilt = np.deg2rad(rng.uniform(-8, 8))
    centre = np.array([x + rng.uniform(-0.1, 0.1) * length, y])
    half = 0.5 * length * np.array([np.cos(tilt), -np.sin(tilt)])
    bar = _bowed(centre - half, centre + half, rng.uniform(-0.05, 0.05), _step(strokes))
    return [*strokes, bar]


def two_loop(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """A 2 whose first stroke starts with a small curl that runs into the top arc."""
    first = strokes[0]
    _, height = _size(_points(strokes))
    along = _arclength(first)
    if len(first) < 5 or along[-1] < 1e-3:
        return None
    p0 = first[0]
    ahead = first[min(int(np.searchsorted(along, 0.06 * along[-1])), len(first) - 1)]
    later = first[min(int(np.searchsorted(along, 0.3 * along[-1])), len(first) - 1)]
    d = _unit(ahead - p0)
    # The top arc turns one way; the curl sits outside it (a ball at the stroke's start) or,
    # less often, curls inside the bowl.
    turn = np.sign(d[0] * (later - p0)[1] - d[1] * (later - p0)[0]) or 1.0
    side = -turn if rng.random() < 0.65 else turn
    normal = side * np.array([-d[1], d[0]])
    radius = rng.uniform(0.11, 0.18) * height
    centre = p0 + radius * normal
    phi0 = np.arctan2(*(p0 - centre)[::-1])
    tangent = np.array([-np.sin(phi0), np.cos(phi0)])
    sense = 1.0 if tangent @ d > 0 else -1.0
    span = rng.uniform(1.8, 2.15) * np.pi
    n = max(12, int(np.ceil(span * radius / _step(strokes))))
    t = np.linspace(0, 1, n)[:-1]
    phi = phi0 - sense * span * (1 - t)
    r = radius * (0.75 + 0.25 * t)  # the pen lands inside the curl and winds out
    curl = centre + np.stack([np.cos(phi), np.sin(phi)], 1) * r[:, None]
    return [np.concatenate([curl, first]), *strokes[1:]]


def _open_four(strokes: Strokes, rng: np.random.Generator, count: int) -> Strokes | None:
    """A 4 rebuilt as an open 4 (the arm's top never meets the stem) from its own geometry:
    the stem where the ink reaches its bottom, the bar at the height of its leftmost point."""
    points = _points(strokes)
    _, height = _size(points)
    top, bottom = points[:, 1].min(), points[:, 1].max()
    stem_x = float(points[np.argmax(points[:, 1]), 0])
    corner = points[np.argmin(points[:, 0])]
    left = float(corner[0])
    span = stem_x - left
    if height < 1e-3 or span < 0.25 * height:
        return None
    bar_y = float(corner[1])
    if not top + 0.4 * height <= bar_y <= top + 0.75 * height:
        bar_y = top + rng.uniform(0.5, 0.65) * height
    near_bar = points[np.abs(points[:, 1] - bar_y) < 0.12 * height, 0]
    bar_end = max(float(near_bar.max()) if near_bar.size else stem_x, stem_x + 0.12 * span)
    step = _step(strokes)
    j = rng.uniform(-0.04, 0.04, 8) * height
    arm_top = np.array([left + rng.uniform(0.0, 0.2) * span, top + rng.uniform(0.0, 0.15) * height])
    elbow = np.array([left + j[0], bar_y + j[1]])
    bar_right = np.array([bar_end + j[2], bar_y + rng.uniform(-0.08, 0.01) * height])
    stem_top = np.array([stem_x + j[3], top + j[4] * 0.5])
    stem_end = np.array([stem_x + rng.uniform(-0.08, 0.05) * height, bottom + j[5]])
    arm = _bowed(arm_top, elbow, rng.uniform(-0.06, 0.06), step)
    stem = _bowed(stem_top, stem_end, rng.uniform(-0.04, 0.04), step)
    if count == 1:  # like an h: down the arm, over and up into the stem's top, down the stem
        hump = _bezier(elbow, np.array([stem_x + 0.1 * span, bar_y + j[6]]), stem_top, step)
        return [np.concatenate([arm, hump[1:], stem[1:]])]
    bar = _bowed(elbow + np.array([0.0, j[7] * 0.3]), bar_right, rng.uniform(-0.05, 0.05), step)
    if count == 2:
        return [np.concatenate([arm, bar[1:]]), stem]
    order = [arm, bar, stem] if rng.random() < 0.5 else [arm, stem, bar]
    return order


def _loopish(loop: np.ndarray, width: float, height: float) -> bool:
    """A loop big enough to be a 9's head (not a flick before the stem)."""
    w, h = _size(loop)
    return len(loop) >= 5 and w >= 0.4 * width and h >= 0.25 * height


def _nine_parts(strokes: Strokes) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]] | None:
    """(loop, stem, other strokes) of a 9: the stem runs from the loop's last rise down to the
    ink's bottom; the loop is what the same stroke drew before it."""
    points = _points(strokes)
    width, height = _size(points)
    which = int(np.argmax([s[:, 1].max() for s in strokes]))
    stroke = strokes[which]
    others = [s for i, s in enumerate(strokes) if i != which]
    if np.ptp(stroke[:, 1]) < 0.4 * height:
        return None  # the lowest ink is no stem (a dot, a tail of its own)
    if others:  # stem drawn on its own: the loop is the other stroke(s)
        loop = max(others, key=len)
        return (
            (loop, stroke, [s for s in others if s is not loop])
            if _loopish(loop, width, height)
            else None
        )
    # The stem is the stroke's last run downwards (a small wobble up does not end it).
    tolerance = 0.02 * float(np.ptp(stroke[:, 1]))
    k = int(np.argmax(stroke[:, 1]))  # from its lowest point: a hook after it stays
    while k > 0 and stroke[k - 1, 1] <= stroke[k, 1] + tolerance:
        k -= 1
    loop = stroke[: k + 1]
    if k < 4 or np.ptp(stroke[k:, 1]) < 0.3 * height or not _loopish(loop, width, height):
        return None
    return stroke[: k + 1], stroke[k:], []


def nine_straight(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """A 9 whose stem is a straight line down from where its loop closes."""
    parts = _nine_parts(strokes)
    if parts is None:
        return None
    loop, stem, rest = parts
    _, height = _size(_points(strokes))
    start = loop[-1]
    if start[0] < loop[:, 0].min() + 0.5 * np.ptp(loop[:, 0]):
        return None  # the stem would not hang from the loop's right side
    end = np.array([start[0] + rng.uniform(-0.08, 0.04) * height, stem[:, 1].max()])
    line = _polyline([start, end], _step(strokes))
    return [np.concatenate([loop, line[1:]]), *rest]


def nine_open(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """A 9 whose single loop stays open: its closing part is left out."""
    parts = _nine_parts(strokes)
    if parts is None:
        return None
    loop, stem, rest = parts
    along = _arclength(loop)
    # A short gap only: a longer one (or one across the top) leaves a 4 or a '?', not a 9.
    kept = loop[along <= along[-1] * (1 - rng.uniform(0.1, 0.22))]
    return None if len(kept) < 3 else [kept, stem, *rest]


def zero_slashed(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """A 0 with a diagonal stroke through it, past the ring (mostly '/', one in five '\\')."""
    points = _points(strokes)
    low, high = points.min(0), points.max(0)
    over = rng.uniform(0.0, 0.15) * float((high - low).max())
    a = np.array([low[0] - over, high[1] + over])
    b = np.array([high[0] + over, low[1] - over])
    if rng.random() < 0.2:
        a, b = np.array([low[0] - over, low[1] - over]), np.array([high[0] + over, high[1] + over])
    a, b = (
        a + rng.uniform(-0.05, 0.05, 2) * (high - low),
        b + rng.uniform(-0.05, 0.05, 2) * (high - low),
    )
    return [*strokes, _bowed(a, b, rng.uniform(-0.04, 0.04), _step(strokes))]


def _sheared(strokes: Strokes, k: float) -> Strokes:
    centre = _points(strokes)[:, 1].mean()
    return [np.stack([s[:, 0] - k * (s[:, 1] - centre), s[:, 1]], 1) for s in strokes]


def slant(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """Leaning right, more than the trainers' own shear reaches."""
    return _sheared(strokes, rng.uniform(0.3, 0.6))


def backslant(strokes: Strokes, rng: np.random.Generator) -> Strokes | None:
    """Leaning left."""
    return _sheared(strokes, -rng.uniform(0.25, 0.5))


ALL_DIGITS = tuple(range(10))
STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style(
            "one-lead-in",
            (1,),
            partial(_one_lead_in, foot=False),
            "1 with a lead-in up-stroke from the lower left",
        ),
        Style(
            "one-lead-in-foot",
            (1,),
            partial(_one_lead_in, foot=True),
            "1 with a lead-in and a foot",
        ),
        Style("seven-crossed", (7,), seven_crossed, "7 with a bar across its stem"),
        Style("two-loop", (2,), two_loop, "2 that starts with a small loop"),
        Style("four-open-1", (4,), partial(_open_four, count=1), "open 4 in one stroke, like an h"),
        Style("four-open-2", (4,), partial(_open_four, count=2), "open 4 in two strokes"),
        Style("four-open-3", (4,), partial(_open_four, count=3), "open 4 in three strokes"),
        Style("nine-straight", (9,), nine_straight, "9 with a straight stem"),
        Style("nine-open", (9,), nine_open, "9 with a single open loop"),
        Style("zero-slashed", (0,), zero_slashed, "0 with a slash"),
        Style("slant", ALL_DIGITS, slant, "any digit, slanted right (shear 0.3-0.6)"),
        Style("backslant", ALL_DIGITS, backslant, "any digit, slanted left (shear 0.25-0.5)"),
    )
}
SLANTS = ("slant", "backslant")


def styles_for(digit: int) -> list[str]:
    """The styles that change how this digit is written (the slants excluded)."""
    return [n for n, s in STYLES.items() if digit in s.digits and n not in SLANTS]


def _fitted(strokes: Strokes) -> Strokes:
    """The drawing moved (and shrunk if it must be) inside the canvas: an added lead-in or
    slash may reach past the edge, and the app drops strokes that start off the canvas."""
    points = _points(strokes)
    low, high = points.min(0), points.max(0)
    room = 1 - 2 * MARGIN
    scale = min(1.0, room / max(float((high - low).max()), 1e-9))
    centre = (low + high) / 2
    half = (high - low) * scale / 2
    target = np.clip(centre, MARGIN + half, 1 - MARGIN - half)
    return [(s - centre) * scale + target for s in strokes]


def stylise(sample: Sample, style: str, rng: np.random.Generator) -> Sample | None:
    """``sample`` written in ``style`` (a new sample, same label and writer), or None when the
    style does not apply to its digit or its geometry cannot be found."""
    chosen = STYLES[style]
    if not isinstance(sample.label, int) or sample.label not in chosen.digits:
        return None
    strokes = [np.asarray(s, np.float64).reshape(-1, 2) for s in sample.strokes if len(s)]
    if not strokes or len(_points(strokes)) < 4:
        return None
    edited = chosen.edit(strokes, rng)
    if edited is None:
        return None
    out: list[Stroke] = [[(float(x), float(y)) for x, y in s] for s in _fitted(edited) if len(s)]
    return Sample(out, sample.label, sample.writer)


def random_style(
    sample: Sample, rng: np.random.Generator, slant_chance: float = 0.3
) -> tuple[str, Sample] | None:
    """A style of the sample's digit at random (its own styles first; a digit without any is
    slanted), sometimes slanted on top; None when nothing applies."""
    if not isinstance(sample.label, int):
        return None
    own = styles_for(sample.label)
    names = own or list(SLANTS)
    name = names[int(rng.integers(len(names)))]
    styled = stylise(sample, name, rng)
    if styled is None:
        return None
    if own and rng.random() < slant_chance:
        lean = SLANTS[int(rng.integers(2))]
        styled = stylise(styled, lean, rng) or styled
        name = f"{name}+{lean}"
    return name, styled
