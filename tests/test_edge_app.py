"""The edge app: preprocessing, strokes, layouts, the real pygame loop driven headless."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist_edge.core.errors import UserError
from mnist_edge.ink import layout as lay
from mnist_edge.ink.preprocess import image_to_canvas, to_mnist
from mnist_edge.ink.strokes import FORMAT, ReplayError, Sample, load_samples, save_samples
from tests.conftest import (
    MODELS,
    assert_user_error,
    blocked_imports_env,
    finger,
    run_cli,
    run_events,
    stroke_events,
    tap,
)

SIZES = [(800, 480), (720, 1280), (1024, 600), (1280, 720), (640, 480)]


# ----------------------------------------------------------------------------- preprocessing


def test_to_mnist_geometry() -> None:
    canvas = np.zeros((300, 500), np.uint8)
    canvas[40:240, 300:340] = 255  # a tall bar, off-centre
    out = to_mnist(canvas)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    rows, cols = np.nonzero(out)
    assert rows.max() - rows.min() + 1 == 20  # longer side fitted into 20 px
    assert 3 <= cols.max() - cols.min() + 1 <= 5  # aspect ratio kept (40:200 -> 4:20)
    ys, xs = np.mgrid[:28, :28]
    mass = out.astype(float)
    assert abs((mass * ys).sum() / mass.sum() - 14) <= 0.5
    assert abs((mass * xs).sum() / mass.sum() - 14) <= 0.5


@pytest.mark.parametrize(
    "canvas",
    [
        np.zeros((100, 100), np.uint8),  # empty
        np.full((100, 100), 255, np.uint8),  # drawn full of ink
        np.pad(np.full((1, 1), 255, np.uint8), 50),  # a single dot
        np.zeros((5, 5, 3), np.uint8) + 200,  # colour
        np.linspace(0, 400, 100 * 80).reshape(100, 80),  # float beyond 255
    ],
)
def test_to_mnist_never_fails(canvas: np.ndarray) -> None:
    out = to_mnist(canvas)
    assert out.shape == (28, 28) and out.dtype == np.uint8


def test_to_mnist_keeps_mnist_digits(data_dir: Path) -> None:
    from mnist_edge.core.data import load_split

    test = load_split("test", data_dir, limit=500)
    same = [np.abs(to_mnist(im).astype(int) - im).max() <= 1 for im in test.images]
    assert np.mean(same) > 0.9  # MNIST digits are already 20 px and centred by mass


def test_image_to_canvas_polarity() -> None:
    paper = np.full((60, 40), 230, np.uint8)
    paper[10:50, 18:22] = 20  # dark ink on light paper
    canvas = image_to_canvas(paper)
    assert canvas[30, 20] == 255 and canvas[2, 2] == 0
    clean = np.zeros((28, 28), np.uint8)
    clean[5:20, 10:12] = 180
    assert np.array_equal(image_to_canvas(clean) > 0, clean > 0)


# ----------------------------------------------------------------------------- strokes


def test_strokes_roundtrip(tmp_path: Path) -> None:
    """Every sample comes back whole: each stroke of each, the label, the writer."""
    samples = [
        Sample([[(0.1, 0.2), (0.5, 0.6)], [(0.3, 0.3)]], 4, writer="site/alice"),
        Sample([[(0.5, 0.5)], [(0.12345, 0.98765), (1.0, 0.0)]]),
        Sample([], 0),
    ]
    save_samples(tmp_path / "s.json", samples)
    again = load_samples(tmp_path / "s.json")
    assert again == samples


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"format": "other", "samples": []}, "expected 'mnist-edge-strokes/1'"),
        ({"format": FORMAT, "samples": [{"strokes": []}, {"label": 3}]}, "sample 1: needs"),
        (
            {"format": FORMAT, "samples": [{"strokes": [[[0.1, "a"]]]}]},
            "sample 0, stroke 0, point 0",
        ),
        ({"format": FORMAT, "samples": [{"strokes": [], "label": 12}]}, "label must be"),
        ({"format": "x" * 200_000, "samples": []}, "format is 'xxx"),  # echoed cut short
    ],
)
def test_malformed_replay(tmp_path: Path, doc: dict[str, Any], message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ReplayError, match=message) as raised:
        load_samples(path)
    assert len(str(raised.value)) < len(str(path)) + 200


def test_a_stroke_file_past_the_memory_bound_is_refused_unread(tmp_path: Path) -> None:
    """64 MB of points would take ~1.8 GB parsed: a larger file is refused in one line."""
    path = tmp_path / "huge.json"
    with path.open("wb") as fh:
        fh.write(b'{"format": "' + FORMAT.encode() + b'", "samples": [')
        fh.truncate((64 << 20) + 1)  # sparse: no disk, no time
    with pytest.raises(ReplayError, match="larger than 64 MB") as raised:
        load_samples(path)
    assert "\n" not in str(raised.value)


# ----------------------------------------------------------------------------- layout


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("rotation", lay.ROTATIONS)
@pytest.mark.parametrize("multi", [False, True])
def test_layouts_fit(size: tuple[int, int], rotation: int, multi: bool) -> None:
    w, h = lay.logical_size(size, rotation)
    L = lay.compute(w, h, wide_canvas=multi)
    rects = [L.canvas, L.digit, L.preview, L.bars, L.clear, L.undo, L.status]
    for r in rects:
        assert r.w > 0 and r.h > 0 and r.x >= 0 and r.y >= 0
        assert r.x + r.w <= w and r.y + r.h <= h, (r, w, h)
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
            assert apart, (a, b)
    assert L.clear.h >= lay.MIN_BUTTON and L.canvas.h >= min(w, h) * 0.5


@pytest.mark.parametrize("rotation", lay.ROTATIONS)
def test_rotation_mapping_inverts(rotation: int) -> None:
    for u, v in [(0.1, 0.2), (0.9, 0.5), (0.0, 1.0)]:
        assert np.allclose(lay.to_logical(*lay.from_logical(u, v, rotation), rotation), (u, v))


# ----------------------------------------------------------------------------- the real app


LINE = [(0.5, 0.15), (0.5, 0.5), (0.52, 0.85)]
HOOK = [(0.3, 0.2), (0.7, 0.2), (0.45, 0.85)]


def test_tap_draws_once(app_factory: Any) -> None:
    """A touch arrives as finger events plus SDL's synthetic mouse events: one stroke only."""
    app = app_factory()
    pg = app.pg
    events = []
    for finger_event in stroke_events(app, LINE):
        events.append(finger_event)
        w, h = app.screen.get_size()
        pos = (int(finger_event.x * w), int(finger_event.y * h))
        kind = {
            pg.FINGERDOWN: pg.MOUSEBUTTONDOWN,
            pg.FINGERMOTION: pg.MOUSEMOTION,
            pg.FINGERUP: pg.MOUSEBUTTONUP,
        }[finger_event.type]
        extra = {"button": 1} if kind != pg.MOUSEMOTION else {"rel": (0, 0), "buttons": (1, 0, 0)}
        events.append(pg.event.Event(kind, pos=pos, touch=True, **extra))
    run_events(app, events)
    assert len(app.strokes) == 1 and len(app.strokes[0]) == len(LINE)
    finger_only = app_factory()
    run_events(finger_only, stroke_events(finger_only, LINE))
    assert np.array_equal(app.ink, finger_only.ink)
    assert app.reading is not None


def test_mouse_draws(app_factory: Any) -> None:
    app = app_factory()
    pg = app.pg
    c = app.layout.canvas
    points = [(c.x + 50, c.y + 40), (c.x + 60, c.y + 200), (c.x + 70, c.y + 300)]
    events = [pg.event.Event(pg.MOUSEBUTTONDOWN, pos=points[0], button=1, touch=False)]
    events += [
        pg.event.Event(pg.MOUSEMOTION, pos=p, rel=(0, 0), buttons=(1, 0, 0), touch=False)
        for p in points[1:]
    ]
    events.append(pg.event.Event(pg.MOUSEBUTTONUP, pos=points[-1], button=1, touch=False))
    run_events(app, events)
    assert len(app.strokes) == 1 and app.ink.any() and app.reading is not None


def test_undo_clear_and_buttons(app_factory: Any) -> None:
    app = app_factory()
    run_events(app, stroke_events(app, LINE) + stroke_events(app, HOOK))
    assert len(app.strokes) == 2
    run_events(app, [app.pg.event.Event(app.pg.KEYDOWN, key=app.pg.K_u)])
    assert len(app.strokes) == 1
    only_first = app_factory()
    run_events(only_first, stroke_events(only_first, LINE))
    assert np.array_equal(app.ink, only_first.ink)  # undo leaves what one stroke drew live
    run_events(app, tap(app, app.layout.clear))  # the on-screen Clear button
    assert app.strokes == [] and not app.ink.any() and app.reading is None


def test_multi_finger_and_outside_touches(app_factory: Any) -> None:
    app = app_factory()
    pg = app.pg
    first = stroke_events(app, LINE, finger_id=0)
    second = stroke_events(app, HOOK, finger_id=1)
    # Interleave a second finger with the first: only the first one draws.
    run_events(
        app, [first[0], second[0], first[1], second[1], first[2], second[2], first[-1], second[-1]]
    )
    assert len(app.strokes) == 1
    # Touches outside the canvas (on the panel, off the window) draw nothing and do not crash.
    run_events(
        app,
        [
            finger(pg, pg.FINGERDOWN, 0.99, 0.02),
            finger(pg, pg.FINGERMOTION, 1.5, -0.3),
            finger(pg, pg.FINGERUP, 2.0, 2.0),
        ],
    )
    assert len(app.strokes) == 1
    # A stroke leaving the canvas is clamped to its edge.
    run_events(
        app,
        [
            finger(pg, pg.FINGERDOWN, *app.display_uv_of((0.5, 0.5))),
            finger(pg, pg.FINGERMOTION, 0.99, 0.5),
            finger(pg, pg.FINGERUP, 0.99, 0.5),
        ],
    )
    assert max(x for x, _ in app.strokes[-1]) == 1.0


def test_lost_fingerup_never_freezes(app_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A finger whose FINGERUP never came must not block every later tap (Clear included)."""
    from mnist_edge.edge_app.app import input as app_input

    app = app_factory()
    run_events(app, stroke_events(app, LINE, finger_id=3, up=False))  # finger 3 never lifts
    assert app.drawing_pointer == 3
    monkeypatch.setattr(app_input, "STALE_SECONDS", 0.0)  # as if it had been silent long
    run_events(app, tap(app, app.layout.clear))  # another finger taps Clear
    assert app.strokes == [] and app.drawing_pointer is None
    run_events(app, stroke_events(app, HOOK, finger_id=4))
    assert len(app.strokes) == 1 and app.reading is not None


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e308])
def test_hostile_touch_coordinates(app_factory: Any, value: float) -> None:
    app = app_factory()
    pg = app.pg
    run_events(
        app,
        [
            finger(pg, pg.FINGERDOWN, value, 0.5),
            finger(pg, pg.FINGERMOTION, 0.5, value),
            finger(pg, pg.FINGERUP, value, value),
            pg.event.Event(pg.MOUSEBUTTONDOWN, pos=(value, 3), button=1, touch=False),
            pg.event.Event(pg.MOUSEBUTTONUP, pos=(1, 1), button=1, touch=False),
            pg.event.Event(pg.KEYDOWN, key=12345678),
            pg.event.Event(pg.KEYDOWN),
        ],
    )
    assert app.running
    run_events(app, stroke_events(app, LINE))
    assert len(app.strokes) == 1


def test_every_event_sequence_is_survived(app_factory: Any) -> None:
    """Random taps, strokes, keys and buttons in any order: the app never crashes."""
    app = app_factory(learner=True)
    pg = app.pg
    rng = np.random.default_rng(0)
    keys = [pg.K_c, pg.K_u, pg.K_z, pg.K_0, pg.K_4, pg.K_9, pg.K_n, pg.K_RETURN]
    for _ in range(300):
        kind = rng.integers(6)
        if kind == 0:
            events = [pg.event.Event(pg.KEYDOWN, key=int(rng.choice(keys)))]
        elif kind == 1:
            events = tap(app, [app.layout.clear, app.layout.undo, app.layout.bars][rng.integers(3)])
        else:
            points = [tuple(rng.uniform(-0.2, 1.2, 2)) for _ in range(rng.integers(1, 6))]
            events = stroke_events(
                app, points, finger_id=int(rng.integers(3)), up=bool(rng.integers(4))
            )
        run_events(app, events)
    assert app.running


def test_a_scribble_past_the_ink_bound_is_refused_and_said(app_factory: Any) -> None:
    """A finger (or a replay) that zigzags on and on: the drawing takes ink up to the bound,
    refuses the rest with a warning, still reads, and Undo makes room again."""
    from mnist_edge.ink.strokes import MAX_INK_PX, ink_px

    app = app_factory(multi=True)
    zigzag = [(0.05 + 0.9 * (i % 2), 0.1 + 0.8 * (i / 400)) for i in range(400)]
    run_events(app, stroke_events(app, zigzag))
    drawing = app.state.drawing
    w, h = drawing.width, drawing.height
    assert 0 < len(app.strokes[0]) < len(zigzag) and drawing.full
    assert drawing.ink_px == pytest.approx(ink_px(app.strokes, w, h))
    assert MAX_INK_PX - 2 * w < drawing.ink_px <= MAX_INK_PX
    assert "a lot of ink for one number" in app.state.message.text and app.state.message.warning
    assert app.running and app.state.digits
    run_events(app, stroke_events(app, zigzag))  # what room is left, and no more
    assert len(app.strokes) == 2 and drawing.full and drawing.ink_px <= MAX_INK_PX
    run_events(app, [app.pg.event.Event(app.pg.KEYDOWN, key=app.pg.K_u)])
    assert len(app.strokes) == 1 and not drawing.full
    assert drawing.ink_px == pytest.approx(ink_px(app.strokes, w, h))
    run_events(app, tap(app, app.layout.clear))
    run_events(app, stroke_events(app, LINE))
    assert len(app.strokes) == 1 and len(app.strokes[0]) == len(LINE) and not drawing.full


def test_screenshots_in_one_second_each_get_a_file(
    app_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = app_factory()
    run_events(app, stroke_events(app, LINE))
    (tmp_path / "mnist-edge-20261207-101010.png").write_bytes(b"an earlier run's")
    from mnist_edge.edge_app.app import screenshot

    second = screenshot.dt.datetime(2026, 12, 7, 10, 10, 10)  # every press in the same second
    clock = type("Clock", (), {"now": staticmethod(lambda: second)})
    monkeypatch.setattr(screenshot, "dt", type("Dt", (), {"datetime": clock}))
    for _ in range(3):
        run_events(app, [app.pg.event.Event(app.pg.KEYDOWN, key=app.pg.K_s)])
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {f"mnist-edge-20261207-101010{n}.png" for n in ("", "-2", "-3", "-4")}
    assert (tmp_path / "mnist-edge-20261207-101010.png").read_bytes() == b"an earlier run's"


def test_full_canvas_and_dot(app_factory: Any) -> None:
    app = app_factory()
    app.state.drawing.ink[:] = 255
    app.predict_now()
    app.draw(force=True)
    assert app.reading is not None
    app.clear()
    run_events(app, stroke_events(app, [(0.5, 0.5)]))
    assert app.reading is not None and app.reading.image.any()


# ----------------------------------------------------------------------------- learning


def _misread_sample(app: Any, wanted: int) -> tuple[list[list[tuple[float, float]]], int]:
    """A drawing the model reads as something other than ``wanted``."""
    candidates = [[LINE], [HOOK], [[(0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.3, 0.7), (0.3, 0.3)]]]
    for strokes in candidates:
        app.clear()
        for stroke in strokes:
            run_events(app, stroke_events(app, stroke))
        if app.reading.prediction.digit != wanted:
            return strokes, app.reading.prediction.digit
    raise AssertionError("every candidate was read as the wanted digit")


def test_correction_is_learned_and_undone(app_factory: Any) -> None:
    """Misread once, corrected by a tap on the bar chart, read right the next time; Undo takes
    the correction back."""
    app = app_factory(learner=True)
    strokes, first = _misread_sample(app, wanted=4)
    slot = app.layout.bars.w / 10
    bar = lay.Rect(
        int(app.layout.bars.x + 4 * slot), app.layout.bars.y, int(slot), app.layout.bars.h
    )
    run_events(app, tap(app, bar))  # "this is a 4"
    assert len(app.recognizer.learner) == 1 and app.reading.prediction.digit == 4
    app.clear()
    for stroke in strokes:  # the same writer draws it again
        run_events(app, stroke_events(app, stroke))
    assert app.reading.prediction.digit == 4 and app.reading.learned
    assert app.reading.model_digit == first
    run_events(app, tap(app, app.layout.undo))  # undo the stroke (the last action)
    assert len(app.recognizer.learner) == 1 and app.strokes == []
    for stroke in strokes:
        run_events(app, stroke_events(app, stroke))
    run_events(app, [app.pg.event.Event(app.pg.KEYDOWN, key=app.pg.K_4)])
    assert len(app.recognizer.learner) == 2 and app.state.last_correction
    run_events(app, tap(app, app.layout.undo))  # undo right after a correction: the correction
    assert len(app.recognizer.learner) == 1


def test_correction_on_empty_canvas_and_without_learning(app_factory: Any) -> None:
    app = app_factory(learner=True)
    run_events(app, [app.pg.event.Event(app.pg.KEYDOWN, key=app.pg.K_7)])
    assert len(app.recognizer.learner) == 0 and "draw a digit first" in app.state.message.text
    off = app_factory(learner=None, learn=False)
    run_events(off, [*stroke_events(off, LINE), off.pg.event.Event(off.pg.KEYDOWN, key=off.pg.K_7)])
    assert off.running and "learning is off" in off.state.message.text


# ----------------------------------------------------------------------------- collecting


def test_collect_saves_balanced_labelled_samples(app_factory: Any, tmp_path: Path) -> None:
    from mnist_edge.edge_app.app.collect import Collector
    from mnist_edge.edge_app.app.view import button_rects

    target = tmp_path / "mine.json"
    collector = Collector(target, writer="ada", seed=1)
    app = app_factory(collector=collector)
    buttons = dict(button_rects(app.layout, app.buttons()))
    asked = []
    for _ in range(10):
        asked.append(collector.wanted)
        run_events(app, stroke_events(app, LINE))
        run_events(app, tap(app, buttons["Save"]))
    saved = load_samples(target)
    assert sorted(asked) == list(range(10))  # one round: every digit once
    assert [s.label for s in saved] == asked and all(s.writer == "ada" for s in saved)
    assert saved[0].strokes == [[(round(x, 5), round(y, 5)) for x, y in LINE]]
    skipped = collector.wanted
    run_events(app, tap(app, buttons["Skip"]))
    assert collector.wanted != skipped and skipped in collector._queue
    run_events(app, tap(app, buttons["Undo"]))  # nothing drawn: undo the last save
    assert len(load_samples(target)) == 9
    run_events(app, tap(app, buttons["Save"]))  # nothing drawn: nothing saved
    assert len(load_samples(target)) == 9 and app.running
    with pytest.raises(UserError, match="open in another mnist-edge app"):
        Collector(target, seed=2)  # two collectors on one file: the second is refused
    collector.close()
    resumed = Collector(target, seed=2)  # a new session continues the file
    assert resumed.count == 9
    resumed.close()


def test_collect_survives_a_kill_mid_sample(tmp_path: Path) -> None:
    """SIGKILL while a digit is being drawn loses that digit only; the file stays valid."""
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "mine.json"
    script = (
        "import time\n"
        "from mnist_edge.edge_app.app.collect import Collector\n"
        f"c = Collector({str(target)!r}, writer='w', seed=0)\n"
        "for i in range(3):\n"
        "    c.save([[(0.1, 0.1), (0.5, 0.9)]])\n"
        "print('saved', flush=True)\n"
        "time.sleep(60)  # drawing the 4th digit when the power goes\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "saved"
    time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(load_samples(target)) == 3
    assert not list(tmp_path.glob(".mnist-edge-tmp-*"))


# ----------------------------------------------------------------------------- CLI, headless


def _models_env(models: Path) -> dict[str, str]:
    return {"MNIST_EDGE_MODELS": str(models), "SDL_VIDEODRIVER": "dummy"}


def _replay_file(tmp_path: Path, samples: list[Sample]) -> Path:
    path = tmp_path / "replay.json"
    save_samples(path, samples)
    return path


SAMPLES = [
    Sample([LINE], 1),
    Sample([HOOK], 7),
    Sample([[(0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.3, 0.7), (0.3, 0.3)]], 0),
]


def _json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_a_multi_replay_of_digits_scores_each_as_a_one_digit_number(tmp_path: Path) -> None:
    """Digit labels read with --multi: a line is sure only as the screen shows it (no "?"),
    and a digit read as several digits is a misread, not the last digit's reading."""
    two = [[(0.05 + x * 0.4, 0.2 + y * 0.6) for x, y in s] for s in (LINE, HOOK)]
    two[1] = [(x + 0.45, y) for x, y in two[1]]
    samples = [*SAMPLES, Sample(two, 7), Sample(two)]  # "17" labelled 7; the same unlabelled
    r = run_cli(
        "draw", "--headless", "--multi", "--replay", str(_replay_file(tmp_path, samples)),
        env=_models_env(MODELS),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    lines = _json_lines(r.stdout)
    assert len(lines) == len(samples) and lines[3]["read"] == lines[4]["read"] == "17"
    for line in lines:
        assert set(line) >= {"number", "read", "sure"} and "digit" not in line, line
        assert line["sure"] == ("?" not in line["number"] and line["number"] != ""), line
    right = sum(x["read"] == str(x["label"]) for x in lines if x["label"] is not None)
    assert right < len(samples) - 1 and f"read {right}/{len(samples) - 1} correctly" in r.stderr


@pytest.mark.parametrize("size", SIZES)
def test_headless_replay_same_in_every_layout(tmp_path: Path, size: tuple[int, int]) -> None:
    """Rotations with the same logical size draw the same ink: a mirrored or transposed touch
    mapping would change what the model reads. 90/270 have another canvas size, so their
    rasterization legitimately differs from 0/180."""
    replay = _replay_file(tmp_path, SAMPLES)
    results = []
    for rotation in lay.ROTATIONS:
        shot = tmp_path / f"{rotation}.png"
        r = run_cli(
            "draw",
            "--headless",
            "--replay",
            str(replay),
            "--size",
            f"{size[0]}x{size[1]}",
            "--rotate",
            str(rotation),
            "--brush",
            "20",
            "--screenshot",
            str(shot),
            env=_models_env(MODELS),
        )
        assert r.returncode == 0, r.stderr[-2000:]
        assert "runtime litert" in r.stderr and shot.read_bytes()[:4] == b"\x89PNG"
        results.append([(x["digit"], x["confidence"]) for x in _json_lines(r.stdout)])
    assert len(results[0]) == len(SAMPLES) and all(d is not None for d, _ in results[0])
    # Same digits; confidences equal up to a pixel of float rounding in the rotated mapping.
    for a, b in ((results[0], results[2]), (results[1], results[3])):
        assert [d for d, _ in a] == [d for d, _ in b]
        assert all(abs(x - y) <= 0.005 for (_, x), (_, y) in zip(a, b)), (a, b)


def test_replay_record_roundtrip(tmp_path: Path) -> None:
    replay = _replay_file(tmp_path, SAMPLES)
    recorded = tmp_path / "rec.json"
    first = run_cli(
        "draw",
        "--headless",
        "--replay",
        str(replay),
        "--record",
        str(recorded),
        env=_models_env(MODELS),
    )
    assert first.returncode == 0, first.stderr[-2000:]
    again = run_cli(
        "--headless",
        "--replay",
        str(recorded),
        module="mnist_edge.edge_app",
        env=_models_env(MODELS),
    )
    assert again.returncode == 0, again.stderr[-2000:]
    digits = [x["digit"] for x in _json_lines(first.stdout)]
    assert [x["digit"] for x in _json_lines(again.stdout)] == digits
    assert len(load_samples(recorded)) == len(SAMPLES)


def test_multi_digit_number(tmp_path: Path) -> None:
    def shift(sample: Sample, slot: int) -> list[list[tuple[float, float]]]:
        return [[(0.05 + (slot + x) * 0.22, 0.2 + y * 0.6) for x, y in s] for s in sample.strokes]

    strokes = [s for slot, sample in enumerate(SAMPLES) for s in shift(sample, slot)]
    replay = _replay_file(tmp_path, [Sample(strokes)])
    r = run_cli(
        "draw",
        "--headless",
        "--multi",
        "--replay",
        str(replay),
        "--threshold",
        "0",
        env=_models_env(MODELS),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    single = run_cli(
        "draw",
        "--headless",
        "--replay",
        str(_replay_file(tmp_path, SAMPLES)),
        env=_models_env(MODELS),
    )
    expected = "".join(str(x["digit"]) for x in _json_lines(single.stdout))
    assert _json_lines(r.stdout)[0]["number"] == expected


def test_edge_app_never_imports_tensorflow(tmp_path: Path) -> None:
    """Run the app where importing TensorFlow, Keras or tf2onnx raises."""
    replay = _replay_file(tmp_path, SAMPLES)
    env = {
        **_models_env(MODELS),
        **blocked_imports_env(tmp_path, "tensorflow", "keras", "tf2onnx", "tf_keras"),
    }
    r = run_cli("--headless", "--replay", str(replay), module="mnist_edge.edge_app", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(_json_lines(r.stdout)) == len(SAMPLES)
    p = run_cli("predict", str(tmp_path / "none.png"), env=env)
    assert "blocked" not in p.stderr


def test_predict_images(tmp_path: Path, data_dir: Path) -> None:
    import cv2

    from mnist_edge.core.data import load_split

    test = load_split("test", data_dir, limit=6)
    files = []
    for i, (image, label) in enumerate(zip(test.images, test.labels)):
        path = tmp_path / f"{i}_{label}.png"
        big = cv2.resize(image, (140, 140), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(path), 255 - big if i % 2 else big)  # both polarities
        files.append(str(path))
    r = run_cli("predict", "--json", *files, env=_models_env(MODELS))
    assert r.returncode == 0, r.stderr[-2000:]
    results = _json_lines(r.stdout)
    correct = sum(x["digit"] == int(Path(x["file"]).stem.split("_")[1]) for x in results)
    assert len(results) == 6 and correct >= 5
    # The default reading is the app's: DEFAULT_TTA variants, judged by the threshold the model
    # was calibrated for at that count.
    from mnist_edge.edge_app.runtime import load_model
    from mnist_edge.edge_app.runtime.shipped import default_model
    from mnist_edge.edge_app.tta import DEFAULT_TTA

    threshold = load_model(default_model(directory=MODELS)[0]).threshold_for(DEFAULT_TTA)
    assert all(x["sure"] == (x["confidence"] >= threshold) for x in results)
    explicit = run_cli(
        "predict", "--json", "--tta", str(DEFAULT_TTA), *files, env=_models_env(MODELS)
    )
    assert _json_lines(explicit.stdout) == results
    once = _json_lines(
        run_cli("predict", "--json", "--tta", "1", *files, env=_models_env(MODELS)).stdout
    )
    assert [x["confidence"] for x in once] != [x["confidence"] for x in results]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    r = run_cli("predict", files[0], str(bad), env=_models_env(MODELS))
    assert r.returncode == 2 and "not a readable image" in r.stderr and files[0] in r.stdout


def test_bad_inputs(tmp_path: Path) -> None:
    env = _models_env(MODELS)
    replay = _replay_file(tmp_path, SAMPLES)
    assert_user_error(
        run_cli("draw", "--headless", "--model", str(tmp_path / "no.tflite"), env=env), "not found"
    )
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes((MODELS / "edge-int8.tflite").read_bytes()[:3000])
    assert_user_error(
        run_cli("draw", "--headless", "--model", str(corrupt), env=env), "not a valid TFLite model"
    )
    assert_user_error(
        run_cli("draw", "--headless", "--replay", str(tmp_path / "x.json"), env=env), "not found"
    )
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"format": FORMAT, "samples": [{"strokes": [[[0, 0]]]}, {"strokes": [[[1]]]}]})
    )
    assert_user_error(run_cli("draw", "--headless", "--replay", str(bad), env=env), "sample 1")
    assert_user_error(
        run_cli("draw", "--replay", str(replay), env={**env, "SDL_VIDEODRIVER": "no-such-driver"}),
        "cannot open a display",
        "--headless",
    )
    assert_user_error(run_cli("draw", "--headless", "--size", "80x40", env=env), "--size")
    assert_user_error(run_cli("draw", "--headless", "--rotate", "45", env=env), "--rotate")
    assert_user_error(
        run_cli(
            "draw",
            "--headless",
            "--runtime",
            "onnxruntime",
            "--model",
            str(MODELS / "edge-int8.tflite"),
            env=env,
        ),
        "cannot run .tflite",
    )
    no_models = run_cli("draw", "--headless", env={**env, "MNIST_EDGE_MODELS": str(tmp_path)})
    assert_user_error(no_models, "no models")


def test_no_runtime_installed(tmp_path: Path) -> None:
    env = {
        **_models_env(MODELS),
        **blocked_imports_env(tmp_path, "ai_edge_litert", "tflite_runtime", "onnxruntime"),
    }
    assert_user_error(run_cli("draw", "--headless", env=env), "no runtime installed")


def test_read_only_folder_does_not_crash(
    app_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    monkeypatch.chdir(locked)
    from mnist_edge.ink.stroke_writer import StrokeWriter

    app = app_factory(recorder=StrokeWriter(locked / "rec.json", "--record"))
    run_events(app, stroke_events(app, LINE))
    if os.access(locked, os.W_OK):  # root ignores permissions: simulate the read-only card

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise PermissionError(30, "Read-only file system")

        monkeypatch.setattr("mnist_edge.core.fsutil.tempfile.mkstemp", refuse)
    app.command("screenshot")  # into a read-only folder
    app.clear()  # files the drawing into the recording, which cannot be written
    assert app.running and "cannot" in app.last_warning


def test_draw_config_file(tmp_path: Path) -> None:
    """draw takes a TOML file like the other jobs; flags win over it."""
    config = tmp_path / "kiosk.toml"
    config.write_text('[draw]\nsize = "720x1280"\nrotate = 90\nthreshold = 2.0\n')
    replay = _replay_file(tmp_path, SAMPLES[:1])
    assert_user_error(
        run_cli("draw", "--headless", "--config", str(config), env=_models_env(MODELS)),
        "--threshold must be",
    )
    r = run_cli(
        "draw",
        "--headless",
        "--config",
        str(config),
        "--threshold",
        "0.5",
        "--replay",
        str(replay),
        "--screenshot",
        str(tmp_path / "s.png"),
        env=_models_env(MODELS),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    import pygame

    assert pygame.image.load(str(tmp_path / "s.png")).get_size() == (720, 1280)
