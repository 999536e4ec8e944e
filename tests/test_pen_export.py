"""The pen model's exports agree with Keras; training and export run end to end (TensorFlow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DRAWN, MODELS

from mnist_edge.edge_app.pen.features import batch_features, load_pen_model
from mnist_edge.train.pen import load_pen_data

pytestmark = pytest.mark.tf

UJI = DRAWN / "uji-train.json"


@pytest.fixture(scope="module")
def held_out():
    data = load_pen_data([str(UJI)])
    x = batch_features([s.strokes for s in data.samples])
    return x[data.held], data.labels[data.held]


@pytest.mark.parametrize(
    ("name", "least"),
    [
        ("pen-fp32.tflite", 0.999),
        ("pen-fp32.onnx", 0.999),
        ("pen-int8.tflite", 0.99),
        ("pen-int8.onnx", 0.99),
    ],
)
def test_shipped_exports_agree_with_keras(held_out, name, least):
    import keras

    x, _ = held_out
    reference = np.asarray(keras.models.load_model(MODELS / "pen.keras").predict(x, verbose=0))
    probs = load_pen_model(MODELS / name).run(x).probabilities
    assert (probs.argmax(1) == reference.argmax(1)).mean() >= least
    tolerance = 1e-4 if "fp32" in name else 0.2
    assert np.abs(probs - reference).max() <= tolerance


@pytest.mark.slow
def test_train_and_export_end_to_end_and_quietly(tmp_path):
    """``pen train``, ``pen train --ensemble`` and ``pen export`` as a user runs them; none
    prints TensorFlow's start-up chatter (absl, oneDNN, CUDA probes), as ``train`` and
    ``export`` do not: it used to open the pen commands' output."""
    from conftest import run_cli

    uji, run = str(UJI), tmp_path / "run"
    model = str(run / "pen.keras")
    fusion = tmp_path / "fusion.json"
    fusion.write_text(json.dumps({"fusion": {"weight": 0.5, "temperature": 1.0, "threshold": 0.7}}))
    done = [
        run_cli("pen", "train", "--drawn", uji, "--epochs", "8", "--out", str(run)),
        run_cli("pen", "train", "--ensemble", model, model, "--out", str(tmp_path / "both")),
        run_cli(
            "pen", "export", "--model", model, "--drawn", uji, "--out", str(tmp_path / "out"),
            "--fusion", str(fusion),
        ),
    ]  # fmt: skip
    for result in done:
        assert result.returncode == 0, result.stderr[-2000:]
        for chatter in ("I0000", "oneDNN", "cuda", "absl"):
            assert chatter not in result.stdout + result.stderr, result.stderr[-2000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["val_samples"] == 160 and metrics["train_samples"] == 640
    assert (tmp_path / "both" / "pen.keras").is_file()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())["pen"]
    # the measurement record travels with the files it calibrated (the card reads it)
    assert manifest["calibration"]["fusion"]["threshold"] == 0.7
    assert {m["format"] for m in manifest["models"]} == {
        "tflite-fp32",
        "tflite-int8",
        "onnx-fp32",
        "onnx-int8",
    }
    loaded = load_pen_model(tmp_path / "out" / "pen-int8.tflite")
    assert loaded.description is not None
    assert loaded.description["fusion"]["weight"] == 0.5
