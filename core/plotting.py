"""The one way figures are written: PNG, atomically, with a headless backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mnist_edge.core.fsutil import atomic_path


def matplotlib_or_none() -> Any:
    """matplotlib set to its file-only backend, or None where it is not installed (edge)."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    return matplotlib


def save_figure(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
