"""The benchmark suite with the edge extra only, its outputs, and every bad input.

Timing figures are never asserted: only that they are measured and reported.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import QUICK_BENCH, ROOT, assert_user_error, blocked_imports_env, run_cli

FAST = [*QUICK_BENCH, "--batch-sizes", "1,8"]


def _no_tensorflow(tmp_path: Path) -> dict[str, str]:
    """An environment where importing TensorFlow/Keras fails, for this process and its workers."""
    return blocked_imports_env(tmp_path, "tensorflow", "keras", "tf2onnx")


def test_bench_without_tensorflow(tiny_export: Path, tiny_run: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_export, models)
    shutil.copy(tiny_run / "model.keras", models / "model.keras")  # reference row source
    out = tmp_path / "bench"
    r = run_cli(
        "--models",
        str(models),
        "--out",
        str(out),
        *FAST,
        env=_no_tensorflow(tmp_path),
        module="mnist_edge.benchmarks",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads((out / "results.json").read_text())
    rows = {(x["format"], x["runtime"]): x for x in report["results"]}
    assert ("tflite-int8", "litert") in rows and ("onnx-fp32", "onnxruntime") in rows
    keras = rows[("keras", "keras")]
    assert keras["status"] == "skipped" and "TensorFlow is not installed" in keras["reason"]
    for (_, runtime), row in rows.items():
        if runtime in ("litert", "onnxruntime"):
            assert row["status"] == "ok", row
            assert 0.8 < row["accuracy"] <= 1 and 0 < row["robust_accuracy"] <= 1
            assert set(row["latency_us"]) >= {"p50", "p90", "p99", "mean", "std", "min", "max"}
            assert row["latency_us"]["runs"] >= 20 and row["invoke_us"]["p50"] > 0
            assert set(row["throughput_ips"]) == {"1", "8"}
            assert row["load_ms"] > 0 and row["first_inference_ms"] > 0
            assert row["cold_start_ms"] > 0 and row["peak_rss_mb"] > 0
            assert row["bytes"] == (models / row["model"]).stat().st_size
    env = report["environment"]
    assert env["cores"] and env["python"] and env["numpy"] and "litert" in env["runtimes"]
    for name in (
        "results.csv",
        "results.md",
        "latency_vs_accuracy.png",
        "latency_distribution.png",
        "size.png",
    ):
        assert (out / name).stat().st_size > 0, name
    with open(out / "results.csv") as fh:
        assert len(list(csv.DictReader(fh))) == len(report["results"])
    assert "tflite-int8" in r.stdout  # the terminal table


def test_keras_reference_row(tiny_run: Path, tiny_export: Path, tmp_path: Path) -> None:
    r = run_cli(
        "bench",
        "--models",
        str(tiny_export / "edge-int8.tflite"),
        "--keras-model",
        str(tiny_run / "model.keras"),
        "--out",
        str(tmp_path / "b"),
        "--no-cold-start",
        "--no-robust",
        *FAST,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads((tmp_path / "b" / "results.json").read_text())["results"]
    keras = next(x for x in rows if x["runtime"] == "keras")
    litert = next(x for x in rows if x["runtime"] == "litert")
    assert keras["status"] == "ok" and keras["latency_us"]["p50"] > 0
    assert abs(keras["accuracy"] - litert["accuracy"]) < 0.02


def test_bad_models_become_rows(tiny_export: Path, tmp_path: Path) -> None:
    """Corrupt, truncated and wrong-shape models fail alone; the good one is still measured."""
    import numpy as np
    import tensorflow as tf

    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(tiny_export / "edge-int8.tflite", folder / "good.tflite")
    (folder / "truncated.tflite").write_bytes((tiny_export / "edge-int8.tflite").read_bytes()[:999])
    (folder / "garbage.onnx").write_bytes(b"\x00" * 100)
    wrong = tf.keras.Sequential(
        [
            tf.keras.Input((32, 32, 1)),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(10, activation="softmax"),
        ]
    )
    wrong(np.zeros((1, 32, 32, 1), np.float32))
    (folder / "wrong_shape.tflite").write_bytes(
        tf.lite.TFLiteConverter.from_keras_model(wrong).convert()
    )
    r = run_cli(
        "bench", "--models", str(folder), "--out", str(tmp_path / "b"), "--no-cold-start", *FAST
    )
    assert r.returncode == 2, r.stderr[-3000:]
    assert "Traceback" not in r.stdout
    rows = {
        x["model"]: x
        for x in json.loads((tmp_path / "b" / "results.json").read_text())["results"]
        if x["runtime"] in ("litert", "onnxruntime")
    }
    assert rows["good.tflite"]["status"] == "ok"
    assert rows["truncated.tflite"]["status"] == "failed"
    assert "not a valid TFLite model" in rows["truncated.tflite"]["reason"]
    assert rows["garbage.onnx"]["status"] == "failed"
    assert "28, 28, 1" in rows["wrong_shape.tflite"]["reason"]


def test_timeout_is_a_row_not_a_hang(tiny_export: Path, tmp_path: Path) -> None:
    r = run_cli(
        "bench",
        "--models",
        str(tiny_export / "edge-int8.tflite"),
        "--out",
        str(tmp_path / "b"),
        "--timeout",
        "0.5",
        "--min-time",
        "30",
        "--no-robust",
    )
    assert r.returncode == 2, r.stderr[-3000:]
    row = json.loads((tmp_path / "b" / "results.json").read_text())["results"][0]
    assert row["status"] == "failed" and "timed out" in row["reason"]


def test_min_accuracy_gate(tiny_export: Path, tmp_path: Path) -> None:
    r = run_cli(
        "bench",
        "--models",
        str(tiny_export / "edge-fp32.onnx"),
        "--out",
        str(tmp_path / "b"),
        "--min-accuracy",
        "0.9999",
        "--no-cold-start",
        *FAST,
    )
    assert r.returncode == 1 and "below --min-accuracy" in r.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--runtimes", "tensorrt"], "unknown runtime tensorrt"),
        (["--threads", "0"], "--threads takes"),
        (["--batch-sizes", "a"], "--batch-sizes takes"),
        (["--min-accuracy", "2"], "--min-accuracy must be"),
    ],
)
def test_bad_flags(tiny_export: Path, args: list[str], fragment: str) -> None:
    assert_user_error(run_cli("bench", "--models", str(tiny_export), *args), fragment)


def test_no_models_and_missing_data(tiny_export: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert_user_error(
        run_cli("bench", "--models", str(tmp_path / "empty"), "--out", str(tmp_path / "b")),
        "no models found",
    )
    assert_user_error(
        run_cli("bench", "--models", str(tmp_path / "nope.tflite"), "--out", str(tmp_path / "c")),
        "not found",
    )
    assert_user_error(
        run_cli(
            "bench",
            "--models",
            str(tiny_export),
            "--out",
            str(tmp_path / "d"),
            "--data-dir",
            str(tmp_path / "empty"),
        ),
        "MNIST not found",
    )


def test_explicit_runtime_that_cannot_run_a_format(tiny_export: Path, tmp_path: Path) -> None:
    r = run_cli(
        "bench",
        "--models",
        str(tiny_export / "edge-int8.tflite"),
        "--runtimes",
        "onnxruntime,litert",
        "--out",
        str(tmp_path / "b"),
        "--no-cold-start",
        *FAST,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads((tmp_path / "b" / "results.json").read_text())["results"]
    skipped = next(x for x in rows if x["runtime"] == "onnxruntime")
    assert skipped["status"] == "skipped" and "cannot run .tflite" in skipped["reason"]


def tflite_runtime_python() -> str | None:
    configured = os.environ.get("MNIST_EDGE_PYTHON_TFLITE_RUNTIME")
    local = ROOT / ".venv-tflite" / "bin" / "python"
    return configured or (str(local) if local.exists() else None)


@pytest.mark.skipif(
    tflite_runtime_python() is None and os.environ.get("CI") != "true",
    reason="no tflite-runtime environment (CI builds .venv-tflite; there this fails instead)",
)
def test_tflite_runtime_measured_in_its_own_environment(tiny_export: Path, tmp_path: Path) -> None:
    python = tflite_runtime_python()
    r = run_cli(
        "bench",
        "--models",
        str(tiny_export),
        "--runtimes",
        "tflite-runtime",
        "--out",
        str(tmp_path / "b"),
        "--runtime-python",
        f"tflite-runtime={python}",
        *FAST,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    rows = {
        x["format"]: x for x in json.loads((tmp_path / "b" / "results.json").read_text())["results"]
    }
    assert rows["tflite-int8"]["status"] == "ok" and rows["tflite-int8"]["accuracy"] > 0.8
    assert rows["tflite-int8"]["versions"]["tflite-runtime"] == "2.14.0"
    assert rows["tflite-int8"]["versions"]["numpy"].startswith("1.")
    # The app's runtime layer on tflite-runtime, driven by a replay, in that environment.
    import subprocess

    replay = tmp_path / "r.json"
    replay.write_text(
        json.dumps(
            {
                "format": "mnist-edge-strokes/1",
                "samples": [{"label": 1, "strokes": [[[0.5, 0.1], [0.5, 0.9]]]}],
            }
        )
    )
    app = subprocess.run(
        [
            python,
            "-m",
            "mnist_edge.edge_app",
            "--headless",
            "--runtime",
            "tflite-runtime",
            "--replay",
            str(replay),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "MNIST_EDGE_MODELS": str(tiny_export)},
        timeout=300,
    )
    assert app.returncode == 0, app.stderr[-2000:]
    assert "runtime tflite-runtime 2.14.0" in app.stderr
    assert json.loads(app.stdout.strip().splitlines()[-1])["digit"] == 1


def test_compare_runs(tiny_run: Path, tiny_export: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert_user_error(run_cli("compare", str(run)), "export it first: mnist-edge export")
    shutil.copytree(tiny_export, run / "export")
    replay = tmp_path / "dev.json"
    replay.write_text(
        json.dumps(
            {
                "format": "mnist-edge-strokes/1",
                "samples": [{"label": 1, "strokes": [[[0.5, 0.1], [0.5, 0.9]]]}],
            }
        )
    )
    # The run's own files are inputs, --force or not; a dev file must have labels to score.
    metrics = (run / "metrics.json").read_bytes()
    assert_user_error(
        run_cli("compare", str(run), "--out", str(run / "metrics.json"), "--force"), "inside RUN"
    )
    assert (run / "metrics.json").read_bytes() == metrics
    unlabelled = tmp_path / "unlabelled.json"
    unlabelled.write_text('{"format": "mnist-edge-strokes/1", "samples": []}')
    assert_user_error(run_cli("compare", str(run), "--dev", str(unlabelled)), "no labelled")
    out = tmp_path / "compare.md"
    r = run_cli("compare", str(run), "--dev", str(replay), "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    table = out.read_text().splitlines()
    assert len(table) == 3 and table[2].startswith("| `edge` |")
    assert table[2].rstrip().endswith("| 100.00% |")  # the one dev digit, read right


def test_pi_estimates_scale_with_arithmetic() -> None:
    from mnist_edge.benchmarks.estimate import REFERENCE, TARGETS, estimate, table
    from mnist_edge.benchmarks.results import Result

    def row(fmt: str) -> Result:
        return Result.from_json(
            {
                "model": "m",
                "format": fmt,
                "runtime": "litert",
                "status": "ok",
                "latency_us": {"p50": 25.0},
                "invoke_us": {"p50": 20.0},
            }
        )

    int8, fp32 = row("tflite-int8"), row("tflite-fp32")
    pi4, pi5 = TARGETS
    assert estimate(int8, pi4) > estimate(int8, pi5) > 25.0
    # Without a dot-product instruction the Pi 4 gains less from int8 than the Pi 5 does.
    assert estimate(fp32, pi4) / estimate(int8, pi4) < estimate(fp32, pi5) / estimate(int8, pi5)
    assert estimate(int8, REFERENCE) == pytest.approx(25.0)
    text = table([int8, fp32], macs=1_000_000)
    assert "Raspberry Pi 4 estimate" in text and "1,000,000 multiply-adds" in text


_ESTIMATE_ROW = {
    "model": "m.tflite",
    "format": "tflite-fp32",
    "runtime": "litert",
    "threads": 1,
    "status": "ok",
    "latency_us": {"p50": 25.0},
    "invoke_us": {"p50": 20.0},
}


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("latency_us", {}, "latency_us of m.tflite has no p50"),
        ("latency_us", None, "latency_us of m.tflite has no p50"),
        ("latency_us", [1, 2], "latency_us of m.tflite is [1, 2]"),
        ("latency_us", {"p50": "fast"}, "latency_us.p50 of m.tflite is 'fast'"),
        ("latency_us", {"p50": -5}, "latency_us.p50 of m.tflite is -5"),
        ("latency_us", {"p50": float("nan")}, "latency_us.p50 of m.tflite is nan"),
        ("latency_us", {"p50": float("inf")}, "latency_us.p50 of m.tflite is inf"),
        ("latency_us", {"p50": True}, "latency_us.p50 of m.tflite is True"),
        ("invoke_us", {"p50": -1}, "invoke_us.p50 of m.tflite is -1"),
        ("invoke_us", {}, "invoke_us of m.tflite"),
        ("latency_rounds_us", [1, "x"], "latency_rounds_us.1 of m.tflite is 'x'"),
    ],
)
def test_estimate_refuses_rows_whose_timings_are_not_times(
    field: str, value: object, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed row of a results file is one line naming the field, exit 2, no table."""
    from mnist_edge.cli import main

    results = tmp_path / "r.json"
    # NaN and Infinity as Python's json writes them; None as null
    results.write_text(json.dumps({"results": [{**_ESTIMATE_ROW, field: value}]}))
    assert main(["estimate", str(results)]) == 2
    printed = capsys.readouterr()
    (line,) = printed.err.strip().splitlines()
    assert says in line and "mnist-edge bench" in line and not printed.out, line
    assert str(results) in line  # the file is named, whichever check refused it


@pytest.mark.tf  # the reference row runs only where Keras is installed
def test_a_torn_keras_model_is_named_as_such(tmp_path: Path) -> None:
    """Not "File not found" for a file that is there: the reference row says what is wrong."""
    torn = tmp_path / "t.keras"
    torn.write_bytes((ROOT / "models" / "pen.keras").read_bytes()[:3000])
    r = run_cli(
        "bench", "--models", str(torn), "--isolation", "none", "--limit", "50",
        "--no-cold-start", "--no-robust", "--out", str(tmp_path / "b"),
    )  # fmt: skip
    assert r.returncode == 2 and "not a .keras file (not a zip archive)" in r.stderr, r.stderr
    assert "File not found" not in r.stderr and "absl" not in r.stderr
