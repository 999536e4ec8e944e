"""The public API: read digits and numbers from ink or pictures in a program of one's own.

``load()`` gives a :class:`Reader`; its ``read_digit``, ``read_number`` and ``read_image``
return typed results with ranked candidates, and ``correct`` teaches it its user's hand
through the same profiles as the app. An ink is mapped onto the canvas the app would draw it
on (its size from the app's layout, its brush, the same ink calls) and read through the one
preprocessing path, so the API reads what the app reads. The app itself reads through
:func:`read_canvas` and :func:`read_number_strokes`. Numpy-only: no pygame, no TensorFlow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.api_read import (
    PxBox,
    learn_correction,
    number_result,
    pixel_box,
    read_canvas,
    read_number_strokes,
)
from mnist_edge.edge_app.api_types import (
    Box,
    DigitResult,
    Ink,
    NumberResult,
    WritingArea,
    finite_number,
)
from mnist_edge.edge_app.recognizer import Recognizer
from mnist_edge.edge_app.results import NumberDigit
from mnist_edge.ink import layout as lay
from mnist_edge.ink.preprocess import image_to_canvas
from mnist_edge.ink.strokes import MAX_INK_PX, Stroke, default_brush, ink_px, render

#: Without a writing area, the ink fills this much of the height (a digit drawn at about
#: two-thirds of the canvas, what the app's brush is sized for).
FILL = 2 / 3
MAX_ASPECT = 16  # a writing area wider (or taller) than 16:1 is not a surface for digits


# ----------------------------------------------------------------------------- ink -> canvas


@dataclass(frozen=True)
class Frame:
    """Which part of the ink's plane the canvas shows (left, top, width, height in ink
    units), and the canvas: width, height and brush in px."""

    left: float
    top: float
    width: float
    height: float
    size: tuple[int, int]
    brush: int

    def strokes(self, ink: Ink) -> list[Stroke]:
        """The ink as the app would hold it: canvas fractions, clamped to the canvas, a stroke
        that starts off it never begun, repeated points dropped (the app's input rules); more
        ink than the app holds (:data:`~mnist_edge.ink.strokes.MAX_INK_PX`) is a UserError."""
        out = []
        for stroke in ink.strokes:
            points: Stroke = []
            for p in stroke:
                x, y = (p[0] - self.left) / self.width, (p[1] - self.top) / self.height
                if not points and not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                    break
                point = (min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0))
                if not points or points[-1] != point:
                    points.append(point)
            if points:
                out.append(points)
        used = ink_px(out, *self.size)
        if used > MAX_INK_PX:  # the app refuses such ink too; reading it would take seconds
            raise UserError(
                f"ink is {used:,.0f} px long on the {self.size[0]}x{self.size[1]} canvas it is "
                f"read on, more than {MAX_INK_PX:,}; read it in parts or sample it less"
            )
        return out

    def box(self, px: PxBox) -> Box:
        """A canvas box (px, end-exclusive) in the ink's units."""
        w, h = (max(v - 1, 1) for v in self.size)
        left, top, right, bottom = px
        return (
            self.left + left / w * self.width,
            self.top + top / h * self.height,
            self.left + (right - 1) / w * self.width,
            self.top + (bottom - 1) / h * self.height,
        )


def canvas_size(aspect: float, multi: bool) -> tuple[int, int]:
    """A canvas of ``aspect`` (width / height) whose shorter side is the app's canvas' on its
    default screen (the writing strip for numbers), so the brush is the app's to the writing."""
    c = lay.compute(*lay.DEFAULT_SIZE, wide_canvas=multi).canvas
    short = min(c.w, c.h)
    if aspect >= 1:
        return max(short, round(short * aspect)), short
    return short, max(short, round(short / aspect))


def frame_for(ink: Ink, area: WritingArea | None, multi: bool) -> Frame:
    """The frame an ink is read in: the writing area, else its bounding box with a margin
    (square for a digit, as the app's canvas; the ink's own aspect for a number)."""
    if area is not None:
        if not isinstance(area, WritingArea):
            raise UserError("area must be a WritingArea(width, height) or None")
        left, top, width, height = 0.0, 0.0, area.width, area.height
    else:
        x0, y0, x1, y1 = ink.bounds() or (0.0, 0.0, 0.0, 0.0)
        w, h = x1 - x0, y1 - y0
        if multi:
            height = h / FILL
            width = w + (height - h)  # the same margin on every side
            height = max(height, width / MAX_ASPECT)
            width = max(width, height / MAX_ASPECT)
        else:
            width = height = max(w, h) / FILL
        if width <= 0 or height <= 0:  # one dot: any size reads it the same
            width = height = 1.0
        # centred by the span, not by x0 + x1: that sum overflows for ink far from the origin
        left, top = x0 - (width - w) / 2, y0 - (height - h) / 2
    aspect = width / height
    if not 1 / MAX_ASPECT <= aspect <= MAX_ASPECT:
        raise UserError(
            f"writing area {width:g} x {height:g} is narrower than 1:{MAX_ASPECT}; "
            "pass the area the ink was written on"
        )
    size = canvas_size(aspect, multi)
    return Frame(left, top, width, height, size, default_brush(*size))


# ----------------------------------------------------------------------------- the reader


class Reader:
    """Reads digits and numbers with one model; made by :func:`load`. Not thread-safe: use
    one per thread. ``note`` says why learning is limited (a locked or newer profile)."""

    def __init__(self, recognizer: Recognizer, note: str | None = None) -> None:
        self.recognizer = recognizer
        self.note = note
        self._undo: list[int] = []

    @property
    def model_path(self) -> Path:
        """The model file read with."""
        return Path(self.recognizer.model.path)

    @property
    def threshold(self) -> float:
        """Below this confidence a digit is not sure."""
        return self.recognizer.threshold

    def read_digit(self, ink: Ink, area: WritingArea | None = None) -> DigitResult:
        """Read ``ink`` as one digit; ``area`` the surface it was written on (see
        :class:`WritingArea`). An empty ink gives an empty result (text "")."""
        ink = _ink(ink)
        frame = frame_for(ink, area, multi=False)
        strokes = frame.strokes(ink)
        canvas = render(strokes, *frame.size, frame.brush)
        return read_canvas(self.recognizer, canvas, strokes, frame.box)[1]

    def read_number(self, ink: Ink, area: WritingArea | None = None) -> NumberResult:
        """Read ``ink`` as a number of one or more digits, left to right, with ranked
        whole-number alternatives; ``area`` as for :meth:`read_digit`."""
        ink = _ink(ink)
        frame = frame_for(ink, area, multi=True)
        strokes = frame.strokes(ink)
        _, result = read_number_strokes(
            self.recognizer, strokes, frame.size, frame.brush, frame.box
        )
        return result

    def read_image(self, image: np.ndarray | str | os.PathLike[str]) -> DigitResult:
        """Read a picture of one digit: a grayscale uint8 array [H, W] (dark on light or
        light on dark) or an image file's path (PNG, JPEG, ...). Box in the picture's px."""
        canvas = image_to_canvas(_picture(image, "a picture of one digit"))
        return read_canvas(self.recognizer, canvas, None, pixel_box)[1]

    def read_number_image(self, image: np.ndarray | str | os.PathLike[str]) -> NumberResult:
        """Read a picture of a number (as :meth:`read_image` takes it), left to right, with
        ranked alternatives; digit boxes in the picture's px. A picture has no strokes, so the
        picture model alone reads it (as ``predict --multi`` does)."""
        from mnist_edge.edge_app.numbers.image import read_number_image

        canvas = image_to_canvas(_picture(image, "a picture of a number"))
        found = read_number_image(canvas, self.recognizer)  # too many marks: one line
        digits = [NumberDigit(d.box, (), d.reading) for d in found.digits]
        return number_result(self.recognizer, digits, pixel_box)

    def correct(self, result: DigitResult | NumberResult, text: str | int) -> int:
        """Teach the reader that ``result`` is ``text`` (a digit, or the whole number with as
        many digits): the digits of a number that differ, or the single digit even where it
        was read right (a confirmation, as the app's bars take it), are stored in the profile
        and read so next time. Returns how many corrections were stored."""
        stored = learn_correction(self.recognizer, result, text)
        self._undo.append(stored)
        self._save()
        return stored

    def undo(self) -> bool:
        """Take back the last :meth:`correct`; False when there is none."""
        learner = self.recognizer.learner
        if not self._undo or learner is None:
            return False
        for _ in range(self._undo.pop()):
            learner.undo()
        self._save()
        return True

    def close(self) -> None:
        """Save what a failed save left unsaved; the reader stays usable."""
        learner = self.recognizer.learner
        lost = learner.close() if learner is not None else None
        if lost:
            self.note = lost

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _save(self) -> None:
        learner = self.recognizer.learner
        problem = learner.save() if learner is not None else None
        if problem:
            self.note = problem


def _ink(ink: object) -> Ink:
    if isinstance(ink, Ink):
        return ink
    return Ink(ink)  # type: ignore[arg-type]


def _picture(image: object, what: str) -> np.ndarray:
    """A grayscale picture from an array or an image file's path; one line if it is none."""
    if isinstance(image, (str, os.PathLike)):
        from mnist_edge.edge_app.image_file import ImageFileError, read_image

        try:
            return read_image(str(image))
        except ImageFileError as exc:
            raise UserError(f"{image}: {exc}; pass {what}") from None
    return _gray(image)


def _gray(image: object) -> np.ndarray:
    from mnist_edge.edge_app.image_file import MAX_PIXELS

    try:
        a = np.asarray(image)
    except (ValueError, TypeError):  # ragged rows: no array at all
        a = np.asarray(None)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.dtype != np.uint8 or a.ndim != 2 or min(a.shape) < 2 or a.size > MAX_PIXELS:
        # no array (None, a number, ragged lists): its type says more than a 0-d array's dtype
        got = f"{a.dtype} {list(a.shape)}" if a.ndim else type(image).__name__
        raise UserError(
            f"image must be a grayscale uint8 array [H, W] of 2x2 to {MAX_PIXELS:,} pixels, "
            f"got {got}; convert it, or pass the file's path"
        )
    return a


def load(
    model: str | os.PathLike[str] | None = None,
    runtime: str = "auto",
    *,
    tta: int | None = None,
    threshold: float | None = None,
    threads: int | None = None,
    profile: str | None = None,
    pen: bool | str | os.PathLike[str] = True,
) -> Reader:
    """A :class:`Reader` on ``model`` (a .tflite or .onnx file; None: the shipped default for
    the runtime) and ``runtime`` ("auto": the first installed slim runtime). ``tta`` and
    ``threshold`` default to what the model was calibrated for, as in the app. ``profile``
    names the app's profile of corrections to read with and store into (per model, under
    $MNIST_EDGE_PROFILES or the user's data folder); None learns in memory only. ``threads``:
    inference threads, 1 to 64 (None: the runtime's choice). ``pen``:
    True reads the strokes with the shipped pen model too, as the app does, where the model
    is a shipped one; False reads the picture alone; a path names a pen model file."""
    from mnist_edge.core.config import require_int, require_number
    from mnist_edge.edge_app.config import RUNTIME_CHOICES
    from mnist_edge.edge_app.reading import choose_threshold, choose_tta, load_default
    from mnist_edge.edge_app.runtime import MAX_THREADS
    from mnist_edge.edge_app.tta import MAX_VARIANTS

    if model is not None and not isinstance(model, (str, os.PathLike)):
        raise UserError(
            f"model must be a .tflite or .onnx file's path or None, got {model!r}"[:200]
        )
    if runtime not in RUNTIME_CHOICES:
        raise UserError(f"runtime must be one of {', '.join(RUNTIME_CHOICES)}, got {runtime!r}")
    if tta is not None:
        require_int("tta", tta, 1, MAX_VARIANTS)
        tta = int(tta)  # numpy's integers too
    if threshold is not None:  # a float first: an int too large for one is a UserError too
        threshold = finite_number(threshold, "threshold")
        require_number("threshold", threshold, 0.0, 1.0)
    if threads is not None:  # the bound `draw --threads` takes
        require_int("threads", threads, 1, MAX_THREADS)
        threads = int(threads)
    if not isinstance(pen, (bool, str, os.PathLike)):
        raise UserError(f"pen must be True, False or a pen model file's path, got {pen!r}"[:200])
    if not isinstance(pen, bool) and not os.fspath(pen).strip():  # '' is no file, not "default"
        raise UserError("the pen model path is empty; pass pen=True for the shipped one")
    loaded = load_default(None if model is None else str(model), runtime, threads)
    chosen_tta = choose_tta(tta, loaded)
    learner, note = _learner(loaded, profile)
    recognizer = Recognizer(
        loaded,
        choose_threshold(threshold, loaded, chosen_tta),
        chosen_tta,
        learner,
        _pen(pen, loaded, threads),
    )
    return Reader(recognizer, note)


def _pen(pen: bool | str | os.PathLike[str], model: Any, threads: int | None) -> Any:
    """The pen channel as ``draw`` chooses it: a named file, else the shipped pen file for a
    shipped image model (the fusion was calibrated for them), else none."""
    if pen is False:
        return None
    from mnist_edge.edge_app.pen.default import pen_channel

    return pen_channel(model, None if pen is True else pen, threads=threads)


def _learner(model: Any, profile: str | None) -> tuple[Any, str | None]:
    """The profile's learner for this model (memory only without a name); None when the
    model has no embedding to learn from."""
    from mnist_edge.core.fsutil import sha256_file
    from mnist_edge.edge_app.learn import Learner

    if model.embedding is None:
        return None, "this model has no embedding output (an older export): learning is off"
    dim = int(model.embedding.shape[-1])
    digest = sha256_file(model.path)
    if profile is None:
        return Learner(digest, dim), None
    return Learner.open(profile, digest, dim)
