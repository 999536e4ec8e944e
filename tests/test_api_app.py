"""The public API reads what the app reads, and the app offers the API's alternatives.

Real drawn digits (unipen-dev.json, a yardstick never trained on), the shipped models, the
app's own Drawing for the canvas it would make; "did you mean ...?" in a real pygame window
(SDL's dummy driver), driven by taps as a finger gives them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mnist_edge
from mnist_edge.edge_app.app.alternative import offered
from mnist_edge.edge_app.app.state import Drawing
from mnist_edge.edge_app.app.view import alternative_rect, button_rects
from mnist_edge.edge_app.recognizer import Recognizer
from mnist_edge.ink import layout as lay
from mnist_edge.ink.compose import compose_numbers, digits_by_writer, strip_canvas
from mnist_edge.ink.strokes import default_brush, load_samples
from tests.conftest import DRAWN, run_events, tap
from tests.test_numbers import _number, writer_digits  # noqa: F401  (a fixture)
from tests.test_numbers_app import _read, _write


@pytest.fixture(scope="module")
def dev() -> list[Any]:
    return load_samples(DRAWN / "unipen-dev.json")


def _app_drawing(strokes: list[Any], width: int, height: int) -> Drawing:
    """The drawing the app holds after a finger wrote these (canvas-fraction) strokes."""
    drawing = Drawing(width, height, default_brush(width, height))
    for stroke in strokes:
        drawing.begin(stroke[0])
        for point in stroke[1:]:
            drawing.extend(point)
        drawing.end()
    return drawing


def _probabilities(result: Any) -> np.ndarray:
    """A result's ten scores by digit (its candidates hold them ranked)."""
    out = np.full(10, np.nan, np.float32)
    for c in result.candidates:
        out[int(c.text)] = c.score
    return out


def _twin(reader: Any) -> Recognizer:
    """A recognizer like the reader's, with caches of its own (nothing shared but the files)."""
    r = reader.recognizer
    return Recognizer(r.model, r.threshold, r.tta, None, r.pen)


def test_a_digit_through_the_api_is_the_apps_reading_bit_for_bit(dev: list[Any]) -> None:
    reader = mnist_edge.load()
    app = _twin(reader)
    c = lay.compute(*lay.DEFAULT_SIZE).canvas
    samples = dev[:60]
    for sample in samples:
        drawing = _app_drawing(sample.strokes, c.w, c.h)
        expected = app.read(drawing.ink, drawing.strokes)
        ink = mnist_edge.Ink([[(x * c.w, y * c.h) for x, y in s] for s in sample.strokes])
        got = reader.read_digit(ink, mnist_edge.WritingArea(c.w, c.h))
        p = expected.prediction
        assert np.array_equal(_probabilities(got), p.probabilities)
        assert got.text == str(p.digit) and got.confidence == p.confidence
        assert got.sure == app.sure(p)
    assert sum(reader.read_digit(s.strokes).text == str(s.label) for s in samples) >= 57


def test_a_number_through_the_api_is_the_apps_reading_bit_for_bit(dev: list[Any]) -> None:
    reader = mnist_edge.load()
    app = _twin(reader)
    canvas = strip_canvas()
    numbers = compose_numbers(digits_by_writer(dev[:400]), 12, seed=5, canvases=[canvas])
    exact = 0
    for number in numbers:
        drawing = _app_drawing(number.sample.strokes, canvas.width, canvas.height)
        expected = app.read_number(drawing.strokes, canvas.width, canvas.height, drawing.brush)
        scaled = [[(x * canvas.width, y * canvas.height) for x, y in s] for s in drawing.strokes]
        area = mnist_edge.WritingArea(canvas.width, canvas.height)
        got = reader.read_number(mnist_edge.Ink(scaled), area)
        assert len(got.digits) == len(expected)
        for d, e in zip(got.digits, expected):
            assert np.array_equal(_probabilities(d), e.reading.prediction.probabilities)
            assert d.strokes == e.strokes
            # the box in the ink's units: its outermost ink pixels' centres (px k at k / (w - 1))
            sx, sy = canvas.width / (canvas.width - 1), canvas.height / (canvas.height - 1)
            left, top, right, bottom = e.box
            box = (left * sx, top * sy, (right - 1) * sx, (bottom - 1) * sy)
            assert d.box == pytest.approx(box)
        assert got.text == "".join(str(e.reading.prediction.digit) for e in expected)
        assert got.sure == app.number_sure(expected)
        assert got.candidates[0].text == got.text
        scores = [c.score for c in got.candidates]
        assert scores == sorted(scores, reverse=True) and len(
            set(c.text for c in got.candidates)
        ) == len(scores)
        exact += got.text == number.sample.label
    assert exact >= 10


def _button(app: Any, name: str) -> Any:
    return dict(button_rects(app.layout, app.buttons()))[name]


def test_did_you_mean_takes_the_alternative_in_one_tap(
    app_factory: Any,
    writer_digits: dict[int, list[Any]],  # noqa: F811
) -> None:
    app = app_factory(multi=True, learner=True)
    _write(app, _number(writer_digits, "4071", "normal").sample)
    read = _read(app)
    assert app.state.number is not None and app.state.number.text == read
    assert offered(app.state) is None  # sure: nothing offered, and a tap there does nothing
    run_events(app, tap(app, alternative_rect(app.layout)))
    assert len(app.recognizer.learner) == 0 and _read(app) == read

    app.recognizer.threshold = 0.9999  # not sure of any digit: the alternative is offered
    app.predict_now()
    chosen = offered(app.state)
    assert chosen is not None and chosen.text != read and len(chosen.text) == len(read)
    assert chosen == app.state.number.candidates[1]
    app.draw(force=True)  # the line is drawn (a real window, dummy driver)
    strokes = [list(s) for s in app.strokes]
    changed = sum(a != b for a, b in zip(read, chosen.text))

    run_events(app, tap(app, alternative_rect(app.layout)))
    assert _read(app) == chosen.text  # the number now reads as the alternative
    assert len(app.recognizer.learner) == changed  # one correction per digit it changed
    assert app.state.message.text.startswith(f"Learned: this is {chosen.text}")
    assert app.strokes == strokes  # a tap on the panel leaves no ink
    app.draw(force=True)

    run_events(app, tap(app, _button(app, "Undo")))  # all of that tap's corrections at once
    assert len(app.recognizer.learner) == 0 and _read(app) == read
    assert app.strokes == strokes


def test_did_you_mean_with_learning_off_says_so(
    app_factory: Any,
    writer_digits: dict[int, list[Any]],  # noqa: F811
) -> None:
    app = app_factory(multi=True, learn=False)
    _write(app, _number(writer_digits, "38", "normal").sample)
    app.recognizer.threshold = 0.9999
    app.predict_now()
    assert offered(app.state) is not None
    read = _read(app)
    run_events(app, tap(app, alternative_rect(app.layout)))
    assert "learning is off" in app.state.message.text and _read(app) == read
