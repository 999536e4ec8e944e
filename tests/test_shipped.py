"""Golden tests of the shipped models in models/: what the manifest and the card promise holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnist_edge.core.fsutil import sha256_file
from mnist_edge.core.registry import FORMATS
from mnist_edge.edge_app.runtime import load_model
from mnist_edge.edge_app.shipped import default_model
from tests.conftest import ROOT

MODELS = ROOT / "models"
MANIFEST = json.loads((MODELS / "manifest.json").read_text())


@pytest.fixture(scope="module")
def test_set(data_dir: Path):  # type: ignore[no-untyped-def]
    from mnist_edge.core.data import load_split

    return load_split("test", data_dir)


@pytest.mark.parametrize("entry", MANIFEST["models"], ids=lambda e: e["format"])
def test_shipped_file_reproduces_its_manifest(entry: dict, test_set) -> None:  # type: ignore[no-untyped-def]
    path = MODELS / entry["file"]
    assert sha256_file(path) == entry["sha256"] and path.stat().st_size == entry["bytes"]
    model = load_model(path)
    assert model.description["format"] == entry["format"] == FORMATS[entry["format"]].key
    probs = model.predict_proba_batched(test_set.images)
    accuracy = float((probs.argmax(1) == test_set.labels).mean())
    assert accuracy == pytest.approx(entry["accuracy"], abs=2e-4)
    assert model.embedding is not None and entry["outputs"] == ["probabilities", "embedding"]
    calibration = model.description["calibration"]
    if calibration:  # the temperature the metadata states is the one folded into the model
        assert calibration["temperature"] > 0 and "after" in calibration


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
    assert 0.5 <= load_model(path).threshold <= 0.95


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
    assert accuracy >= 0.996  # the target for the int8 files (#10)
    own = model.calibrated_tta_threshold(DEFAULT_TTA)  # so the app reads DEFAULT_TTA by default
    assert own is not None and 0.5 <= own <= 0.95


def test_shipped_model_reads_the_drawn_yardstick(tmp_path: Path) -> None:
    """unipen-dev.json replayed stroke by stroke through the real app with the int8 model."""
    import json as _json

    from tests.conftest import DRAWN, run_cli

    r = run_cli(
        "draw",
        "--headless",
        "--replay",
        str(DRAWN / "unipen-dev.json"),
        "--model",
        str(MODELS / "edge-int8.tflite"),
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [_json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    accuracy = sum(x["digit"] == x["label"] for x in rows) / len(rows)
    assert len(rows) == 2000 and accuracy >= 0.99, accuracy


def test_to_mnist_costs_at_most_0_3_points(test_set) -> None:  # type: ignore[no-untyped-def]
    from mnist_edge.edge_app.preprocess import to_mnist

    model = load_model(MODELS / "edge-int8.tflite")
    raw = (model.predict_proba_batched(test_set.images).argmax(1) == test_set.labels).mean()
    prepared = np.stack([to_mnist(image) for image in test_set.images])
    via_app = (model.predict_proba_batched(prepared).argmax(1) == test_set.labels).mean()
    assert raw - via_app <= 0.003
