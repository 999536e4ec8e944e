"""What one Save costs in ``draw --collect`` as the file grows: ``mnist-edge collect-cost FILE
[--saves N]``.

Copies FILE (a stroke file, e.g. 7,194 drawn digits) to a temporary folder, continues it as the
app does and times N saves of real digits from it; the user's file is never touched.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from mnist_edge.edge_app.app.collect import Collector
from mnist_edge.ink.strokes import load_samples


def measure(path: Path, saves: int) -> tuple[float, list[float]]:
    """(ms to open the file, ms per save)."""
    digits = [s for s in load_samples(path) if isinstance(s.label, int)][:saves]
    with tempfile.TemporaryDirectory(prefix="mnist-edge-collect-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        started = time.perf_counter()
        collector = Collector(copy, "bench")
        opened = (time.perf_counter() - started) * 1000
        times = []
        try:
            for sample in digits:
                collector.ask(sample.label)  # type: ignore[arg-type]
                started = time.perf_counter()
                collector.save(sample.strokes)
                times.append((time.perf_counter() - started) * 1000)
        finally:
            collector.close()
    return opened, times
