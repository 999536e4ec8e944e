"""Benchmark plots (matplotlib, optional): latency vs accuracy with the Pareto front, and more."""

from __future__ import annotations

from pathlib import Path

from mnist_edge.benchmarks.results import Result
from mnist_edge.core.plotting import save_figure


def pareto(results: list[Result]) -> set[int]:
    """Indices of ok rows no other row beats on both latency (p50) and accuracy."""
    ok = [
        (i, r.p50, r.accuracy)
        for i, r in enumerate(results)
        if r.ok and r.p50 is not None and r.accuracy is not None
    ]
    front = set()
    for i, lat, acc in ok:
        dominated = any(
            (l2 <= lat and a2 >= acc) and (l2 < lat or a2 > acc) for j, l2, a2 in ok if j != i
        )
        if not dominated:
            front.add(i)
    return front


def _spread_labels(points: list[tuple[float, float]], step: float) -> list[float]:
    """Vertical text offsets (points) so labels of points at the same spot do not overprint."""
    offsets, seen = [], {}
    for x, y in points:
        key = (round(y, 3), round(x / 10))  # same accuracy, latency within ~10 µs
        n = seen.get(key, 0)
        seen[key] = n + 1
        offsets.append(3 + n * step)
    return offsets


def plots(out: Path, results: list[Result]) -> list[str]:
    import matplotlib.pyplot as plt

    ok = [
        (i, r)
        for i, r in enumerate(results)
        if r.ok and r.p50 is not None and r.accuracy is not None
    ]
    if not ok:
        return []
    front = pareto(results)
    fig, ax = plt.subplots(figsize=(8, 5))
    points = [(r.p50, r.accuracy * 100) for _, r in ok]  # type: ignore[operator]
    for (i, r), (x, y), dy in zip(ok, points, _spread_labels(points, 9)):
        on = i in front
        ax.scatter(x, y, s=60 if on else 30, color="tab:red" if on else "tab:blue", zorder=3)
        ax.annotate(r.name, (x, y), fontsize=7, xytext=(4, dy), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("single-image latency p50 (µs, log)")
    ax.set_ylabel("MNIST test accuracy (%)")
    ax.set_title("Latency vs accuracy (red: Pareto front)")
    ax.grid(alpha=0.3, which="both")
    save_figure(fig, out / "latency_vs_accuracy.png")

    fig, ax = plt.subplots(figsize=(9, 0.45 * len(ok) + 1.5))
    data = [r.samples_us or [r.p50] for _, r in ok]
    ax.boxplot(data, vert=False, showfliers=False)
    ax.set_yticks(range(1, len(ok) + 1), [r.name for _, r in ok], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("single-image latency (µs, log; whiskers 1.5 IQR)")
    ax.set_title("Latency distribution per row")
    ax.grid(alpha=0.3, axis="x", which="both")
    save_figure(fig, out / "latency_distribution.png")

    sizes: dict[str, float] = {}
    for _, r in ok:
        sizes.setdefault(r.format, r.bytes / 1024)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(list(sizes), list(sizes.values()), color="tab:green")
    ax.set_ylabel("KB")
    ax.set_title("File size per format")
    ax.tick_params(axis="x", rotation=30)
    for i, v in enumerate(sizes.values()):
        ax.text(i, v, f"{v:.0f}", ha="center", va="bottom", fontsize=8)
    save_figure(fig, out / "size.png")
    return ["latency_vs_accuracy.png", "latency_distribution.png", "size.png"]
