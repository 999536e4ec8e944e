"""``predict --multi``: numbers read from pictures (edge_app/numbers/image.py), no TensorFlow.

Digits are real drawn ones (unipen-train.json), placed on a picture the way a person writes a
number; the shipped int8 model reads them through the LiteRT wrapper.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.conftest import DRAWN, MODELS, assert_user_error, run_cli

pytestmark = pytest.mark.skipif(
    not (DRAWN / "unipen-train.json").exists(), reason="needs shared/data/drawn beside the repo"
)

WIDTH, HEIGHT, BRUSH = 600, 200, 12
DIGIT_HEIGHT = 130  # px


@functools.cache
def _recognizer() -> Any:
    from mnist_edge.edge_app.reading import choose_threshold, choose_tta
    from mnist_edge.edge_app.recognizer import Recognizer
    from mnist_edge.edge_app.runtime import load_model

    model = load_model(MODELS / "edge-int8.tflite")
    tta = choose_tta(None, model)
    return Recognizer(model, choose_threshold(None, model, tta), tta)


@functools.cache
def _samples() -> list[Any]:
    from mnist_edge.ink.strokes import load_samples

    return load_samples(DRAWN / "unipen-train.json")[:3000]


def _placed(sample: Any, left: float) -> list[list[tuple[float, float]]]:
    """The digit's strokes scaled to DIGIT_HEIGHT, its left edge at ``left`` px, normalised."""
    points = np.array([p for s in sample.strokes for p in s], np.float64)
    x0, y0 = points.min(0)
    scale = DIGIT_HEIGHT / max(float(np.ptp(points[:, 1])), 1e-3)
    top = (HEIGHT - DIGIT_HEIGHT) / 2
    return [
        [
            ((left + (x - x0) * scale) / (WIDTH - 1), (top + (y - y0) * scale) / (HEIGHT - 1))
            for x, y in s
        ]
        for s in sample.strokes
        if s
    ]


def _width(sample: Any) -> float:
    points = np.array([p for s in sample.strokes for p in s], np.float64)
    return float(np.ptp(points[:, 0]) * DIGIT_HEIGHT / max(np.ptp(points[:, 1]), 1e-3))


def _ink(*strokes: list[list[tuple[float, float]]]) -> np.ndarray:
    from mnist_edge.ink.strokes import render

    return render([s for group in strokes for s in group], WIDTH, HEIGHT, BRUSH)


def _parts(sample: Any) -> int:
    from mnist_edge.edge_app.numbers.image import find_units

    return len({p.label for p in find_units(_ink(_placed(sample, 50)), BRUSH).parts})


def _clear(label: int, *, parts: int = 1) -> Any:
    """The first drawn ``label`` the model reads surely alone, of ``parts`` separate components."""
    rec = _recognizer()
    for s in _samples():
        if s.label != label or not 0.45 < _width(s) / DIGIT_HEIGHT < 0.8:
            continue
        reading = rec.read(_ink(_placed(s, 50)))
        sure = reading is not None and reading.prediction.confidence > 0.99
        if sure and reading.prediction.digit == label and _parts(s) == parts:
            return s
    pytest.skip(f"no clear drawn {label} of {parts} parts")


def _read(canvas: np.ndarray) -> Any:
    from mnist_edge.edge_app.numbers.image import read_number_image

    return read_number_image(canvas, _recognizer())


def _png(path: Path, canvas: np.ndarray) -> str:
    cv2.imwrite(str(path), 255 - canvas)  # dark ink on white paper, as scanned
    return str(path)


def test_two_digits_apart_read_as_a_number() -> None:
    two, seven = _clear(2), _clear(7)
    canvas = _ink(_placed(two, 60), _placed(seven, 60 + _width(two) + 60))
    number = _read(canvas)
    assert number.number == "27"
    assert [d.box[0] < 60 + _width(two) + 30 for d in number.digits] == [True, False]


@pytest.mark.parametrize("overlap", [3, 6])
def test_touching_digits_are_split_by_a_cut(overlap: int) -> None:
    from mnist_edge.benchmarks.baseline_splitter import split_digits
    from mnist_edge.edge_app.numbers.image import find_units

    four, zero = _clear(4), _clear(0)
    # Ink overlaps by ``overlap`` px: the brush reaches half its width past the points.
    canvas = _ink(_placed(four, 80), _placed(zero, 80 + _width(four) + BRUSH - overlap))
    assert len(split_digits(canvas, BRUSH)) == 1  # one blob: the old splitter reads one digit
    parts = find_units(canvas, BRUSH).parts
    assert len(parts) > 1 and len({p.label for p in parts}) == 1  # one component, cut
    assert _read(canvas).number == "40"


def test_a_canvas_all_ink_reads_without_overflow() -> None:
    """Ink with no background (a zigzag filling the strip): the pen width has no distance to
    measure, and no mark survives as a digit; it reads as nothing, never an OverflowError."""
    from mnist_edge.edge_app.numbers.image import stroke_width

    solid = np.full((120, 400), 255, np.uint8)
    assert stroke_width(solid) == 2 * 400 - 2
    assert _read(solid).number == ""


def test_a_five_whose_bar_is_apart_reads_as_one_digit() -> None:
    five, three = _clear(5, parts=2), _clear(3)
    assert _read(_ink(_placed(five, 100))).number == "5"
    canvas = _ink(_placed(five, 60), _placed(three, 60 + _width(five) + 70))
    assert _read(canvas).number == "53"


def test_a_single_digit_gives_the_single_digit_pixels(tmp_path: Path) -> None:
    from mnist_edge.edge_app.image_file import read_image
    from mnist_edge.edge_app.numbers.image import split_image
    from mnist_edge.ink.preprocess import image_to_canvas, to_mnist

    for sample in (_clear(8), _clear(5, parts=2)):
        canvas = image_to_canvas(read_image(_png(tmp_path / "one.png", _ink(_placed(sample, 90)))))
        split = split_image(canvas, _recognizer().model)
        assert len(split.digits) == 1
        single = _recognizer().read(canvas)  # what `predict` reads
        assert np.array_equal(split.digits[0].image, single.image)
        assert np.array_equal(split.digits[0].image, to_mnist(canvas))
        number = _read(canvas)
        assert number.digits[0].confidence == pytest.approx(single.prediction.confidence)


def test_predict_multi_json_through_the_cli(tmp_path: Path) -> None:
    two, seven = _clear(2), _clear(7)
    canvas = _ink(_placed(two, 60), _placed(seven, 60 + _width(two) + 60))
    picture = _png(tmp_path / "27.png", canvas)
    empty = _png(tmp_path / "empty.png", np.zeros((120, 200), np.uint8))
    env = {"MNIST_EDGE_MODELS": str(MODELS)}
    r = run_cli("predict", "--multi", "--json", picture, empty, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    first, blank = (json.loads(line) for line in r.stdout.splitlines())
    assert first["file"] == picture and first["number"] == "27"
    assert [d["digit"] for d in first["digits"]] == [2, 7]
    assert all(set(d) == {"digit", "confidence", "sure", "box"} for d in first["digits"])
    assert all(0 < d["confidence"] <= 1 and len(d["box"]) == 4 for d in first["digits"])
    assert first["sure"] == all(d["sure"] for d in first["digits"])
    assert first["confidence"] == min(d["confidence"] for d in first["digits"])  # least sure
    assert blank == {"file": empty, "number": None, "digits": [], "sure": False}
    text = run_cli("predict", "--multi", picture, empty, env=env)
    assert text.returncode == 0, text.stderr[-2000:]
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"{picture}: 27 (digits 2 7")
    assert lines[0].endswith(f"), {first['confidence']:.1%}")  # the number's confidence
    assert lines[1] == f"{empty}: no ink found"


def test_predict_multi_bad_file_is_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    env = {"MNIST_EDGE_MODELS": str(MODELS)}
    r = run_cli("predict", "--multi", str(bad), env=env)
    assert_user_error(r, "not a readable image", "bad.png")


def test_not_sure_digits_are_named() -> None:
    from mnist_edge.edge_app.api_types import DigitResult, NumberResult
    from mnist_edge.edge_app.predict_cli import _number_lines

    digits = tuple(
        DigitResult(str(d), 0.5 if d == 7 else 0.99, d != 7, (), (0, 0, 1, 1)) for d in (4, 0, 7, 1)
    )
    data, text = _number_lines("n.png", NumberResult("4071", 0.5, False, (), digits))
    assert text == "4071 (digits 4 0 7 1; not sure: 7), 50.0%"
    assert data["digits"][2] == {"digit": 7, "confidence": 0.5, "sure": False, "box": [0, 0, 2, 2]}
    assert _number_lines("e.png", NumberResult("", 0.0, False, (), ())) == (
        {"file": "e.png", "number": None, "digits": [], "sure": False},
        "no ink found",
    )


def test_a_page_of_marks_is_refused() -> None:
    from mnist_edge.core.errors import UserError
    from mnist_edge.edge_app.numbers.image import split_image

    canvas = np.zeros((200, 600), np.uint8)
    canvas[10::20, 10::20] = 255  # 300 dots
    canvas = cv2.dilate(canvas, np.ones((5, 5), np.uint8))
    with pytest.raises(UserError, match="too many"):
        split_image(canvas, _recognizer().model)
