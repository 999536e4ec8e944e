"""The app and the benchmark on an emulated Raspberry Pi 4 (aarch64), on both Raspberry Pi OS
bases: Bookworm (Python 3.11, with pygame) and Trixie (Python 3.13, with pygame-ce).

Uses ../shared/tools/pi-emulate (qemu user mode, the real aarch64 wheels). CI prepares both
releases in .ci/run; elsewhere a release's tests run when it has been set up. What runs there is
the project's wheel (pure Python), installed into a folder: the same files a Pi gets. Timings
under emulation mean nothing and are not looked at.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DRAWN, MODELS, ROOT, run_cli

EMULATOR = ROOT.parent / "shared" / "tools" / "pi-emulate"
HOME = Path(os.environ.get("PI_EMULATE_HOME", Path.home() / ".cache" / "pi-emulate"))
RELEASES = {"bookworm": ("3.11", HOME), "trixie": ("3.13", HOME / "trixie")}


def _ready(release: str) -> bool:
    version, home = RELEASES[release]
    return (
        EMULATOR.exists()
        and (home / "root" / "usr" / "bin" / f"python{version}").exists()
        and (home / "site" / "ai_edge_litert").exists()
    )


RELEASE = pytest.mark.parametrize(
    "release",
    [
        pytest.param(
            r,
            marks=pytest.mark.skipif(
                not _ready(r) and os.environ.get("CI") != "true",
                reason=f"pi-emulate --release {r} is not set up (CI sets it up in .ci/run)",
            ),
        )
        for r in RELEASES
    ],
)


@pytest.fixture(scope="session")
def pi_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel installed (no dependencies) into a folder for the emulated Python."""
    work = tmp_path_factory.mktemp("pi")
    wheels = work / "wheels"
    for cmd in (
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    site = work / "site"
    wheel = next(wheels.glob("mnist_edge-*.whl"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return site


def emulate(release: str, site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EMULATOR), "--release", release, "python", *args],
        capture_output=True,
        text=True,
        cwd=site,
        timeout=600,
        stdin=subprocess.DEVNULL,
        env={
            **os.environ,
            "PYTHONPATH": str(site),
            "MNIST_EDGE_MODELS": str(MODELS),
            "PI_EMULATE_HOME": str(HOME),
            "SDL_VIDEODRIVER": "dummy",
        },
    )


def _replay(tmp_path: Path) -> Path:
    doc = json.loads((DRAWN / "unipen-dev.json").read_text())
    doc["samples"] = doc["samples"][::50]  # 40 digits, every class
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(doc))
    return path


def _digits(stdout: str) -> list[int | None]:
    return [json.loads(line)["digit"] for line in stdout.splitlines() if line.startswith("{")]


@RELEASE
def test_app_on_aarch64_reads_like_x86(release: str, pi_site: Path, tmp_path: Path) -> None:
    replay = _replay(tmp_path)
    pi = emulate(
        release,
        pi_site,
        "-m",
        "mnist_edge.edge_app",
        "--headless",
        "--replay",
        str(replay),
        "--learn",
    )
    assert pi.returncode == 0, pi.stderr[-3000:]
    assert "runtime litert" in pi.stderr and "learning:" in pi.stderr
    x86 = run_cli(
        "--headless",
        "--replay",
        str(replay),
        "--learn",
        module="mnist_edge.edge_app",
        env={"MNIST_EDGE_MODELS": str(MODELS)},
    )
    assert x86.returncode == 0, x86.stderr[-3000:]
    pi_digits, x86_digits = _digits(pi.stdout), _digits(x86.stdout)
    assert len(pi_digits) == len(x86_digits) == 40
    # Same int8 model, ARM vs x86 kernels: rounding may flip at most a borderline digit.
    assert sum(a != b for a, b in zip(pi_digits, x86_digits)) <= 1
    pygame = emulate(release, pi_site, "-c", "import pygame; print(getattr(pygame, 'IS_CE', 0))")
    assert pygame.stdout.strip().splitlines()[-1] == ("1" if release == "trixie" else "0")


@RELEASE
def test_benchmark_on_aarch64(release: str, pi_site: Path, tmp_path: Path, data_dir: Path) -> None:
    manifest = json.loads((MODELS / "manifest.json").read_text())
    int8 = [str(MODELS / m["file"]) for m in manifest["models"] if m["precision"] == "int8"]
    out = tmp_path / "bench"
    r = emulate(
        release,
        pi_site,
        "-m",
        "mnist_edge.benchmarks",
        "--isolation",
        "none",
        "--models",
        *int8,
        "--runtimes",
        "litert,tflite-runtime,onnxruntime",
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
    rows = {(x["format"], x["runtime"]): x for x in report["results"]}
    assert rows[("tflite-int8", "litert")]["status"] == "ok"
    assert rows[("onnx-int8", "onnxruntime")]["status"] == "ok"
    assert all(x["accuracy"] > 0.98 for x in report["results"] if x["status"] == "ok")
    fallback = rows[("tflite-int8", "tflite-runtime")]
    assert fallback["status"] == "skipped"
    if release == "trixie":  # no wheel for Python 3.13 at all: the row says so
        assert "no wheel for Python 3.13" in fallback["reason"], fallback["reason"]
