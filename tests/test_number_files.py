"""Number files where drawn files are read: the counting of "digits right" and "length right",
and ``bench --drawn-eval`` reading a file of numbers (and of numbers and digits) per model row
as the app reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnist_edge.benchmarks.number_figures import NumberFigures, digits_right
from mnist_edge.benchmarks.report_numbers import numbers_section, numbers_table
from mnist_edge.benchmarks.results import Result
from mnist_edge.ink.compose import strip_canvas
from mnist_edge.ink.strokes import load_samples, save_samples
from tests.conftest import DRAWN, MODELS, compose_numbers_file, run_cli


@pytest.mark.parametrize(
    ("label", "read", "right"),
    [
        ("4071", "4071", 4),  # right
        ("4071", "4971", 3),  # one digit wrong
        ("4071", "071", 3),  # one missing: the others still count
        ("4071", "40071", 3),  # one extra costs one
        ("4071", "1704", 0),  # same length: position by position
        ("52", "522", 1),
        ("123", "", 0),
        ("12", "99999", 0),  # never below zero
    ],
)
def test_digits_right(label: str, read: str, right: int) -> None:
    assert digits_right(label, read) == right


def test_figures_count_and_share() -> None:
    f = NumberFigures()
    f.add_reading("4071", "4071", True, True)
    f.add_reading("52", "522", True, True)
    f.add_reading("38", "36", False, False)
    assert (f.numbers, f.read, f.sure, f.digits, f.length_right, f.ceiling) == (3, 1, 1, 8, 2, 2)
    assert f.digits_right == 4 + 1 + 1 and f.share("digits_right") == pytest.approx(6 / 8)
    assert f.share("read") == pytest.approx(1 / 3) and NumberFigures().share("read") is None
    again = NumberFigures.from_json(json.loads(json.dumps(f.to_json())))
    assert again == f
    assert NumberFigures.from_json({"read": "x", "numbers": -1, "junk": 3}) == NumberFigures()


def test_no_number_rows_no_section() -> None:
    row = Result("m.tflite", "tflite-int8", "litert", status="ok")
    assert numbers_table([row]) == "" and numbers_section([row]) == ""


@pytest.fixture(scope="module")
def numbers_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("numbers") / "numbers.json"
    compose_numbers_file(path, 12)
    return path


def _bench(tmp_path: Path, drawn: Path) -> tuple[dict, str, str]:
    out = tmp_path / "bench"
    result = run_cli(
        "bench",
        "--models",
        str(MODELS / "edge-int8.tflite"),
        "--runtimes",
        "litert",
        "--drawn-eval",
        str(drawn),
        "--limit",
        "100",
        "--no-robust",
        "--no-cold-start",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return (
        json.loads((out / "results.json").read_text()),
        (out / "results.md").read_text(),
        result.stdout,
    )


def test_bench_reads_a_file_of_numbers(tmp_path: Path, numbers_file: Path) -> None:
    data, md, stdout = _bench(tmp_path, numbers_file)
    row = Result.from_json(data["results"][0])
    figures = row.number_figures()["numbers.json"]
    assert figures.numbers == 12
    assert figures.digits == sum(len(str(s.label)) for s in load_samples(numbers_file))
    assert 0 < figures.read <= figures.length_right <= 12 and figures.ceiling >= 10
    assert figures.digits_right >= figures.read
    assert sum(b.numbers for b in figures.by_spacing.values()) == 12
    assert sum(b.numbers for b in figures.by_length.values()) == 12
    assert "| spacing: " in md and " digits |" in md
    assert row.drawn == {}  # no single digits: no digit row for this file
    assert "## Numbers" in md and "| tflite-int8 | litert | numbers.json | 12 |" in md
    assert "read as 'draw --multi' reads them" in stdout


def test_bench_scores_digits_and_numbers_of_one_file(tmp_path: Path, numbers_file: Path) -> None:
    digits = [s for s in load_samples(DRAWN / "unipen-train.json")[:30]]
    mixed = tmp_path / "mixed.json"
    save_samples(mixed, [*digits, *load_samples(numbers_file)[:5]])
    data, _, _ = _bench(tmp_path, mixed)
    row = Result.from_json(data["results"][0])
    assert set(row.drawn) == {"mixed.json"} and row.drawn["mixed.json"] >= 0.8
    assert row.number_figures()["mixed.json"].numbers == 5


def test_the_report_and_card_show_measured_numbers_only() -> None:
    from mnist_edge.pipeline.report import number_lines

    row = Result("edge-int8.tflite", "tflite-int8", "litert", status="ok")
    unmeasured = "\n".join(number_lines([row]))
    assert "not measured" in unmeasured and "%" not in unmeasured
    figures = NumberFigures()
    figures.add_reading("4071", "4071", True, True)
    figures.add_reading("52", "522", True, True)
    row.numbers = {"heldout.json": figures.to_json()}
    measured = "\n".join(number_lines([row]))
    assert (
        "| tflite-int8 | litert | heldout.json | 2 | 50.0 | 83.3 | 50.0 | 100.0 | 50.0 |"
        in measured
    )


def test_figures_per_spacing_and_length_round_trip_and_show() -> None:
    from mnist_edge.benchmarks.report_numbers import breakdown_table

    f = NumberFigures()
    f.add_number("4071", "4071", True, True, "touching")
    f.add_number("52", "522", True, True, "apart")
    f.add_number("38", "38", True, True, "apart")
    assert f.numbers == 3 and f.by_spacing["apart"].numbers == 2
    assert f.by_spacing["touching"].read == 1 and f.by_length["2"].read == 1
    assert NumberFigures.from_json(json.loads(json.dumps(f.to_json()))) == f
    assert NumberFigures.from_json({"by_spacing": {"apart": "x"}}).by_spacing["apart"].numbers == 0
    row = Result("edge-int8.tflite", "tflite-int8", "litert", status="ok")
    row.numbers = {"n.json": f.to_json()}
    table = breakdown_table([row])
    assert "| spacing: apart | 2 | 50.0 |" in table and "| 4 digits | 1 | 100.0 |" in table
    assert table.index("spacing: apart") < table.index("spacing: touching")


def test_the_pipeline_replays_the_digits_of_a_mixed_file(
    tmp_path: Path, numbers_file: Path
) -> None:
    """A --drawn-eval file of digits and numbers: its digits replay through the app (the
    single-digit replay refuses numbers), a file of numbers alone is left to the bench."""
    import shutil

    from mnist_edge.pipeline.config import PipelineConfig
    from mnist_edge.pipeline.run import replay_stage

    mixed = tmp_path / "mixed.json"
    save_samples(
        mixed, [*load_samples(DRAWN / "unipen-train.json")[:20], *load_samples(numbers_file)[:3]]
    )
    out = tmp_path / "run"
    (out / "export").mkdir(parents=True)
    for path in [*MODELS.glob("edge-*"), *MODELS.glob("pen-*"), MODELS / "manifest.json"]:
        shutil.copy(path, out / "export" / path.name)
    config = PipelineConfig(out=str(out), drawn_eval=(str(mixed), str(numbers_file)))
    timings: dict[str, float] = {}
    replays = replay_stage(config, timings)
    assert set(replays) == {"mixed.json"} and replays["mixed.json"]["accuracy"] >= 0.8
    assert len(load_samples(out / "bench" / "mixed-digits.json")) == 20


def test_composed_joins_are_written_without_stroke_digits(tmp_path: Path) -> None:
    """``compose --join``: a number whose stroke runs through two digits says no digit per
    stroke (a file cannot); numbers with pen lifts keep theirs; a share outside 0-1 is refused."""
    path = tmp_path / "joined.json"
    compose_numbers_file(path, 8, "--join", "1")
    samples = load_samples(path)
    assert len(samples) == 8 and all(isinstance(s.label, str) for s in samples)
    # Every pair joined: a number is one stroke (plus late bars), and says no digit per stroke.
    assert all(s.stroke_digits is None for s in samples if len(s.strokes) < len(str(s.label)))
    assert any(s.stroke_digits is None for s in samples)
    bad = run_cli(
        "numbers",
        "compose",
        str(tmp_path / "x.json"),
        "--join",
        "2",
        "--drawn",
        str(DRAWN / "unipen-train.json"),
    )
    assert bad.returncode == 2 and "--join must be a number from 0 to 1" in bad.stderr
    assert not (tmp_path / "x.json").exists()


def test_compose_lengths_and_writing_height(tmp_path: Path) -> None:
    """``numbers compose --lengths --height``: the per-size and per-length measurements' files."""
    extents = {}
    for share in ("0.2", "0.8"):
        path = tmp_path / f"h{share}.json"
        compose_numbers_file(path, 12, "--lengths", "2,7,9", "--height", share)
        samples = load_samples(path)
        assert [len(str(s.label)) for s in samples] == [2, 7, 9] * 4
        # the strip it was laid out on travels with it (replayed elsewhere: its shape kept)
        strip = strip_canvas()
        assert {s.canvas for s in samples} == {(strip.width, strip.height)}
        extents[share] = sorted(
            max(y for st in s.strokes for _, y in st) - min(y for st in s.strokes for _, y in st)
            for s in samples
        )[6]
    # Strokes are canvas-normalised: the ink's height is the share asked for (with the
    # writer's jitter), and a 9-digit number at 0.8 is narrowed to fit the strip.
    assert 0.12 < extents["0.2"] < 0.3 and extents["0.8"] > 2 * extents["0.2"]


def test_a_replay_the_app_refuses_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """The pipeline's and bench's replay through the app: the app's own reason, as a UserError."""
    from mnist_edge.benchmarks.drawn import replay_accuracy
    from mnist_edge.core.errors import UserError

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}')
    with pytest.raises(UserError, match=r"replaying .*bad\.json through the app failed: .*format"):
        replay_accuracy(MODELS, bad)
