"""The one-command pipeline, resume, promote; and the README's format table."""

from __future__ import annotations

import json
import re
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
        "--drawn-eval",
        str(dev),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    report = (out / "REPORT.md").read_text()
    # A file every TFLite runtime loads (never tflite-dynamic), on LiteRT, also on the console.
    deploy = re.search(r"\*\*Deploy (edge-\w+\.tflite) on litert", report)
    assert deploy and deploy.group(1) != "edge-dynamic.tflite", report[:300]
    assert "## Benchmark" in report and "curves.png" in report
    assert "weight averaging (EMA, momentum 0.999): kept the " in report  # on by default
    assert "## Test-time augmentation" in report and "(`--tta 5`)" in report
    assert f"recommended: deploy {deploy.group(1)}" in r.stdout
    manifest = json.loads((models / "manifest.json").read_text())
    assert manifest["models"] and all((models / m["file"]).is_file() for m in manifest["models"])
    assert (models / "model.keras").is_file()
    card = (models / "README.md").read_text()
    assert "## Known limits" in card and "mnist-edge pipeline --arch edge" in card
    assert "`dev.json`: 100.00% read correctly" in card and "drawn digits" in report
    assert "Conv3x3(16)+BN+ReLU" in card  # generated from the architecture, not hard-coded
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
    assert "--drawn-share 0.15" in card and "--styles" not in card  # the recipe, as run
    # Resume keeps every finished stage; promoting again keeps what the models folder says of
    # the files the pipeline does not make (the pen channel, fitted number scores).
    kept = {"pen": {"models": [], "note": "kept"}, "fitted": [{"file": "x.json", "kind": "k"}]}
    (models / "manifest.json").write_text(json.dumps({**manifest, **kept}))
    again = run_cli(
        "pipeline", *QUICK, "--out", str(out), "--resume", "--promote", "--models-dir", str(models)
    )
    assert again.returncode == 0, again.stderr[-3000:]
    for stage in ("already trained", "already exported", "already benchmarked"):
        assert stage in again.stderr
    promoted = json.loads((models / "manifest.json").read_text())
    assert {k: promoted[k] for k in kept} == kept and promoted["models"] == manifest["models"]
    assert_user_error(run_cli("pipeline", *QUICK, "--out", str(out)), "--force")


def test_promote_target_is_checked_before_any_work(tmp_path: Path) -> None:
    """A --models-dir that cannot take the models fails in the first second, not after the
    training (hours with the default settings)."""
    file = tmp_path / "f.md"
    file.write_text("hi")
    for target, fragment in ((file, "is not a folder"), (file / "sub", "is a file, not a folder")):
        out = tmp_path / "p"
        r = run_cli("pipeline", *QUICK, "--out", str(out), "--promote", "--models-dir", str(target))
        assert_user_error(r, fragment)
        assert not out.exists()


def test_resume_refuses_a_benchmark_row_that_is_not_one(tmp_path: Path) -> None:
    """An older or edited results.json is one line before --resume does any work."""
    out = tmp_path / "p"
    (out / "bench").mkdir(parents=True)
    row = {"model": "m.tflite", "format": "tflite-int8", "runtime": "litert", "status": "ok"}
    (out / "bench" / "results.json").write_text(json.dumps({"results": [row]}))
    r = run_cli("pipeline", *QUICK, "--out", str(out), "--resume")
    assert_user_error(r, "is not a benchmark result", "--force")
    assert sorted(p.name for p in out.iterdir()) == ["bench"]


def test_readme_format_table_comes_from_the_registry() -> None:
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_recommendation_prefers_portable_accurate_files() -> None:
    from mnist_edge.benchmarks.policy import recommend
    from mnist_edge.benchmarks.results import Result

    def row(
        model: str,
        fmt: str,
        runtime: str,
        p50: float,
        acc: float,
        size: int = 60_000,
        status: str = "ok",
        drawn: float | None = None,
    ) -> Result:
        return Result.from_json(
            {
                "model": model,
                "format": fmt,
                "runtime": runtime,
                "threads": 1,
                "status": status,
                "latency_us": {"p50": p50},
                "accuracy": acc,
                "bytes": size,
                "drawn": {"dev.json": drawn} if drawn else {},
            }
        )

    results = [
        row("dynamic.tflite", "tflite-dynamic", "litert", 20, 0.9959),  # faster, not portable
        row("int8.tflite", "tflite-int8", "litert", 22, 0.9962),
        row("fp32.tflite", "tflite-fp32", "litert", 47, 0.9959, 210_000),
        row("fp32.onnx", "onnx-fp32", "onnxruntime", 78, 0.9959, 210_000),
        row("int8.onnx", "onnx-int8", "onnxruntime", 75, 0.9962, 71_000),
        row("model.keras", "keras", "keras", 50_000, 0.9959),
    ]
    picks = recommend(results)
    # The registry knows tflite-dynamic does not run on tflite-runtime, measured here or not.
    assert picks["tflite"].model == "int8.tflite" and picks["tflite"].runtime == "litert"
    assert picks["onnx"].model == "int8.onnx"  # 75 vs 78 µs is a tie; accuracy decides
    # Drawn-digit accuracy, where measured, outranks MNIST accuracy.
    drawn = [
        row("a.tflite", "tflite-int8", "litert", 22, 0.9962, drawn=0.97),
        row("b.tflite", "tflite-fp32", "litert", 23, 0.9959, drawn=0.99),
    ]
    assert recommend(drawn)["tflite"].model == "b.tflite"


def test_report_states_what_weight_averaging_kept() -> None:
    from mnist_edge.pipeline.report import averaging_lines
    from mnist_edge.train.metrics import TrainMetrics

    track = {"best_epoch": 33, "selection_score": 0.9927, "test_accuracy": 0.996}
    metrics = {
        "weight_averaging": {
            "ema_momentum": 0.999,
            "kept": "ema",
            "ema": track,
            "raw": {"best_epoch": 31, "selection_score": 0.9924, "test_accuracy": 0.9958},
        }
    }
    (line,) = averaging_lines(TrainMetrics.from_json(metrics))
    assert "EMA, momentum 0.999): kept the moving average of the weights" in line
    assert "average epoch 33, validation score 99.27%, MNIST test 99.60%" in line
    assert "raw epoch 31, validation score 99.24%, MNIST test 99.58%" in line
    metrics["weight_averaging"]["kept"] = "raw"
    assert "kept the raw weights" in averaging_lines(TrainMetrics.from_json(metrics))[0]
    assert averaging_lines(TrainMetrics.from_json({})) == []


def test_report_states_the_tta_threshold() -> None:
    from mnist_edge.edge_app.tta import DEFAULT_TTA
    from mnist_edge.pipeline.report import calibration_lines
    from mnist_edge.train.metrics import TrainMetrics

    flags = {"ece": 0.01, "misreads_flagged": 0.5, "correct_flagged": 0.01}
    cal = {
        "temperature": 1.86,
        "threshold": 0.8,
        "fitted_on": "a",
        "measured_on": "b",
        "before": flags,
        "after": flags,
        "tta": {
            str(DEFAULT_TTA): {
                "threshold": 0.85,
                "after": {"misreads_flagged": 0.6, "correct_flagged": 0.017},
            }
        },
    }
    plain, tta = calibration_lines(TrainMetrics.from_json({"calibration": cal}))
    assert "below the 80% threshold for reading once" in plain
    assert f"`--tta {DEFAULT_TTA}`" in tta and "threshold 85%" in tta
    assert "60.00% of misreads and 1.70% of correct" in tta
    del cal["tta"]  # a model calibrated before per-count thresholds: no TTA line
    assert len(calibration_lines(TrainMetrics.from_json({"calibration": cal}))) == 1


def test_the_cards_command_pastes_into_a_shell() -> None:
    import subprocess

    from mnist_edge.pipeline.card import shell_words

    line = shell_words(["printf", "%s\\n", "--drawn", "~/.cache/a b.json", "it's"])
    said = subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=True)
    home = str(Path.home())
    assert said.stdout.splitlines() == ["--drawn", f"{home}/.cache/a b.json", "it's"], line
