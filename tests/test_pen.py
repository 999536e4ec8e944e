"""The pen channel's trajectory features and the fusion arithmetic, on constructed strokes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_edge.edge_app.pen.features import FEATURES, POINTS, batch_features, features
from mnist_edge.edge_app.pen.fusion import fuse
from mnist_edge.ink.strokes import load_samples

DX, DY, START, END = (FEATURES.index(n) for n in ("dx", "dy", "stroke_start", "stroke_end"))

# A 7: a bar left to right, then down to the lower left, in one stroke.
SEVEN = [[(0.3, 0.2), (0.7, 0.2), (0.4, 0.8)]]
# A European 1: a short up-stroke (the flag) to the top, then the stem down, in one stroke.
FLAGGED_ONE = [[(0.4, 0.35), (0.55, 0.2), (0.55, 0.8)]]


def _moved(strokes, scale, dx, dy):
    return [[(x * scale + dx, y * scale + dy) for x, y in s] for s in strokes]


def test_shape_and_range():
    f = features(SEVEN)
    assert f is not None and f.shape == (POINTS, len(FEATURES)) and f.dtype == np.float32
    assert np.abs(f[:, :2]).max() <= 0.5 + 1e-6  # centred, longer side 1
    assert np.isclose(np.ptp(f[:, :2], axis=0).max(), 1.0)
    assert np.allclose(np.linalg.norm(f[:, [DX, DY]], axis=1), 1.0, atol=1e-5)


def test_a_seven_and_a_flagged_one_differ():
    seven, one = features(SEVEN), features(FLAGGED_ONE)
    assert seven is not None and one is not None
    # The 7 starts moving right along its bar, the 1 moves up its flag.
    assert seven[0, DX] > 0.99 and abs(seven[0, DY]) < 1e-6
    assert one[0, DY] < -0.6
    assert np.abs(seven - one).mean() > 0.1


def test_same_digit_at_two_sizes_and_positions_gives_the_same_features():
    strokes = [[(0.2, 0.3), (0.25, 0.6), (0.5, 0.6)], [(0.45, 0.3), (0.45, 0.9)]]  # a 4
    small = _moved(strokes, 0.4, 0.05, 0.1)
    big = _moved(strokes, 1.05, -0.1, -0.2)
    a, b, c = features(strokes), features(small), features(big)
    assert a is not None and b is not None and c is not None
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a, c, atol=1e-5)


def test_pen_up_marks_and_order():
    four = [[(0.2, 0.3), (0.25, 0.6), (0.5, 0.6)], [(0.45, 0.3), (0.45, 0.9)]]
    f = features(four)
    assert f is not None
    assert f[:, START].sum() == 2 and f[:, END].sum() == 2
    assert f[0, START] == 1 and f[-1, END] == 1
    # the second stroke's start: the point right after the first stroke's end
    first_end = int(np.flatnonzero(f[:, END])[0])
    assert f[first_end + 1, START] == 1
    # reversed order of the strokes reads differently: order is kept
    reordered = features(four[::-1])
    assert reordered is not None and not np.allclose(f, reordered)


def test_a_dot_gets_a_point_and_aspect_counts():
    f = features([[(0.5, 0.2), (0.5, 0.7)], [(0.5, 0.85)]])  # an exclamation mark
    assert f is not None and f[:, START].sum() == 2
    assert np.all(f[-1, [DX, DY]] == 0)  # a dot has no direction
    wide = features([[(0.2, 0.5), (0.8, 0.5)], [(0.5, 0.2), (0.5, 0.8)]], aspect=2.0)
    assert wide is not None
    # on a canvas twice as wide the horizontal bar is twice as long: it fills the width
    assert np.isclose(np.ptp(wide[:, 0]), 1.0) and np.isclose(np.ptp(wide[:, 1]), 0.5)


def test_empty_and_degenerate_drawings():
    assert features([]) is None and features([[]]) is None
    blank = batch_features([[], SEVEN])
    assert blank.shape == (2, POINTS, len(FEATURES)) and not blank[0].any() and blank[1].any()
    one_point = features([[(0.5, 0.5)]])
    assert one_point is not None and np.all(one_point[:, :4] == 0)
    many = features([[(i / 100, 0.5)] for i in range(POINTS + 10)])  # more strokes than points
    assert many is not None and many[:, START].sum() == POINTS


def test_replay_file_without_timing_reads(tmp_path):
    path = tmp_path / "drawn.json"
    sample = {"strokes": [[[0.3, 0.2], [0.7, 0.2], [0.4, 0.8]]], "label": 7}
    path.write_text(json.dumps({"format": "mnist-edge-strokes/1", "samples": [sample]}))
    (loaded,) = load_samples(path)
    np.testing.assert_allclose(features(loaded.strokes), features(SEVEN), atol=1e-6)


def test_fuse_weight_zero_is_the_picture_and_product_otherwise():
    rng = np.random.default_rng(0)
    image = rng.dirichlet(np.ones(10), 4).astype(np.float32)
    pen = rng.dirichlet(np.ones(10), 4).astype(np.float32)
    np.testing.assert_array_equal(fuse(image, pen, 0.0), image)
    fused = fuse(image, pen, 1.0)
    expected = image * pen / (image * pen).sum(1, keepdims=True)
    np.testing.assert_allclose(fused, expected, rtol=1e-4)
    assert np.allclose(fused.sum(1), 1.0)


@pytest.mark.parametrize("weight", [0.5, 2.0])
def test_fuse_a_zero_probability_does_not_veto(weight):
    image = np.full((1, 10), 0.0, np.float32)
    image[0, 7] = 1.0
    pen = np.full((1, 10), 0.1, np.float32)
    assert fuse(image, pen, weight)[0].argmax() == 7
