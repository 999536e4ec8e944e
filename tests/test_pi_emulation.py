"""The app and the benchmark on an emulated Raspberry Pi 4 (aarch64, Bookworm, Python 3.11).

Uses ../shared/tools/pi-emulate (qemu user mode, the real aarch64 wheels). CI prepares it in
.ci/run; elsewhere the test runs when the emulator has been set up. Timings under emulation mean
nothing and are not looked at: this proves the code and the shipped models work there.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

EMULATOR = ROOT.parent / "shared" / "tools" / "pi-emulate"
CACHE = Path(os.environ.get("PI_EMULATE_HOME", Path.home() / ".cache" / "pi-emulate"))
READY = (
    EMULATOR.exists()
    and (CACHE / "root" / "usr" / "bin" / "python3.11").exists()
    and (CACHE / "site" / "ai_edge_litert").exists()
)

pytestmark = pytest.mark.skipif(
    not READY and os.environ.get("CI") != "true",
    reason="pi-emulate is not set up (CI sets it up in .ci/run)",
)


def emulate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EMULATOR), "python", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": ".", **(env or {})},
    )


def _replay(tmp_path: Path) -> Path:
    drawn = ROOT.parent / "shared" / "data" / "drawn" / "unipen-dev.json"
    doc = json.loads(drawn.read_text())
    doc["samples"] = doc["samples"][::50]  # 40 digits, every class
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(doc))
    return path


def _digits(stdout: str) -> list[int | None]:
    return [json.loads(line)["digit"] for line in stdout.splitlines() if line.startswith("{")]


def test_app_on_aarch64_reads_like_x86(tmp_path: Path) -> None:
    replay = _replay(tmp_path)
    pi = emulate("-m", "mnist_edge.edge_app", "--headless", "--replay", str(replay))
    assert pi.returncode == 0, pi.stderr[-3000:]
    assert "runtime litert" in pi.stderr
    x86 = run_cli("--headless", "--replay", str(replay), module="mnist_edge.edge_app")
    assert x86.returncode == 0, x86.stderr[-3000:]
    pi_digits, x86_digits = _digits(pi.stdout), _digits(x86.stdout)
    assert len(pi_digits) == len(x86_digits) == 40
    # Same int8 model, ARM vs x86 kernels: rounding may flip at most a borderline digit.
    assert sum(a != b for a, b in zip(pi_digits, x86_digits)) <= 1


def test_benchmark_on_aarch64(tmp_path: Path, data_dir: Path) -> None:
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text())
    int8 = [
        str(ROOT / "models" / m["file"]) for m in manifest["models"] if m["precision"] == "int8"
    ]
    out = tmp_path / "bench"
    r = emulate(
        "-m",
        "mnist_edge.benchmarks",
        "--isolation",
        "none",
        "--models",
        *int8,
        "--limit",
        "300",
        "--min-runs",
        "10",
        "--min-time",
        "0",
        "--warmup",
        "2",
        "--batch-sizes",
        "1,8",
        "--no-robust",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads((out / "results.json").read_text())
    assert report["environment"]["machine"] == "aarch64"
    rows = [x for x in report["results"] if x["status"] == "ok"]
    assert {x["format"] for x in rows} == {"tflite-int8", "onnx-int8"}
    assert all(x["accuracy"] >= 0.98 for x in rows)
