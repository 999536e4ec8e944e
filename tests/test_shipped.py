"""Golden tests of the shipped models in models/: what the manifest and the card promise holds."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from mnist_edge.core.fsutil import sha256_file
from mnist_edge.core.registry import FORMATS
from mnist_edge.edge_app.runtime import load_model
from mnist_edge.edge_app.runtime.shipped import default_model
from tests.conftest import DRAWN, ROOT, run_cli

MODELS = ROOT / "models"
MANIFEST = json.loads((MODELS / "manifest.json").read_text())
FP32 = load_model(MODELS / "edge-fp32.tflite")
FLOAT_OUTPUTS = ("tflite-fp32", "tflite-fp16", "tflite-dynamic", "onnx-fp32")


@pytest.fixture(scope="module")
def test_set(data_dir: Path):  # type: ignore[no-untyped-def]
    from mnist_edge.core.data import load_split

    return load_split("test", data_dir)


def _soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Divide the logits by ``temperature`` (``1 / T`` undoes a folded ``T``)."""
    logits = np.log(np.clip(probs.astype(np.float64), 1e-12, 1.0)) / temperature
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _nll(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)).mean())


def _flagged(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """The calibration record's figures: ECE (15 equal bins), misreads, and the shares of
    misreads and of correct readings under ``threshold``."""
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, 16)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    unsure = confidence < threshold
    return {
        "ece": ece,
        "misreads": int((~correct).sum()),
        "misreads_flagged": float(unsure[~correct].mean()) if (~correct).any() else 0.0,
        "correct_flagged": float(unsure[correct].mean()),
    }


@pytest.fixture(scope="module")
def drawn_validation() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The drawn digits training calibrated on: the held-out writers the metadata names, in
    unipen-train.json, sample i rendered as training renders it (on the app's canvas for
    SCREENS[i % 6], default brush). Images, labels, and which half the temperature was fitted on
    (every other writer; the other half measured)."""
    from mnist_edge.ink.layout import SCREENS, compute
    from mnist_edge.ink.preprocess import strokes_to_digit
    from mnist_edge.ink.strokes import default_brush, load_samples

    drawn = FP32.description["metrics"]["drawn"]
    assert [f["file"] for f in drawn["files"]] == ["unipen-train.json"]
    held = drawn["validation"]["writers_held_out"]
    images, labels, writers = [], [], []
    for i, sample in enumerate(load_samples(DRAWN / "unipen-train.json")):
        if sample.writer in held:
            canvas = compute(*SCREENS[i % len(SCREENS)]).canvas
            brush = default_brush(canvas.w, canvas.h)
            images.append(strokes_to_digit(sample.strokes, canvas.w, canvas.h, brush))
            labels.append(sample.label)
            writers.append(sample.writer)
    assert len(labels) == drawn["validation"]["samples"]
    return np.stack(images), np.array(labels), np.isin(writers, sorted(held)[::2])


@pytest.mark.parametrize("entry", MANIFEST["models"], ids=lambda e: e["format"])
def test_the_stated_temperature_is_folded_in(entry: dict, drawn_validation) -> None:  # type: ignore[no-untyped-def]
    """The temperature each file's metadata states is the one folded into its last layer: the
    file's own probabilities need no further scaling (refitting T on the writers it was fitted
    on gives 1); undoing the stated T reproduces the record's "before" figures, and the file as it
    is its "after" ones. The card states the same temperature."""
    images, labels, fit = drawn_validation
    model = load_model(MODELS / entry["file"])
    record = model.description["calibration"]
    temperature = record["temperature"]
    assert record == FP32.description["calibration"] and 1.2 < temperature < 5
    card = (MODELS / "README.md").read_text()
    assert f"temperature {temperature:.2f} fitted on {record['fitted_on']}" in card
    assert record["fitted_on"].endswith(f"({int(fit.sum())} samples)")
    assert record["measured_on"].endswith(f"({int((~fit).sum())} samples)")
    probs = model.run(images).probabilities.astype(np.float64)
    accuracy = float((probs.argmax(1) == labels).mean())
    assert accuracy == pytest.approx(model.description["metrics"]["drawn_val_accuracy"], abs=2e-3)
    if entry["format"] not in FLOAT_OUTPUTS:
        return  # 8-bit probabilities are too coarse to refit T on; the record is the fp32 one's
    grid = np.geomspace(0.5, 20, 800)
    refit = grid[np.argmin([_nll(_soften(probs[fit], t), labels[fit]) for t in grid])]
    assert refit == pytest.approx(1.0, abs=0.02), "the file still wants a temperature"
    if entry["precision"] != "fp32":
        return  # fp16 and dynamic range move the figures in the third decimal
    measure = ~fit
    unfolded = _soften(probs, 1 / temperature)[measure]
    before = _flagged(unfolded, labels[measure], record["threshold_before"])
    after = _flagged(probs[measure], labels[measure], record["threshold"])
    for figures, expected in ((before, record["before"]), (after, record["after"])):
        assert figures == pytest.approx(expected, abs=1e-5), (figures, expected)


@pytest.mark.parametrize("entry", MANIFEST["models"], ids=lambda e: e["format"])
def test_shipped_file_reproduces_its_manifest(entry: dict, test_set) -> None:  # type: ignore[no-untyped-def]
    path = MODELS / entry["file"]
    assert sha256_file(path) == entry["sha256"] and path.stat().st_size == entry["bytes"]
    model = load_model(path)
    assert model.description["format"] == entry["format"] == FORMATS[entry["format"]].key
    probs = model.run(test_set.images).probabilities
    accuracy = float((probs.argmax(1) == test_set.labels).mean())
    assert accuracy == pytest.approx(entry["accuracy"], abs=2e-4)
    assert model.embedding is not None and entry["outputs"] == ["probabilities", "embedding"]
    # Every file carries the one calibration record (test_the_stated_temperature_is_folded_in).
    assert model.description["calibration"] == FP32.description["calibration"]


def test_shipped_targets(test_set) -> None:  # type: ignore[no-untyped-def]
    by_format = {m["format"]: m for m in MANIFEST["models"]}
    assert set(by_format) == set(FORMATS)
    for key in ("tflite-int8", "onnx-int8"):
        assert by_format[key]["accuracy"] >= 0.995 and by_format[key]["bytes"] <= 100 * 1024
    # The app's default is the pipeline's recommendation, recorded in the manifest.
    path, runtime = default_model()
    recommended = MANIFEST["recommended"]
    assert path.name == by_format[recommended["format"]]["file"]
    assert runtime == recommended["runtime"]
    # The calibrated "not sure" threshold travels with every file.
    for entry in MANIFEST["models"]:
        model = load_model(MODELS / entry["file"])
        assert model.threshold == model.description["calibration"]["threshold"], entry["file"]
        assert 0.5 <= model.threshold <= 0.95


@pytest.mark.parametrize("key", ["tflite-int8", "onnx-int8"])
def test_shipped_int8_read_as_the_app_reads(key: str, test_set) -> None:  # type: ignore[no-untyped-def]
    """The app reads DEFAULT_TTA variants of each digit: the int8 files, read that way, reproduce
    the shipped benchmark's MNIST figure, and carry the threshold calibrated for that count."""
    from mnist_edge.edge_app.recognizer import Recognizer
    from mnist_edge.edge_app.tta import DEFAULT_TTA

    entry = next(m for m in MANIFEST["models"] if m["format"] == key)
    model = load_model(MODELS / entry["file"])
    bench = json.loads((MODELS / "benchmark-results.json").read_text())["results"]
    row = next(r for r in bench if r["model"] == entry["file"] and r["runtime"] == model.runtime)
    reader = Recognizer(model, tta=DEFAULT_TTA)  # the threshold never changes the digit read
    digits = np.array([reader.read_image(image).prediction.digit for image in test_set.images])
    accuracy = float((digits == test_set.labels).mean())
    assert accuracy == pytest.approx(row["tta_accuracy"], abs=2e-4)
    # Averaging variants never reads MNIST worse than reading once, and stays above the 99.5 %
    # floor. The 99.6 % target of issues 10 and 31 is missed by the style-trained model
    # (99.55-99.57 %): a trade for held-out writers and styles, docs/training.md.
    assert accuracy >= row["accuracy"] and accuracy >= 0.995
    own = model.calibrated_tta_threshold(DEFAULT_TTA)  # so the app reads DEFAULT_TTA by default
    assert own is not None and 0.5 <= own <= 0.95


def test_shipped_model_reads_the_drawn_yardstick(tmp_path: Path) -> None:
    """unipen-dev.json replayed stroke by stroke through the real app with the int8 model, the
    picture alone (``--no-pen``: the benchmark's image rows read no strokes), reads what the
    shipped benchmark states for that file, runtime and the app's TTA."""
    from mnist_edge.edge_app.tta import DEFAULT_TTA

    r = run_cli(
        "draw",
        "--headless",
        "--replay",
        str(DRAWN / "unipen-dev.json"),
        "--model",
        str(MODELS / "edge-int8.tflite"),
        "--no-pen",
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    accuracy = sum(x["digit"] == x["label"] for x in rows) / len(rows)
    bench = json.loads((MODELS / "benchmark-results.json").read_text())
    row = next(
        r for r in bench["results"] if r["model"] == "edge-int8.tflite" and r["runtime"] == "litert"
    )
    assert bench["settings"]["tta"] == DEFAULT_TTA
    assert len(rows) == 2000 and accuracy >= 0.99, accuracy
    assert accuracy == pytest.approx(row["tta_drawn"]["unipen-dev.json"], abs=5e-4)


def test_shipped_pen_reads_the_drawn_yardstick(tmp_path: Path) -> None:
    """The app's default reading of drawings (the shipped pen fused) replayed stroke by stroke
    reads what the fused row of ``bench --pen`` measures for the same digits: the first 400 of
    unipen-dev.json, the shipped pen file and image model for LiteRT, the app's TTA."""
    from mnist_edge.benchmarks import pen as bench_pen
    from mnist_edge.benchmarks import runner
    from mnist_edge.benchmarks.config import BenchConfig
    from mnist_edge.edge_app.pen.default import default_pen

    document = json.loads((DRAWN / "unipen-dev.json").read_text())
    document["samples"] = document["samples"][:400]
    drawn = tmp_path / "dev400.json"
    drawn.write_text(json.dumps(document))
    pen = default_pen("litert", MODELS)
    assert pen is not None and pen.name == "pen-int8.tflite"
    config = BenchConfig(
        models=(str(MODELS),),
        drawn_eval=(str(drawn),),
        pen=(str(pen),),
        runtimes=("litert",),
        warmup=1,
        min_runs=20,
        min_time=0.0,
    )
    (row,) = runner.measure_all(config, bench_pen.discover(config.pen), digits=False).pen
    assert row.ok, row.reason
    r = run_cli("draw", "--headless", "--replay", str(drawn), "--no-learn", "--runtime", "litert")
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"pen model {pen}" in r.stderr  # read by default, no --pen
    rows = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    accuracy = sum(x["digit"] == x["label"] for x in rows) / len(rows)
    assert len(rows) == 400 and row.drawn["dev400.json"].samples == 400
    assert accuracy == pytest.approx(row.drawn["dev400.json"].fused)


def test_to_mnist_costs_at_most_0_3_points(test_set) -> None:  # type: ignore[no-untyped-def]
    from mnist_edge.ink.preprocess import to_mnist

    model = load_model(MODELS / "edge-int8.tflite")
    raw = (model.run(test_set.images).probabilities.argmax(1) == test_set.labels).mean()
    prepared = np.stack([to_mnist(image) for image in test_set.images])
    via_app = (model.run(prepared).probabilities.argmax(1) == test_set.labels).mean()
    assert raw - via_app <= 0.003
