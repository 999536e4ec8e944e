"""The pygame touch-drawing app: draw a digit with a finger or the mouse, see what the model reads.

The loop is tick -> events -> update -> draw. Fingers, the mouse and replays all enter through
:meth:`App.handle`, in display coordinates, and are mapped through the rotation to the canvas.
Nothing here runs at import time; ``pygame`` is imported by :func:`run_app`'s caller.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_app import layout as lay
from edge_app.recognizer import DigitReading, Reading, Recognizer
from edge_app.runtime import Model
from edge_app.strokes import (
    Sample,
    Stroke,
    default_brush,
    draw_segment,
    render,
    save_samples,
    to_pixels,
)
from mnist_edge.fsutil import atomic_path
from mnist_edge.sysinfo import peak_rss_mb, rss_mb

MOUSE = "mouse"
LIVE_INTERVAL = 0.12  # s between predictions while a stroke is still being drawn

BACKGROUND = (18, 20, 26)
PANEL = (32, 35, 44)
CANVAS_BG = (0, 0, 0)
INK = (245, 245, 245)
ACCENT = (88, 166, 255)
UNSURE = (255, 170, 60)
TEXT = (230, 232, 238)
MUTED = (140, 146, 160)
GOOD = (90, 200, 120)


@dataclass(frozen=True)
class AppConfig:
    threshold: float = 0.6
    multi: bool = False
    brush: int | None = None
    live: bool = True
    rotate: int = 0
    fps: int = 60
    record: str | None = None
    headless: bool = False


class App:
    def __init__(self, pygame: Any, screen: Any, recognizer: Recognizer, config: AppConfig,
                 model_name: str) -> None:
        self.pg = pygame
        self.screen = screen
        self.recognizer = recognizer
        self.config = config
        self.model_name = model_name
        self.rotation = config.rotate
        self.logical = lay.logical_size(screen.get_size(), self.rotation)
        self.surface = screen if self.rotation == 0 else pygame.Surface(self.logical)
        self.layout = lay.compute(*self.logical, wide_canvas=config.multi)
        c = self.layout.canvas
        self.brush = config.brush or default_brush(c.w, c.h)
        self.ink = np.zeros((c.h, c.w), dtype=np.uint8)
        self.strokes: list[Stroke] = []
        self.pointer: int | str | None = None  # finger id or MOUSE while a stroke is drawn
        self.button_pointer: int | str | None = None  # a pointer that went down on a button
        self.reading: Reading | None = None
        self.digits: list[DigitReading] = []
        self.recorded: list[Sample] = []
        self.running = True
        self.dirty = True
        self.ink_dirty = True
        self.needs_prediction = False
        self.last_prediction = 0.0
        self.frame_times: deque[float] = deque(maxlen=60)
        self.last_warning = ""
        self.busy_frames_ms: list[float] = []  # frames that handled input: the drawing load
        self.reading_ms: list[float] = []  # preprocess + predict per reading
        self.first_frame_at: float | None = None
        # Assets, loaded once.
        self.canvas_surface = pygame.Surface((c.w, c.h), depth=8)
        self.canvas_surface.set_palette([tuple(int(CANVAS_BG[k] + (INK[k] - CANVAS_BG[k]) * i / 255)
                                               for k in range(3)) for i in range(256)])
        base = min(self.logical)
        self.font_big = pygame.font.Font(None, max(48, int(self.layout.digit.h * 0.95)))
        self.font = pygame.font.Font(None, max(20, base // 18))
        self.font_small = pygame.font.Font(None, max(16, base // 28))

    # ------------------------------------------------------------------ input

    def canvas_point(self, u: float, v: float) -> tuple[float, float, bool]:
        """Display-normalized -> canvas-normalized (clamped) and whether it hit the canvas."""
        lu, lv = lay.to_logical(min(max(u, 0.0), 1.0), min(max(v, 0.0), 1.0), self.rotation)
        px, py = lu * self.logical[0], lv * self.logical[1]
        c = self.layout.canvas
        inside = c.contains(px, py)
        # Pixel centres (k + 0.5) map to k / (size - 1): the inverse of display_uv_of.
        cx = min(max((px - c.x - 0.5) / max(c.w - 1, 1), 0.0), 1.0)
        cy = min(max((py - c.y - 0.5) / max(c.h - 1, 1), 0.0), 1.0)
        return cx, cy, inside

    def logical_point(self, u: float, v: float) -> tuple[float, float]:
        lu, lv = lay.to_logical(u, v, self.rotation)
        return lu * self.logical[0], lv * self.logical[1]

    def display_uv(self, pos: tuple[int, int]) -> tuple[float, float]:
        """A mouse position (a pixel) -> display-normalized, at the pixel's centre."""
        w, h = self.screen.get_size()
        return (pos[0] + 0.5) / max(w, 1), (pos[1] + 0.5) / max(h, 1)

    def handle(self, event: Any) -> None:
        pg = self.pg
        kind = event.type
        if kind == pg.QUIT:
            self.running = False
        elif kind == pg.KEYDOWN:
            self.on_key(event.key)
        elif kind == pg.FINGERDOWN:
            self.pointer_down(event.finger_id, event.x, event.y)
        elif kind == pg.FINGERMOTION:
            self.pointer_move(event.finger_id, event.x, event.y)
        elif kind == pg.FINGERUP:
            self.pointer_up(event.finger_id)
        elif kind in (pg.MOUSEBUTTONDOWN, pg.MOUSEMOTION, pg.MOUSEBUTTONUP):
            # A tap arrives as finger events *and* SDL's synthetic mouse events (touch=True):
            # draw it once, from the finger events.
            if getattr(event, "touch", False) or isinstance(self.pointer, int):
                return
            u, v = self.display_uv(event.pos)
            if kind == pg.MOUSEBUTTONDOWN and event.button == 1:
                self.pointer_down(MOUSE, u, v)
            elif kind == pg.MOUSEMOTION and self.pointer == MOUSE:
                self.pointer_move(MOUSE, u, v)
            elif kind == pg.MOUSEBUTTONUP and event.button == 1:
                self.pointer_up(MOUSE)
        elif kind in (getattr(pg, "WINDOWEXPOSED", -1), getattr(pg, "VIDEOEXPOSE", -1)):
            self.dirty = True

    def on_key(self, key: int) -> None:
        pg = self.pg
        if key in (pg.K_q, pg.K_ESCAPE):
            self.running = False
        elif key == pg.K_c:
            self.clear()
        elif key == pg.K_u:
            self.undo()
        elif key == pg.K_s:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            try:
                path = self.save_screenshot(Path(f"mnist-edge-{stamp}.png"))
                print(f"screenshot saved to {path}", file=sys.stderr)
            except (OSError, self.pg.error) as exc:  # read-only SD card, full disk
                self.warn(f"cannot save a screenshot here ({exc}); start the app in a "
                          "writable folder")

    def pointer_down(self, pointer: int | str, u: float, v: float) -> None:
        if self.pointer is not None or self.button_pointer is not None:
            return  # one finger draws at a time; extra fingers are ignored
        x, y = self.logical_point(u, v)
        if self.layout.clear.contains(x, y):
            self.button_pointer = pointer
            self.clear()
            return
        if self.layout.undo.contains(x, y):
            self.button_pointer = pointer
            self.undo()
            return
        cx, cy, inside = self.canvas_point(u, v)
        if not inside:
            return
        self.pointer = pointer
        self.strokes.append([(cx, cy)])
        self._ink_segment((cx, cy), (cx, cy))

    def pointer_move(self, pointer: int | str, u: float, v: float) -> None:
        if pointer != self.pointer or not self.strokes:
            return
        cx, cy, _ = self.canvas_point(u, v)  # leaving the canvas clamps the stroke to its edge
        stroke = self.strokes[-1]
        if stroke[-1] == (cx, cy):
            return
        self._ink_segment(stroke[-1], (cx, cy))
        stroke.append((cx, cy))
        if self.config.live:
            self.needs_prediction = True

    def pointer_up(self, pointer: int | str) -> None:
        if pointer == self.button_pointer:
            self.button_pointer = None
        if pointer != self.pointer:
            return
        self.pointer = None
        self.predict_now()

    def _ink_segment(self, a: tuple[float, float], b: tuple[float, float]) -> None:
        h, w = self.ink.shape
        draw_segment(self.ink, to_pixels(a, w, h), to_pixels(b, w, h), self.brush)
        self.ink_dirty = self.dirty = True

    # ------------------------------------------------------------------ actions

    def clear(self) -> None:
        if self.strokes and self.config.record:
            self.recorded.append(Sample([list(s) for s in self.strokes]))
            self.save_recording()
        self.strokes.clear()
        self.pointer = None
        self.ink[:] = 0
        self.reading, self.digits = None, []
        self.ink_dirty = self.dirty = True

    def undo(self) -> None:
        if not self.strokes:
            return
        if self.pointer is not None:
            self.pointer = None
        self.strokes.pop()
        h, w = self.ink.shape
        self.ink = render(self.strokes, w, h, self.brush)
        self.ink_dirty = self.dirty = True
        self.predict_now()

    def predict_now(self) -> None:
        self.needs_prediction = False
        self.last_prediction = time.perf_counter()
        if self.config.multi:
            self.digits = self.recognizer.read_many(self.ink, self.brush)
            self.reading = self.digits[-1].reading if self.digits else None
        else:
            self.reading = self.recognizer.read(self.ink)
        if self.reading is not None:
            self.reading_ms.append(self.reading.milliseconds)
        self.dirty = True

    def save_recording(self) -> None:
        if not self.config.record:
            return
        try:
            save_samples(self.config.record, self.recorded)
        except OSError as exc:
            self.warn(f"cannot write the recording {self.config.record} ({exc.strerror or exc});"
                      " pass --record with a writable path")

    def warn(self, message: str) -> None:
        """A problem worth telling the user about, never worth stopping the app for."""
        if message != self.last_warning:
            print(f"mnist-edge: warning: {message}", file=sys.stderr)
            self.last_warning = message

    def save_screenshot(self, path: Path) -> Path:
        with atomic_path(path) as tmp:
            self.pg.image.save(self.screen, str(tmp))
        return path

    # ------------------------------------------------------------------ loop

    def update(self) -> None:
        now = time.perf_counter()
        if self.needs_prediction and now - self.last_prediction >= LIVE_INTERVAL:
            self.predict_now()

    def number(self) -> str:
        return "".join(self.label_of(d.reading) for d in self.digits)

    def label_of(self, reading: Reading) -> str:
        p = reading.prediction
        return self.recognizer.model.labels[p.digit] if self.recognizer.sure(p) else "?"

    def draw(self) -> None:
        if not self.dirty:
            return
        pg, s, L = self.pg, self.surface, self.layout
        s.fill(BACKGROUND)
        if self.ink_dirty:
            pg.surfarray.blit_array(self.canvas_surface, self.ink.T)
            self.ink_dirty = False
        s.blit(self.canvas_surface, (L.canvas.x, L.canvas.y))
        pg.draw.rect(s, ACCENT if self.pointer is not None else MUTED, L.canvas.tuple, 2)
        if self.config.multi:
            for d in self.digits:
                box = (L.canvas.x + d.piece.left, L.canvas.y + d.piece.top,
                       d.piece.right - d.piece.left, d.piece.bottom - d.piece.top)
                color = GOOD if self.recognizer.sure(d.reading.prediction) else UNSURE
                pg.draw.rect(s, color, box, 2)
                tag = self.font.render(self.label_of(d.reading), True, color)
                s.blit(tag, (box[0] + 2, max(L.canvas.y, box[1] - tag.get_height())))
        self.draw_result()
        self.draw_preview()
        self.draw_bars()
        for rect, label in ((L.clear, "Clear"), (L.undo, "Undo")):
            pg.draw.rect(s, PANEL, rect.tuple, border_radius=10)
            pg.draw.rect(s, MUTED, rect.tuple, 2, border_radius=10)
            text = self.font.render(label, True, TEXT)
            s.blit(text, text.get_rect(center=(rect.x + rect.w // 2, rect.y + rect.h // 2)))
        fps = (len(self.frame_times) - 1) / max(self.frame_times[-1] - self.frame_times[0], 1e-6) \
            if len(self.frame_times) > 1 else 0.0
        ms = f" · {self.reading.milliseconds:.1f} ms" if self.reading else ""
        status = f"{self.recognizer.model.runtime} · {self.model_name}{ms} · {fps:.0f} fps"
        s.blit(self.font_small.render(status, True, MUTED), (L.status.x, L.status.y))
        if self.surface is not self.screen:
            self.screen.blit(pg.transform.rotate(self.surface, -self.rotation), (0, 0))
        pg.display.flip()
        self.dirty = self.needs_prediction  # keep redrawing while a live update is due

    def draw_result(self) -> None:
        s, r = self.surface, self.layout.digit
        self.pg.draw.rect(s, PANEL, r.tuple, border_radius=12)
        centre = (r.x + r.w // 2, r.y + r.h // 2)
        if self.reading is None:
            text = self.font.render("Draw a digit", True, MUTED)
            s.blit(text, text.get_rect(center=centre))
            return
        p = self.reading.prediction
        sure = self.recognizer.sure(p)
        if self.config.multi:
            shown = self.number() or "?"
            font = self.font_big if len(shown) <= 2 else self.font
        else:
            shown = self.recognizer.model.labels[p.digit] if sure else "?"
            font = self.font_big
        big = font.render(shown, True, ACCENT if sure else UNSURE)
        s.blit(big, big.get_rect(center=(centre[0], r.y + int(r.h * 0.42))))
        top = ", ".join(f"{d} {c:.0%}" for d, c in p.top(3))
        line = f"{p.confidence:.0%} sure" if sure else f"Not sure: {top}"
        caption = self.font_small.render(line, True, TEXT if sure else UNSURE)
        s.blit(caption, caption.get_rect(center=(centre[0], r.y + int(r.h * 0.82))))
        if sure:
            rest = self.font_small.render(f"top 3: {top}", True, MUTED)
            s.blit(rest, rest.get_rect(center=(centre[0], r.y + int(r.h * 0.93))))

    def draw_preview(self) -> None:
        pg, s, r = self.pg, self.surface, self.layout.preview
        pg.draw.rect(s, PANEL, r.tuple)
        images = [d.reading.image for d in self.digits] if self.config.multi else \
            ([self.reading.image] if self.reading else [])
        if not images:
            label = self.font_small.render("28x28", True, MUTED)
            s.blit(label, label.get_rect(center=(r.x + r.w // 2, r.y + r.h // 2)))
            return
        strip = np.concatenate(images, axis=1)
        scale = max(1, min(r.w // strip.shape[1], r.h // strip.shape[0]))
        gray = pg.surfarray.make_surface(np.repeat(strip.T[:, :, None], 3, axis=2))
        view = pg.transform.scale(gray, (strip.shape[1] * scale, strip.shape[0] * scale))
        s.blit(view, view.get_rect(center=(r.x + r.w // 2, r.y + r.h // 2)))
        pg.draw.rect(s, MUTED, r.tuple, 1)

    def draw_bars(self) -> None:
        pg, s, r = self.pg, self.surface, self.layout.bars
        probs = self.reading.prediction.probabilities if self.reading else np.zeros(10)
        best = int(np.argmax(probs)) if self.reading else -1
        slot = r.w / 10
        label_h = self.font_small.get_height()
        for d in range(10):
            x = int(r.x + d * slot + slot * 0.15)
            w = max(2, int(slot * 0.7))
            full = r.h - label_h - 4
            h = int(full * float(np.clip(probs[d], 0, 1)))
            pg.draw.rect(s, PANEL, (x, r.y, w, full))
            if h:
                pg.draw.rect(s, ACCENT if d == best else MUTED, (x, r.y + full - h, w, h))
            label = self.font_small.render(self.recognizer.model.labels[d], True,
                                           TEXT if d == best else MUTED)
            s.blit(label, label.get_rect(midtop=(x + w // 2, r.y + full + 2)))

    def frame(self, fps: int | None) -> None:
        """One turn of the loop: tick -> events -> update -> draw."""
        self.clock.tick(fps or 0)
        started = time.perf_counter()
        self.frame_times.append(started)
        events = self.pg.event.get()
        for event in events:
            self.handle(event)
        self.update()
        self.draw()
        if self.first_frame_at is None:
            self.first_frame_at = time.perf_counter()
        if events:
            self.busy_frames_ms.append((time.perf_counter() - started) * 1000)

    def run(self) -> None:
        self.clock = self.pg.time.Clock()
        while self.running:
            self.frame(self.config.fps)

    # ------------------------------------------------------------------ replay

    def display_uv_of(self, point: tuple[float, float]) -> tuple[float, float]:
        """Canvas-normalized -> display-normalized: how a finger at that spot would arrive."""
        c = self.layout.canvas
        px = c.x + point[0] * (c.w - 1) + 0.5
        py = c.y + point[1] * (c.h - 1) + 0.5
        return lay.from_logical(px / self.logical[0], py / self.logical[1], self.rotation)

    def finger_events(self, sample: Sample) -> Iterator[Any]:
        pg = self.pg
        for stroke in sample.strokes:
            if not stroke:
                continue
            for i, point in enumerate(stroke):
                u, v = self.display_uv_of(point)
                kind = pg.FINGERDOWN if i == 0 else pg.FINGERMOTION
                yield pg.event.Event(kind, touch_id=1, finger_id=0, x=u, y=v, dx=0.0, dy=0.0,
                                     pressure=1.0)
            u, v = self.display_uv_of(stroke[-1])
            yield pg.event.Event(pg.FINGERUP, touch_id=1, finger_id=0, x=u, y=v, dx=0.0,
                                 dy=0.0, pressure=0.0)

    def replay(self, samples: list[Sample], *, headless: bool, out: Any = sys.stdout,
               pace: int = 4) -> dict[str, int]:
        """Play samples through the event queue, one sample after another; print JSON lines."""
        self.clock = self.pg.time.Clock()
        correct = labelled = 0
        self.rss_after_first: float | None = None
        for number, sample in enumerate(samples, 1):
            if not self.running:
                break
            self.clear()
            self.frame(None)
            events = list(self.finger_events(sample))
            step = len(events) if headless else pace
            for i in range(0, len(events), step):
                for event in events[i:i + step]:
                    self.pg.event.post(event)
                self.frame(None if headless else self.config.fps)
                if not self.running:
                    break
            if not headless:
                for _ in range(self.config.fps // 2):
                    self.frame(self.config.fps)
            result: dict[str, Any] = {"label": sample.label}
            if self.config.multi:
                result["number"] = self.number()
            if self.reading is None:
                result.update(digit=None, confidence=0.0)
            else:
                p = self.reading.prediction
                result.update(digit=p.digit, confidence=round(p.confidence, 4))
            if sample.label is not None:
                labelled += 1
                correct += int(result["digit"] == sample.label)
            out.write(json.dumps(result) + "\n")
            out.flush()
            if number == min(100, len(samples)):
                self.rss_after_first = rss_mb()
        return {"samples": len(samples), "labelled": labelled, "correct": correct}

    def performance(self) -> str:
        """Frame time while drawing, reading time, memory: for the end-of-replay summary."""
        parts = []
        if self.busy_frames_ms:
            frames = np.asarray(self.busy_frames_ms)
            parts.append(f"frames with input p50 {np.percentile(frames, 50):.1f} ms, p99 "
                         f"{np.percentile(frames, 99):.1f} ms "
                         f"(>= {1000 / max(np.percentile(frames, 99), 1e-3):.0f} fps)")
        if self.reading_ms:
            reads = np.asarray(self.reading_ms)
            parts.append(f"preprocess+predict p50 {np.percentile(reads, 50):.2f} ms, p99 "
                         f"{np.percentile(reads, 99):.2f} ms")
        now = rss_mb()
        if now is not None and getattr(self, "rss_after_first", None) is not None:
            parts.append(f"RSS {self.rss_after_first:.1f} MB after 100 samples, {now:.1f} MB "
                         f"at the end (peak {peak_rss_mb():.1f} MB)")
        return "; ".join(parts)


def open_display(pygame: Any, size: tuple[int, int] | None, fullscreen: bool,
                 headless: bool) -> Any:
    from mnist_edge.errors import UserError

    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    try:
        pygame.display.init()
        pygame.font.init()
        flags = pygame.FULLSCREEN if fullscreen and not headless else 0
        wanted = size or ((0, 0) if fullscreen and not headless else (800, 480))
        screen = pygame.display.set_mode(wanted, flags)
    except pygame.error as exc:
        raise UserError(f"cannot open a display ({exc}); on a Pi console try "
                        "SDL_VIDEODRIVER=kmsdrm, on a desktop check DISPLAY/WAYLAND_DISPLAY, "
                        "or run without a screen with --headless") from None
    pygame.display.set_caption("mnist-edge")
    return screen


def error_screen(pygame: Any, screen: Any, message: str, fps: int = 30) -> None:
    """Show a fatal message until a key or a tap, so a kiosk user sees why it stopped."""
    font = pygame.font.Font(None, max(20, min(screen.get_size()) // 20))
    words, lines, line = message.split(), [], ""
    limit = max(20, screen.get_width() // max(font.size("m")[0], 1) - 4)
    for word in words:
        if len(line) + len(word) + 1 > limit:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    clock = pygame.time.Clock()
    while True:
        screen.fill(BACKGROUND)
        y = screen.get_height() // 3
        for text in ["mnist-edge cannot start", *lines, "", "tap or press a key to quit"]:
            surf = font.render(text, True, UNSURE if text.startswith("mnist-edge") else TEXT)
            screen.blit(surf, surf.get_rect(midtop=(screen.get_width() // 2, y)))
            y += font.get_height() + 4
        pygame.display.flip()
        for event in pygame.event.get():
            if event.type in (pygame.QUIT, pygame.KEYDOWN, pygame.MOUSEBUTTONDOWN,
                              pygame.FINGERDOWN):
                return
        clock.tick(fps)


def describe_model(model: Model) -> str:
    return Path(model.path).name
