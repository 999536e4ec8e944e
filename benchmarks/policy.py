"""Deployment policy: which exported file to put on the device, from benchmark results.

The rule, per model family (TFLite, ONNX):
1. Portable first: formats the registry says run on every runtime of their family (a Pi may
   only have the fallback runtime) and that failed on no runtime measured here.
2. Accurate: within ``tolerance`` of the best on drawn digits where drawn files were measured
   (what users see), and within ``tolerance`` of the best on the MNIST test set.
3. Fast: latencies within ``same_speed`` of the fastest count as equal (a 2 µs gap is noise).
4. Then more accurate, then smaller, then the registry's preference.
"""

from __future__ import annotations

from mnist_edge.benchmarks.results import SKIPPED, Result
from mnist_edge.core.registry import EDGE_RUNTIMES, FAMILIES, FORMATS

RULE = (
    "per runtime family, among files that run on every runtime of the family and failed on "
    "none, within 0.1 points of the most accurate on drawn digits (where measured) and on "
    "MNIST, the fastest; latencies within 10 % count as equal, and then accuracy, size and "
    "the registry's preference decide"
)


def score(r: Result) -> float:
    if r.drawn:
        return sum(r.drawn.values()) / len(r.drawn)
    return r.accuracy or 0.0


def recommend(
    results: list[Result], tolerance: float = 0.001, same_speed: float = 0.10
) -> dict[str, Result]:
    """Per runtime family, the row (file and runtime) to deploy."""
    picks: dict[str, Result] = {}
    measured = [
        r
        for r in results
        if r.runtime in EDGE_RUNTIMES and r.status != SKIPPED and (r.threads or 1) == 1
    ]
    for family in FAMILIES.values():
        rows = [r for r in measured if r.runtime in family.runtimes]
        broken = {r.model for r in rows if not r.ok}
        ok = [r for r in rows if r.ok and r.p50 is not None and r.accuracy is not None]
        portable = [
            r
            for r in ok
            if r.model not in broken and (r.format not in FORMATS or FORMATS[r.format].portable)
        ] or ok
        if not portable:
            continue
        best = max(score(r) for r in portable)
        best_mnist = max(r.accuracy or 0.0 for r in portable)
        near = [
            r
            for r in portable
            if score(r) >= best - tolerance and (r.accuracy or 0.0) >= best_mnist - tolerance
        ]
        fastest: dict[str, Result] = {}  # one row per file: its fastest runtime
        for r in near:
            if r.model not in fastest or r.p50 < fastest[r.model].p50:  # type: ignore[operator]
                fastest[r.model] = r
        quickest = min(r.p50 for r in fastest.values())  # type: ignore[type-var]
        tied = [r for r in fastest.values() if r.p50 <= quickest * (1 + same_speed)]  # type: ignore[operator]
        picks[family.name] = max(
            tied,
            key=lambda r: (
                score(r),
                -r.bytes,
                -(FORMATS[r.format].rank if r.format in FORMATS else 99),
            ),
        )
    return picks


def headline(pick: Result) -> str:
    drawn = f", {score(pick):.2%} of drawn digits" if pick.drawn else ""
    return (
        f"{pick.model} on {pick.runtime}: {pick.accuracy:.2%} on MNIST test{drawn}, "
        f"{pick.bytes / 1024:.0f} KB, {pick.p50:.0f} µs per digit (p50, 1 thread)"
    )
