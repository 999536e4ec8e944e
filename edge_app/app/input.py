"""Input: pygame events -> pointer and command actions, robust to any event sequence.

Fingers and the mouse become the same pointer actions in display-normalized coordinates. One
pointer draws at a time. Touch drivers lose events (a FINGERUP never arrives after a swipe off
the panel edge, a window loses focus mid-stroke): a pointer that has been silent for
``STALE_SECONDS`` no longer blocks the next touch, which first lifts it. Coordinates that are
not finite numbers are dropped, never drawn.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

MOUSE = "mouse"
STALE_SECONDS = 0.75  # a finger on the glass sends motion at least this often


@dataclass(frozen=True)
class Down:
    pointer: int | str
    u: float
    v: float


@dataclass(frozen=True)
class Move:
    pointer: int | str
    u: float
    v: float


@dataclass(frozen=True)
class Up:
    pointer: int | str


@dataclass(frozen=True)
class Command:
    name: str  # clear, undo, quit, screenshot, save, skip, correct, redraw
    value: int | None = None


Action = Down | Move | Up | Command


def _finite(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


class Input:
    """Translates pygame events into actions; owns which pointer is drawing."""

    def __init__(self, pygame: Any, keys: dict[int, Command] | None = None) -> None:
        self.pg = pygame
        self.active: int | str | None = None  # the pointer that is down, if any
        self.last_seen = 0.0
        pg = pygame
        self.keys = keys or {}
        self.keys.update(
            {
                pg.K_q: Command("quit"),
                pg.K_ESCAPE: Command("quit"),
                pg.K_c: Command("clear"),
                pg.K_u: Command("undo"),
                pg.K_z: Command("undo"),
                pg.K_s: Command("screenshot"),
                pg.K_RETURN: Command("save"),
                pg.K_SPACE: Command("save"),
                pg.K_n: Command("skip"),
            }
        )
        for digit in range(10):
            self.keys[getattr(pg, f"K_{digit}")] = Command("correct", digit)

    def display_uv(self, pos: Any, size: tuple[int, int]) -> tuple[float, float] | None:
        """A mouse position (a pixel) -> display-normalized, at the pixel's centre."""
        try:
            x, y = float(pos[0]), float(pos[1])
        except (TypeError, ValueError, IndexError):
            return None
        w, h = size
        return ((x + 0.5) / max(w, 1), (y + 0.5) / max(h, 1)) if _finite(x, y) else None

    def translate(self, event: Any, size: tuple[int, int]) -> list[Action]:
        pg = self.pg
        kind = event.type
        if kind == pg.QUIT:
            return [Command("quit")]
        if kind == pg.KEYDOWN:
            command = self.keys.get(getattr(event, "key", None))
            return [command] if command else []
        if kind in (pg.FINGERDOWN, pg.FINGERMOTION, pg.FINGERUP):
            pointer = getattr(event, "finger_id", 0)
            u, v = getattr(event, "x", None), getattr(event, "y", None)
            if kind == pg.FINGERUP:
                return self._up(pointer)
            if not _finite(u, v):
                return []
            return self._down(pointer, u, v) if kind == pg.FINGERDOWN else self._move(pointer, u, v)
        if kind in (pg.MOUSEBUTTONDOWN, pg.MOUSEMOTION, pg.MOUSEBUTTONUP):
            # A tap arrives as finger events *and* SDL's synthetic mouse events (touch=True):
            # it is drawn once, from the finger events.
            if getattr(event, "touch", False) or isinstance(self.active, int):
                return []
            button = getattr(event, "button", 1)
            if kind == pg.MOUSEBUTTONUP:
                return self._up(MOUSE) if button == 1 else []
            uv = self.display_uv(getattr(event, "pos", None), size)
            if uv is None:
                return []
            if kind == pg.MOUSEBUTTONDOWN:
                return self._down(MOUSE, *uv) if button == 1 else []
            return self._move(MOUSE, *uv)
        if kind in (
            getattr(pg, "WINDOWEXPOSED", -1),
            getattr(pg, "VIDEOEXPOSE", -1),
            getattr(pg, "WINDOWFOCUSLOST", -1),
        ):
            # Losing focus can swallow the button-up: lift whatever was down.
            lifted = (
                self._up(self.active)
                if self.active is not None and kind == getattr(pg, "WINDOWFOCUSLOST", -2)
                else []
            )
            return [*lifted, Command("redraw")]
        return []

    def _down(self, pointer: int | str, u: float, v: float) -> list[Action]:
        now = time.monotonic()
        lifted: list[Action] = []
        if self.active is not None and self.active != pointer:
            if now - self.last_seen < STALE_SECONDS:
                return []  # a second finger while the first still draws: ignored
            lifted = [Up(self.active)]  # the first finger's FINGERUP was lost
        self.active, self.last_seen = pointer, now
        return [*lifted, Down(pointer, u, v)]

    def _move(self, pointer: int | str, u: float, v: float) -> list[Action]:
        if pointer != self.active:
            return []
        self.last_seen = time.monotonic()
        return [Move(pointer, u, v)]

    def _up(self, pointer: int | str) -> list[Action]:
        if pointer != self.active:
            return []
        self.active = None
        return [Up(pointer)]
