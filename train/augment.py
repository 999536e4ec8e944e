"""Training-time augmentation in the tf.data pipeline (never in the exported graph).

``touch`` makes the model read digits as people draw them on a touchscreen: random rotation,
slant (shear), size, aspect ratio and position in one affine warp, plus stroke thickness
(blended dilation or erosion). ``seed`` reproduces the seed ResNet's policy: rotation +-11.5
degrees, zoom and shift +-10 %, brightness and Gaussian noise. Randomness is stateless and keyed
on (seed, batch index), so a run is reproducible.
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


POLICIES: dict[str, Policy | None] = {
    "none": None,
    "touch": Policy(AffineRanges(rotate_deg=12.0, shear=0.25, scale=(0.85, 1.1),
                                 aspect=(0.8, 1.2), shift_px=2.5),
                    thickness=1.0, thinning=0.4, brightness=0.0, noise_std=0.0),
    "seed": Policy(AffineRanges(rotate_deg=11.5, shear=0.0, scale=(0.9, 1.1),
                                aspect=(1.0, 1.0), shift_px=2.8),
                   thickness=0.0, thinning=0.0, brightness=0.2, noise_std=8.0),
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


def augment_batch(images: Any, seed: Any, policy: Policy) -> Any:
    """Augment a uint8 batch [n, 28, 28, 1]; returns uint8 of the same shape."""
    import tensorflow as tf  # imported here so the policy names load without TensorFlow

    x = tf.cast(images, tf.float32)
    n = tf.shape(x)[0]
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    if policy.thickness > 0 or policy.thinning > 0:
        # w in [-thinning, thickness]: positive blends towards dilation, negative towards erosion.
        w = tf.random.stateless_uniform([n, 1, 1, 1], seed=seeds[0],
                                        minval=-policy.thinning, maxval=policy.thickness)
        dilated = tf.nn.max_pool2d(x, 3, 1, "SAME")
        eroded = -tf.nn.max_pool2d(-x, 3, 1, "SAME")
        x = tf.where(w > 0, x + w * (dilated - x), x - w * (eroded - x))
    if policy.affine is not None:
        transforms = _affine_matrices(seeds[1], n, policy.affine)
        x = tf.raw_ops.ImageProjectiveTransformV3(
            images=x, transforms=transforms, output_shape=tf.shape(x)[1:3],
            fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")
    if policy.brightness > 0:
        b = tf.random.stateless_uniform([n, 1, 1, 1], seed=seeds[2],
                                        minval=1 - policy.brightness, maxval=1 + policy.brightness)
        x = x * b
    if policy.noise_std > 0:
        x = x + tf.random.stateless_normal(tf.shape(x), seed=seeds[3], stddev=policy.noise_std)
    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)
