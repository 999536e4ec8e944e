"""Reading numbers: the replay format's number labels, composed numbers, the stroke-aware reader
(constructed cases on real drawn digits, through the shipped model), the writing strip, and a
headless replay of a numbers file through the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist_edge.edge_app.numbers import render as number_render
from mnist_edge.edge_app.numbers.reader import NumberReader
from mnist_edge.edge_app.numbers.render import ink_brush, render_units
from mnist_edge.edge_app.numbers.score import (
    candidate_matrices,
    candidate_matrix,
    features,
    scores_of,
)
from mnist_edge.edge_app.numbers.units import make_units, pixels_of, writing_height
from mnist_edge.edge_app.numbers.weights import CUT_ENDS, FEATURES, ScoreNet
from mnist_edge.edge_app.recognizer import Recognizer
from mnist_edge.edge_app.runtime import load_model
from mnist_edge.ink import layout as lay
from mnist_edge.ink.compose import (
    GAP_STYLES,
    compose,
    digits_by_writer,
    several_digits,
    spacing_of,
    strip_canvas,
)
from mnist_edge.ink.preprocess import to_mnist
from mnist_edge.ink.strokes import (
    FORMAT,
    ReplayError,
    Sample,
    load_samples,
    render,
    save_samples,
    to_pixels,
)
from tests.conftest import DRAWN, MODELS, assert_user_error, run_cli

CANVAS = strip_canvas()  # the default screen's writing strip: what the replays below use


@pytest.fixture(scope="module")
def model() -> Any:
    return load_model(MODELS / "edge-int8.tflite")


@pytest.fixture(scope="module")
def writer_digits() -> dict[int, list[Sample]]:
    """One real writer's drawn digits by label (a writer with every digit several times)."""
    by_writer = digits_by_writer(load_samples(DRAWN / "unipen-train.json"))
    for name in sorted(by_writer):
        found: dict[int, list[Sample]] = {}
        for s in by_writer[name]:
            found.setdefault(int(s.label), []).append(s)  # type: ignore[arg-type]
        if len(found) == 10 and min(len(v) for v in found.values()) >= 4:
            barred = [f for f in found[5] if len(f.strokes) >= 2 and _flat(f.strokes[-1])]
            ones = [f for f in found[1] if len(f.strokes) == 1]
            twos = [f for f in found[2] if len(f.strokes) == 1]
            if barred and ones and twos:  # a 5 with a bar, one-stroke 1s and 2s
                return found
    raise AssertionError("no writer with every digit")


def _flat(stroke: list[tuple[float, float]]) -> bool:
    ys = [y for _, y in stroke]
    return max(ys) - min(ys) < 0.2


def _number(
    digits: dict[int, list[Sample]], text: str, style: str, seed: int = 0, **kw: Any
) -> Any:
    rng = np.random.default_rng(seed)
    picks = [digits[int(c)][i % len(digits[int(c)])] for i, c in enumerate(text)]
    return compose(picks, CANVAS, rng, style=style, **kw)


def _read(model: Any, strokes: list[Any]) -> str:
    rec = Recognizer(model, 0.0)
    got = rec.read_number(strokes, CANVAS.width, CANVAS.height, CANVAS.brush)
    return "".join(str(d.reading.prediction.digit) for d in got)


# ----------------------------------------------------------------------------- the format


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("12a", "string of 1-12 digits"),
        ("", "string of 1-12 digits"),
        ("1" * 40, "string of 1-12 digits"),
        ("١٢", "string of 1-12 digits"),  # Arabic-Indic digits: isdigit() alone accepts them
        (12, "integer 0-9"),
        (True, "integer 0-9"),
    ],
)
def test_bad_number_labels(tmp_path: Path, label: Any, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": FORMAT, "samples": [{"strokes": [], "label": label}]}))
    with pytest.raises(ReplayError, match=message):
        load_samples(path)
    r = run_cli("draw", "--headless", "--multi", "--replay", str(path))
    assert_user_error(r, "sample 0", message)


def test_number_labels_round_trip_and_old_files_stay_valid(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    samples = [
        Sample([[(0.1, 0.1), (0.2, 0.9)], [(0.5, 0.2), (0.6, 0.8)]], "4071"[:2], "w", [0, 1]),
        Sample([[(0.5, 0.1), (0.5, 0.9)]], 1),
    ]
    save_samples(path, samples)
    again = load_samples(path)
    assert [s.label for s in again] == ["40", 1]
    assert again[0].stroke_digits == [0, 1] and again[1].stroke_digits is None
    bad = json.loads(path.read_text())
    bad["samples"][0]["stroke_digits"] = [0, 2]  # digit 2 of a 2-digit number
    path.write_text(json.dumps(bad))
    with pytest.raises(ReplayError, match="stroke_digits"):
        load_samples(path)


def test_single_digit_replay_of_numbers_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    save_samples(path, [Sample([[(0.1, 0.1), (0.2, 0.9)]], "12")])
    assert_user_error(run_cli("draw", "--headless", "--replay", str(path)), "--multi")


# ----------------------------------------------------------------------------- composing


def test_composed_numbers_keep_time_order_one_writer_and_spacing(
    writer_digits: dict[int, list[Sample]],
) -> None:
    wide = _number(writer_digits, "3807", "wide")
    assert wide.sample.label == "3807" and wide.spacing == "apart"
    assert wide.sample.stroke_digits == list(wide.stroke_digits)
    assert list(wide.stroke_digits) == sorted(wide.stroke_digits)  # digit by digit
    assert len({s.writer for d in writer_digits.values() for s in d}) == 1
    touching = _number(writer_digits, "3807", "overlap", seed=3)
    assert touching.spacing == "touching"
    # Measured in ink: the same strokes with a brush too thin to touch are not touching.
    assert spacing_of(touching.sample.strokes, touching.stroke_digits, CANVAS) == "touching"
    points = np.array([p for s in wide.sample.strokes for p in s])
    assert points.min() >= 0.0 and points.max() <= 1.0  # on the strip
    assert set(GAP_STYLES) == {"wide", "normal", "close", "overlap"}


def test_a_late_bar_is_written_after_the_next_digit(
    writer_digits: dict[int, list[Sample]],
) -> None:
    fives = [s for s in writer_digits[5] if len(s.strokes) >= 2 and _flat(s.strokes[-1])]
    late = compose(
        [fives[0], writer_digits[3][0]],
        CANVAS,
        np.random.default_rng(0),
        style="normal",
        delay_bars=1.0,
    )
    owners = list(late.stroke_digits)
    assert owners[-1] == 0 and 1 in owners[:-1]  # the 5's bar after the 3


def _ring(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    return [(cx + r * np.cos(t), cy + r * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 24)]


def test_a_digit_sample_that_is_several_digits_is_not_composed() -> None:
    """A "0" whose ink is two 0s side by side (a segmentation slip in the source data) would
    give a composed number a digit more than its label; a digit of several strokes is kept."""
    two_zeros = [_ring(0.3, 0.5, 0.15), _ring(0.7, 0.5, 0.15)]
    four = [[(0.3, 0.2), (0.25, 0.6), (0.7, 0.6)], [(0.6, 0.3), (0.6, 0.9)]]  # stem crosses
    equals = [[(0.2, 0.45), (0.8, 0.45)], [(0.2, 0.55), (0.8, 0.55)]]
    one_and_flag = [[(0.5, 0.1), (0.5, 0.9)], [(0.35, 0.25), (0.45, 0.15)]]  # flag apart, short
    assert several_digits(two_zeros)
    assert not any(several_digits(s) for s in (four, equals, one_and_flag, [], [[]]))
    samples = [Sample(two_zeros, 0, "w"), Sample(four, 4, "w"), Sample(equals, 7, "w")]
    assert [s.label for s in digits_by_writer(samples)["w"]] == [4, 7]
    real = [s for s in load_samples(DRAWN / "unipen-train.json") if isinstance(s.label, int)]
    flagged = sum(several_digits(s.strokes) for s in real)
    assert 0 < flagged <= 0.005 * len(real)  # a few slips, not a kind of digit


# ----------------------------------------------------------------------------- reading


def test_two_digits_apart_and_touching(model: Any, writer_digits: dict[int, list[Sample]]) -> None:
    assert _read(model, _number(writer_digits, "38", "wide").sample.strokes) == "38"
    touching = _number(writer_digits, "38", "overlap", seed=0)
    assert touching.spacing == "touching"
    assert _read(model, touching.sample.strokes) == "38"


def test_a_five_whose_bar_comes_after_the_next_digit(
    model: Any, writer_digits: dict[int, list[Sample]]
) -> None:
    fives = [s for s in writer_digits[5] if len(s.strokes) >= 2 and _flat(s.strokes[-1])]
    number = compose(
        [fives[0], writer_digits[3][1]],
        CANVAS,
        np.random.default_rng(2),
        style="normal",
        delay_bars=1.0,
    )
    assert _read(model, number.sample.strokes) == "53"


def _late_long_bar_53(writer_digits: dict[int, list[Sample]]) -> list[Any]:
    """A 5 whose bar, written after the 3, reaches far past the 5's body: "53" whose reading
    orders differ (time order cannot move the bar back, position order can)."""
    five = next(s for s in writer_digits[5] if len(s.strokes) >= 2 and _flat(s.strokes[-1]))
    body = [p for st in five.strokes[:-1] for p in st]
    left, right = min(x for x, _ in body), max(x for x, _ in body)
    width = right - left
    bar = five.strokes[-1]
    b0, b1 = min(x for x, _ in bar), max(x for x, _ in bar)
    stretched = [
        (left + 0.8 * width + (x - b0) / max(b1 - b0, 1e-6) * 1.2 * width, y) for x, y in bar
    ]
    long_bar = Sample([*five.strokes[:-1], stretched], 5, five.writer)
    number = compose(
        [long_bar, writer_digits[3][1]],
        CANVAS,
        np.random.default_rng(4),
        style="normal",
        delay_bars=1.0,
    )
    assert list(number.stroke_digits)[-1] == 0  # the bar is written last
    return number.sample.strokes


def test_a_late_bar_reaching_past_its_five_is_read_with_it(
    model: Any, writer_digits: dict[int, list[Sample]]
) -> None:
    """A 5's bar added after the next digit that sticks out far to the right (it barely lies
    over the 5's body, so time order cannot move it back): the reading by position pairs it."""
    strokes = _late_long_bar_53(writer_digits)
    w, h, b = CANVAS.width, CANVAS.height, CANVAS.brush
    last = len(strokes) - 1

    def beside_body(order: str) -> bool:
        seq = [u.stroke for u in make_units(strokes, w, h, b, order)[0]]
        return abs(seq.index(last) - seq.index(last - 2)) == 1  # next to the body's stroke

    assert not beside_body("time") and beside_body("position")
    assert _read(model, strokes) == "53"


def test_the_feature_matrix_is_the_per_candidate_features(
    model: Any, writer_digits: dict[int, list[Sample]]
) -> None:
    """The vectorised features the reader uses equal the per-candidate definition, for one
    reading order and for both orders computed in one pass (each row's neighbours its own
    order's)."""
    w, h, b = CANVAS.width, CANVAS.height, CANVAS.brush
    sets = NumberReader(model).candidate_sets(_late_long_bar_53(writer_digits), w, h, b)
    assert len(sets) == 2  # the orders differ: the one-pass matrix has two blocks
    for (units, found), together in zip(sets, candidate_matrices(sets, b)):
        ref = writing_height(units, b)
        centre = float(np.median([(u.y0 + u.y1) / 2 for u in units]))
        rows = [features(units, c.first, c.last, c.probabilities, ref, centre) for c in found]
        np.testing.assert_array_equal(candidate_matrix(units, found, b), np.array(rows))
        np.testing.assert_array_equal(together, np.array(rows))
        assert len(found) > len(units)


def test_pixels_round_as_the_app_maps_points() -> None:
    stroke = [(0.0, 0.0), (1.0, 1.0), (0.5, 0.5), (1.2, -0.1), (0.123, 0.877), (0.25, 0.75)]
    for width, height in ((777, 241), (8, 4), (465, 161)):
        got = pixels_of(stroke, width, height)
        assert got.tolist() == [list(to_pixels(p, width, height)) for p in stroke]


def test_one_one_and_seven_one(model: Any, writer_digits: dict[int, list[Sample]]) -> None:
    assert _read(model, _number(writer_digits, "11", "normal").sample.strokes) == "11"
    assert _read(model, _number(writer_digits, "71", "normal").sample.strokes) == "71"


def test_a_one_next_to_a_zero_is_ten(model: Any, writer_digits: dict[int, list[Sample]]) -> None:
    for style in ("normal", "close"):
        assert _read(model, _number(writer_digits, "10", style).sample.strokes) == "10"


def _joined_twelve(writer_digits: dict[int, list[Sample]]) -> tuple[Any, list[Any]]:
    """A 1 and a 2 joined into one stroke (the pen goes on from the 1's foot to the 2)."""
    ones = [s for s in writer_digits[1] if len(s.strokes) == 1]
    twos = [s for s in writer_digits[2] if len(s.strokes) == 1]
    number = compose([ones[0], twos[0]], CANVAS, np.random.default_rng(0), style="normal")
    return number, [[p for s in number.sample.strokes for p in s]]


def test_one_stroke_twelve_is_cut_into_candidates(
    model: Any, writer_digits: dict[int, list[Sample]]
) -> None:
    number, joined = _joined_twelve(writer_digits)
    assert _read(model, number.sample.strokes) == "12"  # with a pen lift
    w, h, b = CANVAS.width, CANVAS.height, CANVAS.brush
    units, found = NumberReader(model).candidates(joined, w, h, b)
    assert len(units) >= 2  # the one stroke is cut: its pieces are candidates
    join = len(number.sample.strokes[0]) - 1  # the 1's last point, where the pen runs on
    assert any(abs(u.end - join) <= 3 for u in units[:-1]), [(u.start, u.end) for u in units]
    spans = {(c.first, c.last) for c in found}
    assert (0, len(units)) in spans and all((k, k + 1) in spans for k in range(len(units)))


def test_one_stroke_twelve_with_no_pen_lift(
    model: Any, writer_digits: dict[int, list[Sample]]
) -> None:
    assert _read(model, _joined_twelve(writer_digits)[1]) == "12"
    # The same pair as the app records it: the pen's travel to the 2 sampled too.
    ones = [s for s in writer_digits[1] if len(s.strokes) == 1]
    twos = [s for s in writer_digits[2] if len(s.strokes) == 1]
    joined = compose([ones[0], twos[0]], CANVAS, np.random.default_rng(0), style="normal", join=1.0)
    assert len(joined.sample.strokes) == 1 and joined.sample.label == "12"
    assert _read(model, joined.sample.strokes) == "12"


def test_a_join_is_sampled_like_the_writers_strokes(writer_digits: dict[int, list[Sample]]) -> None:
    """Composed joins carry the pen's travel between the digits, as densely sampled as the
    writer's own strokes, owned by the digit it leads into."""
    picks = [writer_digits[d][0] for d in (3, 5)]
    apart = compose(picks, CANVAS, np.random.default_rng(4), style="wide")
    joined = compose(picks, CANVAS, np.random.default_rng(4), style="wide", join=1.0)
    scale = np.array([CANVAS.width - 1, CANVAS.height - 1])
    whole = np.asarray(joined.sample.strokes[-1]) * scale
    steps = np.hypot(*np.diff(whole, axis=0).T)
    own = np.concatenate(
        [np.hypot(*np.diff(np.asarray(s) * scale, axis=0).T) for s in apart.sample.strokes]
    )
    assert steps.max() <= own.max() + 1  # no jump across the gap: as the writer's own steps
    owners = joined.point_digits[-1]
    assert list(owners) == sorted(owners) and set(owners) == {0, 1}
    assert len(whole) > sum(len(s) for s in apart.sample.strokes[-2:])  # the travel added


def test_a_cut_candidate_is_scored_by_the_cut_network() -> None:
    """Candidates that end at a pen lift are scored by one network, those that end at a cut
    by the other, less the prior: joins never change how numbers with pen lifts read."""
    n = len(FEATURES)
    x = np.zeros((3, n))
    x[1, CUT_ENDS] = 1.0
    x[2, CUT_ENDS] = 2.0
    lifted = ScoreNet.of(np.zeros(n), np.ones(n), np.zeros((n, 1)), [0.0], [0.0], 2.0)
    cut = ScoreNet.of(np.zeros(n), np.ones(n), np.zeros((n, 1)), [0.0], [0.0], -1.0)
    got = scores_of(x, lifted, cut, 3.0)
    expect_lifted = -np.logaddexp(0, -2.0)
    expect_cut = -np.logaddexp(0, 1.0) - 3.0
    np.testing.assert_allclose(got, [expect_lifted, expect_cut, expect_cut])


def test_every_candidate_is_the_single_digit_path(
    model: Any, writer_digits: dict[int, list[Sample]]
) -> None:
    """Each candidate marked exact is pixel-equal to its strokes rendered alone by ``render``
    and read by ``to_mnist``; the digits finally read always are."""
    number = _number(writer_digits, "4587", "overlap", seed=5)
    strokes = number.sample.strokes
    w, h, b = CANVAS.width, CANVAS.height, CANVAS.brush
    reader = NumberReader(model)
    units, found = reader.candidates(strokes, w, h, b)
    whole = [c for c in found if all(u.whole for u in units[c.first : c.last])]
    assert any(c.last - c.first > 1 for c in whole)
    checked = 0
    for c in whole:
        mine = sorted({units[k].stroke for k in range(c.first, c.last)})
        alone = to_mnist(render([strokes[s] for s in mine], w, h, b))
        _, pixels = make_units(strokes, w, h, b)
        crop, _ = render_units(units[c.first : c.last], strokes, pixels, w, h, b)
        np.testing.assert_array_equal(to_mnist(crop), alone)
        if c.exact:
            np.testing.assert_array_equal(c.image, alone)
            checked += 1
    assert checked >= sum(u.whole for u in units)  # every uncut stroke at least
    split = reader.split(strokes, w, h, b)
    final = reader.exact_images(split, split.digits)
    for image, own in zip(final, split.strokes_of):
        np.testing.assert_array_equal(image, to_mnist(render([strokes[s] for s in own], w, h, b)))


def test_a_scribble_is_not_read_as_digits(model: Any) -> None:
    """A candidate that is not a digit can lose: a wide zigzag is not read as five 1s."""
    zigzag = [[(0.1 + 0.04 * k, 0.3 if k % 2 else 0.7) for k in range(20)]]
    rec = Recognizer(model, 0.85)
    got = rec.read_number(zigzag, CANVAS.width, CANVAS.height, CANVAS.brush)
    assert not got or not all(rec.sure(d.reading.prediction) for d in got)


# ----------------------------------------------------------------------------- the app


@pytest.mark.parametrize(
    "size", [(480, 320), (800, 480), (1024, 600), (1280, 720), (720, 1280), (320, 480), (480, 800)]
)
def test_writing_strip_on_every_layout(size: tuple[int, int]) -> None:
    w, h = size
    L = lay.compute(w, h, wide_canvas=True)
    assert L.canvas.w >= w * 0.9 and L.canvas.w > L.canvas.h * 1.8  # a strip, screen-wide
    single = lay.compute(w, h)
    # Wider than the single-digit canvas in landscape; in portrait as wide, and a strip.
    assert L.canvas.w > single.canvas.w if w > h else L.canvas.w >= single.canvas.w
    rects = [L.canvas, L.digit, L.preview, L.bars, L.clear, L.undo, L.status]
    for r in rects:
        assert r.w > 0 and r.h > 0 and r.x >= 0 and r.y >= 0 and r.x + r.w <= w and r.y + r.h <= h
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            assert a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y


def test_app_boxes_each_digit_and_fits_not_sure(
    app_factory: Any, writer_digits: dict[int, list[Sample]]
) -> None:
    from mnist_edge.edge_app.app.replay import replay

    app = app_factory(size=(480, 320), multi=True, learn=False)
    app.recognizer.threshold = 0.9999  # every digit "not sure": the longest text there is
    number = _number(writer_digits, "40718", "normal")
    with open("/dev/null", "w") as sink:
        replay(app, [number.sample], headless=True, out=sink)
    assert len(app.state.digits) == 5
    for d in app.state.digits:
        left, top, right, bottom = d.box
        assert 0 <= left < right <= app.layout.canvas.w and 0 <= top < bottom <= app.layout.canvas.h
    r = app.layout.digit
    line = "Not sure of digit 1: 4 or 9, 2: 0 or 6, 3: 7 or 1, 4: 1 or 7, 5: 8 or 3"
    fitted = app.view.fit(line, app.view.font_small, r.w - 8)
    assert app.view.font_small.size(fitted)[0] <= r.w - 8 and fitted.endswith("…")
    app.draw(force=True)  # draws without error on the smallest screen


def test_headless_replay_of_a_numbers_file(
    tmp_path: Path, writer_digits: dict[int, list[Sample]]
) -> None:
    numbers = [_number(writer_digits, t, "normal", seed=i) for i, t in enumerate(["38", "705"])]
    path = tmp_path / "numbers.json"
    save_samples(path, [n.sample for n in numbers])
    r = run_cli(
        "draw",
        "--headless",
        "--multi",
        "--no-learn",
        "--replay",
        str(path),
        env={"MNIST_EDGE_MODELS": str(MODELS), "SDL_VIDEODRIVER": "dummy"},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert [x["label"] for x in lines] == ["38", "705"]
    assert [x["read"] for x in lines] == ["38", "705"]
    assert "read 2/2 correctly" in r.stderr and "numbers: " in r.stderr


def test_number_benchmark_per_length_and_spacing(
    tmp_path: Path, writer_digits: dict[int, list[Sample]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mnist_edge.benchmarks.numbers import score

    monkeypatch.setenv("MNIST_EDGE_MODELS", str(MODELS))
    numbers = [_number(writer_digits, "38", "overlap"), _number(writer_digits, "705", "wide")]
    assert [n.spacing for n in numbers] == ["touching", "apart"]
    path = tmp_path / "numbers.json"
    save_samples(path, [n.sample for n in numbers])
    report = score(str(path), str(MODELS / "edge-int8.tflite"))
    touching, apart = report.tally("2", "touching"), report.tally("3", "apart")
    assert (touching.samples, apart.samples) == (1, 1)
    assert touching.read == touching.ceiling == 1 and touching.components == 0  # ink touches
    assert apart.read == apart.ceiling == apart.components == 1
    table = report.markdown()
    assert "| 2 | touching | 1 | 100.0% | 100.0% | 0.0% |" in table and "| all | all | 2 |" in table


def _bars(*heights: float, height: int = 241) -> list[list[tuple[float, float]]]:
    """Vertical strokes of these heights in px on a canvas ``height`` tall, left to right."""
    return [
        [(0.1 * (n + 1), 0.1), (0.1 * (n + 1), 0.1 + h / (height - 1))]
        for n, h in enumerate(heights)
    ]


def test_a_number_written_small_is_drawn_with_a_thinner_brush() -> None:
    assert ink_brush(_bars(110, 112), 800, 241, 13) == 13  # usual size: the canvas' brush
    assert ink_brush(_bars(48, 50), 800, 241, 13) == 6  # an eighth of the writing height
    assert ink_brush(_bars(48, 20, 50), 800, 241, 13) == 6  # a short bar is not the height
    assert ink_brush([], 800, 241, 13) == 13


def test_the_brush_holds_while_a_stroke_nudges_the_height_across_a_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 92 px asks for 11.5 -> 12; two strokes of 86 px move the height to 86 px, 10.75 -> 11,
    # a rounding step that redrew (and read again) every digit before them. It holds, as the
    # whole chain computed again from the strokes alone says (a replay or an undo agrees).
    nudged = _bars(92, 86, 86)
    assert ink_brush(_bars(92), 800, 241, 13) == 12
    assert ink_brush(nudged, 800, 241, 13) == 12
    assert ink_brush(nudged[:2], 800, 241, 13) == 12
    # Writing that asks for the canvas' brush gets it, and keeps it while it stays near.
    assert ink_brush(_bars(92, 104, 104), 800, 241, 13) == 13
    assert ink_brush(_bars(92, 104, 104, 96, 96), 800, 241, 13) == 13
    # Writing that shrinks well past the hold gets its thinner brush.
    assert ink_brush(_bars(92, 62, 62, 62), 800, 241, 13) == 8
    # After the first four strokes the brush is kept: a late stroke never redraws (and reads
    # again) every digit before it.
    assert ink_brush(_bars(62, 62, 62, 62, 104, 104, 104, 104, 104), 800, 241, 13) == 8
    assert ink_brush(_bars(104, 104, 104, 104, 48, 48, 48, 48, 48), 800, 241, 13) == 13
    # Without the hold the nudge changes the brush: the case above is the one it mends.
    monkeypatch.setattr(number_render, "BRUSH_HOLD", 1e-9)
    assert ink_brush(nudged, 800, 241, 13) == 11
