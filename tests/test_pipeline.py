"""The one-command pipeline, resume, promote; and the README's format table."""

from __future__ import annotations

import json
from pathlib import Path

from mnist_edge.formats import markdown_table
from tests.conftest import ROOT, assert_user_error, run_cli

QUICK = ["--limit", "3000", "--epochs", "2", "--bench-min-time", "0.05", "--bench-min-runs", "20"]


def test_pipeline_promote_and_resume(tmp_path: Path) -> None:
    out, models = tmp_path / "p", tmp_path / "models"
    r = run_cli("pipeline", *QUICK, "--out", str(out), "--promote", "--models-dir", str(models))
    assert r.returncode == 0, r.stderr[-3000:]
    report = (out / "REPORT.md").read_text()
    assert "**Deploy `edge-" in report and "## Benchmark" in report and "curves.png" in report
    manifest = json.loads((models / "manifest.json").read_text())
    assert manifest["models"] and all((models / m["file"]).is_file() for m in manifest["models"])
    assert (models / "model.keras").is_file()
    card = (models / "README.md").read_text()
    assert "## Known limits" in card and "mnist-edge pipeline --arch edge" in card
    # The app finds the promoted models.
    replay = tmp_path / "r.json"
    replay.write_text(json.dumps({"format": "mnist-edge-strokes/1", "samples": [
        {"strokes": [[[0.5, 0.1], [0.5, 0.9]]]}]}))
    app = run_cli("draw", "--headless", "--replay", str(replay),
                  env={"MNIST_EDGE_MODELS": str(models)})
    assert app.returncode == 0, app.stderr[-2000:]
    # Resume keeps every finished stage.
    again = run_cli("pipeline", *QUICK, "--out", str(out), "--resume")
    assert again.returncode == 0, again.stderr[-3000:]
    for stage in ("already trained", "already exported", "already benchmarked"):
        assert stage in again.stderr
    assert_user_error(run_cli("pipeline", *QUICK, "--out", str(out)), "--force")


def test_readme_format_table_comes_from_the_registry() -> None:
    assert markdown_table() in (ROOT / "README.md").read_text()
