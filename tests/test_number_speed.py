"""The number-reading timing record and its Pi estimate: the record round-trips, a bad record
is one clear error, the estimate is the stated arithmetic, and a real timing run on a small
composed file fills every field (no figure is checked: numbers come from benchmarks)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mnist_edge.benchmarks.estimate import REFERENCE, TARGETS, number_table
from mnist_edge.benchmarks.number_speed import NumberSpeed, Percentiles
from mnist_edge.core.errors import UserError
from tests.conftest import DRAWN, MODELS, assert_user_error, compose_numbers_file, run_cli


def _speed(**kw: object) -> NumberSpeed:
    fields: dict[str, object] = dict(
        model="edge-int8.tflite",
        format="tflite-int8",
        runtime="litert",
        tta=5,
        numbers=60,
        cold=Percentiles(8.0, 20.0),
        cold_model=Percentiles(2.0, 4.0),
        last=Percentiles(3.0, 6.0),
        last_model=Percentiles(1.0, 2.0),
        frames=Percentiles(2.0, 8.0),
        frame_count=3000,
    )
    fields.update(kw)
    return NumberSpeed(**fields)  # type: ignore[arg-type]


def test_the_record_round_trips_through_json() -> None:
    speed = _speed()
    assert NumberSpeed.from_json(json.loads(json.dumps(speed.to_json()))) == speed


@pytest.mark.parametrize(
    "broken",
    [{}, {"cold": None}, {"cold": {"p50": "x", "p99": 1}}, {"frames": {"p50": 1.0}}],
)
def test_a_broken_record_is_one_clear_error(broken: dict[str, object]) -> None:
    data = {**_speed().to_json(), **broken} if broken else {"model": "m"}
    with pytest.raises(UserError, match="not a number speed record"):
        NumberSpeed.from_json(data)


def test_the_pi_estimate_scales_model_calls_and_the_rest_apart() -> None:
    text = number_table(_speed())
    pi4 = TARGETS[0]
    ratio = REFERENCE.peak("int8") / pi4.peak("int8")
    # after the last stroke: 1 ms of model calls, 2 ms of the rest; p99 all at scalar speed
    expected = 1.0 * ratio + 2.0 / pi4.scalar_vs_reference
    row = next(line for line in text.splitlines() if line.startswith("| read after"))
    assert f"~{expected:.0f} / ~{6.0 / pi4.scalar_vs_reference:.0f}" in row
    fp32 = number_table(_speed(format="tflite-fp16"))  # fp16 computes in fp32 there
    fp32_ratio = REFERENCE.peak("fp32") / pi4.peak("fp32")
    row = next(line for line in fp32.splitlines() if line.startswith("| cold read"))
    assert f"~{2.0 * fp32_ratio + 6.0 / pi4.scalar_vs_reference:.0f} /" in row


def test_estimate_names_a_bad_numbers_file(tmp_path: Path) -> None:
    bad = tmp_path / "speed.json"
    bad.write_text('{"model": 1}')
    result = run_cli("estimate", "--numbers", str(bad))
    assert_user_error(result, "not a number speed record")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody writes: reading it would wait for ever
    result = run_cli("estimate", "--numbers", str(fifo), timeout=60)
    assert_user_error(result, "FIFO")
    assert_user_error(
        run_cli("estimate", "--numbers", "/dev/zero", timeout=60),
        "--numbers",
    )


def test_a_real_timing_run_fills_the_record(tmp_path: Path) -> None:
    numbers = tmp_path / "numbers.json"
    compose_numbers_file(numbers, 8)
    out = tmp_path / "speed.json"
    result = run_cli(
        "numbers",
        "speed",
        str(numbers),
        "--count",
        "2",
        "--repeats",
        "2",
        "--model",
        str(MODELS / "edge-int8.tflite"),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    speed = NumberSpeed.from_json(json.loads(out.read_text()))
    assert speed.numbers == 2 and speed.tta == 5 and speed.format == "tflite-int8"
    assert speed.repeats == 2 and "least of 2 reads" in result.stdout
    assert 0 < speed.last_model.p50 <= speed.last.p50 and speed.frame_count > 10
    assert "after its last stroke" in result.stdout
    estimate = run_cli("estimate", "--numbers", str(out))
    assert estimate.returncode == 0 and "Raspberry Pi 4 estimate" in estimate.stdout


def test_a_bad_out_is_refused_before_measuring(tmp_path: Path) -> None:
    result = run_cli("numbers", "speed", str(DRAWN / "unipen-train.json"), "--out", str(tmp_path))
    assert_user_error(result, "--out", "folder")
    assert "reading a 5-digit" not in result.stdout


def test_a_file_without_five_digit_numbers_is_refused(tmp_path: Path) -> None:
    from mnist_edge.ink.strokes import Sample, save_samples

    path = tmp_path / "short.json"
    save_samples(path, [Sample([[(0.1, 0.1), (0.2, 0.9)], [(0.5, 0.2), (0.6, 0.8)]], "12")])
    result = run_cli("numbers", "speed", str(path))
    assert_user_error(result, "no 5-digit numbers")
