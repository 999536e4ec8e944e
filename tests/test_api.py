"""The public API as a user meets it: docs/api.md's examples run as they are written (the
pygame widget in a real window on SDL's dummy driver, driven with posted mouse events; the
replay script on a real replay file of drawn digits), its reference section equals what the
docstrings say, and bad input is one line. Only public names: ``mnist_edge.X``.

``python tests/test_api.py`` rewrites the reference section of docs/api.md.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mnist_edge

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"
DEV = ROOT.parent / "shared" / "data" / "drawn" / "unipen-dev.json"
START, END = "<!-- reference -->", "<!-- /reference -->"


# ----------------------------------------------------------------------------- the reference


def _signature(obj: Any) -> str:
    sig = inspect.signature(obj)
    params = [p for p in sig.parameters.values() if not p.name.startswith("_")]
    return str(sig.replace(parameters=params))


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "")


def reference() -> str:
    """The reference section, from the public names' docstrings, in ``__all__``'s order."""
    out = []
    for name in mnist_edge.__all__:
        obj = getattr(mnist_edge, name)
        if name == "__version__":
            continue
        if inspect.isclass(obj):
            out.append(f"### `mnist_edge.{name}{_signature(obj)}`\n\n{_doc(obj)}\n")
            for member, value in vars(obj).items():
                if member.startswith("_") or not (callable(value) or isinstance(value, property)):
                    continue
                target = value.fget if isinstance(value, property) else value
                shown = member if isinstance(value, property) else f"{member}{_signature(value)}"
                out.append(f"- `{name}.{shown}`: {' '.join(_doc(target).split())}")
            out.append("")
        else:
            out.append(f"### `mnist_edge.{name}{_signature(obj)}`\n\n{_doc(obj)}\n")
    return "\n".join(out).strip() + "\n"


def _section(text: str) -> str:
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def test_reference_matches_the_docstrings() -> None:
    assert _section(DOC.read_text()) == reference(), "stale: run python tests/test_api.py"


def test_every_public_name_is_documented_and_typed() -> None:
    for name in mnist_edge.__all__:
        if name == "__version__":
            continue
        obj = getattr(mnist_edge, name)
        assert _doc(obj), name
        members = [v for k, v in vars(obj).items() if not k.startswith("_")]
        functions = [obj] if inspect.isfunction(obj) else [f for f in members if callable(f)]
        for f in functions:
            sig = inspect.signature(f)
            assert _doc(f) and sig.return_annotation is not sig.empty, f
            assert all(
                p.annotation is not p.empty or p.name == "self" for p in sig.parameters.values()
            ), f


# ----------------------------------------------------------------------------- the examples


def _example(name: str) -> str:
    found = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", DOC.read_text(), re.S)
    assert found, f"docs/api.md has no example {name!r}"
    return found.group(1)


def _run(code: str, argv: list[str] | None = None) -> str:
    out = io.StringIO()
    old = sys.argv
    sys.argv = ["example", *(argv or [])]
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "docs/api.md", "exec"), {"__name__": "__main__"})
    finally:
        sys.argv = old
    return out.getvalue()


def _dev_digits(*labels: int) -> list[dict[str, Any]]:
    samples = json.loads(DEV.read_text())["samples"]
    return [next(s for s in samples[n * 7 :] if s["label"] == d) for n, d in enumerate(labels)]


def test_intro_example_runs() -> None:
    out = _run(_example("intro"))
    assert out.split()[0].isdigit()


def test_widget_example_reads_a_number_written_with_the_mouse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    import pygame

    pygame.init()  # the example's own init is then a no-op; the events wait in the queue
    events = []
    for n, sample in enumerate(_dev_digits(4, 0, 7)):  # 4, 0, 7 side by side, 160 px high
        for stroke in sample["strokes"]:
            points = [(int(40 + n * 170 + x * 160), int(40 + y * 160)) for x, y in stroke]
            events.append(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=points[0], button=1))
            events += [
                pygame.event.Event(pygame.MOUSEMOTION, pos=p, rel=(0, 0), buttons=(1, 0, 0))
                for p in points[1:]
            ]
            events.append(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=points[-1], button=1))
    events.append(pygame.event.Event(pygame.QUIT))
    for event in events:
        pygame.event.post(event)
    out = _run(_example("widget")).splitlines()
    assert len(out) == sum(len(s["strokes"]) for s in _dev_digits(4, 0, 7))  # one per stroke
    assert out[-1].split()[1] == "407", out


def test_replay_example_prints_readings_with_alternatives(tmp_path: Path) -> None:
    digits = _dev_digits(3, 8, 5, 2)
    number = {  # the 3 and the 8 as "38", written side by side on a 776x240 strip
        "label": "38",
        "canvas": [776, 240],
        "strokes": [
            [[(0.1 + n * 0.25 + x * 0.2), 0.15 + y * 0.65] for x, y in s]
            for n, d in enumerate(digits[:2])
            for s in d["strokes"]
        ],
    }
    path = tmp_path / "drawings.json"
    path.write_text(json.dumps({"format": "mnist-edge-strokes/1", "samples": [*digits, number]}))
    out = _run(_example("replay"), [str(path)]).splitlines()
    assert [line.split()[1] for line in out] == ["3", "8", "5", "2", "38"], out
    assert all(re.search(r"\(\d+%, else \d+:\d\.\d\d \d+:\d\.\d\d\)", line) for line in out)


# ----------------------------------------------------------------------------- behaviour


def test_import_is_cheap() -> None:
    code = (
        "import sys, mnist_edge\n"
        "print(mnist_edge.__version__, sorted(m for m in ('numpy', 'cv2', 'pygame', "
        "'ai_edge_litert', 'onnxruntime') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert done.stdout.split() == [mnist_edge.__version__, "[]"], done.stderr[-500:]


@pytest.fixture(scope="module")
def reader() -> Any:
    return mnist_edge.load()


def test_results_are_ranked_typed_and_empty_ink_reads_empty(reader: Any) -> None:
    seven = _dev_digits(7)[0]["strokes"]
    got = reader.read_digit(mnist_edge.Ink(seven), mnist_edge.WritingArea(1, 1))
    assert isinstance(got, mnist_edge.DigitResult) and got.text == "7" and got.digit == 7
    assert got.candidates[0].text == "7" and len(got.candidates) == 10
    assert sorted(c.text for c in got.candidates) == [str(d) for d in range(10)]
    assert got.confidence == got.candidates[0].score and got.sure
    left, top, right, bottom = got.box
    assert 0 <= left < right <= 1 and 0 <= top < bottom <= 1
    empty = reader.read_number(mnist_edge.Ink([]))
    assert empty.text == "" and empty.candidates == () and not empty.sure
    assert reader.read_digit(mnist_edge.Ink([])).text == ""


def test_a_picture_of_a_number_reads_as_its_ink_does(reader: Any, tmp_path: Path) -> None:
    """read_number_image: a number's ink as a dark-on-light picture (array and PNG file) reads
    the same digits, left to right, as the ink itself; boxes in the picture's px."""

    from mnist_edge.ink.strokes import render

    strokes = []
    for k, sample in enumerate(_dev_digits(4, 0, 7)):  # each digit a square of a 3 x 1 strip
        strokes += [[(k + x, y) for x, y in s] for s in sample["strokes"]]
    ink = reader.read_number(mnist_edge.Ink(strokes), mnist_edge.WritingArea(3, 1))
    unit = [[(x / 3, y) for x, y in s] for s in strokes]  # the canvas's own [0, 1] units
    picture = 255 - render(unit, 600, 200, 8)  # dark ink on white paper
    got = reader.read_number_image(picture)
    assert isinstance(got, mnist_edge.NumberResult) and got.text == ink.text == "407"
    assert [d.text for d in got.digits] == ["4", "0", "7"] and got.candidates[0].text == "407"
    assert all(0 <= d.box[0] < d.box[2] < 600 for d in got.digits)
    assert got.digits[0].box[2] < got.digits[1].box[0]  # left to right
    import cv2

    cv2.imwrite(str(tmp_path / "n.png"), picture)
    assert reader.read_number_image(tmp_path / "n.png").text == "407"
    with pytest.raises(mnist_edge.UserError, match="a picture of a number"):
        reader.read_number_image(tmp_path / "missing.png")


def test_correct_learns_and_undo_forgets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNIST_EDGE_PROFILES", str(tmp_path))
    one = mnist_edge.Ink(_dev_digits(1)[0]["strokes"])
    area = mnist_edge.WritingArea(1, 1)
    with mnist_edge.load(profile="kiosk", threads=np.int64(1)) as reader:
        first = reader.read_digit(one, area)
        assert first.text == "1"
        assert reader.correct(first, np.int64(7)) == 1  # numpy's integers are integers
        assert reader.read_digit(one, area).text == "7"  # learned
        assert list(tmp_path.glob("kiosk/*.npz"))  # in the app's profile store
    again = mnist_edge.load(profile="kiosk")
    assert again.read_digit(one, area).text == "7"  # kept for the next program
    assert again.undo() is False  # nothing corrected in this one
    with pytest.raises(mnist_edge.UserError, match="1 digit"):
        again.correct(first, "17")


#: A scribble of 400 points across its own box: far more ink than the app would hold.
ZIGZAG = [(100.0 * (i % 2), 100.0 * i / 400) for i in range(400)]
ONE = [[(0, 0), (0, 100)]]  # a stroke down: a 1
DigitResult = mnist_edge.DigitResult


def test_ink_far_from_the_origin_reads(reader: Any) -> None:
    """Ink near a float's limit is centred by its span: x0 + x1 would overflow to inf."""
    for offset in (1e308, -1.7e308):
        ink = mnist_edge.Ink([[(x + offset, y) for x, y in s] for s in ONE])
        assert reader.read_digit(ink).text == reader.read_number(ink).text == "1"


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda r: r.read_digit(mnist_edge.Ink([[(0, "a")]])), "must be a number"),
        (lambda r: r.read_digit(mnist_edge.Ink([[(0, float("nan"))]])), "finite"),
        (lambda r: r.read_digit(mnist_edge.Ink([[(0,)]])), "(x, y) or (x, y, t)"),
        (lambda r: r.read_digit(mnist_edge.Ink([[(0, 0)]] * 101)), "more than 100 strokes"),
        (lambda r: r.read_digit(mnist_edge.Ink([[(0, 0)] * 5001])), "5,000 points"),
        (lambda r: r.read_number(mnist_edge.Ink([ZIGZAG])), "px long on the"),
        (lambda r: r.read_digit(mnist_edge.Ink([ZIGZAG] * 2)), "more than 20,000"),
        (lambda r: r.read_number(mnist_edge.Ink([[(0, 0)]]), "area"), "WritingArea"),
        (lambda r: mnist_edge.WritingArea(0, 10), "must be positive"),
        (
            lambda r: r.read_number(mnist_edge.Ink([[(0, 0)]]), mnist_edge.WritingArea(100, 1)),
            "1:16",
        ),
        (lambda r: r.read_image(np.zeros((4, 4, 3), "uint8")), "grayscale"),
        (lambda r: r.read_image("/nonexistent.png"), "not found"),
        (lambda r: mnist_edge.load(runtime="gpu"), "runtime must be one of"),
        (lambda r: mnist_edge.load(tta=0), "tta must be"),
        (lambda r: mnist_edge.Ink([[(10**400, 0), (1, 1)]]), "too large for a float"),
        (lambda r: mnist_edge.Ink([[(Decimal(1), 0)]]), "got Decimal '1'"),
        (lambda r: mnist_edge.WritingArea(10**400, 1), "too large for a float"),
        (lambda r: r.read_digit(mnist_edge.Ink([[(-1.7e308, 0), (1.7e308, 1)]])), "span more"),
        (lambda r: r.read_number(mnist_edge.Ink([[(-1e308, 0), (1e308, 1)]])), "span more"),
        (lambda r: r.read_image([[1, 2], [3]]), "got list"),
        (lambda r: r.read_number_image(None), "got NoneType"),
        (lambda r: r.correct(None, 3), "result must be a DigitResult or NumberResult"),
        (lambda r: r.correct(DigitResult("3", 1.0, True, (), None), 3), "this reader returned"),
        (  # another reader's model may embed otherwise, even at the same size
            lambda r: r.correct(mnist_edge.load(pen=False).read_digit(mnist_edge.Ink(ONE)), 7),
            "read by another reader",
        ),
        (lambda r: mnist_edge.Ink(np.array(5)), "sequence of strokes"),
        (lambda r: mnist_edge.Ink([[np.array(5)]]), "(x, y) or (x, y, t)"),
        (lambda r: mnist_edge.load("/tmp/a\0b.tflite"), "NUL byte"),
        (lambda r: mnist_edge.load(""), "the model path is empty"),
        (lambda r: mnist_edge.load(pen=""), "the pen model path is empty"),
        (lambda r: r.correct(r.read_digit(mnist_edge.Ink(ONE)), None), "text must be"),
        (lambda r: r.correct(r.read_digit(mnist_edge.Ink(ONE)), 10**5000), "over 300 digits"),
        (lambda r: mnist_edge.load(5), "model must be"),
        (lambda r: mnist_edge.load(threads="2"), "threads must be an integer from 1 to 64"),
        (lambda r: mnist_edge.load(threads=2.0), "threads must be an integer from 1 to 64"),
        (lambda r: mnist_edge.load(threads=True), "threads must be an integer from 1 to 64"),
        (lambda r: mnist_edge.load(threshold=10**400), "too large for a float"),
        (lambda r: mnist_edge.load(pen=5), "pen must be True, False or"),
        (lambda r: mnist_edge.load(pen=None), "pen must be True, False or"),
        (lambda r: mnist_edge.load("/nonexistent.tflite"), "or load(model=...)"),
        (lambda r: mnist_edge.load(__file__), "neither a .tflite nor an .onnx file; name a"),
        (lambda r: mnist_edge.load(pen="/nonexistent.tflite"), "or load(pen=...)"),
        (lambda r: mnist_edge.load(pen=__file__), "an .onnx file; name a pen-"),
    ],
)
def test_bad_input_is_one_line(reader: Any, call: Any, fragment: str) -> None:
    with pytest.raises(mnist_edge.UserError) as raised:
        call(reader)
    message = str(raised.value)
    assert fragment in message and "\n" not in message


if __name__ == "__main__":  # rewrite the reference section from the docstrings
    text = DOC.read_text()
    head, rest = text.split(START, 1)
    DOC.write_text(f"{head}{START}\n{reference()}{END}{rest.split(END, 1)[1]}")
    print(f"wrote the reference of {DOC}")
