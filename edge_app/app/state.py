"""The app's state: the drawing, the current reading and what the screen should say.

No pygame here: the state changes through plain methods that input handling calls, and the
view only reads it. Anti-aliased ink is not idempotent, so undo re-renders the remaining
strokes exactly as live drawing drew them (see :func:`~mnist_edge.ink.strokes.render`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from mnist_edge.edge_app.api_types import NumberResult
from mnist_edge.edge_app.results import NumberDigit, Reading
from mnist_edge.ink.strokes import (
    MAX_INK_PX,
    Stroke,
    draw_segment,
    ink_px,
    render,
    segment_ink,
    to_pixels,
)

Point = tuple[float, float]
MESSAGE_SECONDS = 4.0
MAX_STROKES = 60  # a drawing, not a painting: further strokes are refused, never a crash
MAX_POINTS = 4000  # per stroke


class Drawing:
    """The strokes on the canvas and their ink, in canvas-normalized coordinates."""

    def __init__(self, width: int, height: int, brush: int) -> None:
        self.width, self.height, self.brush = width, height, brush
        self.ink = np.zeros((height, width), dtype=np.uint8)
        self.strokes: list[Stroke] = []
        self.open = False  # a stroke is being drawn
        self.ink_px = 0.0  # how much ink the strokes are, against MAX_INK_PX
        self.full = False  # the last ink offered was refused: the drawing holds all it may

    def _segment(self, a: Point, b: Point) -> None:
        w, h = self.width, self.height
        draw_segment(self.ink, to_pixels(a, w, h), to_pixels(b, w, h), self.brush)

    def begin(self, point: Point) -> bool:
        if len(self.strokes) >= MAX_STROKES or self.ink_px + 1.0 > MAX_INK_PX:
            self.full = True
            return False
        self.strokes.append([point])
        self.open, self.full = True, False
        self.ink_px += 1.0
        self._segment(point, point)
        return True

    def extend(self, point: Point) -> bool:
        if not self.open or not self.strokes:
            return False
        stroke = self.strokes[-1]
        if stroke[-1] == point:
            return False
        cost = segment_ink(stroke[-1], point, self.width, self.height)
        if len(stroke) >= MAX_POINTS or self.ink_px + cost > MAX_INK_PX:
            self.full = True
            return False
        self.ink_px += cost
        self._segment(stroke[-1], point)
        stroke.append(point)
        return True

    def end(self) -> bool:
        was_open, self.open = self.open, False
        return was_open

    def undo(self) -> bool:
        if not self.strokes:
            return False
        self.open = False
        self.strokes.pop()
        self.ink = render(self.strokes, self.width, self.height, self.brush)
        self.ink_px, self.full = ink_px(self.strokes, self.width, self.height), False
        return True

    def clear(self) -> None:
        self.strokes = []
        self.open = False
        self.ink_px, self.full = 0.0, False
        self.ink = np.zeros_like(self.ink)

    @property
    def empty(self) -> bool:
        return not self.strokes


def corrections(n: int) -> str:
    """``1 correction``, ``3 corrections``: how a message counts the profile's corrections."""
    return f"{n} correction{'' if n == 1 else 's'}"


@dataclass
class Message:
    text: str
    warning: bool = False
    until: float = 0.0


@dataclass
class AppState:
    drawing: Drawing
    reading: Reading | None = None
    digits: list[NumberDigit] = field(default_factory=list)  # --multi: the number, left to right
    number: NumberResult | None = None  # --multi: the same number as the API reads it
    running: bool = True
    message: Message | None = None
    selected: int | None = None  # --multi: the digit tapped on the strip (bars correct it)
    several: str = ""  # single-digit mode: the ink reads as this number of several digits
    prompt: str = ""  # what --collect asks for ("Draw a 4"), shown above the result
    #: The last action was a correction: how many it stored (True: one; a number's
    #: alternative stores one per digit it changes). Undo takes them all back.
    last_correction: int = False
    dirty: bool = True  # something changed: draw a frame
    ink_dirty: bool = True  # the ink changed: refresh the canvas surface

    def say(self, text: str, warning: bool = False, seconds: float = MESSAGE_SECONDS) -> None:
        self.message = Message(text, warning, time.monotonic() + seconds)
        self.dirty = True

    def current_message(self) -> Message | None:
        if self.message and time.monotonic() > self.message.until:
            self.message = None
            self.dirty = True
        return self.message

    def clear_reading(self) -> None:
        self.reading, self.digits, self.number = None, [], None
        self.selected, self.several = None, ""
        self.dirty = True
