"""The one preprocessing function: a drawing canvas -> the 28x28 uint8 digit a model reads.

It repeats how MNIST itself was made (LeCun et al.): crop to the ink, fit the longer side into
20 px keeping the aspect ratio, with anti-aliasing, then place it in 28x28 so that the centre of
mass lands on pixel (14, 14) (integer shift, as measured on MNIST: mean 14.0, std 0.3). The app,
``mnist-edge predict`` and the benchmark's robust accuracy all call this function.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from mnist_edge.ink import photo
from mnist_edge.ink.strokes import Stroke, as_the_app_takes, default_brush, render

SIZE = 28
BOX = 20
CENTRE = 14.0


def ink_bbox(canvas: np.ndarray, threshold: int = 0) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of pixels brighter than ``threshold``, end-exclusive."""
    mask = canvas > threshold
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def fit_box(digit: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale a cropped digit so its longer side is ``box`` px, keeping the aspect ratio."""
    h, w = digit.shape
    scale = box / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    if (new_h, new_w) == (h, w):
        return digit
    # INTER_AREA averages the covered source pixels: the anti-aliasing MNIST was made with.
    # Upscaling (a digit smaller than the box) uses bilinear, as INTER_AREA does then anyway.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(digit, (new_w, new_h), interpolation=interpolation)


def centre_by_mass(digit: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Paste ``digit`` into a ``size`` x ``size`` field with its centre of mass at (14, 14)."""
    out = np.zeros((size, size), dtype=np.uint8)
    # Image moments of uint8 ink are sums of integers, exact in float64: the same centre as
    # summing in numpy, at a fifth of the time (it runs for every candidate of a number).
    moments = cv2.moments(np.ascontiguousarray(digit))
    total = moments["m00"]
    h, w = digit.shape
    if total <= 0:
        return out
    cy, cx = moments["m01"] / total, moments["m10"] / total
    top, left = int(round(CENTRE - cy)), int(round(CENTRE - cx))
    # Clip where a lopsided digit would stick out of the field.
    src_y0, src_x0 = max(0, -top), max(0, -left)
    dst_y0, dst_x0 = max(0, top), max(0, left)
    rows = min(h - src_y0, size - dst_y0)
    cols = min(w - src_x0, size - dst_x0)
    if rows > 0 and cols > 0:
        out[dst_y0 : dst_y0 + rows, dst_x0 : dst_x0 + cols] = digit[
            src_y0 : src_y0 + rows, src_x0 : src_x0 + cols
        ]
    return out


def to_mnist(canvas: np.ndarray) -> np.ndarray:
    """Canvas (uint8 H x W, ink 255 on 0) -> uint8 [28, 28], MNIST-style. Empty -> all zeros."""
    canvas = np.asarray(canvas)
    if canvas.ndim == 3:  # tolerate H x W x C: take the brightest channel as ink
        canvas = canvas.max(axis=2)
    if canvas.ndim != 2:
        raise ValueError(f"canvas must be a 2-D image, got shape {canvas.shape}")
    if canvas.dtype != np.uint8:
        canvas = np.clip(canvas, 0, 255).astype(np.uint8)
    box = ink_bbox(canvas)
    if box is None:
        return np.zeros((SIZE, SIZE), dtype=np.uint8)
    top, bottom, left, right = box
    return from_ink(canvas[top:bottom, left:right])


def from_ink(ink: np.ndarray) -> np.ndarray:
    """The rest of :func:`to_mnist` for a crop already cut to its ink (uint8, ink in its first
    and last rows and columns): for a caller that knows where the ink is."""
    return centre_by_mass(fit_box(ink))


def strokes_to_digit(
    strokes: Sequence[Stroke], width: int, height: int, brush: int | None = None
) -> np.ndarray:
    """Strokes drawn on a ``width`` x ``height`` canvas -> the 28x28 digit the model reads.

    Exactly what the app does with a drawing (the same ink calls, then :func:`to_mnist`), so
    training on drawn digits, the benchmark's drawn rows and replays all see what users see.
    Strokes the app would not take (:func:`as_the_app_takes`) leave no ink here either.
    """
    kept = as_the_app_takes(strokes)
    return to_mnist(render(kept, width, height, brush or default_brush(width, height)))


def image_to_canvas(gray: np.ndarray) -> np.ndarray:
    """Any grayscale picture of a digit (scan, photo, screenshot; dark-on-light or light-on-dark)
    -> a canvas with ink 255 on 0, ready for :func:`to_mnist`.

    The border tells the background: a bright border means dark ink on paper, so the picture is
    inverted. The background level plus three robust deviations is subtracted (paper texture,
    JPEG noise; zero for clean images, which pass unchanged) and the ink stretched to 255.
    """
    g = np.asarray(gray, dtype=np.float32)
    if g.ndim != 2 or min(g.shape) < 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {g.shape}")
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    if np.median(border) > 127:
        g, border = 255.0 - g, 255.0 - border
    if photo.needs_cleaning(g):  # shaded or specked paper: divided out, specks dropped
        return photo.clean(g)
    level = float(np.median(border))
    spread = float(np.median(np.abs(border - level)))
    g = g - (level + 3 * spread)
    peak = float(g.max())
    if peak <= 0:
        return np.zeros(g.shape, dtype=np.uint8)
    return np.clip(np.round(g * (255.0 / peak)), 0, 255).astype(np.uint8)
