"""Where the project's own files are: the source checkout, when running from one."""

from __future__ import annotations

from pathlib import Path


def checkout_root() -> Path | None:
    """The repository root when this code runs from a source checkout (editable install);
    None for an installed wheel, whose package folder has no pyproject.toml above it."""
    root = Path(__file__).resolve().parents[1]
    pyproject = root / "pyproject.toml"
    try:
        if 'name = "mnist-edge"' in pyproject.read_text(encoding="utf-8"):
            return root
    except OSError:
        pass
    return None


def checkout_models_dir() -> Path | None:
    """``models/`` of the source checkout (where the pipeline promotes to), if any."""
    root = checkout_root()
    return root / "models" if root is not None else None
