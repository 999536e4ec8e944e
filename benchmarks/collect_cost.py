"""What one Save costs in ``draw --collect`` as the file grows: ``python -m
mnist_edge.benchmarks.collect_cost FILE [--saves N]``.

Copies FILE (a stroke file, e.g. 7,194 drawn digits) to a temporary folder, continues it as the
app does and times N saves of real digits from it; the user's file is never touched.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mnist_edge.core.errors import UserError
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_edge.benchmarks.collect_cost", description=__doc__
    )
    parser.add_argument("file", type=Path, help="a stroke file (mnist-edge-strokes/1)")
    parser.add_argument("--saves", type=int, default=30, help="saves to time (default 30)")
    args = parser.parse_args(argv)
    try:
        opened, times = measure(args.file, max(1, args.saves))
    except UserError as exc:
        print(f"collect_cost: error: {exc}", file=sys.stderr)
        return 2
    if not times:
        print(f"collect_cost: error: {args.file} has no labelled digits to save", file=sys.stderr)
        return 2
    print(
        f"{args.file.name}: opened in {opened:.0f} ms; per save over {len(times)} saves: "
        f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
