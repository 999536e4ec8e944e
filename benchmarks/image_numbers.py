"""Numbers read from pictures (``predict --multi``): read exactly per length and spacing.

``mnist-edge numbers pictures FILE.json [--model M] [--out REPORT.md]`` takes a number file
(``label`` a string of digits, ``stroke_digits`` per stroke, e.g. from ``mnist-edge numbers
compose``), renders each number's strokes on the app's
writing strip exactly as the app draws ink, and reads the picture in process with
:func:`~mnist_edge.edge_app.numbers.image.read_number_image` (the pen's width estimated from
the ink, as ``predict --multi`` does), per length (2-5 digits) and per spacing (apart / close
/ touching, measured in the app's ink). Beside it, on the same picture and recognizer:

- ``components``: the connected-component splitter (``split_digits``), as
  ``benchmarks/numbers.py`` scores it;
- ``ceiling``: every digit read alone (its own strokes on the same canvas).

"read" counts a number right when its digits are; "sure" also asks that every digit was sure.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_edge.benchmarks.baseline_splitter import read_many
from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.numbers.image import read_number_image
from mnist_edge.edge_app.reading import choose_threshold, choose_tta
from mnist_edge.edge_app.recognizer import Recognizer
from mnist_edge.edge_app.runtime import load_model
from mnist_edge.edge_app.runtime.shipped import default_model
from mnist_edge.ink.canvas import Canvas
from mnist_edge.ink.compose import SPACINGS, spacing_of, strip_canvas
from mnist_edge.ink.strokes import Sample, load_samples, render

#: Per number: (name, the figure's column title).
FIGURES = (
    ("read", "read exactly"),
    ("components", "components (before)"),
    ("ceiling", "ceiling (each digit alone)"),
    ("sure", "all sure"),
    ("components_sure", "components, all sure"),
    ("ceiling_sure", "ceiling, all sure"),
)


@dataclass(frozen=True)
class NumberResult:
    """One number: its length and spacing, and which readers read it right."""

    length: int
    spacing: str
    read: bool
    sure: bool
    components: bool
    components_sure: bool
    ceiling: bool
    ceiling_sure: bool
    milliseconds: float  # reading the picture (split + final digits)


def _pct(hits: int, n: int) -> str:
    return f"{hits / n:.1%}" if n else "-"


def markdown(results: Sequence[NumberResult]) -> str:
    """The figures per length and spacing, and the reading time."""
    head = "| digits | spacing | numbers | " + " | ".join(t for _, t in FIGURES) + " |\n"
    head += "|---" * (3 + len(FIGURES)) + "|\n"
    lines = []
    for length in [*sorted({r.length for r in results}), "all"]:
        for spacing in [*SPACINGS, "all"]:
            rows = [
                r for r in results if length in (r.length, "all") and spacing in (r.spacing, "all")
            ]
            if rows:
                cells = [
                    _pct(sum(getattr(r, name) for r in rows), len(rows)) for name, _ in FIGURES
                ]
                lines.append(f"| {length} | {spacing} | {len(rows)} | " + " | ".join(cells) + " |")
    ms = np.array([r.milliseconds for r in results]) if results else np.zeros(1)
    timing = (
        f"\nReading one picture (split and final digits, in process): p50 "
        f"{np.percentile(ms, 50):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms.\n"
    )
    return head + "\n".join(lines) + "\n" + timing


def components(picture: np.ndarray, brush: int, recognizer: Recognizer) -> tuple[str, bool]:
    """What the connected-component splitter reads (``Recognizer.read_many``), all sure?"""
    digits = read_many(recognizer, picture, brush)
    read = "".join(str(d.reading.prediction.digit) for d in digits)
    return read, all(recognizer.sure(d.reading.prediction) for d in digits)


def digits_alone(sample: Sample, canvas: Canvas, recognizer: Recognizer) -> tuple[str, bool]:
    """Each digit read alone from its own strokes on the same canvas, all sure?"""
    assert sample.stroke_digits is not None
    read, sure = "", True
    for k in range(len(str(sample.label))):
        own = [s for s, o in zip(sample.strokes, sample.stroke_digits) if o == k]
        reading = recognizer.read(render(own, canvas.width, canvas.height, canvas.brush))
        read += "?" if reading is None else str(reading.prediction.digit)
        sure &= reading is not None and recognizer.sure(reading.prediction)
    return read, sure


def score_one(sample: Sample, canvas: Canvas, recognizer: Recognizer) -> NumberResult:
    """Read one composed number's picture three ways."""
    assert isinstance(sample.label, str) and sample.stroke_digits is not None
    picture = render(sample.strokes, canvas.width, canvas.height, canvas.brush)
    started = time.perf_counter()
    number = read_number_image(picture, recognizer)
    milliseconds = (time.perf_counter() - started) * 1000
    read = number.number == sample.label
    split, split_sure = components(picture, canvas.brush, recognizer)
    alone, alone_sure = digits_alone(sample, canvas, recognizer)
    return NumberResult(
        len(sample.label),
        spacing_of(sample.strokes, sample.stroke_digits, canvas),
        read,
        read and number.sure,
        split == sample.label,
        split == sample.label and split_sure,
        alone == sample.label,
        alone == sample.label and alone_sure,
        milliseconds,
    )


def score(path: str, model_path: str | None = None, limit: int | None = None) -> str:
    """The report for one number file, as markdown."""
    model_file = model_path or str(default_model()[0])
    model = load_model(model_file)
    tta = choose_tta(None, model)
    recognizer = Recognizer(model, choose_threshold(None, model, tta), tta)  # predict's
    samples = [s for s in load_samples(path) if isinstance(s.label, str) and s.stroke_digits]
    if not samples:
        raise UserError(
            f"{path} holds no numbers that say which stroke is which digit (stroke_digits, as "
            "'mnist-edge numbers compose' writes without --join); pass one"
        )
    canvas = strip_canvas()  # the app's writing strip on its default screen
    results = [score_one(s, canvas, recognizer) for s in samples[:limit]]
    return (
        f"### {Path(path).name} ({Path(model_file).name}, tta {tta}, pictures "
        f"{canvas.width}x{canvas.height}, brush {canvas.brush})\n\n{markdown(results)}"
    )
