"""The pygame touch-drawing app: input -> state -> view, one loop.

Each frame is tick -> events -> update -> draw. Events become actions (:mod:`.input`), actions
change the state (:mod:`.state`) through the methods below, and the view (:mod:`.view`) draws
the state. Replays (:mod:`.replay`) post the same events from outside, so they exercise
exactly this path. Nothing runs at import time; pygame comes from the caller.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.api_read import read_canvas, read_number_strokes, several_digits
from mnist_edge.edge_app.app import corrections as corrections_
from mnist_edge.edge_app.app import screenshot
from mnist_edge.edge_app.app.alternative import offered, take_alternative
from mnist_edge.edge_app.app.collect import Collector, save_sample, skip_sample
from mnist_edge.edge_app.app.input import Command, Down, Input, Move, Up
from mnist_edge.edge_app.app.state import AppState, Drawing
from mnist_edge.edge_app.app.view import View, alternative_rect, bar_slot, button_rects
from mnist_edge.edge_app.recognizer import Recognizer
from mnist_edge.ink import layout as lay
from mnist_edge.ink.stroke_writer import StrokeWriter
from mnist_edge.ink.strokes import Sample, default_brush

LIVE_INTERVAL = 0.12  # s between predictions while a stroke is still being drawn


@dataclass(frozen=True)
class AppConfig:
    multi: bool = False
    brush: int | None = None
    live: bool = True
    rotate: int = 0
    fps: int = 60
    learn: bool = True  # taps on the bars (or keys 0-9) teach the app


class App:
    def __init__(
        self,
        pygame: Any,
        screen: Any,
        recognizer: Recognizer,
        config: AppConfig,
        model_name: str,
        collector: Collector | None = None,
        recorder: StrokeWriter | None = None,
    ) -> None:
        self.pg = pygame
        self.screen = screen
        self.recognizer = recognizer
        self.config = config
        self.model_name = model_name
        self.collector = collector
        self.recorder = recorder  # --record: every drawing cleared is appended to it
        self.rotation = config.rotate
        self.logical = lay.logical_size(screen.get_size(), self.rotation)
        self.layout = lay.compute(*self.logical, wide_canvas=config.multi)
        c = self.layout.canvas
        self.state = AppState(Drawing(c.w, c.h, config.brush or default_brush(c.w, c.h)))
        self.input = Input(pygame)
        self.view = View(pygame, screen, self.layout, self.rotation, recognizer.model.labels)
        self.drawing_pointer: int | str | None = None
        self.button_pointer: int | str | None = None
        self.correction_before_tap = False  # --multi: a tap that selects a digit keeps Undo's
        self.needs_prediction = False
        self.last_prediction = 0.0
        self.frame_times: deque[float] = deque(maxlen=60)
        self.last_warning = ""
        self.busy_frames_ms: list[float] = []  # frames that handled input: the drawing load
        self.reading_ms: list[float] = []  # preprocess + predict per reading
        self.first_frame_at: float | None = None
        self.clock = pygame.time.Clock()
        if collector is not None:
            self.state.prompt = collector.prompt()

    # ------------------------------------------------------------------ views of the state

    @property
    def strokes(self) -> list[list[tuple[float, float]]]:
        return self.state.drawing.strokes

    @property
    def ink(self) -> Any:
        return self.state.drawing.ink

    @property
    def reading(self) -> Any:
        return self.state.reading

    @property
    def running(self) -> bool:
        return self.state.running

    @property
    def learning(self) -> bool:
        return (
            self.config.learn
            and self.recognizer.learner is not None
            and not self.config.multi
            and self.collector is None
        )

    def buttons(self) -> tuple[str, ...]:
        if self.collector is not None:
            return ("Save", "Skip", "Undo")
        return ("Clear", "Undo")

    # ------------------------------------------------------------------ input -> actions

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

    def display_uv_of(self, point: tuple[float, float]) -> tuple[float, float]:
        """Canvas-normalized -> display-normalized: how a finger at that spot would arrive."""
        c = self.layout.canvas
        px = c.x + point[0] * (c.w - 1) + 0.5
        py = c.y + point[1] * (c.h - 1) + 0.5
        return lay.from_logical(px / self.logical[0], py / self.logical[1], self.rotation)

    def handle(self, event: Any) -> None:
        for action in self.input.translate(event, self.screen.get_size()):
            self.apply(action)

    def apply(self, action: Any) -> None:
        if isinstance(action, Down):
            self.pointer_down(action.pointer, action.u, action.v)
        elif isinstance(action, Move):
            self.pointer_move(action.pointer, action.u, action.v)
        elif isinstance(action, Up):
            self.pointer_up(action.pointer)
        elif isinstance(action, Command):
            self.command(action.name, action.value)

    def command(self, name: str, value: int | None = None) -> None:
        if name == "quit":
            self.state.running = False
        elif name == "clear":
            self.clear()
        elif name == "undo":
            self.undo()
        elif name == "save" and self.collector is not None:
            self.collect_save()
        elif name == "skip" and self.collector is not None:
            self.collect_skip()
        elif name == "correct" and value is not None:
            self.correct(value)
        elif name == "screenshot":
            screenshot.take(self)
        elif name == "redraw":
            self.state.dirty = True

    def pointer_down(self, pointer: int | str, u: float, v: float) -> None:
        if self.drawing_pointer is not None or self.button_pointer is not None:
            return  # one finger at a time (a lost FINGERUP is recovered by Input)
        x, y = self.logical_point(u, v)
        for name, rect in button_rects(self.layout, self.buttons()):
            if rect.contains(x, y):
                self.button_pointer = pointer
                self.command(
                    {"Clear": "clear", "Undo": "undo", "Save": "save", "Skip": "skip"}[name]
                )
                return
        if self.config.multi and alternative_rect(self.layout).contains(x, y):
            if offered(self.state) is not None:  # "did you mean ...?": one tap takes it
                self.button_pointer = pointer
                take_alternative(self)
            return
        digit = bar_slot(self.layout, x, y)
        if digit is not None:
            self.button_pointer = pointer
            if self.learning or self.config.multi:
                self.correct(digit)
            return
        cx, cy, inside = self.canvas_point(u, v)
        if not inside:
            return
        if self.state.drawing.begin((cx, cy)):
            self.drawing_pointer = pointer
            self.correction_before_tap = self.state.last_correction
            self.state.last_correction = False
            self.state.ink_dirty = self.state.dirty = True
        else:
            self.warn_full()

    def pointer_move(self, pointer: int | str, u: float, v: float) -> None:
        if pointer != self.drawing_pointer:
            return
        cx, cy, _ = self.canvas_point(u, v)  # leaving the canvas clamps the stroke to its edge
        if self.state.drawing.extend((cx, cy)):
            self.state.ink_dirty = self.state.dirty = True
            if self.config.live:
                self.needs_prediction = True
        elif self.state.drawing.full:
            self.warn_full()

    def warn_full(self) -> None:
        """The drawing refused ink (its strokes or its ink at their bound): say how to go on."""
        what = "number" if self.config.multi else "digit"
        self.warn(f"that is a lot of ink for one {what}: undo or clear the canvas first")

    def pointer_up(self, pointer: int | str) -> None:
        if pointer == self.button_pointer:
            self.button_pointer = None
        if pointer != self.drawing_pointer:
            return
        self.drawing_pointer = None
        self.state.drawing.end()
        if self.config.multi and self.collector is None and self.select_by_tap():
            return
        self.state.selected = None
        self.predict_now()

    def select_by_tap(self) -> bool:
        return corrections_.select_by_tap(self)

    def select(self, index: int) -> None:
        corrections_.select(self, index)

    def correct(self, digit: int) -> None:
        """The person says this drawing (or the selected digit) is ``digit``."""
        corrections_.correct(self, digit)

    def _save_profile(self) -> str | None:
        return corrections_.save_profile(self)

    # ------------------------------------------------------------------ actions

    def clear(self) -> None:
        drawing = self.state.drawing
        if drawing.strokes and self.recorder is not None:
            strokes = [list(s) for s in drawing.strokes]
            self.record(Sample(strokes, canvas=(drawing.width, drawing.height)))
        drawing.clear()
        self.drawing_pointer = None
        self.state.clear_reading()
        self.state.last_correction = False
        self.state.ink_dirty = self.state.dirty = True

    def undo(self) -> None:
        """Undo what was done last: a correction, else a stroke, else (collecting) a save."""
        learner = self.recognizer.learner
        if (
            self.state.last_correction
            and learner is not None
            and all(learner.undo() for _ in range(int(self.state.last_correction)))
        ):
            self.state.last_correction = False
            self.state.say("Correction undone")
            self._save_profile()
            self.predict_now()
            return
        if self.state.drawing.undo():
            self.drawing_pointer = None
            self.state.selected = None
            self.state.ink_dirty = self.state.dirty = True
            self.predict_now()
        elif self.collector is not None:
            self.state.say(self.collector.undo())
            self.state.prompt = self.collector.prompt()

    def collect_save(self) -> None:
        save_sample(self)

    def collect_skip(self) -> None:
        skip_sample(self)

    def predict_now(self) -> None:
        self.needs_prediction = False
        self.last_prediction = time.perf_counter()
        drawing = self.state.drawing
        if self.config.multi:
            self.state.digits, self.state.number = read_number_strokes(
                self.recognizer, drawing.strokes, (drawing.width, drawing.height), drawing.brush
            )
            digits, selected = self.state.digits, self.state.selected
            if selected is not None and not 0 <= selected < len(digits):
                selected = self.state.selected = None
            self.state.reading = (
                digits[-1 if selected is None else selected].reading if digits else None
            )
        else:
            self.state.reading = read_canvas(self.recognizer, drawing.ink, drawing.strokes)[0]
            self.state.several = several_digits(
                self.recognizer,
                self.state.reading,
                drawing.strokes,
                (drawing.width, drawing.height),
                drawing.brush,
                pen_down=drawing.open,
            )
        if self.state.reading is not None:
            self.reading_ms.append(self.state.reading.milliseconds)
        self.state.dirty = True

    def record(self, sample: Sample) -> None:
        assert self.recorder is not None
        try:
            self.recorder.append(sample)
        except (OSError, UserError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            self.warn(
                f"cannot write the recording {self.recorder.path} ({reason});"
                " pass --record with a writable path"
            )

    def warn(self, message: str) -> None:
        """A problem worth telling the user about (terminal and screen), never worth stopping."""
        if message != self.last_warning:
            print(f"mnist-edge: warning: {message}", file=sys.stderr)
            self.last_warning = message
        self.state.say(message, warning=True)

    # ------------------------------------------------------------------ loop

    def update(self) -> None:
        now = time.perf_counter()
        if self.needs_prediction and now - self.last_prediction >= LIVE_INTERVAL:
            self.predict_now()

    def status(self) -> str:
        fps = (
            (len(self.frame_times) - 1) / max(self.frame_times[-1] - self.frame_times[0], 1e-6)
            if len(self.frame_times) > 1
            else 0.0
        )
        ms = f" · {self.state.reading.milliseconds:.1f} ms" if self.state.reading else ""
        learner = self.recognizer.learner
        learned = (
            f" · {len(learner)} learned"
            if self.learning and learner is not None and len(learner)
            else ""
        )
        return f"{self.recognizer.model.runtime} · {self.model_name}{ms}{learned} · {fps:.0f} fps"

    def draw(self, force: bool = False) -> None:
        state = self.state
        state.current_message()  # expire messages
        if not (state.dirty or force):
            return
        self.view.draw(
            state,
            multi=self.config.multi,
            drawing_active=self.drawing_pointer is not None,
            buttons=self.buttons(),
            status=self.status(),
            recognizer=self.recognizer,
        )
        state.dirty = self.needs_prediction  # keep redrawing while a live update is due

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

    def run(self, stop: Callable[[], bool] = lambda: False) -> None:
        """The loop, until the user quits or ``stop()`` says so (SIGTERM)."""
        while self.state.running and not stop():
            self.frame(self.config.fps)
