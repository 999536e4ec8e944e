"""Timing loops and their summary statistics (perf_counter_ns, microseconds)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def summarize(samples_ns: list[int] | np.ndarray) -> dict[str, float]:
    us = np.asarray(samples_ns, dtype=np.float64) / 1000.0
    return {
        "p50": float(np.percentile(us, 50)),
        "p90": float(np.percentile(us, 90)),
        "p99": float(np.percentile(us, 99)),
        "mean": float(us.mean()),
        "std": float(us.std()),
        "min": float(us.min()),
        "max": float(us.max()),
        "runs": int(us.size),
    }


def time_loop(
    step: Callable[[int], None],
    *,
    warmup: int,
    min_runs: int,
    min_time: float,
    prepare: Callable[[int], None] | None = None,
    max_time: float = 60.0,
) -> list[int]:
    """Call ``step(i)`` until both ``min_runs`` and ``min_time`` are reached; ns per call.

    ``prepare(i)`` runs before each timed call, outside the timing (e.g. binding the input).
    """
    for i in range(warmup):
        if prepare:
            prepare(i)
        step(i)
    samples: list[int] = []
    clock = time.perf_counter_ns
    started = clock()
    budget, cap = min_time * 1e9, max_time * 1e9
    i = 0
    while len(samples) < min_runs or clock() - started < budget:
        if prepare:
            prepare(i)
        t0 = clock()
        step(i)
        samples.append(clock() - t0)
        i += 1
        if clock() - started > cap and len(samples) >= min(min_runs, 10):
            break
    return samples


def downsample(samples: list[int], keep: int = 2000) -> list[float]:
    """At most ``keep`` samples (µs), evenly spaced, for the distribution plots."""
    us = np.asarray(samples, dtype=np.float64) / 1000.0
    if us.size > keep:
        us = us[np.linspace(0, us.size - 1, keep).astype(int)]
    return [round(float(v), 2) for v in us]
