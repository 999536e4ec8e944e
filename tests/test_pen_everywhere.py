"""Issue 31: the pen in every reading that has strokes (single digits and each digit of a
number), learning in numbers, and replay files that know the canvas they were written on.

Real shipped models (edge-int8 on LiteRT, pen-int8), the real app on SDL's dummy driver."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import MODELS, run_cli, run_events, stroke_events

from mnist_edge.edge_app.app.replay import replay
from mnist_edge.edge_app.pen.features import load_pen_model
from mnist_edge.edge_app.pen.fusion import FusedPrediction, PenChannel
from mnist_edge.edge_app.recognizer import Recognizer
from mnist_edge.edge_app.runtime import load_model
from mnist_edge.ink.strokes import Sample, default_brush, fitted_to, load_samples, render

# A 9 drawn as people draw one: the loop first (from its top right, leftwards, down, right and
# up again), then the stem down and to the left; its picture reads as a 7.
LOOP_FIRST_9 = [[(0.67, 0.27), (0.37, 0.2), (0.37, 0.57), (0.67, 0.57), (0.67, 0.27), (0.64, 0.85)]]
# A 4 in one stroke: down to the left, across, up past the crossing and down the stem; its top
# nearly closes, so the picture reads a 9. (The shipped picture model, trained with writing
# styles, reads the looser shapes of both right by itself.)
LOOPED_4 = [[(0.63, 0.14), (0.48, 0.42), (0.48, 0.47), (0.69, 0.47), (0.69, 0.14), (0.66, 0.85)]]
# One such 4 as the second digit of a "14" on the strip: the picture reads 19 (once or with
# five variants), the fused reading 14.
NUMBER_4 = [[(0.65, 0.14), (0.44, 0.41), (0.44, 0.46), (0.71, 0.46), (0.71, 0.14), (0.68, 0.85)]]
SIDE = 320


@pytest.fixture(scope="module")
def readers() -> tuple[Recognizer, Recognizer]:
    model = load_model(MODELS / "edge-int8.tflite")
    pen = PenChannel.from_model(load_pen_model(MODELS / "pen-int8.tflite"))
    threshold = model.threshold_for(5) or 0.85
    return Recognizer(model, threshold, 5), Recognizer(model, threshold, 5, pen=pen)


def _read(rec: Recognizer, strokes: Any) -> Any:
    reading = rec.read(render(strokes, SIDE, SIDE, default_brush(SIDE, SIDE)), strokes)
    assert reading is not None
    return reading.prediction


@pytest.mark.parametrize(("strokes", "picture", "fused"), [(LOOP_FIRST_9, 7, 9), (LOOPED_4, 9, 4)])
def test_the_pen_settles_what_the_picture_cannot(readers, strokes, picture, fused):
    alone, both = readers
    assert _read(alone, strokes).digit == picture
    p = _read(both, strokes)
    assert isinstance(p, FusedPrediction) and p.digit == fused


def test_a_picture_alone_reads_as_the_picture_model(readers):
    alone, both = readers
    ink = render(LOOPED_4, SIDE, SIDE, default_brush(SIDE, SIDE))
    a, b = alone.read(ink), both.read(ink)  # no strokes: nothing for the pen to read
    assert a is not None and b is not None and not isinstance(b.prediction, FusedPrediction)
    np.testing.assert_array_equal(a.prediction.probabilities, b.prediction.probabilities)
    assert both.sure(b.prediction) == alone.sure(a.prediction)


def _on_strip(strokes: list[list[tuple[float, float]]], x0: float) -> list[Any]:
    """A digit drawn in the square [x0, x0 + 0.3] x [0.1, 0.9] of a 776x240 strip."""
    w = 0.8 * 240 / 776
    return [[(x0 + x * w, 0.1 + y * 0.8) for x, y in s] for s in strokes]


def test_a_number_reads_each_digit_with_the_pen(readers):
    alone, both = readers
    strokes = [*_on_strip([[(0.5, 0.1), (0.5, 0.9)]], 0.2), *_on_strip(NUMBER_4, 0.5)]
    a = alone.read_number(strokes, 776, 240, 13)
    b = both.read_number(strokes, 776, 240, 13)
    assert len(a) == len(b) == 2
    assert all(isinstance(d.reading.prediction, FusedPrediction) for d in b)
    assert all(d.reading.prediction.in_number for d in b)  # type: ignore[attr-defined]
    assert [d.reading.prediction.digit for d in a] == [1, 9]
    assert [d.reading.prediction.digit for d in b] == [1, 4]
    # the number is sure iff every digit is; its confidence is its least sure digit's
    assert both.number_confidence(b) == min(d.reading.prediction.confidence for d in b)
    assert both.number_sure(b) == all(both.sure(d.reading.prediction) for d in b)


def _number_file(path: Path, samples: list[Sample]) -> Path:
    doc = {"format": "mnist-edge-strokes/1", "samples": [s.to_json() for s in samples]}
    path.write_text(json.dumps(doc))
    return path


def test_draw_multi_reads_with_the_shipped_pen_unless_no_pen(tmp_path):
    strokes = [*_on_strip([[(0.5, 0.1), (0.5, 0.9)]], 0.2), *_on_strip(NUMBER_4, 0.5)]
    path = _number_file(tmp_path / "n.json", [Sample(strokes, "14", "w")])
    lines = {}
    for flags in ((), ("--no-pen",)):
        done = run_cli(
            "draw", "--multi", "--headless", "--replay", str(path), "--model",
            str(MODELS / "edge-int8.tflite"), *flags,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        lines[flags] = json.loads(done.stdout.splitlines()[-1])
        assert ("pen model" in done.stderr) == (not flags)
    assert lines[()]["read"] == "14" and lines[("--no-pen",)]["read"] == "19"


def test_a_multi_replay_with_learn_corrects_and_learns(app_factory):
    # One writer's "14" five times, its 4 looped: read as 19 until the person corrects it.
    strokes = [*_on_strip([[(0.5, 0.1), (0.5, 0.9)]], 0.2), *_on_strip(NUMBER_4, 0.5)]
    samples = [Sample(strokes, "14", "w") for _ in range(5)]
    app = app_factory(multi=True, learner=True)
    stats = replay(app, samples, headless=True, learn=True, out=io.StringIO())
    score = stats.writers["w"]
    assert (score.samples, score.plain) == (5, 0)  # the picture alone never reads 14
    assert score.corrections == 1 and score.learned == 4  # one correction, then right
    assert len(app.recognizer.learner) == 1
    assert any("learning:" in line for line in stats.summary(True))


def test_a_file_recorded_on_one_layout_replays_the_same_on_another(app_factory, tmp_path):
    from mnist_edge.ink.stroke_writer import StrokeWriter

    small = app_factory(size=(480, 320), multi=True)
    strokes = [*_on_strip([[(0.5, 0.1), (0.5, 0.9)]], 0.2), *_on_strip(NUMBER_4, 0.5)]
    strokes = [[(x * 776 / 464 - 0.2, y) for x, y in s] for s in strokes]  # fits the small strip
    for s in strokes:
        run_events(small, stroke_events(small, s))
    shown = [d.reading.prediction.digit for d in small.state.digits]
    small.recorder = StrokeWriter.open(tmp_path / "rec.json", "--record")
    small.clear()
    small.recorder.close()
    (sample,) = load_samples(tmp_path / "rec.json")
    c = small.layout.canvas
    assert sample.canvas == (c.w, c.h)
    big = app_factory(size=(800, 480), multi=True)
    replay(big, [sample], headless=True, out=io.StringIO())
    assert [d.reading.prediction.digit for d in big.state.digits] == shown

    # the ink keeps its shape: the same width-to-height ratio in pixels on both strips
    def ratio(app: Any) -> float:
        d = app.state.drawing
        px = np.array([(x * (d.width - 1), y * (d.height - 1)) for s in d.strokes for x, y in s])
        return float(np.ptp(px[:, 0]) / np.ptp(px[:, 1]))

    before = np.array([(x * (c.w - 1), y * (c.h - 1)) for s in sample.strokes for x, y in s])
    assert ratio(big) == pytest.approx(float(np.ptp(before[:, 0]) / np.ptp(before[:, 1])), rel=0.02)
    # a file without its canvas keeps today's meaning: stretched to the canvas
    old = Sample(sample.strokes, sample.label)
    assert fitted_to(old.strokes, old.canvas, (776, 240)) == old.strokes
    portrait = fitted_to([[(0.0, 0.0), (1.0, 1.0)]], (800, 400), (400, 800))[0]
    assert portrait[0][1] == pytest.approx(0.5 - 0.5 * (399 / 799) * (399 / 799), rel=1e-3)
