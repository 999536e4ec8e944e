"""The shipped pen model on the slim runtimes, and fusion in the app's reading (no TensorFlow)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import DRAWN, MODELS, run_events, stroke_events, tap

from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.pen.features import (
    FEATURES,
    POINTS,
    batch_features,
    fusion_of,
    load_pen_model,
)
from mnist_edge.edge_app.pen.fusion import FusedPrediction, PenChannel
from mnist_edge.edge_app.recognizer import Recognizer
from mnist_edge.edge_app.runtime import ModelError, load_model
from mnist_edge.ink.strokes import load_samples, render

PEN_FILES = ["pen-int8.tflite", "pen-fp32.tflite", "pen-int8.onnx", "pen-fp32.onnx"]
SEVEN = [[(0.3, 0.2), (0.7, 0.2), (0.45, 0.8)]]


@pytest.fixture(scope="module")
def image_model():
    return load_model(MODELS / "edge-int8.tflite")


@pytest.fixture(scope="module")
def pen():
    return PenChannel.from_model(load_pen_model(MODELS / "pen-int8.tflite"))


@pytest.mark.parametrize("name", PEN_FILES)
def test_pen_files_load_and_describe_themselves(name):
    model = load_pen_model(MODELS / name)
    info = model.description or {}
    assert info["kind"] == "pen" and info["input"]["features"] == list(FEATURES)
    assert info["input"]["points"] == POINTS and "normalisation" in info["input"]
    assert info["validation"]["agreement"] >= 0.99
    fusion = fusion_of(model)
    assert fusion is not None and 0 < fusion["threshold"] < 1
    p = model.run(batch_features([SEVEN])).probabilities
    assert p.shape == (1, 10) and abs(float(p.sum()) - 1) < 0.05


def test_all_pen_formats_agree_on_drawn_digits():
    samples = load_samples(DRAWN / "uji-train.json")[:200]
    x = batch_features([s.strokes for s in samples])
    readings = {n: load_pen_model(MODELS / n).run(x).probabilities.argmax(1) for n in PEN_FILES}
    reference = readings["pen-fp32.tflite"]
    for name, digits in readings.items():
        assert (digits == reference).mean() >= 0.99, name


def test_an_image_model_is_not_a_pen_model_and_back():
    with pytest.raises(ModelError, match="pen model"):
        load_pen_model(MODELS / "edge-int8.tflite")
    with pytest.raises(ModelError, match="28, 28, 1"):
        load_model(MODELS / "pen-int8.tflite")
    with pytest.raises(UserError, match="not found"):
        load_pen_model(MODELS / "missing-pen.tflite")


def test_picture_only_reads_exactly_as_the_image_model(image_model, pen):
    canvas = render(SEVEN, 456, 456, 25)
    plain = Recognizer(image_model, 0.85, tta=5).read(canvas)
    with_pen = Recognizer(image_model, 0.85, tta=5, pen=pen)
    for reading in (with_pen.read(canvas), with_pen.read(canvas, []), with_pen.read(canvas, [[]])):
        assert plain is not None and reading is not None
        np.testing.assert_array_equal(
            reading.prediction.probabilities, plain.prediction.probabilities
        )
        assert not isinstance(reading.prediction, FusedPrediction)
        assert with_pen.sure(reading.prediction) == (reading.prediction.confidence >= 0.85)


def test_with_strokes_the_reading_is_fused_and_judged_by_the_fused_threshold(image_model, pen):
    recognizer = Recognizer(image_model, 0.85, tta=5, pen=pen)
    reading = recognizer.read(render(SEVEN, 456, 456, 25), SEVEN)
    assert reading is not None and isinstance(reading.prediction, FusedPrediction)
    assert reading.prediction.digit == 7
    expected = reading.prediction.confidence >= pen.threshold
    assert recognizer.sure(reading.prediction) == expected
    # the learner's space is the picture's: the image model's embedding travels on
    assert reading.prediction.embedding is not None
    assert reading.prediction.embedding.shape == (int(image_model.embedding.shape[-1]),)


def test_the_app_fuses_what_the_finger_draws(app_factory, pen):
    app = app_factory()
    app.recognizer.pen = pen
    run_events(app, stroke_events(app, SEVEN[0]))
    app.predict_now()
    assert app.reading is not None and isinstance(app.reading.prediction, FusedPrediction)
    assert app.reading.prediction.digit == 7


def _draw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mnist_edge", "draw", "--headless", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_replay_with_the_pen_model_through_the_app(tmp_path):
    samples = load_samples(DRAWN / "uji-train.json")[:30]
    path = tmp_path / "few.json"
    doc = {"format": "mnist-edge-strokes/1", "samples": [s.to_json() for s in samples]}
    path.write_text(json.dumps(doc))  # x, y only: replay files carry no timing
    done = _draw(
        "--replay",
        str(path),
        "--model",
        str(MODELS / "edge-int8.tflite"),
        "--pen",
        str(MODELS / "pen-int8.tflite"),
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 30 and sum(r["digit"] == r["label"] for r in rows) >= 28
    assert "pen model" in done.stderr


def test_a_bad_pen_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "pen.tflite"
    bad.write_bytes(b"not a model")
    done = _draw("--pen", str(bad))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_collect_with_the_pen_fuses_and_saves_strokes_the_pen_reads(app_factory, pen, tmp_path):
    from mnist_edge.edge_app.app.collect import Collector
    from mnist_edge.edge_app.app.view import button_rects

    target = tmp_path / "mine.json"
    collector = Collector(target, writer="ada", seed=1)
    app = app_factory(collector=collector)
    app.recognizer.pen = pen
    buttons = dict(button_rects(app.layout, app.buttons()))
    run_events(app, stroke_events(app, SEVEN[0]))
    app.predict_now()
    assert app.reading is not None and isinstance(app.reading.prediction, FusedPrediction)
    run_events(app, tap(app, buttons["Save"]))
    (saved,) = load_samples(target)  # x, y only, no timing: the pen reads it all the same
    features = batch_features([saved.strokes])
    assert features.any()
    assert load_pen_model(MODELS / "pen-int8.tflite").run(features).probabilities.shape == (1, 10)
    collector.close()


def test_learning_adjusts_the_fused_reading_in_the_picture_s_space(image_model, pen):
    from mnist_edge.edge_app.learn import Learner

    canvas = render(SEVEN, 456, 456, 25)
    plain = Recognizer(image_model, 0.85, tta=5, pen=pen).read(canvas, SEVEN)
    assert plain is not None and plain.prediction.embedding is not None
    learner = Learner("sha", int(image_model.embedding.shape[-1]))
    for _ in range(3):  # the user said this drawing is a 1
        learner.add(plain.prediction.embedding, 1)
    learned = Recognizer(image_model, 0.85, tta=5, learner=learner, pen=pen).read(canvas, SEVEN)
    assert learned is not None and isinstance(learned.prediction, FusedPrediction)
    assert learned.model_digit == 7 and learned.prediction.digit == 1 and learned.learned
