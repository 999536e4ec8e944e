"""Training-time augmentation in the tf.data pipeline (never in the exported graph).

``touch`` makes the model read digits as people draw them on a touchscreen: random rotation,
slant (shear), size, aspect ratio and position in one affine warp, plus stroke thickness
(blended dilation or erosion). It also synthesizes two writing styles that MNIST's US census
writers almost never used but many others do: the slashed zero (a diagonal stroke through a 0)
and the European one (a long up-stroke flag on a 1); without them a model reads those as 8 and
7. ``seed`` reproduces the seed ResNet's policy: rotation +-11.5 degrees, zoom and shift
+-10 %, brightness and Gaussian noise. Randomness is stateless and keyed on (seed, batch
index), so a run is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AffineRanges:
    rotate_deg: float
    shear: float
    scale: tuple[float, float]
    aspect: tuple[float, float]
    shift_px: float


@dataclass(frozen=True)
class Policy:
    affine: AffineRanges | None
    thickness: float  # max blend weight towards a 3x3 dilation, 0 = off
    thinning: float  # max blend weight towards a 3x3 erosion (thin MNIST strokes fade fast)
    brightness: float  # max multiplicative change, 0 = off
    noise_std: float  # Gaussian noise std in pixel units, 0 = off
    styles: float = 0.0  # chance that a 0 gets a slash or a 1 gets a flag

    def describe(self) -> str:
        """What this policy does, in words, from its own numbers (for the model card)."""
        parts = []
        if self.affine is not None:
            a = self.affine
            parts.append(
                f"rotation +-{a.rotate_deg:g} deg, shear {a.shear:g}, scale "
                f"{a.scale[0]:g}-{a.scale[1]:g}, aspect {a.aspect[0]:g}-"
                f"{a.aspect[1]:g}, shift +-{a.shift_px:g} px"
            )
        if self.thickness or self.thinning:
            parts.append(
                f"stroke thickness (up to {self.thickness:.0%} towards a 3x3 "
                f"dilation, up to {self.thinning:.0%} towards erosion)"
            )
        if self.brightness:
            parts.append(f"brightness +-{self.brightness:.0%}")
        if self.noise_std:
            parts.append(f"Gaussian noise (std {self.noise_std:g} levels)")
        if self.styles:
            parts.append(
                "two writing styles MNIST's US census writers rarely used: the "
                f"slashed zero and the European one with a long flag ({self.styles:.0%}"
                " of 0s and 1s)"
            )
        return "; ".join(parts) or "none"


POLICIES: dict[str, Policy | None] = {
    "none": None,
    "touch": Policy(
        AffineRanges(
            rotate_deg=12.0, shear=0.25, scale=(0.85, 1.1), aspect=(0.8, 1.2), shift_px=2.5
        ),
        thickness=1.0,
        thinning=0.4,
        brightness=0.0,
        noise_std=0.0,
        styles=0.3,
    ),
    "seed": Policy(
        AffineRanges(rotate_deg=11.5, shear=0.0, scale=(0.9, 1.1), aspect=(1.0, 1.0), shift_px=2.8),
        thickness=0.0,
        thinning=0.0,
        brightness=0.2,
        noise_std=8.0,
    ),
}


def _affine_matrices(seed: Any, n: Any, r: AffineRanges) -> Any:
    """Per-image output->input projective transforms [n, 8] about the image centre."""
    import tensorflow as tf

    u = tf.random.stateless_uniform([6, n], seed=seed, minval=-1.0, maxval=1.0)
    angle = u[0] * (r.rotate_deg * math.pi / 180.0)
    shear = u[1] * r.shear
    lo, hi = r.scale
    scale = (lo + hi) / 2 + u[2] * (hi - lo) / 2
    alo, ahi = r.aspect
    aspect = (alo + ahi) / 2 + u[3] * (ahi - alo) / 2
    sx, sy = scale * tf.sqrt(aspect), scale / tf.sqrt(aspect)
    tx, ty = u[4] * r.shift_px, u[5] * r.shift_px
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Forward map A = R @ Shear @ S; the op wants the inverse (output -> input) mapping.
    a00, a01 = cos * sx, (cos * shear - sin) * sy
    a10, a11 = sin * sx, (sin * shear + cos) * sy
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    c = 13.5  # pixel centre of a 28x28 image
    ox, oy = c + tx, c + ty
    b0 = c - (i00 * ox + i01 * oy)
    b1 = c - (i10 * ox + i11 * oy)
    zeros = tf.zeros_like(i00)
    return tf.stack([i00, i01, b0, i10, i11, b1, zeros, zeros], axis=1)


def _draw_segments(x: Any, start: Any, end: Any, width: Any, on: Any) -> Any:
    """Anti-aliased segments start->end ([n, 2] as x, y pixels) of ``width`` [n] where ``on``."""
    import tensorflow as tf

    ys, xs = tf.meshgrid(tf.range(28.0), tf.range(28.0), indexing="ij")

    # Explicit reshapes: `t[:, 0, None, None]` loses its new axes in graph mode when the batch
    # dimension is static (tf.function, fixed-size batches).
    def column(t: Any) -> Any:
        return tf.reshape(t, [-1, 1, 1])

    sx, sy = column(start[:, 0]), column(start[:, 1])
    dx, dy = column(end[:, 0] - start[:, 0]), column(end[:, 1] - start[:, 1])
    px, py = xs[None] - sx, ys[None] - sy
    t = tf.clip_by_value((px * dx + py * dy) / (dx * dx + dy * dy + 1e-6), 0.0, 1.0)
    dist = tf.sqrt((px - t * dx) ** 2 + (py - t * dy) ** 2)
    ink = tf.clip_by_value(column(width) / 2 + 0.5 - dist, 0.0, 1.0) * 255.0
    drawn = tf.maximum(x, ink[..., None])
    return tf.where(tf.reshape(on, [-1, 1, 1, 1]), drawn, x)


def _add_styles(x: Any, labels: Any, seed: Any, chance: float) -> Any:
    """Slash some zeros (mostly '/', past the ring) and flag some ones (down-left from the top)."""
    import tensorflow as tf

    n = tf.shape(x)[0]
    u = tf.random.stateless_uniform([8, n], seed=seed)
    mask = x[..., 0] > 100.0
    rows, cols = tf.reduce_any(mask, axis=2), tf.reduce_any(mask, axis=1)
    index = tf.range(28.0)[None]
    big = 1e3
    top = tf.reduce_min(tf.where(rows, index, big), axis=1)
    bottom = tf.reduce_max(tf.where(rows, index, -big), axis=1)
    left = tf.reduce_min(tf.where(cols, index, big), axis=1)
    right = tf.reduce_max(tf.where(cols, index, -big), axis=1)
    has_ink = tf.reduce_any(rows, axis=1)
    width = 1.5 + 1.5 * u[0]
    labels = tf.cast(labels, tf.int32)
    # Slashed zero: lower-left to upper-right (one in five the other way), overshooting by 0-3 px.
    over = 3.0 * u[1]
    backslash = u[2] < 0.2
    y0 = tf.where(backslash, top - over, bottom + over)
    y1 = tf.where(backslash, bottom + over, top - over)
    start = tf.stack([left - over + 2 * u[3], y0], axis=1)
    end = tf.stack([right + over - 2 * u[4], y1], axis=1)
    slash = (labels == 0) & (u[5] < chance) & has_ink
    x = _draw_segments(x, start, end, width, slash)
    # European one: from the top of the stroke, 20-65 degrees below horizontal, to the left.
    top_row = tf.gather(x[..., 0], tf.cast(tf.clip_by_value(top, 0, 27), tf.int32), batch_dims=1)
    top_x = tf.reduce_sum(top_row * index, axis=1) / (tf.reduce_sum(top_row, axis=1) + 1e-6)
    angle = (20.0 + 45.0 * u[6]) * math.pi / 180.0
    length = (0.3 + 0.3 * u[7]) * (bottom - top)
    start = tf.stack([top_x, top], axis=1)
    end = tf.stack([top_x - length * tf.cos(angle), top + length * tf.sin(angle)], axis=1)
    flag = (labels == 1) & (u[5] < chance) & has_ink
    return _draw_segments(x, start, end, width, flag)


def augment_batch(images: Any, labels: Any, seed: Any, policy: Policy) -> Any:
    """Augment a uint8 batch [n, 28, 28, 1] with labels [n]; returns uint8 of the same shape."""
    import tensorflow as tf  # imported here so the policy names load without TensorFlow

    x = tf.cast(images, tf.float32)
    n = tf.shape(x)[0]
    seeds = tf.random.experimental.stateless_split(seed, num=6)
    if policy.styles > 0:
        x = _add_styles(x, labels, seeds[5], policy.styles)
    if policy.thickness > 0 or policy.thinning > 0:
        # w in [-thinning, thickness]: positive blends towards dilation, negative towards erosion.
        w = tf.random.stateless_uniform(
            [n, 1, 1, 1], seed=seeds[0], minval=-policy.thinning, maxval=policy.thickness
        )
        dilated = tf.nn.max_pool2d(x, 3, 1, "SAME")
        eroded = -tf.nn.max_pool2d(-x, 3, 1, "SAME")
        x = tf.where(w > 0, x + w * (dilated - x), x - w * (eroded - x))
    if policy.affine is not None:
        transforms = _affine_matrices(seeds[1], n, policy.affine)
        x = tf.raw_ops.ImageProjectiveTransformV3(
            images=x,
            transforms=transforms,
            output_shape=tf.shape(x)[1:3],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="CONSTANT",
        )
    if policy.brightness > 0:
        b = tf.random.stateless_uniform(
            [n, 1, 1, 1], seed=seeds[2], minval=1 - policy.brightness, maxval=1 + policy.brightness
        )
        x = x * b
    if policy.noise_std > 0:
        x = x + tf.random.stateless_normal(tf.shape(x), seed=seeds[3], stddev=policy.noise_std)
    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)
