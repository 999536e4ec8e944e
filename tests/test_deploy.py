"""The kiosk deployment files: systemd accepts the unit, the install script parses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and os.environ.get("CI") != "true",
    reason="systemd-analyze is not installed (.ci/run installs it; in CI this fails instead)",
)
def test_service_unit_verifies(tmp_path: Path) -> None:
    unit = (ROOT / "deploy" / "mnist-edge.service").read_text()
    # Point the unit at this checkout (the Pi has /opt/mnist-edge and the mnist-edge user).
    unit = unit.replace(
        "/opt/mnist-edge/venv/bin/mnist-edge", str(Path(sys.executable).with_name("mnist-edge"))
    ).replace("User=mnist-edge", "User=root")
    path = tmp_path / "mnist-edge.service"
    path.write_text(unit)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "mnist-edge.service" in line
    ]
    assert result.returncode == 0 and not complaints, result.stderr


def test_install_script_parses() -> None:
    result = subprocess.run(
        ["bash", "-n", str(ROOT / "deploy" / "install-kiosk.sh")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
