"""Deployment policy: which exported file to put on the device, from benchmark results.

Written once, here: ``bench`` prints it, the pipeline records it in the report, the manifest
and the model card. The rule, per model family (TFLite, ONNX):
1. Portable first: formats the registry says run on every runtime of their family (a Pi may
   only have the fallback runtime) and that failed on no runtime measured here.
2. Accurate: within ``tolerance`` of the best on drawn digits where drawn files were measured
   (what users see), and within ``tolerance`` of the best on the MNIST test set.
3. Fast, measured robustly: a row's speed is the median of its rounds' p50 (``bench
   --repeats``: rounds interleaved across the rows, so a busy minute touches all of them), and
   two rows count as equally fast when they are within ``same_speed`` of each other or their
   rounds overlap. One noisy measurement cannot move the choice.
4. Among the equally fast: the smaller file (less to load, less memory), then the more
   accurate, then the registry's preference.
"""

from __future__ import annotations

import statistics

from mnist_edge.benchmarks.results import SKIPPED, Result
from mnist_edge.core.registry import EDGE_RUNTIMES, FAMILIES, FORMATS

#: A model call is a small part of a reading (about 1 ms in the app with preprocessing against
#: tens of µs), so a gap under a quarter of the model's own time is invisible to a user.
SAME_SPEED = 0.25
TOLERANCE = 0.001  # 0.1 points of accuracy: about the noise of 10,000 test digits

RULE = (
    "per runtime family, among files that run on every runtime of the family and failed on "
    "none, within 0.1 points of the most accurate on drawn digits (where measured) and on "
    "MNIST, the fastest by the median of its timing rounds (bench --repeats); rows within "
    f"{SAME_SPEED:.0%} of each other, or whose rounds overlap, count as equally fast, and then "
    "the smaller file, accuracy and the registry's preference decide"
)


def speed(r: Result) -> float:
    """µs per digit: the median of the rows' rounds' p50 (their one p50 without rounds)."""
    rounds = r.latency_rounds_us or ([r.p50] if r.p50 is not None else [])
    return statistics.median(rounds) if rounds else float("inf")


def _spread(r: Result) -> tuple[float, float]:
    rounds = r.latency_rounds_us or [speed(r)]
    return min(rounds), max(rounds)


def equally_fast(a: Result, b: Result, same_speed: float = SAME_SPEED) -> bool:
    """Within ``same_speed`` of each other, or rounds that overlap (noise, not a difference)."""
    fast, slow = sorted((a, b), key=speed)
    if speed(slow) <= speed(fast) * (1 + same_speed):
        return True
    return _spread(slow)[0] <= _spread(fast)[1]


def score(r: Result) -> float:
    if r.drawn:
        return sum(r.drawn.values()) / len(r.drawn)
    return r.accuracy or 0.0


def recommend(
    results: list[Result], tolerance: float = TOLERANCE, same_speed: float = SAME_SPEED
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
            if r.model not in fastest or speed(r) < speed(fastest[r.model]):
                fastest[r.model] = r
        quickest = min(fastest.values(), key=speed)
        tied = [r for r in fastest.values() if equally_fast(r, quickest, same_speed)]
        picks[family.name] = max(
            tied,
            key=lambda r: (
                -r.bytes,
                score(r),
                -(FORMATS[r.format].rank if r.format in FORMATS else 99),
            ),
        )
    return picks


def headline(pick: Result) -> str:
    drawn = f", {score(pick):.2%} of drawn digits" if pick.drawn else ""
    rounds = len(pick.latency_rounds_us)
    timed = f"p50, median of {rounds} rounds" if rounds > 1 else "p50"
    return (
        f"{pick.model} on {pick.runtime}: {pick.accuracy:.2%} on MNIST test{drawn}, "
        f"{pick.bytes / 1024:.0f} KB, {speed(pick):.0f} µs per digit ({timed}, 1 thread)"
    )
