"""The images every row is measured on, prepared once and shared with the workers as .npz.

``robust``: each test digit re-drawn the way people draw on a touchscreen (on a large canvas,
moved, scaled, stretched, with thicker or thinner strokes) and read back through the app's own
:func:`mnist_edge.ink.preprocess.to_mnist`, so the row measures the model *and* the app's path.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mnist_edge.core.data import MnistSplit, load_split
from mnist_edge.core.idx import ENV_DATA, DataError
from mnist_edge.core.text import error_line
from mnist_edge.ink.layout import DEFAULT_SIZE, compute
from mnist_edge.ink.preprocess import to_mnist
from mnist_edge.ink.strokes import (
    Stroke,
    as_the_app_takes,
    default_brush,
    load_samples,
    render,
)


def redraw(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One MNIST digit as a person might draw it on a 240-480 px touchscreen canvas."""
    size = int(rng.integers(240, 481))
    canvas = np.zeros((size, size), dtype=np.uint8)
    height = int(size * rng.uniform(0.25, 0.8))  # small or large writing
    aspect = rng.uniform(0.8, 1.25)
    width = max(4, int(height * aspect))
    big = cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)
    big = np.where(big > 100, 255, 0).astype(np.uint8)  # a touchscreen stroke is solid ink
    scale = height / 20  # pixels per MNIST stroke pixel
    change = rng.choice([-1, 0, 1, 2])  # thinner, same, thicker, much thicker
    k = max(1, int(round(scale * abs(change) * 0.6)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    if change > 0:
        big = cv2.dilate(big, kernel)
    elif change < 0:
        eroded = cv2.erode(big, kernel)
        big = eroded if eroded.any() else big
    big = cv2.GaussianBlur(big, (3, 3), 0)  # the app draws anti-aliased strokes
    h, w = big.shape
    if h >= size or w >= size:
        big = cv2.resize(big, (min(w, size - 2), min(h, size - 2)), interpolation=cv2.INTER_AREA)
        h, w = big.shape
    top = int(rng.integers(0, size - h + 1))
    left = int(rng.integers(0, size - w + 1))
    canvas[top : top + h, left : left + w] = big
    return to_mnist(canvas)


def app_canvas(strokes: list[Stroke], width: int, height: int) -> np.ndarray:
    """The app's ink canvas after drawing ``strokes``: the strokes it takes (none that start off
    the canvas), drawn as it draws them; ``to_mnist`` of it is ``strokes_to_digit``."""
    return render(as_the_app_takes(strokes), width, height, default_brush(width, height))


def app_reads_nothing(canvas: np.ndarray) -> bool:
    """The test :meth:`Recognizer.read` makes before reading: no ink, no answer."""
    return not np.any(canvas)


def drawn_digits(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A labelled replay file as the app's default screen renders it (the replay's pixels),
    with each sample's writer ("?" where the file names none) and whether the app would read
    nothing at all (blank, or drawn off the canvas): such a sample scores as a miss."""
    canvas = compute(*DEFAULT_SIZE).canvas
    everything = load_samples(path)
    samples = [s for s in everything if isinstance(s.label, int)]
    canvases = (app_canvas(s.strokes, canvas.w, canvas.h) for s in samples)
    pairs = [(to_mnist(c), app_reads_nothing(c)) for c in canvases]  # one canvas at a time
    images = np.stack([image for image, _ in pairs])
    blank = np.array([nothing for _, nothing in pairs], bool)
    writers = np.array([s.writer or "?" for s in samples])
    return images, np.array([s.label for s in samples], np.uint8), writers, blank


def has_digits(path: str) -> bool:
    """Whether a replay file holds labelled single digits (the digit rows score those)."""
    return any(isinstance(s.label, int) for s in load_samples(path))


def number_files(paths: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, path) of the --drawn-eval files that hold numbers (string labels): each model
    row also reads those as the app does (``benchmarks.numbers.score_in_process``)."""
    return [
        (name, path)
        for name, path in zip(drawn_labels(paths), paths, strict=True)
        if any(isinstance(s.label, str) for s in load_samples(path))
    ]


def drawn_labels(paths: tuple[str, ...]) -> list[str]:
    """One unique name per --drawn-eval file: its file name, or as many parent folders as it
    takes to tell it from the others (``a/dev.json``, ``b/dev.json``)."""
    parts = [Path(os.path.abspath(p)).parts for p in paths]
    labels = []
    for i, mine in enumerate(parts):
        for k in range(1, len(mine) + 1):
            tail = mine[-k:]
            if all(other[-k:] != tail for j, other in enumerate(parts) if j != i):
                break
        labels.append("/".join(tail).replace("//", "/"))
    return labels


@dataclass(frozen=True)
class Prepared:
    """What the rows are measured on: ``images`` test digits, or, where MNIST could not be had,
    ``no_accuracy`` says why and the timing runs on typeset digits (accuracy columns empty)."""

    images: int
    no_accuracy: str = ""


def typeset_digits(count: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Digits 0-9 typeset in OpenCV's Hershey fonts at varied size, weight and place on a
    canvas, through ``to_mnist``: real digit shapes to time the models on without MNIST."""
    rng = np.random.default_rng(seed)
    fonts = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
             cv2.FONT_HERSHEY_SCRIPT_SIMPLEX)  # fmt: skip
    labels = (np.arange(count) % 10).astype(np.uint8)
    images = np.empty((count, 28, 28), np.uint8)
    for i, digit in enumerate(labels):
        canvas = np.zeros((240, 240), np.uint8)
        scale, thick = rng.uniform(3.0, 6.0), int(rng.integers(6, 16))
        spot = (int(rng.integers(10, 90)), int(rng.integers(170, 230)))
        cv2.putText(canvas, str(digit), spot, fonts[i % len(fonts)], scale, 255, thick, cv2.LINE_AA)
        images[i] = to_mnist(canvas)
    return images, labels


def mnist_or_why(data_dir: str | None, limit: int | None) -> MnistSplit | str:
    """The MNIST test split, or why it cannot be had. Only where no location was named (no
    --data-dir, no $MNIST_EDGE_DATA) and the cache lacks it and cannot be filled (no network):
    a folder the user named and got wrong is their mistake to hear about."""
    try:
        return load_split("test", data_dir, limit=limit)
    except DataError as exc:
        if data_dir or os.environ.get(ENV_DATA):
            raise
        return error_line(exc)


def prepare(
    path: Path,
    data_dir: str | None,
    limit: int | None,
    robust: bool,
    seed: int = 0,
    drawn: tuple[str, ...] = (),
) -> Prepared:
    test = mnist_or_why(data_dir, limit)
    if isinstance(test, str):
        images, _ = typeset_digits(limit or 1000, seed)
        arrays: dict[str, np.ndarray] = {"images": images}  # no labels: no accuracy
        robust = False  # re-drawn MNIST digits need MNIST
        prepared = Prepared(len(images), no_accuracy=test)
    else:
        arrays = {"images": test.images, "labels": test.labels}
        prepared = Prepared(len(test))
    if robust:
        rng = np.random.default_rng(seed)
        arrays["robust_images"] = np.stack([redraw(im, rng) for im in arrays["images"]])
        arrays["robust_labels"] = arrays["labels"]
    # Files of numbers alone have no digit rows (their numbers are read per model row).
    named = [(n, f) for n, f in zip(drawn_labels(drawn), drawn, strict=True) if has_digits(f)]
    if named:
        names = [n for n, _ in named]
        arrays["drawn_names"] = np.array(names)
        for i, (_, file) in enumerate(named):
            images, labels, writers, blank = drawn_digits(file)
            arrays[f"drawn{i}_images"], arrays[f"drawn{i}_labels"] = images, labels
            arrays[f"drawn{i}_writers"], arrays[f"drawn{i}_blank"] = writers, blank
            if blank.any():
                print(
                    f"mnist-edge: --drawn-eval {names[i]}: {int(blank.sum())} of {len(blank)} "
                    "labelled samples leave nothing the app reads (blank or off the canvas); "
                    "they count as misses, as the app gives no answer",
                    file=sys.stderr,
                )
    np.savez(path, **arrays)
    return prepared
