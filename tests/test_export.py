"""Export: every format, parity with Keras, manifest, metadata without TensorFlow, bad input."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mnist_edge.core.fsutil import sha256_file
from mnist_edge.core.registry import FORMATS
from tests.conftest import ROOT, assert_user_error, run_cli


def test_every_format_exported_and_listed(tiny_export: Path) -> None:
    manifest = json.loads((tiny_export / "manifest.json").read_text())
    listed = {m["format"]: m for m in manifest["models"]}
    assert set(listed) == set(FORMATS)
    for key, entry in listed.items():
        path = tiny_export / entry["file"]
        assert path.stat().st_size == entry["bytes"] and sha256_file(path) == entry["sha256"]
        assert entry["precision"] == FORMATS[key].precision
        assert entry["input"]["dtype"] == "uint8" and entry["source"]["sha256"]
    assert not [p for p in tiny_export.iterdir() if p.name.startswith(".")]


def test_parity_with_keras(tiny_export: Path, tiny_run: Path) -> None:
    """Each file, run on its slim runtime, agrees with the Keras model it came from: the
    probabilities and the embedding (the second output, for on-device learning)."""
    import keras

    from mnist_edge.core.contract import EMBEDDING, PROBABILITIES
    from mnist_edge.core.data import load_split
    from mnist_edge.core.quiet import load_keras_model
    from mnist_edge.edge_app.runtime import load_model

    test = load_split("test", limit=2000)
    source = load_keras_model(tiny_run / "model.keras")
    both = keras.Model(source.inputs, [source.output, source.get_layer(PROBABILITIES).input])
    reference, reference_emb = (
        np.asarray(a) for a in both.predict(test.images[..., None], verbose=0)
    )
    manifest = json.loads((tiny_export / "manifest.json").read_text())
    for entry in manifest["models"]:
        model = load_model(tiny_export / entry["file"])
        assert model.embedding is not None and model.embedding.name == EMBEDDING
        probs = model.run(test.images).probabilities
        emb = np.concatenate(
            [model.run(test.images[i : i + 500]).embedding for i in range(0, 2000, 500)]
        )
        agreement = (probs.argmax(1) == reference.argmax(1)).mean()
        quantized = entry["precision"] in ("int8", "dynamic")
        assert agreement >= (0.97 if quantized else 0.999), (entry["format"], agreement)
        assert np.abs(probs - reference).max() < (0.15 if quantized else 0.01), entry["format"]
        error = (
            np.linalg.norm(emb - reference_emb, axis=1)
            / (np.linalg.norm(reference_emb, axis=1) + 1e-6)
        ).mean()
        assert error < (0.15 if quantized else 0.01), (entry["format"], error)
        assert entry["outputs"] == [PROBABILITIES, EMBEDDING]


def test_integer_model_is_integer_in_and_out(tiny_export: Path) -> None:
    from mnist_edge.edge_app.runtime import load_model

    model = load_model(tiny_export / FORMATS["tflite-int8"].filename("edge"))
    assert model.input.dtype == np.uint8 and model.output.dtype == np.uint8
    assert model.output.quantized  # the wrapper dequantizes with the model's own scale


def test_metadata_readable_without_tensorflow(tiny_export: Path) -> None:
    """In a process where importing TensorFlow fails, every file still describes itself."""
    script = textwrap.dedent(f"""
        import builtins, json, sys
        real_import = builtins.__import__
        def guard(name, *a, **k):
            if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx"):
                raise ImportError("TensorFlow is not allowed here")
            return real_import(name, *a, **k)
        builtins.__import__ = guard
        from mnist_edge.edge_app.runtime import load_model
        out = {{}}
        for entry in json.load(open({str(tiny_export / "manifest.json")!r}))["models"]:
            model = load_model({str(tiny_export)!r} + "/" + entry["file"])
            out[entry["format"]] = model.description
        assert "tensorflow" not in sys.modules
        print(json.dumps(out))
    """)
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    described = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(described) == set(FORMATS)
    for key, info in described.items():
        assert info["labels"] == [str(d) for d in range(10)]
        assert info["format"] == key and info["arch"] == "edge"
        assert info["input"] == {
            "name": "image",
            "shape": [-1, 28, 28, 1],
            "dtype": "uint8",
            "range": [0, 255],
            "layout": "NHWC",
            "ink": "255 on 0",
            "preprocessing": "mnist_edge.ink.preprocess.to_mnist",
        }
        assert set(info["outputs"]) == {"probabilities", "embedding"}
        assert info["outputs"]["embedding"]["shape"] == [-1, 576]
        assert info["source"]["sha256"] and 0.9 < info["validation"]["accuracy"] <= 1
        assert info["exporter"]["tensorflow"] and info["created"]


def test_no_training_only_ops(tiny_export: Path) -> None:
    import onnx

    for entry in json.loads((tiny_export / "manifest.json").read_text())["models"]:
        if entry["format"].startswith("onnx"):
            ops = {n.op_type for n in onnx.load(tiny_export / entry["file"]).graph.node}
            assert not ops & {"Dropout", "RandomUniform", "RandomNormal", "BatchNormalization"}


@pytest.fixture
def export_args(tiny_run: Path, tmp_path: Path) -> list[str]:
    return ["export", "--model", str(tiny_run / "model.keras"), "--calibration-samples", "50"]


def test_unknown_format(export_args: list[str], tmp_path: Path) -> None:
    assert_user_error(
        run_cli(*export_args, "--out", str(tmp_path / "o"), "--formats", "tflite-fp32,coreml"),
        "unknown format coreml",
        "tflite-int8",
    )


def test_missing_and_corrupt_model(tmp_path: Path) -> None:
    assert_user_error(run_cli("export", "--model", str(tmp_path / "x.keras")), "not found")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"garbage")
    assert_user_error(
        run_cli("export", "--model", str(bad), "--out", str(tmp_path / "o")), "not a .keras file"
    )
    assert not (tmp_path / "o").exists()


def test_existing_out_dir_refused(export_args: list[str], tmp_path: Path) -> None:
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep.txt").write_text("x")
    assert_user_error(run_cli(*export_args, "--out", str(tmp_path / "o")), "--force")


def test_missing_calibration_data(export_args: list[str], tmp_path: Path) -> None:
    assert_user_error(
        run_cli(*export_args, "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)),
        "MNIST not found",
    )


def test_failed_format_is_reported_and_not_written(export_args: list[str], tmp_path: Path) -> None:
    """A format that misses its threshold fails alone; no file, no manifest entry, exit 1."""
    out = tmp_path / "o"
    result = run_cli(
        *export_args,
        "--out",
        str(out),
        "--formats",
        "tflite-fp32,tflite-int8",
        "--min-agreement",
        "int8=1.0",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "tflite-int8" in result.stdout and "below the 100.00%" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert [m["format"] for m in manifest["models"]] == ["tflite-fp32"]
    assert sorted(p.name for p in out.iterdir()) == ["edge-fp32.tflite", "manifest.json"]


def test_converter_failure_isolated(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mnist_edge.export import to_onnx
    from mnist_edge.export.config import ExportConfig
    from mnist_edge.export.exporter import run_export

    def broken(ctx: object) -> bytes:
        raise RuntimeError("tf2onnx exploded\nUnsupported op: Foo")

    monkeypatch.setattr(to_onnx, "convert_fp32", broken)
    outcomes = run_export(
        ExportConfig(
            model=str(tiny_run / "model.keras"),
            out=str(tmp_path),
            formats=("onnx-fp32", "tflite-fp32"),
            calibration_samples=20,
        )
    )
    status = {o.fmt.key: (o.status, o.reason) for o in outcomes}
    assert status["tflite-fp32"][0] == "ok"
    assert status["onnx-fp32"] == ("failed", "converter failed: Unsupported op: Foo")
    assert not (tmp_path / "edge-fp32.onnx").exists()
