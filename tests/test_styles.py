"""Writing styles synthesised from real drawn digits (ink/styles.py): each edit does what its
name says, stays a valid replay sample the one preprocessing path reads, and is seeded."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from mnist_edge.ink.preprocess import strokes_to_digit
from mnist_edge.ink.stroke_writer import StrokeWriter
from mnist_edge.ink.strokes import Sample, load_samples
from mnist_edge.ink.styles import STYLES, random_style, styles_for, stylise
from tests.conftest import DRAWN

PER_DIGIT = 12


@pytest.fixture(scope="module")
def real() -> dict[int, list[Sample]]:
    """The first real drawn samples of each digit (several writers)."""
    by_digit: dict[int, list[Sample]] = {d: [] for d in range(10)}
    for sample in load_samples(DRAWN / "unipen-train.json")[:600]:
        if isinstance(sample.label, int) and len(by_digit[sample.label]) < PER_DIGIT:
            by_digit[sample.label].append(sample)
    return by_digit


def made(real: dict[int, list[Sample]], style: str, seed: int = 0) -> list[tuple[Sample, Sample]]:
    """(base, styled) pairs of ``style`` on the real digits it applies to."""
    rng = np.random.default_rng(seed)
    pairs = []
    for digit in STYLES[style].digits:
        for base in real[digit]:
            out = stylise(base, style, rng)
            if out is not None:
                pairs.append((base, out))
    return pairs


def arrays(sample: Sample) -> list[np.ndarray]:
    return [np.asarray(s, np.float64) for s in sample.strokes]


@pytest.mark.parametrize("style", list(STYLES))
def test_every_style_is_a_replay_sample_the_app_reads(
    real: dict[int, list[Sample]], style: str, tmp_path: Path
) -> None:
    pairs = made(real, style)
    assert len(pairs) >= PER_DIGIT // 2, "the style fits most real digits"
    path = tmp_path / "styled.json"
    writer = StrokeWriter.open(path, "--collect")
    try:
        for _, out in pairs:
            writer.append(out)
    finally:
        writer.close()
    back = load_samples(path)
    assert [s.label for s in back] == [b.label for b, _ in pairs]
    assert [s.writer for s in back] == [b.writer for b, _ in pairs]
    for (base, out), again in zip(pairs, back, strict=True):
        points = np.concatenate(arrays(out))
        assert points.min() >= 0 and points.max() <= 1, "inside the canvas: the app keeps it"
        assert len(again.strokes) == len(out.strokes)
        digit = strokes_to_digit(again.strokes, 456, 456)
        assert digit.shape == (28, 28) and digit.max() > 200
        assert not np.array_equal(digit, strokes_to_digit(base.strokes, 456, 456))


@pytest.mark.parametrize("style", list(STYLES))
def test_seeded(real: dict[int, list[Sample]], style: str) -> None:
    one, two = made(real, style, seed=3), made(real, style, seed=3)
    assert [o.strokes for _, o in one] == [o.strokes for _, o in two]
    other = made(real, style, seed=4)
    assert [o.strokes for _, o in one] != [o.strokes for _, o in other]


def test_a_style_never_applies_to_another_digit(real: dict[int, list[Sample]]) -> None:
    rng = np.random.default_rng(0)
    assert stylise(real[3][0], "one-lead-in", rng) is None
    assert styles_for(3) == [] and "one-lead-in" in styles_for(1)
    name, out = random_style(real[3][0], rng) or ("", None)
    assert name in ("slant", "backslant") and out is not None and out.label == 3


def test_lead_in_one_starts_lower_left_of_its_stem_top(real: dict[int, list[Sample]]) -> None:
    for base, out in made(real, "one-lead-in"):
        first = arrays(out)[0]
        top = first[int(np.argmin(first[:, 1]))]
        height = np.ptp(np.concatenate(arrays(out))[:, 1])
        assert first[0][0] < top[0] - 0.1 * height, "starts left of the top"
        assert first[0][1] > top[1] + 0.1 * height, "starts below the top"
        assert int(np.argmin(first[:, 1])) > 0, "goes up to the top, then down the stem"
        assert len(out.strokes) == len(base.strokes)


def test_foot_is_a_flat_stroke_at_the_bottom(real: dict[int, list[Sample]]) -> None:
    for base, out in made(real, "one-lead-in-foot"):
        foot = arrays(out)[-1]
        ink = np.concatenate(arrays(out))
        dx, dy = np.ptp(foot, axis=0)
        assert len(out.strokes) == len(base.strokes) + 1
        assert dy < 0.3 * dx and foot[:, 1].mean() > ink[:, 1].min() + 0.8 * np.ptp(ink[:, 1])


def test_crossed_seven_has_a_flat_stroke_across_its_stem(real: dict[int, list[Sample]]) -> None:
    for base, out in made(real, "seven-crossed"):
        *seven, bar = arrays(out)
        assert len(out.strokes) == len(base.strokes) + 1
        dx, dy = np.ptp(bar, axis=0)
        assert dy < 0.3 * dx, "roughly horizontal"
        y = bar[:, 1].mean()
        ink = np.concatenate(seven)
        assert ink[:, 1].min() + 0.3 * np.ptp(ink[:, 1]) < y, "below the 7's top bar"
        crossings = [
            a[0] + (y - a[1]) / (b[1] - a[1]) * (b[0] - a[0])
            for stroke in seven
            for a, b in itertools.pairwise(stroke)
            if min(a[1], b[1]) <= y < max(a[1], b[1])
        ]
        assert any(bar[:, 0].min() < x < bar[:, 0].max() for x in crossings), "across the stem"


def _turning(points: np.ndarray) -> float:
    steps = np.diff(points, axis=0)
    steps = steps[np.linalg.norm(steps, axis=1) > 1e-9]
    angles = np.arctan2(steps[:, 1], steps[:, 0])
    return float(np.abs(np.sum(np.angle(np.exp(1j * np.diff(angles))))))


def test_looped_two_starts_with_a_full_turn(real: dict[int, list[Sample]]) -> None:
    for base, out in made(real, "two-loop"):
        added = len(out.strokes[0]) - len(base.strokes[0])
        assert added > 8
        assert _turning(arrays(out)[0][: added + 1]) > 1.5 * np.pi


@pytest.mark.parametrize("count", [1, 2, 3])
def test_open_four_in_its_strokes_never_closes_at_the_top(
    real: dict[int, list[Sample]], count: int
) -> None:
    for _, out in made(real, f"four-open-{count}"):
        assert len(out.strokes) == count
        ink = np.concatenate(arrays(out))
        height = np.ptp(ink[:, 1])
        arm_top = arrays(out)[0][0]  # every variant starts at the top of the left arm
        stem_top = ink[np.argmin(ink[:, 1])] if count == 1 else arrays(out)[-1 if count == 2 else 1]
        stem_top = np.asarray(stem_top).reshape(-1, 2)
        stem_top = stem_top[np.argmin(stem_top[:, 1])]
        assert np.linalg.norm(arm_top - stem_top) > 0.25 * height, "open at the top"


def test_straight_nine_has_a_straight_stem(real: dict[int, list[Sample]]) -> None:
    for _, out in made(real, "nine-straight"):
        stroke = arrays(out)[0]
        low = int(np.argmax(stroke[:, 1]))
        start = low
        while start > 0 and stroke[start - 1, 1] < stroke[start, 1]:
            start -= 1
        stem = stroke[start : low + 1]
        a, b = stem[0], stem[-1]
        d = (b - a) / np.linalg.norm(b - a)
        off = np.abs((stem - a) @ np.array([-d[1], d[0]]))
        assert off.max() < 1e-6 and np.ptp(stem[:, 1]) > 0.3 * np.ptp(stroke[:, 1])


def test_open_nine_has_less_loop(real: dict[int, list[Sample]]) -> None:
    for base, out in made(real, "nine-open"):
        length = sum(np.linalg.norm(np.diff(s, axis=0), axis=1).sum() for s in arrays(out))
        before = sum(np.linalg.norm(np.diff(s, axis=0), axis=1).sum() for s in arrays(base))
        assert length < 0.97 * before  # in the base's units: the refit only ever shrinks
        loop, stem = arrays(out)[0], arrays(out)[1]
        height = np.ptp(np.concatenate(arrays(out))[:, 1])
        assert np.linalg.norm(loop[-1] - stem[0]) > 0.05 * height, "a gap before the stem"


def test_slashed_zero_crosses_its_box(real: dict[int, list[Sample]]) -> None:
    for base, out in made(real, "zero-slashed"):
        *ring, slash = arrays(out)
        box = np.ptp(np.concatenate(ring), axis=0)
        span = np.abs(slash[-1] - slash[0])
        assert len(out.strokes) == len(base.strokes) + 1
        assert (span > 0.8 * box).all(), "corner to corner"


@pytest.mark.parametrize(("style", "sign"), [("slant", 1), ("backslant", -1)])
def test_slant_leans_the_way_its_name_says(
    real: dict[int, list[Sample]], style: str, sign: int
) -> None:
    for base, out in made(real, style)[:20]:

        def lean(sample: Sample) -> float:
            ink = np.concatenate(arrays(sample))
            return float(np.polyfit(ink[:, 1], ink[:, 0], 1)[0])  # dx per dy, y down

        assert sign * (lean(base) - lean(out)) > 0.2


def _twenty_uji_digits(path: Path) -> Path:
    """Twenty real digits of few writers: some styles find no digit of theirs to apply to."""
    from mnist_edge.ink.strokes import save_samples

    save_samples(path, load_samples(DRAWN / "uji-train.json")[:20])
    return path


def test_style_set_with_empty_styles_notes_them_and_reports_a_dash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import warnings

    from mnist_edge.train.style_set import main
    from tests.conftest import MODELS

    drawn, out = _twenty_uji_digits(tmp_path / "s20.json"), tmp_path / "set"
    assert main(["write", str(out), "--drawn", str(drawn)]) == 0
    printed = capsys.readouterr()
    empty = [n for n in STYLES if f"{n}: 0 digits" in printed.out.splitlines()]
    assert empty and len(empty) < len(STYLES)  # some styles took no digit, others did
    (note,) = printed.err.strip().splitlines()
    assert note.startswith("mnist-edge: note:") and all(n in note for n in empty)
    figures = tmp_path / "report.json"
    report = ["report", str(out), "--image", str(MODELS / "edge-int8.tflite"), "--tta", "1"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Mean of empty slice"
        assert main([*report, "--out", str(figures)]) == 0
    printed = capsys.readouterr()
    assert "nan" not in printed.out and not printed.err
    assert f"| {empty[0]} | 0 | - (-) / - / - |" in printed.out
    (rows,) = json.loads(figures.read_text()).values()  # strict JSON: null, never NaN
    assert rows[empty[0]]["image"] is None and rows[empty[0]]["base_image"] is None


def test_style_set_where_no_style_applies_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Digits too small for any style (3 points): one line, exit 2, no folder written."""
    from mnist_edge.ink.strokes import save_samples
    from mnist_edge.train.style_set import main

    dots = [
        Sample([[(0.4, 0.4), (0.5, 0.5), (0.6, 0.6)]], digit, f"site/w{w}")
        for w in range(20)
        for digit in range(10)
    ]
    save_samples(tmp_path / "dots.json", dots)
    out = tmp_path / "set"
    assert main(["write", str(out), "--drawn", str(tmp_path / "dots.json")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no style applies" in line and not out.exists()
