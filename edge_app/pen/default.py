"""The shipped pen model: which file the app fuses by default, from the models' manifest.

The manifest's ``pen`` section lists the exported pen files (``export.pen`` writes it) like its
``models`` list the digit models: every file confined to the manifest's folder and checked
against its SHA-256 before it is used. The app reads the pen by default where the section is
there; a manifest without one (an older export) means no pen, and the picture is read alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mnist_edge.core.registry import FORMATS
from mnist_edge.edge_app.pen.features import load_pen_model
from mnist_edge.edge_app.pen.fusion import PenChannel
from mnist_edge.edge_app.runtime.shipped import MANIFEST, entries, models_dir

#: The fusion is calibrated with the int8 pen file (docs/pen.md), the fastest too; the float
#: one where a family has no int8 file.
PRECISIONS = ("int8", "fp32")


def default_pen(runtime: str, directory: Path | None = None) -> Path | None:
    """The verified shipped pen file that ``runtime`` (a concrete runtime) runs, or None when
    none is installed for it."""
    directory = directory or models_dir()
    if not (directory / MANIFEST).is_file():
        return None
    usable = [e for e in entries(directory, "pen") if runtime in FORMATS[e.format].runs_on]
    usable.sort(
        key=lambda e: (
            PRECISIONS.index(FORMATS[e.format].precision)
            if FORMATS[e.format].precision in PRECISIONS
            else len(PRECISIONS)
        )
    )
    return usable[0].verify() if usable else None


def is_shipped(model_path: str | Path, directory: Path | None = None) -> bool:
    """Whether an image model file is one of the shipped ones (the pen's fusion was calibrated
    for them; another model gets the pen only when asked for with --pen)."""
    directory = directory or models_dir()
    return Path(model_path).resolve().parent == directory.resolve()


def pen_channel(
    model: Any,
    pen: str | Path | None = None,
    runtime: str | None = None,
    threads: int | None = None,
) -> PenChannel | None:
    """The pen channel the app reads with beside ``model``: the file ``pen`` (on ``runtime``,
    else the image model's), else the shipped pen file for a shipped image model (the fusion
    was calibrated for those), else none. One-line errors for a bad file."""
    if pen is None:
        found = default_pen(model.runtime) if is_shipped(model.path) else None
        if found is None:
            return None
        pen = found
    return PenChannel.from_model(load_pen_model(pen, runtime or model.runtime, threads))
