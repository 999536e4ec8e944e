"""The environment block: what machine and software the figures were measured on."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.core.registry import RUNTIMES
from mnist_edge.edge_app.runtime import runtime_version


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    for key in ("model name", "Model", "Hardware"):
        for line in text.splitlines():
            if line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
    return platform.machine()


def describe() -> dict[str, Any]:
    # Slim runtimes by name; the reference by its distribution (tensorflow).
    versions = {
        name if runtime.edge else runtime.distribution: runtime_version(name)
        for name, runtime in RUNTIMES.items()
    }
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "runtimes": {k: v for k, v in versions.items() if v},
        "thread_env": {
            k: os.environ[k]
            for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")
            if k in os.environ
        },
    }
