"""``bench --pen``: the shipped pen models measured alone and fused, on real drawn digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnist_edge.benchmarks import pen as bench_pen
from mnist_edge.benchmarks import report_pen, runner
from mnist_edge.benchmarks.config import BenchConfig
from mnist_edge.core.errors import UserError
from tests.conftest import DRAWN, MODELS, QUICK_BENCH, ROOT, assert_user_error, run_cli

QUICK = {"warmup": 2, "min_runs": 200, "min_time": 0.0}
PENS = ("pen-int8.tflite", "pen-int8.onnx")


@pytest.fixture(scope="module")
def drawn_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 digits of unipen-dev.json (a yardstick: figures only, nothing chosen)."""
    document = json.loads((DRAWN / "unipen-dev.json").read_text())
    document["samples"] = document["samples"][:60]
    path = tmp_path_factory.mktemp("drawn") / "dev60.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture(scope="module")
def rows(drawn_file: Path) -> dict[str, bench_pen.PenResult]:
    config = BenchConfig(
        drawn_eval=(str(drawn_file),),
        pen=tuple(str(MODELS / p) for p in PENS),
        runtimes=("litert", "onnxruntime"),
        **QUICK,
    )
    results = runner.measure_all(config, bench_pen.discover(config.pen), digits=False).pen
    skipped = {(r.model, r.runtime): r.reason for r in results if not r.ok}
    assert skipped == {  # asked for explicitly: each runtime that cannot run a file says why
        ("pen-int8.tflite", "onnxruntime"): "onnxruntime cannot run .tflite models",
        ("pen-int8.onnx", "litert"): "litert cannot run .onnx models",
    }
    return {r.model: r for r in results if r.ok}


def _app_read(drawn_file: Path, runtime: str, *extra: str) -> list[tuple[int, int]]:
    """(label, digit) per sample, from the app itself: ``draw --headless --replay``."""
    r = run_cli(
        "draw", "--headless", "--replay", str(drawn_file), "--no-learn", "--tta", "5",
        "--runtime", runtime, *extra,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    return [(line["label"], line["digit"]) for line in lines]


def test_rows_are_real_figures(rows: dict[str, bench_pen.PenResult], drawn_file: Path) -> None:
    from mnist_edge.benchmarks.pen import app_strokes
    from mnist_edge.edge_app.pen.features import features, load_pen_model
    from mnist_edge.ink.strokes import load_samples

    samples = load_samples(drawn_file)
    labels = np.array([s.label for s in samples])
    x = np.stack([features(app_strokes(s.strokes)) for s in samples])  # none is blank here
    assert set(rows) == set(PENS)
    for name, runtime in zip(PENS, ("litert", "onnxruntime"), strict=True):
        row = rows[name]
        assert row.ok and row.runtime == runtime and row.threads == 1, row
        figures = row.drawn["dev60.json"]
        expected = load_pen_model(MODELS / name, runtime).run(x).probabilities.argmax(1) == labels
        assert figures.samples == 60
        assert figures.pen == pytest.approx(expected.mean())
        assert 0.9 <= figures.pen <= 1 and 0.9 <= figures.fused <= 1
        assert row.bytes == (MODELS / name).stat().st_size
        fusion = load_pen_model(MODELS / name, runtime).description["fusion"]
        assert (row.weight, row.temperature, row.threshold) == (
            fusion["weight"],
            fusion["temperature"],
            fusion["threshold"],
        )  # its metadata: the calibration the manifest records
        assert row.tta == 5
        timed = (row.latency_us, row.invoke_us, row.features_us)
        for stats in (*timed, row.image_reading_us, row.fused_reading_us):
            assert stats["runs"] >= 200 and 0 < stats["p50"] <= stats["p99"]
        assert row.latency_us["p50"] > row.features_us["p50"] * 0.5  # features + the model call
        assert row.fused_reading_us["p50"] > row.image_reading_us["p50"] * 0.8


def test_image_and_fused_readings_are_the_apps(
    rows: dict[str, bench_pen.PenResult], drawn_file: Path
) -> None:
    """The image model the app loads on the runtime, read as the app reads, alone
    (``--no-pen``), with ``--pen`` and by default (the shipped pen file for the runtime, this
    one): the same share right as the app's own replay prints."""
    from mnist_edge.core.fsutil import sha256_file
    from mnist_edge.core.registry import FORMATS

    row = rows["pen-int8.tflite"]
    manifest = json.loads((MODELS / "manifest.json").read_text())
    assert manifest["recommended"]["runtime"] == "litert"
    assert row.image_model == FORMATS[manifest["recommended"]["format"]].filename("edge")
    fitted = manifest["pen"]["calibration"]["fusion"]["image_model_sha256"]
    assert row.fitted_for_image_model is (sha256_file(MODELS / row.image_model) == fitted)
    for extra, got in (
        (["--no-pen"], row.drawn["dev60.json"].image),
        (["--pen", str(MODELS / row.model)], row.drawn["dev60.json"].fused),
        ([], row.drawn["dev60.json"].fused),  # the pen is the default where strokes exist
    ):
        read = _app_read(drawn_file, "litert", *extra)
        assert len(read) == 60
        assert got == pytest.approx(np.mean([label == digit for label, digit in read]))
    assert rows["pen-int8.onnx"].image_model.endswith(".onnx")


def test_fused_equals_the_recognizer_with_a_pen(rows, drawn_file: Path) -> None:
    """Independently of the benchmark's caching: Recognizer.read with the pen channel, and
    the app's judge (Recognizer.sure: the fused threshold) for the shares flagged."""
    from mnist_edge.edge_app.pen.features import load_pen_model
    from mnist_edge.edge_app.pen.fusion import PenChannel
    from mnist_edge.edge_app.recognizer import Recognizer
    from mnist_edge.edge_app.runtime import load_model
    from mnist_edge.edge_app.runtime.shipped import default_model
    from mnist_edge.ink.layout import DEFAULT_SIZE, compute
    from mnist_edge.ink.strokes import as_the_app_takes, default_brush, load_samples, render

    path, runtime = default_model("onnxruntime")
    image = load_model(path, runtime)
    channel = PenChannel.from_model(load_pen_model(MODELS / "pen-int8.onnx", "onnxruntime"))
    recognizer = Recognizer(image, 0.6, 5, pen=channel)
    canvas = compute(*DEFAULT_SIZE).canvas
    right, flagged = [], {True: [], False: []}
    for s in load_samples(drawn_file):
        strokes = as_the_app_takes(s.strokes)
        ink = render(strokes, canvas.w, canvas.h, default_brush(canvas.w, canvas.h))
        reading = recognizer.read(ink, strokes)
        right.append(reading is not None and reading.prediction.digit == s.label)
        if reading is not None:
            flagged[right[-1]].append(not recognizer.sure(reading.prediction))
    figures = rows["pen-int8.onnx"].drawn["dev60.json"]
    assert figures.fused == pytest.approx(np.mean(right))
    assert figures.fused_correct_flagged == pytest.approx(np.mean(flagged[True]))
    misreads = np.mean(flagged[False]) if flagged[False] else None
    assert figures.fused_misreads_flagged == pytest.approx(misreads)


def test_report_sections(rows: dict[str, bench_pen.PenResult]) -> None:
    results = list(rows.values())
    table = report_pen.pen_table(results)
    assert table.startswith("| pen model | runtime |") and table.count("\n") == 3
    assert "dev60.json: image -> fused %" in table and f"{results[0].image_model}, TTA 5" in table
    lines = report_pen.pen_lines(results)
    assert lines and all(len(line) <= 100 for line in lines)
    assert any("pen-int8.onnx on onnxruntime" in line for line in lines)
    data = results[0].to_json()
    assert data["drawn"]["dev60.json"]["samples"] == 60 and data["latency_us"]["p99"] > 0
    assert report_pen.pen_section([]) == "" and report_pen.pen_lines([]) == []


def test_bench_cli_writes_pen_rows(drawn_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    r = run_cli(
        "bench", "--models", str(MODELS / "edge-int8.tflite"), "--runtimes", "litert",
        "--pen", str(MODELS / "pen-int8.tflite"), "--drawn-eval", str(drawn_file),
        "--no-cold-start", "--no-robust", "--out", str(out), *QUICK_BENCH,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads((out / "results.json").read_text())
    (pen,) = report["pen"]
    assert pen["model"] == "pen-int8.tflite" and pen["status"] == "ok"
    assert (
        pen["runtime"] == "litert" and pen["bytes"] == (MODELS / "pen-int8.tflite").stat().st_size
    )
    flags = {f"{w}_{k}_flagged" for w in ("image", "fused") for k in ("misreads", "correct")}
    assert set(pen["drawn"]["dev60.json"]) == {"samples", "pen", "image", "fused", *flags}
    assert pen["latency_us"]["runs"] >= 20
    assert "## Pen channel (`--pen`)" in (out / "results.md").read_text()
    assert "pen-int8.tflite on litert: dev60.json pen" in r.stdout


def test_bench_pen_errors(drawn_file: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--pen needs --drawn-eval"):
        BenchConfig(pen=(str(MODELS / "pen-int8.tflite"),))
    with pytest.raises(UserError, match=r"--pen .*not found"):
        BenchConfig(pen=(str(tmp_path / "nope.tflite"),), drawn_eval=(str(drawn_file),))
    assert_user_error(
        run_cli(
            "bench", "--models", str(MODELS / "edge-int8.tflite"), "--drawn-eval",
            str(drawn_file), "--pen", str(MODELS / "edge-int8.tflite"), "--out",
            str(tmp_path / "b"),
        ),
        "a pen model takes",
    )  # fmt: skip
    assert not (tmp_path / "b").exists()  # refused before any row ran


def test_estimate_reads_the_pen_rows(
    rows: dict[str, bench_pen.PenResult], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mnist_edge.benchmarks.estimate import REFERENCE, TARGETS
    from mnist_edge.cli import main

    results = tmp_path / "results.json"
    results.write_text(json.dumps({"results": [], "pen": [r.to_json() for r in rows.values()]}))
    assert main(["estimate", str(results), "--pen", "--macs", "504288"]) == 0
    out = capsys.readouterr().out
    row = rows["pen-int8.tflite"]
    invoke, whole = row.invoke_us["p50"], row.latency_us["p50"]
    assert 0 < invoke < whole  # the runtime's invoke is a small part of features + call
    pi4 = invoke * REFERENCE.peak("int8") / TARGETS[0].peak("int8") + (whole - invoke) / 0.25
    assert f"| tflite-int8 | litert | {whole:.0f} | ~{pi4:.0f} |" in out
    assert "| onnx-int8 | onnxruntime |" in out and "504,288 multiply-adds" in out
    results.write_text(json.dumps({"results": []}))
    assert main(["estimate", str(results), "--pen"]) == 2
    assert "has no pen rows" in capsys.readouterr().err


def test_pipeline_and_card_pen_section(tmp_path: Path) -> None:
    from mnist_edge.core.pen_record import pen_calibration
    from mnist_edge.edge_app.pen.features import fusion_of, load_pen_model
    from mnist_edge.pipeline.report import pen_lines
    from mnist_edge.pipeline.run import pen_manifest

    manifest = pen_manifest(None)  # this checkout's models/
    assert manifest is not None
    lines = pen_lines(manifest)
    text = "\n".join(lines)
    record = pen_calibration(manifest)
    assert record is not None and record.today is not None and record.fused is not None
    # the measurement record is the one the shipped files were calibrated with
    for m in manifest["models"]:
        fusion = fusion_of(load_pen_model(MODELS / m["file"]))
        assert fusion is not None
        assert (record.weight, record.temperature, record.threshold) == (
            fusion["weight"],
            fusion["temperature"],
            fusion["threshold"],
        )
        assert record.number_threshold == fusion["number_threshold"]
        assert record.split_margin == fusion.get("split_margin")
    assert "**The default wherever strokes exist**" in text and "--no-pen" in text
    assert "not adopted" not in text
    assert f"the picture alone {record.today.misreads} misreads" in text
    assert f"fused {record.fused.misreads}, {record.fused.misreads_flagged:.0%}" in text
    assert f"{record.fused.correct_flagged:.2%}" in text
    assert f"{record.digits:,} digits of {record.writers} writers" in text
    assert f"correct digits fall, {record.threshold}" in text
    for m in manifest["models"]:
        assert f"| `{m['file']}` | {m['bytes'] / 1024:.0f} |" in text
    # models/README.md (the card, edited by hand: regenerating it retrains) says the same
    section = "\n".join(["## Pen channel (the default where strokes exist)", "", *lines, ""])
    assert section in (MODELS / "README.md").read_text()
    assert pen_manifest(tmp_path) is None
    (tmp_path / "manifest.json").write_text("{broken")
    assert pen_manifest(tmp_path) is None  # a report section never stops the pipeline
    assert (
        pen_lines(None)[1] == "- Not in this models folder: the app reads the picture alone here."
    )
    assert "No measurement record" in pen_lines({"models": manifest["models"]})[2]


def test_a_wheel_carries_the_one_manifest_and_the_fitted_scores() -> None:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = data["data-files"]["share/mnist-edge/models"]
    assert "models/manifest.json" in shipped and "models/*.tflite" in shipped
    assert "models/number-scores.json" in shipped
    assert not (ROOT / "models" / "pen-manifest.json").exists()  # one manifest for every file
