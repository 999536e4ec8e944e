"""Screenshots of the app's window: the `s` key's timestamped file, and ``--screenshot``'s."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from mnist_edge.core.fsutil import atomic_path


def take(app: Any) -> None:
    """The `s` key: the window as ``mnist-edge-YYYYmmdd-HHMMSS.png`` in the working folder,
    never over an existing file; a failure is a warning, never a stop."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(f"mnist-edge-{stamp}.png")
    for n in range(2, 100):  # two in one second: the second gets its own name
        if not path.exists():
            break
        path = Path(f"mnist-edge-{stamp}-{n}.png")
    else:
        app.warn("a hundred screenshots this second already: wait a second")
        return
    try:
        save(app, path)
        print(f"screenshot saved to {path}", file=sys.stderr)
    except (OSError, app.pg.error) as exc:  # read-only SD card, full disk
        app.warn(f"cannot save a screenshot here ({exc}); start the app in a writable folder")


def save(app: Any, path: Path) -> Path:
    """The window as a PNG at ``path`` (temporary file + rename)."""
    with atomic_path(path) as tmp:
        app.pg.image.save(app.screen, str(tmp))
    return path
