"""What a Pi user gets: the wheel with the ``edge`` extra only, in a clean venv.

No TensorFlow is installed, the shipped models come with the wheel, and the console script runs
the app and the benchmark from any folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

from tests.conftest import QUICK_BENCH, ROOT


def _run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MNIST_EDGE_MODELS")}
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**clean, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_edge_install_from_wheel(tmp_path: Path, data_dir: Path) -> None:
    wheels = tmp_path / "wheels"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        cwd=tmp_path,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(wheels.glob("mnist_edge-*.whl"))
    import zipfile

    top = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    packages = {t for t in top if not t.endswith((".dist-info", ".data"))}
    assert packages == {"mnist_edge"}, top  # one namespace: no stray train/, benchmarks/ ...
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    installed = _run([str(py), "-m", "pip", "install", "-q", f"{wheel}[edge]"], cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    listed = _run([str(py), "-m", "pip", "list", "--format=json"], cwd=tmp_path)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"ai-edge-litert", "onnxruntime", "pygame", "opencv-python-headless"} <= names
    assert not names & {"tensorflow", "keras", "tf2onnx", "tensorflow-cpu"}

    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    cli = str(env_dir / "bin" / "mnist-edge")
    replay = elsewhere / "r.json"
    replay.write_text(
        json.dumps(
            {
                "format": "mnist-edge-strokes/1",
                "samples": [{"label": 1, "strokes": [[[0.5, 0.1], [0.5, 0.9]]]}],
            }
        )
    )
    app = _run(
        [cli, "draw", "--headless", "--replay", str(replay)],
        cwd=elsewhere,
        env={"SDL_VIDEODRIVER": "dummy"},
    )
    assert app.returncode == 0, app.stderr[-2000:]
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text())
    recommended = next(
        m["file"] for m in manifest["models"] if m["format"] == manifest["recommended"]["format"]
    )
    assert f"share/mnist-edge/models/{recommended}" in app.stderr
    for job in ("train", "export", "benchmarks", "edge_app"):  # no top-level leftovers
        probe = _run([str(py), "-c", f"import {job}"], cwd=elsewhere)
        assert probe.returncode != 0, job
    moved = _run([str(py), "-m", "mnist_edge.edge_app", "--help"], cwd=elsewhere)
    assert moved.returncode == 0 and "--collect" in moved.stdout
    # From the repository root too: no folder there shadows the installed package.
    at_root = _run(
        [str(py), "-m", "mnist_edge", "draw", "--headless", "--replay", str(replay)], cwd=ROOT
    )
    assert at_root.returncode == 0, at_root.stderr[-2000:]
    assert f"share/mnist-edge/models/{recommended}" in at_root.stderr
    assert json.loads(app.stdout.splitlines()[-1])["digit"] == 1
    bench = _run(
        [
            cli,
            "bench",
            *QUICK_BENCH,
            "--no-cold-start",
            "--data-dir",
            str(data_dir),
            "--out",
            str(elsewhere / "bench"),
            "--runtimes",
            "litert",
        ],
        cwd=elsewhere,
    )
    assert bench.returncode == 0, bench.stderr[-2000:]
    rows = json.loads((elsewhere / "bench" / "results.json").read_text())["results"]
    measured = [r for r in rows if r["status"] != "skipped"]  # LiteRT skips the .onnx files
    assert {r["format"] for r in measured} >= {"tflite-int8", "tflite-fp32"}
    assert all(r["status"] == "ok" and r["accuracy"] > 0.98 for r in measured), measured
