"""Pictures as people take them: paper that is not flat (a lamp's gradient, a phone's shadow,
texture) and specks on it, turned into clean ink before ``to_mnist``.

The paper is estimated by a morphological opening wider than any stroke (ink is thin, paper is
wide), the picture divided by it (light multiplies, so a shadow or gradient divides out), the
ink found by Otsu's threshold on the result and specks dropped as small components; the ink
keeps its anti-aliased strength. Clean pictures (flat paper, no specks) never come here.

The opening's cost grows with the picture's area times its kernel (a fifth of the shorter side):
minutes for a 12-megapixel photo. So the paper of a picture larger than ``WORK_PIXELS`` is
estimated on a copy shrunk to that area and stretched back; it is smooth, so little is lost.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

FLAT = 12.0  # grey levels: paper that varies less than this is flat (a scan, a screenshot)
SPECK = 0.03  # a component under this share of the largest one's area is a speck
# The paper is estimated on at most a VGA frame's area (0.2 s): pictures up to it as before.
WORK_PIXELS = 640 * 480


def paper(g: np.ndarray) -> np.ndarray:
    """The background of ``g`` (ink bright on dark): an opening wider than a stroke, smoothed.
    Estimated on at most ``WORK_PIXELS``, so its cost is bounded whatever the picture's size."""
    background = _paper_estimate(g)
    if background.shape == g.shape:
        return background
    return cv2.resize(background, g.shape[::-1], interpolation=cv2.INTER_LINEAR)


def _paper_estimate(g: np.ndarray) -> np.ndarray:
    """:func:`paper` at ``g``'s size, or shrunk to ``WORK_PIXELS`` when ``g`` is larger."""
    height, width = g.shape
    scale = math.sqrt(WORK_PIXELS / (height * width))
    if scale < 1:  # INTER_AREA averages: thin ink fades into the paper rather than aliasing
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    side = max(5, min(g.shape) // 5) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    opened = cv2.morphologyEx(g, cv2.MORPH_OPEN, kernel)
    return cv2.blur(opened, (side // 2 | 1, side // 2 | 1))


def _components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    return labels, stats[1:count, cv2.CC_STAT_AREA]


def needs_cleaning(g: np.ndarray) -> bool:
    """Whether ``g`` (float, ink bright on dark) is a photo: paper that is not flat, or specks
    beside the ink. A clean picture (an MNIST digit, a scan on flat paper) is left as it was."""
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    # A uniform edge (a few ink pixels may touch it) is a render or a scan: its paper is flat,
    # whatever a small picture's thick strokes make of the opening.
    uniform = float(np.mean(np.abs(border - np.median(border)) <= 2)) >= 0.9
    # Range and median from the estimate itself: a full-size copy costs a large picture seconds.
    background = _paper_estimate(g)
    if not uniform and float(background.max() - background.min()) > FLAT:
        return True
    ink = g - float(np.median(background))
    mask = ink > max(32.0, 0.5 * float(ink.max()))
    _, areas = _components(mask)
    return len(areas) > 1 and int((areas < SPECK * areas.max()).sum()) >= 3


def clean(g: np.ndarray) -> np.ndarray:
    """``g`` (float, ink bright on dark) as a canvas: ink 255 on 0, the paper divided out,
    specks removed, the strokes' anti-aliased edges kept."""
    light = np.maximum(255.0 - paper(g), 1.0)  # the paper's brightness at each pixel
    strength = np.clip(1.0 - (255.0 - g) / light, 0.0, 1.0)  # share of light the ink takes
    scaled = np.round(strength * 255).astype(np.uint8)
    threshold, mask = cv2.threshold(scaled, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    labels, areas = _components(mask > 0)
    if not len(areas):
        return np.zeros(g.shape, np.uint8)
    keep = np.concatenate([[False], areas >= max(4, SPECK * areas.max())])[labels]
    near = cv2.dilate(keep.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # the edges
    floor = threshold / 2  # below half Otsu's level: paper grain, never ink
    top = max(float(np.percentile(scaled[keep], 90)), floor + 1)
    ink = np.clip((scaled.astype(np.float32) - floor) / (top - floor), 0, 1) * near
    return np.round(ink * 255).astype(np.uint8)
