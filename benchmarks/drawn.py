"""Accuracy on drawn digits: replay a labelled stroke file through the real app, headless."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.runtime.shipped import ENV_MODELS
from mnist_edge.edge_app.tta import DEFAULT_TTA


def replay_accuracy(
    models: Path,
    replay: Path,
    timeout: float = 1800,
    model: Path | None = None,
    tta: int = DEFAULT_TTA,
) -> float:
    """Share of labelled samples in ``replay`` that ``mnist-edge draw --headless`` reads right,
    with ``model``, else the default model of the ``models`` folder (its manifest), reading
    ``tta`` variants per digit (the app's default unless told)."""
    chosen = ["--model", str(model)] if model is not None else []
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_edge.edge_app",
            "--headless",
            "--replay",
            str(replay),
            "--no-learn",
            "--tta",
            str(tta),
            *chosen,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, ENV_MODELS: str(models)},
    )
    if run.returncode:  # the app's own one-line reason, not a traceback of this process
        said = [line for line in run.stderr.splitlines() if "error" in line]
        raise UserError(
            f"replaying {replay} through the app failed: "
            + (said[-1] if said else f"exit status {run.returncode}")
        )
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    labelled = [r for r in rows if r.get("label") is not None]
    if not labelled:
        raise ValueError(f"{replay} has no labelled samples")
    return sum(r["digit"] == r["label"] for r in labelled) / len(labelled)
