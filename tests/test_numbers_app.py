"""Numbers in the app: ``--collect --multi`` (prompts for numbers, saves number samples,
scripted end to end), tapping a digit of the number to correct it, and single-digit mode
saying so when the ink is clearly several digits. Real pygame (SDL's dummy driver), the
shipped model, real files."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.app.collect import Collector
from mnist_edge.edge_app.app.view import button_rects
from mnist_edge.ink.strokes import Sample, load_samples, save_samples
from tests.conftest import MODELS, run_cli, run_events, tap
from tests.test_numbers import _number, writer_digits  # noqa: F401  (a fixture)

ENV = {"MNIST_EDGE_MODELS": str(MODELS), "SDL_VIDEODRIVER": "dummy"}


def _write(app: Any, sample: Sample) -> None:
    """The sample's strokes, through the event queue as a finger draws them."""
    from mnist_edge.edge_app.app.replay import finger_events

    for event in finger_events(app, sample):
        app.pg.event.post(event)
        if event.type == app.pg.FINGERUP:
            app.frame(None)
    app.frame(None)


def _button(app: Any, name: str) -> Any:
    return dict(button_rects(app.layout, app.buttons()))[name]


def _tap_canvas(app: Any, px: float, py: float) -> None:
    """A tap at canvas pixel (px, py)."""
    c = app.layout.canvas
    point = (px / max(c.w - 1, 1), py / max(c.h - 1, 1))
    u, v = app.display_uv_of(point)
    from tests.conftest import finger

    run_events(
        app, [finger(app.pg, app.pg.FINGERDOWN, u, v), finger(app.pg, app.pg.FINGERUP, u, v)]
    )


def _tap_box(app: Any, index: int) -> None:
    left, top, right, bottom = app.state.digits[index].box
    _tap_canvas(app, (left + right) / 2, (top + bottom) / 2)


def _bar(app: Any, digit: int) -> Any:
    r = app.layout.bars
    slot = r.w / 10
    return dataclasses.replace(r, x=int(r.x + digit * slot + 1), w=max(1, int(slot) - 2))


def _read(app: Any) -> str:
    return "".join(
        app.recognizer.model.labels[d.reading.prediction.digit] for d in app.state.digits
    )


# ----------------------------------------------------------------------------- --collect --multi


def test_collector_asks_for_numbers_and_saves_number_samples(tmp_path: Path) -> None:
    target = tmp_path / "mine.json"
    save_samples(target, [Sample([[(0.1, 0.1), (0.2, 0.3)]], 7, "old")])  # continued, kept
    collector = Collector(target, writer="ada", seed=3, numbers=True)
    try:
        asked = []
        for _ in range(12):
            wanted = collector.wanted
            assert isinstance(wanted, str) and re.fullmatch(r"[0-9]{2,5}", wanted)
            assert collector.prompt().startswith(f"Write {wanted}  ·  ")
            assert collector.save([[(0.1, 0.2), (0.3, 0.4)]]) == f"Saved {wanted}"
            asked.append(wanted)
        assert {len(a) for a in asked} >= {2, 3, 4, 5} - {min(len(a) for a in asked) - 1}
        assert collector.save([]) == "Draw the number first, then tap Save"
        assert collector.undo() == f"Removed the last {asked[-1]}"
        assert collector.wanted == asked[-1]  # the undone number is asked again
        skipped = collector.wanted
        assert collector.skip() == f"Skipped the {skipped}"
        assert collector.wanted != skipped or len(skipped) == 0
        collector.ask(4)  # a scripted one-digit sample is the number "4"
        assert collector.wanted == "4"
        with pytest.raises(UserError, match="open in another mnist-edge app"):
            Collector(target, seed=4, numbers=True)  # one collector per file
    finally:
        collector.close()
    samples = load_samples(target)
    assert samples[0].label == 7 and samples[0].writer == "old"
    assert [s.label for s in samples[1:]] == asked[:-1]
    assert all(s.writer == "ada" for s in samples[1:])


def test_app_collects_a_number_with_save_and_undo(
    app_factory: Any,
    tmp_path: Path,
    writer_digits: dict[int, list[Sample]],  # noqa: F811
) -> None:
    target = tmp_path / "numbers.json"
    collector = Collector(target, writer="bo", seed=1, numbers=True)
    app = app_factory(multi=True, collector=collector, learner=True)
    try:
        wanted = collector.wanted
        assert app.state.prompt.startswith(f"Write {wanted}")
        number = _number(writer_digits, wanted, "normal")
        _write(app, number.sample)
        assert app.state.digits  # read as it is written
        app.draw(force=True)
        run_events(app, tap(app, _bar(app, 3)))  # bars never correct a prompt: no crash
        count = len(app.strokes)
        _tap_box(app, 0)  # collecting: a dot is ink of the sample, never a selection
        assert len(app.strokes) == count + 1 and app.state.selected is None
        run_events(app, tap(app, _button(app, "Undo")))
        assert len(app.strokes) == count
        run_events(app, tap(app, _button(app, "Save")))
        assert app.state.message.text == f"Saved {wanted}"
        assert not app.strokes and app.state.prompt.startswith(f"Write {collector.wanted}")
        assert [s.label for s in load_samples(target)] == [wanted]
        got = load_samples(target)[0].strokes  # as the finger arrived: within a pixel
        assert len(got) == len(number.sample.strokes)
        for a, b in zip(got, number.sample.strokes):
            assert abs(a[0][0] - b[0][0]) < 0.01 and abs(a[-1][1] - b[-1][1]) < 0.01
        assert load_samples(target)[0].writer == "bo"
        run_events(app, tap(app, _button(app, "Undo")))  # no ink: Undo removes the save
        assert app.state.message.text == f"Removed the last {wanted}"
        assert load_samples(target) == [] and collector.wanted == wanted
        run_events(app, tap(app, _button(app, "Skip")))
        assert app.state.message.text == f"Skipped the {wanted}"
        app.draw(force=True)
    finally:
        collector.close()


def test_scripted_number_collection_end_to_end(
    tmp_path: Path,
    writer_digits: dict[int, list[Sample]],  # noqa: F811
) -> None:
    script = tmp_path / "script.json"
    numbers = [_number(writer_digits, t, "normal", seed=i) for i, t in enumerate(["38", "705"])]
    save_samples(script, [n.sample for n in numbers])
    target = tmp_path / "collected.json"
    r = run_cli(
        "draw",
        "--headless",
        "--multi",
        "--collect",
        str(target),
        "--writer",
        "cy",
        "--replay",
        str(script),
        env=ENV,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert [x["saved"] for x in lines] == ["Saved 38", "Saved 705"]
    saved = load_samples(target)
    assert [s.label for s in saved] == ["38", "705"]
    assert [s.writer for s in saved] == ["cy", "cy"]
    assert [len(s.strokes) for s in saved] == [len(s.strokes) for s in load_samples(script)]


# ----------------------------------------------------------------------------- correcting a digit


def test_tap_a_digit_then_its_bar_corrects_it_and_undo_undoes(
    app_factory: Any,
    writer_digits: dict[int, list[Sample]],  # noqa: F811
) -> None:
    app = app_factory(multi=True, learner=True)
    _write(app, _number(writer_digits, "38", "normal").sample)
    assert _read(app) == "38"
    strokes = [list(s) for s in app.strokes]
    run_events(app, tap(app, _bar(app, 5)))  # nothing selected yet: says what to do
    assert "tap a digit" in app.state.message.text and len(app.recognizer.learner) == 0

    _tap_box(app, 0)
    assert app.state.selected == 0 and app.strokes == strokes  # a tap leaves no ink
    assert app.state.reading is app.state.digits[0].reading  # the bars show that digit
    app.draw(force=True)  # highlighted
    run_events(app, tap(app, _bar(app, 5)))
    assert len(app.recognizer.learner) == 1
    assert app.recognizer.learner.labels.tolist() == [5]
    assert _read(app) == "58" and app.state.digits[0].reading.learned
    assert app.state.message.text.startswith("Learned: digit 1 is a 5")

    run_events(app, tap(app, _button(app, "Undo")))  # undoes the correction, not a stroke
    assert len(app.recognizer.learner) == 0 and _read(app) == "38"
    assert app.strokes == strokes

    _tap_box(app, 1)
    run_events(app, [app.pg.event.Event(app.pg.KEYDOWN, key=app.pg.K_0)])  # keys 0-9 too
    assert app.recognizer.learner.labels.tolist() == [0] and _read(app) == "30"
    run_events(app, tap(app, _button(app, "Undo")))
    assert _read(app) == "38"
    run_events(app, tap(app, _button(app, "Undo")))  # then Undo per stroke, as before
    assert len(app.strokes) == len(strokes) - 1 and app.state.selected is None
    app.draw(force=True)


def test_the_number_app_never_crashes(
    app_factory: Any,
    writer_digits: dict[int, list[Sample]],  # noqa: F811
) -> None:
    pg = None
    for learner in (True, None):
        app = app_factory(size=(480, 320), multi=True, learner=learner)
        pg = app.pg
        c = app.layout.canvas
        # Empty strip: taps on it, on the bars, keys, Undo, Clear.
        _tap_canvas(app, c.w / 2, c.h / 2)
        assert app.state.selected is None
        for d in (0, 9):
            run_events(app, tap(app, _bar(app, d)))
        run_events(app, [pg.event.Event(pg.KEYDOWN, key=pg.K_7)])
        for name in ("Undo", "Clear", "Undo"):
            run_events(app, tap(app, _button(app, name)))
        app.draw(force=True)
        # A number, taps outside every box and outside the canvas.
        _write(app, _number(writer_digits, "705", "normal").sample)
        count = len(app.strokes)
        _tap_canvas(app, 1, 1)  # a dot where no digit is: ink, read as writing
        assert app.state.selected is None and len(app.strokes) == count + 1
        run_events(app, tap(app, _button(app, "Undo")))
        for u, v in ((0.0, 0.0), (1.0, 1.0), (0.999, 0.001), (2.0, -1.0)):
            run_events(
                app,
                [
                    pg.event.Event(pg.FINGERDOWN, touch_id=1, finger_id=0, x=u, y=v),
                    pg.event.Event(pg.FINGERUP, touch_id=1, finger_id=0, x=u, y=v),
                ],
            )
        run_events(app, tap(app, _button(app, "Undo")))  # whatever those drew
        _tap_box(app, len(app.state.digits) - 1)
        assert app.state.selected == len(app.state.digits) - 1
        run_events(app, tap(app, _bar(app, 2)))  # with no learner: says so
        if learner is None:
            assert "learning is off" in app.state.message.text
        # The model without an embedding for this digit.
        if app.state.digits:
            app.state.selected = 0
            d = app.state.digits[0]
            p = dataclasses.replace(d.reading.prediction, embedding=None)
            app.state.digits[0] = dataclasses.replace(
                d, reading=dataclasses.replace(d.reading, prediction=p)
            )
            run_events(app, [pg.event.Event(pg.KEYDOWN, key=pg.K_3)])
            if learner is True:
                assert "no embedding" in app.state.message.text
        # A selection that no longer exists (strokes undone): refused, never an IndexError.
        app.state.selected = 40
        run_events(app, [pg.event.Event(pg.KEYDOWN, key=pg.K_1)])
        run_events(app, tap(app, _button(app, "Clear")))
        assert app.state.selected is None and not app.state.digits
        run_events(app, tap(app, _bar(app, 4)))
        run_events(app, [pg.event.Event(pg.KEYDOWN, key=pg.K_4)])
        app.draw(force=True)


# ----------------------------------------------------------------------------- several digits


def _side_by_side(a: Sample, b: Sample) -> Sample:
    """Two drawn digits side by side on one canvas, a visible gap between."""

    def place(s: Sample, left: float) -> list[list[tuple[float, float]]]:
        xs = [x for st in s.strokes for x, _ in st]
        ys = [y for st in s.strokes for _, y in st]
        x0, y0 = min(xs), min(ys)
        scale = 0.4 / max(max(xs) - x0, max(ys) - y0, 1e-3)
        return [
            [(left + (x - x0) * scale, 0.3 + (y - y0) * scale) for x, y in st] for st in s.strokes
        ]

    return Sample(place(a, 0.05) + place(b, 0.55))


def test_single_digit_mode_says_when_ink_is_several_digits(
    app_factory: Any,
    writer_digits: dict[int, list[Sample]],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mnist_edge.edge_app.app.replay import replay

    app = app_factory(learn=False)
    app.recognizer.threshold = 0.85  # the shipped model's "not sure" line
    calls: list[int] = []
    original = app.recognizer.read_number
    monkeypatch.setattr(
        app.recognizer, "read_number", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    lines = []

    class Out:
        def write(self, text: str) -> None:
            lines.append(json.loads(text))

        def flush(self) -> None:
            pass

    pairs = [(3, 8), (7, 0), (2, 5), (6, 9)]
    samples = [_side_by_side(writer_digits[a][0], writer_digits[b][1]) for a, b in pairs]
    replay(app, samples, headless=True, out=Out())  # type: ignore[arg-type]
    several = [x.get("several") for x in lines]
    assert sum(s == f"{a}{b}" for s, (a, b) in zip(several, pairs)) >= 3, lines
    assert all(not x["sure"] for x, s in zip(lines, several) if s)
    _write(app, samples[0])
    app.draw(force=True)  # "looks like several digits: use --multi"

    # A sure single digit costs nothing more: no number is read for it.
    sure = 0
    for d in range(10):
        lines.clear()
        replay(app, [writer_digits[d][0]], headless=True, out=Out())  # type: ignore[arg-type]
        if lines[0]["sure"]:
            sure += 1
            calls.clear()
            app.predict_now()  # reading it again, pen up
            assert calls == [] and app.state.several == "" and "several" not in lines[0]
    assert sure >= 7


def test_a_models_folder_without_number_scores_still_reads_single_digits(
    tmp_path: Path,
    writer_digits: dict[int, list[Sample]],  # noqa: F811
) -> None:
    """An exported folder has no fitted number scores: the single-digit app reads on and gives
    no "several digits" hint (it used to exit 2 at the first unsure two-stroke drawing)."""
    import shutil

    folder = tmp_path / "models"
    shutil.copytree(MODELS, folder, ignore=shutil.ignore_patterns("*.keras", "*.onnx"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.pop("fitted")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "number-scores.json").unlink()
    pairs = [(3, 8), (7, 0), (2, 5), (6, 9)]
    replay = tmp_path / "pairs.json"
    save_samples(
        replay, [_side_by_side(writer_digits[a][0], writer_digits[b][1]) for a, b in pairs]
    )
    r = run_cli(
        "draw", "--headless", "--replay", str(replay), "--no-learn",
        env={"MNIST_EDGE_MODELS": str(folder)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-1500:]
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == len(pairs) and not any(row.get("several") for row in rows)
    assert sum(not row["sure"] for row in rows) >= 2  # the hint's path was taken, and passed


@pytest.mark.parametrize("rotate", [0, 90])
def test_random_touches_and_keys_on_the_number_app(
    app_factory: Any,
    rotate: int,
    writer_digits: dict[int, list[Sample]],  # noqa: F811
) -> None:
    """Any mix of strokes, taps on digit boxes, bars, buttons and keys: never a crash, and the
    state stays consistent (a selection always names a digit on the strip)."""
    import numpy as np

    from tests.conftest import stroke_events

    app = app_factory(multi=True, learner=True, rotate=rotate)
    pg = app.pg
    rng = np.random.default_rng(rotate)
    keys = [pg.K_c, pg.K_u, pg.K_z, pg.K_0, pg.K_4, pg.K_9, pg.K_n, pg.K_RETURN]
    _write(app, _number(writer_digits, "4071", "close").sample)
    selections = learned = 0
    for _ in range(250):
        kind = rng.integers(7)
        if kind == 0:
            run_events(app, [pg.event.Event(pg.KEYDOWN, key=int(rng.choice(keys)))])
        elif kind == 1:
            rect = [app.layout.clear, app.layout.undo, app.layout.bars][rng.integers(3)]
            run_events(app, tap(app, rect))
        elif kind == 2 and app.state.digits:
            _tap_box(app, int(rng.integers(len(app.state.digits))))
        elif kind == 3 and not app.strokes:
            _write(app, _number(writer_digits, "38", "overlap", seed=int(rng.integers(9))).sample)
        else:
            points = [tuple(rng.uniform(-0.2, 1.2, 2)) for _ in range(rng.integers(1, 6))]
            run_events(app, stroke_events(app, points, up=bool(rng.integers(4))))
        s = app.state
        assert s.selected is None or 0 <= s.selected < len(s.digits)
        selections += s.selected is not None
        learned += bool(s.message and s.message.text.startswith("Learned: digit"))
    app.draw(force=True)
    assert app.running
    assert selections and learned, (selections, learned)  # both were exercised
