"""The app's words fit its panels: rendered by the real view in a real pygame window (SDL's
dummy driver), every line measured with the font it is drawn in against the panel it sits in."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist_edge.edge_app.app.state import corrections
from mnist_edge.edge_app.results import NumberDigit, Reading
from mnist_edge.edge_app.runtime import Prediction
from tests.conftest import run_events, stroke_events

SIZES = [(800, 480), (480, 320), (480, 800)]  # the default, a 3.5" Pi screen, portrait


def _reading(probabilities: dict[int, float]) -> Reading:
    p = np.zeros(10, np.float32)
    for digit, share in probabilities.items():
        p[digit] = share
    prediction = Prediction(int(p.argmax()), float(p.max()), p)
    return Reading(prediction, np.zeros((28, 28), np.uint8), 1.0, prediction.digit)


def _drawn(app: Any) -> list[tuple[str, Any]]:
    """Draw a frame; every line of text the view drew, with where it landed."""
    drawn: list[tuple[str, Any]] = []
    original = app.view.text

    def text(line: str, font: Any, color: Any, **where: Any) -> None:
        original(line, font, color, **where)
        rect = app.pg.Rect((0, 0), font.size(line))
        setattr(rect, *next(iter(where.items())))
        drawn.append((line, rect))

    app.view.text = text
    app.state.dirty = True
    app.draw()
    app.view.text = original
    return drawn


def _inside(rect: Any, panel: Any) -> bool:
    return panel.x <= rect.left and rect.right <= panel.x + panel.w


def _shot(app: Any, name: str) -> None:
    """Screenshots for a person to look at (MNIST_EDGE_SHOTS=DIR); nothing otherwise."""
    if folder := os.environ.get("MNIST_EDGE_SHOTS"):
        app.pg.image.save(app.screen, str(Path(folder) / f"{name}.png"))


@pytest.mark.parametrize("size", SIZES)
def test_not_sure_line_fits_its_panel(app_factory: Any, size: tuple[int, int]) -> None:
    app = app_factory(size)
    app.recognizer.threshold = 0.85
    app.state.reading = _reading({1: 0.80, 7: 0.19, 9: 0.01})
    lines = _drawn(app)
    _shot(app, f"not-sure-{size[0]}x{size[1]}")
    # "Not sure: 1 80%, 7 19%, 9 1%" where it fits, down to "1 or 7?" on a 3.5" screen.
    (line, rect) = next((t, r) for t, r in lines if "1" in t and "7" in t)
    assert "…" not in line and _inside(rect, app.layout.digit), (line, rect, app.layout.digit)
    assert line.startswith("Not sure: 1 80%, 7 19%") or size == (480, 320), line


def test_corrections_are_counted_in_words(app_factory: Any) -> None:
    assert corrections(1) == "1 correction" and corrections(3) == "3 corrections"
    app = app_factory(learner=True)
    run_events(app, stroke_events(app, [(0.5, 0.2 + 0.6 * t / 20) for t in range(21)]))
    run_events(app, [app.pg.event.Event(app.pg.KEYDOWN, key=app.pg.K_3, mod=0, unicode="3")])
    message = app.state.current_message()
    assert message is not None and message.text.endswith("(1 correction)"), message


@pytest.mark.parametrize("size", SIZES)
def test_a_long_number_fills_its_panel_and_the_bars_say_whose(
    app_factory: Any, size: tuple[int, int]
) -> None:
    app = app_factory(size, multi=True)
    app.recognizer.threshold = 0.5
    digits = [
        NumberDigit((40 * i, 10, 40 * i + 30, 60), (i,), _reading({i: 0.97, (i + 1) % 10: 0.03}))
        for i in range(10)
    ]
    app.state.digits, app.state.reading = digits, digits[-1].reading
    lines = _drawn(app)
    _shot(app, f"number-{size[0]}x{size[1]}")
    panel = app.layout.digit
    (number,) = [r for t, r in lines if t == "0123456789"]
    # As large as the panel takes: its width, or its height above the lines under it.
    assert _inside(number, panel), (number, panel)
    assert number.w >= 0.9 * (panel.w - 16) or number.h >= 0.45 * panel.h, (number, panel)
    caption = [(t, r) for t, r in lines if "digit 10 of 10" in t]
    assert caption and _inside(caption[0][1], app.layout.bars), lines
    app.state.selected = 3  # a tapped digit: the bars are its
    app.state.reading = digits[3].reading
    assert any(t.startswith("scores of digit 4 of 10 (3)") for t, _ in _drawn(app))
