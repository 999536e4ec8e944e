"""Test-time augmentation: read a digit several times, slightly varied, and average.

The variants follow how drawings of one digit vary between attempts: a pixel of shift, a few
degrees of rotation, a thinner or bolder stroke. Variant 0 is always the digit itself, so
``n = 1`` is plain reading. Variants are made on the 28x28 input (after ``to_mnist``), so the
one preprocessing path stays the one path.
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_VARIANTS = 9
# The app and predict read 5 variants unless --tta says otherwise: adopted on writer-held-out
# validation (more digits read, the calibrated threshold still flags over half the misreads)
# for ~0.5 ms more per reading (this workstation). Reports compare it with reading once.
DEFAULT_TTA = 5


def _rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    m = cv2.getRotationMatrix2D((13.5, 13.5), degrees, 1.0)
    return cv2.warpAffine(image, m, (28, 28), flags=cv2.INTER_LINEAR, borderValue=0)


def _shift(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, (28, 28), flags=cv2.INTER_NEAREST, borderValue=0)


def _stroke(image: np.ndarray, bolder: bool) -> np.ndarray:
    kernel = np.ones((2, 2), np.uint8)
    changed = cv2.dilate(image, kernel) if bolder else cv2.erode(image, kernel)
    return ((image.astype(np.uint16) + changed) // 2).astype(np.uint8)  # a half step


_MAKERS = (
    lambda im: im,
    lambda im: _rotate(im, 8.0),
    lambda im: _rotate(im, -8.0),
    lambda im: _stroke(im, bolder=True),
    lambda im: _stroke(im, bolder=False),
    lambda im: _shift(im, 1, 0),
    lambda im: _shift(im, -1, 0),
    lambda im: _shift(im, 0, 1),
    lambda im: _shift(im, 0, -1),
)


def variants(image: np.ndarray, n: int) -> np.ndarray:
    """uint8 [n, 28, 28]: the digit and n - 1 variations of it."""
    if not 1 <= n <= MAX_VARIANTS:
        raise ValueError(f"test-time augmentation takes 1 to {MAX_VARIANTS} variants, got {n}")
    return np.stack([make(image) for make in _MAKERS[:n]])


def batch_variants(images: np.ndarray, n: int) -> np.ndarray:
    """uint8 [N * n, 28, 28], image-major (the n variants of image 0 first)."""
    return (
        np.concatenate([variants(im, n) for im in images])
        if len(images)
        else np.zeros((0, 28, 28), np.uint8)
    )


def averaged(probabilities: np.ndarray, n: int) -> np.ndarray:
    """[N * n, C] read from ``batch_variants(images, n)`` -> [N, C]: each digit's variants
    averaged. The app reads this way and training calibrates its threshold on it."""
    return probabilities.reshape(len(probabilities) // n, n, -1).mean(axis=1)
