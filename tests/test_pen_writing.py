"""The fitted fusion measured per writing style and per writing size (train/pen_writing.py),
its place in the measurement record, and the model card's tables drawn from that record."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from mnist_edge.core.pen_record import PenCalibration
from mnist_edge.ink.styles import STYLES
from mnist_edge.pipeline.report import pen_lines, writing_tables
from mnist_edge.train.pen_writing import Readers, measure_sizes, measure_styles, writing_height
from mnist_edge.train.style_set import main as styles_main
from tests.conftest import MODELS, compose_numbers_file
from tests.test_styles_train import small_file  # noqa: F401  (a fixture)


@pytest.fixture(scope="module")
def readers() -> Readers:
    fusion = json.loads((MODELS / "manifest.json").read_text())["pen"]["calibration"]["fusion"]
    return Readers.of(str(MODELS / "edge-int8.tflite"), str(MODELS / "pen-int8.tflite"), 1, fusion)


def test_sizes_are_measured_per_file_and_length(readers: Readers, tmp_path: Path) -> None:
    files = []
    for share in ("0.25", "0.7"):
        path = tmp_path / f"h{share}.json"
        compose_numbers_file(path, 6, "--lengths", "2,6", "--height", share)
        files.append(str(path))
    sizes = measure_sizes(readers, files)
    assert [s["file"] for s in sizes] == ["h0.25.json", "h0.7.json"]
    small, large = sizes
    # The height is measured from the ink (each digit's own strokes), not taken from the name.
    assert 0.18 < small["height"] < 0.32 and 0.55 < large["height"] < 0.8
    for s in sizes:
        assert s["numbers"] == 6 and set(s["by_length"]) == {"2", "6"}
        assert all(r["numbers"] == 3 for r in s["by_length"].values())
        for key in ("today", "fused"):
            assert 0 <= s[f"{key}_exactly_and_sure"] <= s[f"{key}_read_exactly"] <= 1
    assert large["fused_read_exactly"] >= 4 / 6  # real digits of held-out writers read well
    record = PenCalibration.from_json({"fusion": {"weight": 0.2}, "sizes": sizes})
    assert record is not None and [f.label for f in record.sizes] == ["h0.25.json", "h0.7.json"]
    assert [n.label for n in record.sizes[0].by_length] == ["2", "6"]


def test_styles_are_measured_per_style(
    readers: Readers,
    small_file: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    folder = tmp_path / "set"
    assert styles_main(["write", str(folder), "--drawn", str(small_file), "--per-writer", "1"]) == 0
    styles = measure_styles(readers, str(folder))
    assert list(styles) == list(STYLES)
    for row in styles.values():
        assert row["digits"] >= 1 and row["writers"] >= 1
        assert all(0 <= row[k] <= 1 for k in ("today", "today_unstyled", "fused"))
    assert sum(r["today_unstyled"] for r in styles.values()) / len(styles) > 0.8
    # A style no digit took (an empty file) is None, shown "-": never numpy's NaN warning.
    first = next(iter(STYLES))
    for part in (folder / f"{first}.json", folder / "base" / f"{first}.json"):
        part.write_text('{"format": "mnist-edge-strokes/1", "samples": []}')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = measure_styles(readers, str(folder))[first]
    assert (empty["digits"], empty["today"], empty["today_unstyled"], empty["fused"]) == (
        0, None, None, None,
    )  # fmt: skip


def test_the_card_shows_styles_and_sizes_from_the_record() -> None:
    raw = {
        "fusion": {"weight": 0.2, "temperature": 1.2, "threshold": 0.93},
        "styles": {
            "one-lead-in": {
                "digits": 130,
                "writers": 13,
                "today": 0.9846,
                "today_unstyled": 0.9923,
                "fused": 0.9923,
            },
            "broken": "not a record",
        },
        "sizes": [
            {
                "file": "h0.2.json",
                "height": 0.2,
                "numbers": 160,
                "today_read_exactly": 0.9,
                "today_exactly_and_sure": 0.8,
                "fused_read_exactly": 0.95,
                "fused_exactly_and_sure": 0.9,
                "by_length": {"9": {"numbers": 20, "fused_read_exactly": 0.85}},
            },
            {"file": "h0.9.json", "height": 0.9, "numbers": 160, "fused_read_exactly": 1.5},
        ],
    }
    record = PenCalibration.from_json(raw)
    assert record is not None and [f.style for f in record.styles] == ["one-lead-in"]
    assert record.sizes[1].fused_read_exactly is None  # out of range: dropped, no crash
    text = "\n".join(writing_tables(record))
    assert "| one-lead-in | 130 | 99.2% | 98.5% | 99.2% |" in text
    assert "| 20% | 160 | 90.0% / 80.0% | 95.0% / 90.0% |" in text
    assert "| 9 | 85.0% | - |" in text
    assert writing_tables(PenCalibration.from_json({"fusion": {}})) == []
    section = "\n".join(pen_lines({"models": [], "calibration": raw}))
    assert "Writing styles" in section and "Writing sizes" in section


def test_writing_height_of_a_number_is_its_digits_median() -> None:
    from mnist_edge.ink.strokes import Sample

    tall = [[(0.1, 0.2), (0.1, 0.8)]]
    short = [[(0.3, 0.5), (0.3, 0.7)]]
    sample = Sample(tall + short + tall, label="111", stroke_digits=[0, 1, 2])
    assert writing_height(sample) == pytest.approx(0.6)
    assert writing_height(Sample(tall + short)) == pytest.approx(0.6)  # no owners: the ink
