"""The shipped pen model: which file the app fuses by default, from the models' manifest.

The manifest's ``pen`` section lists the exported pen files (``export.pen`` writes it) like its
``models`` list the digit models: every file confined to the manifest's folder and checked
against its SHA-256 before it is used. The app reads the pen by default where the section is
there; a manifest without one (an older export) means no pen, and the picture is read alone.
"""

from __future__ import annotations

from pathlib import Path

from mnist_edge.core.registry import FORMATS
from mnist_edge.edge_app.runtime.shipped import (
    MANIFEST,
    Entry,
    ManifestError,
    models_dir,
    read_manifest,
)

#: The fusion is calibrated with the int8 pen file (docs/pen.md), the fastest too; the float
#: one where a family has no int8 file.
PRECISIONS = ("int8", "fp32")


def pen_entries(directory: Path) -> list[Entry]:
    """The manifest's pen files, validated and confined to ``directory`` (none: no section)."""
    section = read_manifest(directory).get("pen")
    if section is None:
        return []
    listed = section.get("models") if isinstance(section, dict) else None
    if not isinstance(listed, list):
        raise ManifestError(f"{directory / MANIFEST}: 'pen' has no 'models' list; export again")
    root = directory.resolve()
    found = []
    for i, raw in enumerate(listed):
        where = f"{directory / MANIFEST}, pen entry {i}"
        name = raw.get("file") if isinstance(raw, dict) else None
        fmt = raw.get("format") if isinstance(raw, dict) else None
        digest = raw.get("sha256") if isinstance(raw, dict) else None
        if not (isinstance(name, str) and name and isinstance(digest, str) and len(digest) == 64):
            raise ManifestError(f"{where}: needs 'file' and a 64-digit 'sha256'; export again")
        if Path(name).is_absolute() or (directory / name).resolve().parent != root:
            raise ManifestError(f"{where}: file {name!r} is outside the manifest's folder")
        if fmt not in FORMATS or not name.lower().endswith(FORMATS[fmt].suffix):
            raise ManifestError(f"{where}: {name!r} is not a file of a known format")
        found.append(Entry(directory / name, fmt, FORMATS[fmt].family, digest, raw))  # type: ignore[arg-type]
    return found


def default_pen(runtime: str, directory: Path | None = None) -> Path | None:
    """The verified shipped pen file that ``runtime`` (a concrete runtime) runs, or None when
    none is installed for it."""
    directory = directory or models_dir()
    if not (directory / MANIFEST).is_file():
        return None
    usable = [e for e in pen_entries(directory) if runtime in FORMATS[e.format].runs_on]
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
