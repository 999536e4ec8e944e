"""Screen geometry: where the canvas, result panel and buttons go, for any size and rotation.

Everything is computed in *logical* coordinates (the UI as the user sees it, after rotation).
The display may be rotated by 0/90/180/270 degrees clockwise; input arrives in display
coordinates and is mapped back with :func:`to_logical`.
"""

from __future__ import annotations

from dataclasses import dataclass

ROTATIONS = (0, 90, 180, 270)
DEFAULT_SIZE = (800, 480)  # the official 7" touch display, and the window size by default
#: Screens the app runs on, for rendering drawings the way the app would see them: the official
#: 7" displays (800x480, Touch Display 2 at 1280x720 and in portrait), 3.5" and 5" HATs,
#: 1024x600 panels and a full-HD monitor.
SCREENS = ((800, 480), (480, 320), (1024, 600), (1280, 720), (720, 1280), (1920, 1080))
MIN_BUTTON = 56  # px: about 11 mm on the official 7" display, comfortable for a fingertip


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    def contains(self, px: float, py: float) -> bool:
        return self.x <= px < self.x + self.w and self.y <= py < self.y + self.h

    @property
    def tuple(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    canvas: Rect
    digit: Rect  # the big predicted digit and its confidence
    preview: Rect  # the 28x28 image the model sees
    bars: Rect  # probabilities of all ten digits
    clear: Rect
    undo: Rect
    status: Rect  # runtime, model, latency
    portrait: bool


def logical_size(display: tuple[int, int], rotation: int) -> tuple[int, int]:
    w, h = display
    return (w, h) if rotation in (0, 180) else (h, w)


def to_logical(u: float, v: float, rotation: int) -> tuple[float, float]:
    """Display-normalized (u, v) in [0, 1] -> logical-normalized, for a clockwise rotation."""
    if rotation == 90:
        return v, 1.0 - u
    if rotation == 180:
        return 1.0 - u, 1.0 - v
    if rotation == 270:
        return 1.0 - v, u
    return u, v


def from_logical(u: float, v: float, rotation: int) -> tuple[float, float]:
    """Inverse of :func:`to_logical` (used by replays to synthesize display events)."""
    if rotation == 90:
        return 1.0 - v, u
    if rotation == 180:
        return 1.0 - u, 1.0 - v
    if rotation == 270:
        return v, 1.0 - u
    return u, v


def compute(width: int, height: int, *, wide_canvas: bool = False) -> Layout:
    """Lay out a ``width`` x ``height`` logical screen. ``wide_canvas`` for several digits."""
    margin = max(8, min(width, height) // 40)
    portrait = height > width * 1.15
    if wide_canvas:
        return _strip(width, height, margin, portrait)
    if portrait:
        side = min(width - 2 * margin, int(height * 0.55))
        canvas_w = width - 2 * margin if wide_canvas else side
        canvas = Rect((width - canvas_w) // 2, margin, canvas_w, side)
        top = canvas.y + canvas.h + margin
        panel = Rect(margin, top, width - 2 * margin, height - top - margin)
        button_h = max(MIN_BUTTON, panel.h // 7)
        status_h = max(18, panel.h // 18)
        info_h = (panel.h - button_h - status_h - 3 * margin) * 5 // 9
        preview_side = min(info_h, panel.w // 3)
        digit = Rect(panel.x, panel.y, panel.w - preview_side - margin, info_h)
        preview = Rect(panel.x + panel.w - preview_side, panel.y, preview_side, preview_side)
        bars_top = panel.y + info_h + margin
        bars = Rect(
            panel.x,
            bars_top,
            panel.w,
            panel.y + panel.h - button_h - status_h - 2 * margin - bars_top,
        )
    else:
        side = min(height - 2 * margin, int(width * 0.6))
        canvas_w = (
            min(width - 2 * margin - max(180, width // 4), int(width * 0.72))
            if wide_canvas
            else side
        )
        canvas = Rect(margin, (height - side) // 2, canvas_w, side)
        left = canvas.x + canvas.w + margin
        panel = Rect(left, margin, width - left - margin, height - 2 * margin)
        button_h = max(MIN_BUTTON, panel.h // 8)
        status_h = max(18, panel.h // 22)
        info_h = (panel.h - button_h - status_h - 3 * margin) * 4 // 9
        preview_side = min(info_h, panel.w // 2 - margin)
        digit = Rect(panel.x, panel.y, panel.w - preview_side - margin, info_h)
        preview = Rect(panel.x + panel.w - preview_side, panel.y, preview_side, preview_side)
        bars_top = panel.y + info_h + margin
        bars = Rect(
            panel.x,
            bars_top,
            panel.w,
            panel.y + panel.h - button_h - status_h - 2 * margin - bars_top,
        )
    buttons_y = bars.y + bars.h + margin
    half = (panel.w - margin) // 2
    clear = Rect(panel.x, buttons_y, half, button_h)
    undo = Rect(panel.x + half + margin, buttons_y, panel.w - half - margin, button_h)
    status = Rect(panel.x, buttons_y + button_h + margin // 2, panel.w, status_h)
    return Layout(width, height, canvas, digit, preview, bars, clear, undo, status, portrait)


def strip_height(width: int, height: int, margin: int) -> int:
    """The writing strip's height: half the shorter side (room for digits at a comfortable
    finger size), and in portrait no taller than half the width, so the strip stays a strip."""
    return max((min(width, height) + 1) // 2, min(height // 2, (width - 2 * margin) // 2))


def _strip(width: int, height: int, margin: int, portrait: bool) -> Layout:
    """``--multi``: a writing strip as wide as the screen across the top; below it the number
    (with a preview strip of what the model sees) on the left, the bars and buttons on the
    right in landscape, stacked in portrait."""
    strip_h = min(strip_height(width, height, margin), height - 2 * margin - 2 * MIN_BUTTON)
    canvas = Rect(margin, margin, width - 2 * margin, strip_h)
    top = canvas.y + canvas.h + margin
    panel = Rect(margin, top, width - 2 * margin, height - top - margin)
    status_h = max(18, min(width, height) // 26)
    button_h = max(MIN_BUTTON, panel.h // 6 if portrait else panel.h // 4)
    if portrait:
        number_h = (panel.h - button_h - status_h - 4 * margin) * 4 // 9
        preview_h = max(28, number_h // 3)
        digit = Rect(panel.x, panel.y, panel.w, number_h - preview_h - margin)
        preview = Rect(panel.x, digit.y + digit.h + margin, panel.w, preview_h)
        bars_top = preview.y + preview.h + margin
        bars = Rect(
            panel.x,
            bars_top,
            panel.w,
            panel.y + panel.h - button_h - status_h - 2 * margin - bars_top,
        )
        right_x, right_w = panel.x, panel.w
    else:
        left_w = panel.w * 11 // 20
        area_h = panel.h - status_h - margin // 2
        preview_h = max(28, area_h // 4)
        digit = Rect(panel.x, panel.y, left_w, area_h - preview_h - margin)
        preview = Rect(panel.x, digit.y + digit.h + margin, left_w, preview_h)
        right_x = panel.x + left_w + margin
        right_w = panel.w - left_w - margin
        bars = Rect(right_x, panel.y, right_w, area_h - button_h - margin)
    buttons_y = bars.y + bars.h + margin
    half = (right_w - margin) // 2
    clear = Rect(right_x, buttons_y, half, button_h)
    undo = Rect(right_x + half + margin, buttons_y, right_w - half - margin, button_h)
    status_y = buttons_y + button_h + margin // 2
    status = Rect(panel.x, status_y, panel.w, min(status_h, height - status_y))
    return Layout(width, height, canvas, digit, preview, bars, clear, undo, status, portrait)
