"""How fast the app reads a number: cold, after the last stroke, and its frames while writing.

``mnist-edge numbers speed FILE.json [--model M] [--count N] [--repeats R] [--out OUT.json]``
reads the 5-digit numbers of a number file (e.g. from ``mnist-edge numbers compose``) with the
app's recognizer:

- *cold*: a new reader each time, every candidate rendered and read (one batched model call),
  then the chosen digits re-read as single digits (TTA);
- *after the last stroke*: what the app does when a stroke ends, the candidates without that
  stroke already read;
- *frames with input*: the app replaying the same numbers stroke by stroke at 60 fps, four
  touch events a frame, with the reading after each stroke.

Times are this thread's CPU time (the machine may be shared), per number the least of
``--repeats`` reads (3: other tenants' load only ever adds time), with the model calls' share
measured apart, so that ``mnist-edge estimate --numbers OUT.json`` can
scale the model part by arithmetic throughput and the rest by scalar speed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.errors import UserError


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p99: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Percentiles:
        return cls(float(np.percentile(values, 50)), float(np.percentile(values, 99)))

    def text(self) -> str:
        return f"p50 {self.p50:.2f} ms, p99 {self.p99:.2f} ms"


@dataclass(frozen=True)
class NumberSpeed:
    """Timings of reading 5-digit numbers, in ms."""

    model: str  # file name
    format: str  # registry format key (for the estimate's arithmetic)
    runtime: str
    tta: int
    numbers: int
    cold: Percentiles  # whole read, nothing cached
    cold_model: Percentiles  # ... of which in model calls
    last: Percentiles  # the read after the last stroke
    last_model: Percentiles  # ... of which in model calls
    frames: Percentiles  # frames that handled input, while writing them
    frame_count: int
    repeats: int = 1  # reads per number, the least kept (a shared machine only adds time)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NumberSpeed:
        """The record as written by ``to_json``; anything else is one clear error."""
        try:
            fields: dict[str, Any] = {}
            for name, kind in _KINDS.items():
                if name == "repeats" and name not in data:
                    continue  # records from before repeats: one read each
                value = data[name]
                if kind is Percentiles:
                    value = Percentiles(float(value["p50"]), float(value["p99"]))
                elif not isinstance(value, kind) or isinstance(value, bool):
                    raise TypeError(f"{name} is {value!r}")
                fields[name] = value
            return cls(**fields)
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(
                f"not a number speed record ({exc}); make one with "
                "'mnist-edge numbers speed FILE --out OUT.json'"
            ) from None

    def text(self) -> str:
        return (
            f"reading a 5-digit number ({self.numbers} numbers, {self.runtime}, {self.model}, "
            f"tta {self.tta}, least of {self.repeats} reads each), CPU: cold {self.cold.text()} "
            f"(model calls p50 {self.cold_model.p50:.2f} ms); after its last stroke (the rest "
            f"cached, as in the app) {self.last.text()} (model calls p50 "
            f"{self.last_model.p50:.2f} ms); frames with input while writing them (4 touch "
            f"events a frame, 60 fps): "
            f"{self.frames.text()} ({self.frame_count} frames)"
        )


_KINDS: dict[str, type] = {
    "model": str,
    "format": str,
    "runtime": str,
    "tta": int,
    "numbers": int,
    **{n: Percentiles for n in ("cold", "cold_model", "last", "last_model", "frames")},
    "frame_count": int,
    "repeats": int,
}


class _TimedModel:
    """The model with the CPU time of its ``run`` calls added up (everything else passes)."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.spent = 0.0

    def run(self, images: np.ndarray) -> Any:
        started = time.thread_time()
        try:
            return self._model.run(images)
        finally:
            self.spent += time.thread_time() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _format_key(path: Path) -> str:
    """The registry format of a model file, by the name export gives it (``edge-fp16.tflite``)."""
    from mnist_edge.core.registry import family_of, formats_by_preference

    family = family_of(str(path))
    for fmt in formats_by_preference(family) if family else []:
        if path.name.endswith(f"-{fmt.precision}{fmt.suffix}"):
            return fmt.key
    return family or "?"


def measure(
    path: str, model_path: str | None = None, count: int = 60, repeats: int = 3
) -> NumberSpeed:
    from mnist_edge.benchmarks.numbers import app_recognizer
    from mnist_edge.edge_app.app.display import import_pygame, open_display
    from mnist_edge.edge_app.app.loop import App, AppConfig
    from mnist_edge.edge_app.app.replay import replay
    from mnist_edge.edge_app.runtime import load_model
    from mnist_edge.edge_app.runtime.shipped import default_model
    from mnist_edge.ink.compose import strip_canvas
    from mnist_edge.ink.strokes import load_samples

    model_file = model_path or str(default_model()[0])
    model = _TimedModel(load_model(model_file))
    rec = app_recognizer(model)  # type: ignore[arg-type]
    canvas = strip_canvas()
    size = (canvas.width, canvas.height, canvas.brush)
    fives = [s for s in load_samples(path) if isinstance(s.label, str) and len(s.label) == 5]
    if not fives:
        raise UserError(f"{path} has no 5-digit numbers to time")
    fives = fives[:count]
    runs = [_read_times(rec, model, fives, size) for _ in range(repeats)]
    # Per number, the least of its reads: interference from other tenants only adds time.
    cold, cold_model, last, last_model = (
        [min(r[k][n] for r in runs) for n in range(len(fives))] for k in range(4)
    )
    pygame = import_pygame()
    screen = open_display(pygame, (800, 480), False, True)
    app = App(pygame, screen, app_recognizer(model), AppConfig(multi=True, learn=False), "bench")
    with open("/dev/null", "w") as sink:
        replay(app, fives, headless=False, out=sink)
    frames = list(app.busy_frames_ms)
    pygame.quit()
    return NumberSpeed(
        Path(model_file).name,
        _format_key(Path(model_file)),
        model.runtime,
        rec.tta,
        len(fives),
        Percentiles.of(cold),
        Percentiles.of(cold_model),
        Percentiles.of(last),
        Percentiles.of(last_model),
        Percentiles.of(frames),
        len(frames),
        repeats,
    )


def _read_times(
    rec: Any, model: _TimedModel, fives: Sequence[Any], size: tuple[int, int, int]
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Per number, ms: the cold read, its model calls, the read after the last stroke, its
    model calls."""
    from mnist_edge.edge_app.numbers.reader import NumberReader

    cold, cold_model, last, last_model = [], [], [], []
    for s in fives:
        rec._number_reader = NumberReader(model)  # cold: nothing cached
        model.spent, started = 0.0, time.thread_time()
        rec.read_number(s.strokes, *size)
        cold.append((time.thread_time() - started) * 1000)
        cold_model.append(model.spent * 1000)
        rec._number_reader = NumberReader(model)
        rec.read_number(s.strokes[:-1], *size)
        model.spent, started = 0.0, time.thread_time()
        rec.read_number(s.strokes, *size)
        last.append((time.thread_time() - started) * 1000)
        last_model.append(model.spent * 1000)
    return cold, cold_model, last, last_model
