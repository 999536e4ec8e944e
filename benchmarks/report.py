"""Benchmark output: the results table (terminal and Markdown), results.json/.csv/.md.

The rooms beside it: ``report_tta`` (reading once vs the app's variants), ``report_learning``
(on-device learning), ``plots``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from mnist_edge.benchmarks.pen import PenResult
from mnist_edge.benchmarks.plots import plots
from mnist_edge.benchmarks.policy import RULE, headline, recommend
from mnist_edge.benchmarks.report_learning import learning_lines, learning_section, learning_table
from mnist_edge.benchmarks.report_numbers import numbers_section
from mnist_edge.benchmarks.report_pen import pen_section
from mnist_edge.benchmarks.report_tta import drawn_names, tta_lines, tta_section, tta_table
from mnist_edge.benchmarks.results import Result
from mnist_edge.core.fsutil import write_json_atomic, write_text_atomic
from mnist_edge.core.plotting import matplotlib_or_none
from mnist_edge.core.text import fixed, markdown_table, points, text_table, wrapped

STATS = ("p50", "p90", "p99", "mean", "std", "min", "max")
PLOTS_HINT = "plots need matplotlib: pip install 'mnist-edge[plots]'"
__all__ = ["learning_lines", "learning_table", "tta_lines", "tta_table"]  # the report's API


def table(results: list[Result], batch_sizes: tuple[int, ...], markdown: bool = False) -> str:
    """All figures as Markdown; the terminal gets the columns that fit 100 characters."""
    return results_markdown(results, batch_sizes) if markdown else results_text(results)


def _status(r: Result) -> str:
    return r.status + (f": {r.reason}" if r.reason else "")


def results_markdown(results: list[Result], batch_sizes: tuple[int, ...]) -> str:
    drawn = drawn_names(results)
    head = [
        "format",
        "runtime",
        "thr",
        "status",
        "acc %",
        "robust %",
        *[f"{d} %" for d in drawn],
        "p50 µs",
        "p99 µs",
        "invoke p50 µs",
        *[f"img/s @{b}" for b in batch_sizes],
        "load ms",
        "cold ms",
        "RSS MB",
        "KB",
    ]
    rows = [
        [
            r.format,
            r.runtime,
            fixed(r.threads, "d"),
            _status(r),
            points(r.accuracy),
            points(r.robust_accuracy),
            *[points(r.drawn.get(d)) for d in drawn],
            fixed(r.latency_us.get("p50"), ".0f"),
            fixed(r.latency_us.get("p99"), ".0f"),
            fixed(r.invoke_us.get("p50"), ".0f"),
            *[fixed(r.throughput_ips.get(str(b)), ",.0f") for b in batch_sizes],
            fixed(r.load_ms, ".1f"),
            fixed(r.cold_start_ms, ".0f"),
            fixed(r.peak_rss_mb, ".0f"),
            fixed(r.bytes / 1024 if r.bytes else None, ".1f"),
        ]
        for r in results
    ]
    return markdown_table(head, rows)


def results_text(results: list[Result]) -> str:
    head = ["format", "runtime", "thr", "acc %", "robust%", "drawn%", "p50 µs", "RSS MB", "KB",
            "status"]  # fmt: skip
    rows = [
        [
            r.format,
            r.runtime,
            fixed(r.threads, "d"),
            points(r.accuracy),
            points(r.robust_accuracy),
            points(sum(r.drawn.values()) / len(r.drawn) if r.drawn else None),
            fixed(r.latency_us.get("p50"), ".0f"),
            fixed(r.peak_rss_mb, ".0f"),
            fixed(r.bytes / 1024 if r.bytes else None, ".0f"),
            _status(r),
        ]
        for r in results
    ]
    return text_table(head, rows)


#: What each terminal column measures (printed under the table; results.md has it too).
LEGEND = (
    ("acc %", "MNIST test digits read right (the first --limit N)"),
    ("robust%", "the same test digits re-drawn as people draw on a touchscreen (moved, "
     "scaled, stretched, thinner or thicker strokes) and read through the app's to_mnist"),
    ("drawn%", "real drawn digits of the --drawn-eval files, rendered as the app renders "
     "them (mean over the files)"),
    ("p50 µs", "median time of one model call on one digit (bind, invoke, read), 1 image"),
    ("RSS MB", "peak memory of a fresh process that loads the model and reads a digit"),
    ("KB", "the file's size"),
    ("status", "ok, skipped or failed, with the reason"),
)  # fmt: skip


def legend_lines(markdown: bool = False) -> list[str]:
    if markdown:
        return [f"- **{name}**: {what}" for name, what in LEGEND]
    width = max(len(name) for name, _ in LEGEND)
    return [wrapped(f"{name.ljust(width)}  {what}", hang=width + 2) for name, what in LEGEND]


def recommendation_lines(results: list[Result]) -> list[str]:
    """Which file to deploy per runtime family, by the one rule (``benchmarks.policy``)."""
    picks = recommend(results)
    if not picks:
        why = (
            "no accuracy was measured"
            if not any(r.accuracy is not None for r in results)
            else "no edge row ran on 1 thread"
        )
        return [f"no recommendation: {why}; the rule needs both. Rule: {RULE}."]
    lines = [f"deploy ({family}): {headline(pick)}" for family, pick in picks.items()]
    return [*lines, f"rule: {RULE}."]


def _csv(results: list[Result], batch_sizes: tuple[int, ...]) -> str:
    drawn = drawn_names(results)
    fields = [
        "model",
        "format",
        "precision",
        "runtime",
        "threads",
        "status",
        "reason",
        "accuracy",
        "robust_accuracy",
        *[f"drawn_{d}" for d in drawn],
        *[f"latency_{s}_us" for s in STATS],
        *[f"invoke_{s}_us" for s in STATS],
        *[f"throughput_ips_b{b}" for b in batch_sizes],
        "load_ms",
        "first_inference_ms",
        "cold_start_ms",
        "peak_rss_mb",
        "bytes",
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for r in results:
        flat = r.to_json()
        for name, stats in (("latency", r.latency_us), ("invoke", r.invoke_us)):
            for s in STATS:
                flat[f"{name}_{s}_us"] = stats.get(s)
        for b in batch_sizes:
            flat[f"throughput_ips_b{b}"] = r.throughput_ips.get(str(b))
        for d in drawn:
            flat[f"drawn_{d}"] = r.drawn.get(d)
        writer.writerow(flat)
    return buf.getvalue()


def _images_line(meta: dict[str, Any]) -> str:
    if meta.get("no_accuracy"):
        return (
            f"no accuracy ({meta['no_accuracy']}); latency over {meta.get('images')} digits "
            "typeset in OpenCV's fonts."
        )
    return f"{meta.get('images')} (accuracy), single-image latency over real test digits."


def write_all(
    out: Path,
    environment: dict[str, Any],
    results: list[Result],
    batch_sizes: tuple[int, ...],
    meta: dict[str, Any],
    pen: list[PenResult] | None = None,
) -> list[str]:
    """results.json/.csv/.md and, where matplotlib is installed, the plots; ``pen``: the pen
    channel's rows (``bench --pen``), under "pen" in results.json and a section of results.md."""
    pen = pen or []
    write_json_atomic(
        out / "results.json",
        {
            "environment": environment,
            **meta,
            "results": [r.to_json() for r in results],
            **({"pen": [r.to_json() for r in pen]} if pen else {}),
        },
    )
    write_text_atomic(out / "results.csv", _csv(results, batch_sizes))
    env_lines = "\n".join(f"- **{k}**: {v}" for k, v in environment.items())
    write_text_atomic(
        out / "results.md",
        f"# mnist-edge benchmark\n\n{env_lines}\n\n"
        f"Images: {_images_line(meta)}\n\n{table(results, batch_sizes, markdown=True)}\n\n"
        + "".join(f"{line}\n" for line in legend_lines(markdown=True))
        + "\n"
        + "".join(f"{line}\n" for line in recommendation_lines(results))
        + tta_section(results, meta.get("settings", {}).get("tta", 1))
        + learning_section(results)
        + numbers_section(results)
        + pen_section(pen),
    )
    written = ["results.json", "results.csv", "results.md"]
    if matplotlib_or_none() is None:  # the edge extra has no matplotlib: tables only
        return written
    return written + plots(out, results)
