"""The one-command pipeline, resume, promote; and the README's format table."""

from __future__ import annotations

import json
from pathlib import Path

from mnist_edge.core.registry import markdown_table
from tests.conftest import ROOT, assert_user_error, run_cli

QUICK = ["--limit", "3000", "--epochs", "2", "--bench-min-time", "0.05", "--bench-min-runs", "20"]


def test_pipeline_promote_and_resume(tmp_path: Path) -> None:
    out, models = tmp_path / "p", tmp_path / "models"
    dev = tmp_path / "dev.json"
    dev.write_text(
        json.dumps(
            {
                "format": "mnist-edge-strokes/1",
                "samples": [{"label": 1, "strokes": [[[0.5, 0.1], [0.5, 0.9]]]}],
            }
        )
    )
    r = run_cli(
        "pipeline",
        *QUICK,
        "--out",
        str(out),
        "--promote",
        "--models-dir",
        str(models),
        "--dev",
        str(dev),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    report = (out / "REPORT.md").read_text()
    assert "**Deploy `edge-" in report and "## Benchmark" in report and "curves.png" in report
    manifest = json.loads((models / "manifest.json").read_text())
    assert manifest["models"] and all((models / m["file"]).is_file() for m in manifest["models"])
    assert (models / "model.keras").is_file()
    card = (models / "README.md").read_text()
    assert "## Known limits" in card and "mnist-edge pipeline --arch edge" in card
    assert "of `dev.json` read correctly" in card and "drawn digits" in report
    # The app finds the promoted models.
    replay = tmp_path / "r.json"
    replay.write_text(
        json.dumps(
            {"format": "mnist-edge-strokes/1", "samples": [{"strokes": [[[0.5, 0.1], [0.5, 0.9]]]}]}
        )
    )
    app = run_cli(
        "draw", "--headless", "--replay", str(replay), env={"MNIST_EDGE_MODELS": str(models)}
    )
    assert app.returncode == 0, app.stderr[-2000:]
    # Resume keeps every finished stage.
    again = run_cli("pipeline", *QUICK, "--out", str(out), "--resume")
    assert again.returncode == 0, again.stderr[-3000:]
    for stage in ("already trained", "already exported", "already benchmarked"):
        assert stage in again.stderr
    assert_user_error(run_cli("pipeline", *QUICK, "--out", str(out)), "--force")


def test_readme_format_table_comes_from_the_registry() -> None:
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_recommendation_prefers_portable_accurate_files() -> None:
    from mnist_edge.pipeline.run import recommend

    def row(
        model: str, runtime: str, p50: float, acc: float, size: int = 60_000, status: str = "ok"
    ) -> dict:
        return {
            "model": model,
            "runtime": runtime,
            "threads": 1,
            "status": status,
            "latency_us": {"p50": p50},
            "accuracy": acc,
            "bytes": size,
        }

    results = [
        row("dynamic.tflite", "litert", 20, 0.9959),
        row("dynamic.tflite", "tflite-runtime", 0, 0, status="failed"),  # not portable
        row("int8.tflite", "litert", 22, 0.9962),
        row("int8.tflite", "tflite-runtime", 106, 0.9962),
        row("fp32.tflite", "litert", 47, 0.9959, 210_000),
        row("fp32.onnx", "onnxruntime", 78, 0.9959, 210_000),
        row("int8.onnx", "onnxruntime", 75, 0.9962, 71_000),
        row("model.keras", "keras", 50_000, 0.9959),
    ]
    picks = recommend(results)
    assert picks["tflite"]["model"] == "int8.tflite" and picks["tflite"]["runtime"] == "litert"
    assert picks["onnx"]["model"] == "int8.onnx"  # 75 vs 78 µs is a tie; accuracy decides
