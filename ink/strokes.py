"""Strokes: the ``mnist-edge-strokes/1`` replay format and rendering strokes onto an ink canvas.

A stroke is a list of (x, y) points in [0, 1] of the drawing canvas, y pointing down. The app
draws fingers and the mouse with the same ``draw_segment`` used here, so a replay is rendered
exactly as a live drawing would be.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import read_capped, write_bytes_atomic
from mnist_edge.core.text import quoted

FORMAT = "mnist-edge-strokes/1"
Point = tuple[float, float]
Stroke = list[Point]


#: Bounds that keep a hostile or broken file from exhausting memory or time.
#: Parsed, a point costs about 275 bytes of memory: 64 MB of the most compact points is at
#: most ~1.8 GB, where 256 MB took 6 GB. The largest real file is 6.6 MB (unipen-train.json),
#: a full --collect file (20,000 digits) about 18 MB.
MAX_FILE_BYTES = 64 << 20
MAX_SAMPLES = 200_000
MAX_STROKES = 100  # per sample
MAX_POINTS = 5_000  # per stroke: a finger at 120 Hz for 40 s
MAX_WRITER = 200  # characters
MAX_NUMBER_DIGITS = 12  # a number sample's label: a PIN, a price, a phone number fits
MAX_CANVAS_SIDE = 16384  # px: a sample's canvas, larger than any screen
#: The most ink one drawing is read with, in px of stroke on the canvas it is read on, each
#: segment counting at least 1 px (each one is drawn, and read, separately). The longest real
#: digit seen is about 5,300 px on the app's canvas and the longest number 3,600 px on its
#: strip; past this bound even a scribble of tiny segments would take seconds to read.
MAX_INK_PX = 20_000


def label_text(label: int | str) -> str:
    """A sample's label as the digits it asks for: 7 -> "7", "4071" -> "4071"."""
    return str(label)


def is_number(label: int | str | None) -> bool:
    """A number sample (label a string of digits), as opposed to one digit (an int 0-9)."""
    return isinstance(label, str)


@dataclass
class Sample:
    strokes: list[Stroke] = field(default_factory=list)
    #: One digit (int 0-9), or a number: a string of 1-MAX_NUMBER_DIGITS digits ("4071").
    label: int | str | None = None
    writer: str | None = None
    #: A number sample may say which digit (0-based position in the label) each stroke is
    #: part of: composed numbers do, so segmentation can be scored and spacing measured.
    stroke_digits: list[int] | None = None
    #: The canvas it was written on (width, height in px): points are fractions of it, so its
    #: shape says how to replay them elsewhere (:func:`fitted_to`). None in files written
    #: before it was stored: they replay as they always did, stretched to the canvas.
    canvas: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "strokes": [[[round(x, 5), round(y, 5)] for x, y in s] for s in self.strokes]
        }
        if self.label is not None:
            data["label"] = self.label
        if self.writer is not None:
            data["writer"] = self.writer
        if self.stroke_digits is not None:
            data["stroke_digits"] = list(self.stroke_digits)
        if self.canvas is not None:
            data["canvas"] = list(self.canvas)
        return data


class ReplayError(UserError):
    """A malformed replay file; the message names the sample and what is wrong."""


def load_samples(path: str | Path) -> list[Sample]:
    path = Path(path)
    return parse_samples(path, read_capped(path, MAX_FILE_BYTES, "replay file", ReplayError))


def load_labelled(path: str | Path, flag: str) -> list[Sample]:
    """The samples of a file a run measures on: one line if none has a label to score."""
    samples = load_samples(path)
    if not any(s.label is not None for s in samples):
        raise ReplayError(
            f"{flag} {path} has no labelled samples; pass a file of labelled drawings"
        )
    return samples


def parse_document(path: Path, raw: bytes) -> dict[str, Any]:
    """The top-level object of a stroke file, format checked; samples not yet validated."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReplayError(f"replay file {path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ReplayError(f"replay file {path} is nested too deeply to be a stroke file") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ReplayError(f"replay file {path}: format is {quoted(found)}, expected {FORMAT!r}")
    raw_samples = doc.get("samples")
    if not isinstance(raw_samples, list):
        raise ReplayError(f"replay file {path}: 'samples' must be a list")
    if len(raw_samples) > MAX_SAMPLES:
        raise ReplayError(
            f"replay file {path} has {len(raw_samples):,} samples, more than "
            f"{MAX_SAMPLES:,}; split it"
        )
    return doc


def parse_samples(path: Path, raw: bytes) -> list[Sample]:
    doc = parse_document(path, raw)
    return [_parse_sample(path, i, sample) for i, sample in enumerate(doc["samples"])]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer like 10**400
        return None
    return number if math.isfinite(number) else None


def _parse_sample(path: Path, index: int, raw: Any) -> Sample:
    where = f"replay file {path}, sample {index}"
    if not isinstance(raw, dict) or not isinstance(raw.get("strokes"), list):
        raise ReplayError(f"{where}: needs a 'strokes' list")
    label = raw.get("label")
    if isinstance(label, str):
        if not (0 < len(label) <= MAX_NUMBER_DIGITS and label.isascii() and label.isdigit()):
            raise ReplayError(
                f"{where}: a number's label must be a string of 1-{MAX_NUMBER_DIGITS} digits "
                f"0-9, got {label[:40]!r}"
            )
    elif label is not None and (
        not isinstance(label, int) or isinstance(label, bool) or not 0 <= label <= 9
    ):
        raise ReplayError(
            f"{where}: label must be an integer 0-9 (a digit) or a string of digits "
            f"(a number), got {str(label)[:40]!r}"
        )
    writer = raw.get("writer")
    if writer is not None and (not isinstance(writer, str) or not 0 < len(writer) <= MAX_WRITER):
        raise ReplayError(f"{where}: writer must be a name of 1-{MAX_WRITER} characters")
    if len(raw["strokes"]) > MAX_STROKES:
        raise ReplayError(f"{where}: {len(raw['strokes'])} strokes, more than {MAX_STROKES}")
    strokes: list[Stroke] = []
    for s, stroke in enumerate(raw["strokes"]):
        if not isinstance(stroke, list):
            raise ReplayError(f"{where}, stroke {s}: must be a list of [x, y] points")
        if len(stroke) > MAX_POINTS:
            raise ReplayError(
                f"{where}, stroke {s}: {len(stroke):,} points, more than {MAX_POINTS:,}"
            )
        points: Stroke = []
        for p, point in enumerate(stroke):
            xy = [_number(v) for v in point] if isinstance(point, (list, tuple)) else []
            if len(xy) != 2 or None in xy:
                raise ReplayError(
                    f"{where}, stroke {s}, point {p}: expected [x, y] numbers, "
                    f"got {str(point)[:40]}"
                )
            points.append((xy[0], xy[1]))  # type: ignore[arg-type]
        strokes.append(points)
    owners = raw.get("stroke_digits")
    if owners is not None:
        digits = len(label) if isinstance(label, str) else 0
        if not (
            isinstance(owners, list)
            and len(owners) == len(strokes)
            and all(isinstance(o, int) and not isinstance(o, bool) for o in owners)
            and all(0 <= o < digits for o in owners)
        ):
            raise ReplayError(
                f"{where}: stroke_digits must list, for each stroke, the position of its digit "
                "in the number's label"
            )
    canvas = raw.get("canvas")
    if canvas is not None:
        if not (
            isinstance(canvas, list)
            and len(canvas) == 2
            and all(
                isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_CANVAS_SIDE
                for v in canvas
            )
        ):
            raise ReplayError(
                f"{where}: canvas must be [width, height] in pixels (1-{MAX_CANVAS_SIDE}), "
                f"got {str(canvas)[:40]}"
            )
        canvas = (canvas[0], canvas[1])
    return Sample(strokes, label, writer, owners, canvas)


def fitted_to(
    strokes: Sequence[Stroke], source: tuple[int, int] | None, target: tuple[int, int]
) -> list[Stroke]:
    """Strokes written on a ``source`` canvas (px) as fractions of a ``target`` canvas, keeping
    their shape: the source area scaled uniformly to fit the target and centred. Without a
    source (files from before canvases were stored) the points are kept: stretched, as then."""
    if source is None:
        return [list(s) for s in strokes]
    # points map to pixels as k / (size - 1): the shape is that of (size - 1)
    (sw, sh), (tw, th) = ((max(v - 1, 1) for v in size) for size in (source, target))
    ratio = (sw / sh) / (tw / th)  # > 1: the source is wider
    sx, sy = min(1.0, ratio), min(1.0, 1.0 / ratio)
    if sx == sy == 1.0:
        return [list(s) for s in strokes]
    return [[(0.5 + (x - 0.5) * sx, 0.5 + (y - 0.5) * sy) for x, y in s] for s in strokes]


def encode_sample(sample: Sample) -> bytes:
    """One sample as one compact line: the layout a stroke file grows by (see stroke_writer)."""
    return json.dumps(sample.to_json(), separators=(",", ":")).encode("utf-8")


HEAD = b'{"format": "' + FORMAT.encode() + b'", "samples": ['
TAIL = b"]}\n"


def save_samples(path: str | Path, samples: Sequence[Sample]) -> None:
    """Write a new stroke file of ``samples`` (replacing ``path`` atomically), one per line."""
    body = b",".join(b"\n" + encode_sample(s) for s in samples)
    write_bytes_atomic(path, HEAD + body + b"\n" + TAIL)


def draw_segment(
    canvas: np.ndarray, start: tuple[int, int], end: tuple[int, int], brush: int
) -> None:
    """A round-capped line of ``brush`` px diameter from start to end, in place (ink 255)."""
    radius = max(1, brush // 2)
    if start == end:
        cv2.circle(canvas, start, radius, 255, -1, lineType=cv2.LINE_AA)
    else:
        cv2.line(canvas, start, end, 255, thickness=max(1, brush), lineType=cv2.LINE_AA)
        cv2.circle(canvas, end, radius, 255, -1, lineType=cv2.LINE_AA)
        cv2.circle(canvas, start, radius, 255, -1, lineType=cv2.LINE_AA)


def as_the_app_takes(strokes: Sequence[Stroke]) -> list[Stroke]:
    """The strokes the app keeps of a drawing: a stroke that starts off the canvas never
    begins (the finger landed elsewhere), and at most the app's stroke and point limits. Points
    that leave the canvas are clamped to its edge by :func:`to_pixels`, as the app clamps them.
    """
    kept = [
        list(stroke[:MAX_POINTS])
        for stroke in strokes
        if stroke and 0.0 <= stroke[0][0] <= 1.0 and 0.0 <= stroke[0][1] <= 1.0
    ]
    return kept[:MAX_STROKES]


def to_pixels(point: Point, width: int, height: int) -> tuple[int, int]:
    x = min(max(point[0], 0.0), 1.0)
    y = min(max(point[1], 0.0), 1.0)
    return int(round(x * (width - 1))), int(round(y * (height - 1)))


def segment_ink(a: Point, b: Point, width: int, height: int) -> float:
    """px of ink the segment from ``a`` to ``b`` adds on a ``width`` x ``height`` canvas: its
    length, at least 1 (a point drawn again is a dot drawn again)."""
    return max(1.0, math.hypot((b[0] - a[0]) * (width - 1), (b[1] - a[1]) * (height - 1)))


def ink_px(strokes: Sequence[Stroke], width: int, height: int) -> float:
    """px of ink the strokes draw on a ``width`` x ``height`` canvas, counted as the app
    counts it while they are drawn (a dot for each stroke, then each new segment): what
    :data:`MAX_INK_PX` bounds."""
    return sum(
        1.0 + sum(segment_ink(a, b, width, height) for a, b in itertools.pairwise(s) if a != b)
        for s in strokes
        if s
    )


def render(strokes: Sequence[Stroke], width: int, height: int, brush: int) -> np.ndarray:
    """All strokes on a fresh canvas (uint8 H x W, ink 255 on 0).

    Issues exactly the calls live drawing does (a dot where the finger lands, then one segment
    per new point, repeats skipped): anti-aliased overlaps are not idempotent, so undo, replay
    and live ink only match pixel for pixel this way.
    """
    canvas = np.zeros((height, width), dtype=np.uint8)
    for stroke in strokes:
        if not stroke:
            continue
        first = to_pixels(stroke[0], width, height)
        draw_segment(canvas, first, first, brush)
        for a, b in itertools.pairwise(stroke):
            if a != b:
                draw_segment(
                    canvas, to_pixels(a, width, height), to_pixels(b, width, height), brush
                )
    return canvas


def default_brush(width: int, height: int) -> int:
    """A brush of ~1/18 of the canvas' shorter side: MNIST-like strokes for a digit drawn at
    about two-thirds of the canvas height."""
    return max(3, round(min(width, height) / 18))
