"""The pen rows of ``bench --pen`` in the report and on the terminal (docs/pen.md)."""

from __future__ import annotations

import textwrap

from mnist_edge.benchmarks.pen import PenFigures, PenResult
from mnist_edge.core.text import fixed, markdown_table, points


def _names(results: list[PenResult]) -> list[str]:
    return list(dict.fromkeys(name for r in results for name in r.drawn))


def _status(r: PenResult) -> str:
    return r.status + (f": {r.reason}" if r.reason else "")


def _flags(f: PenFigures | None, which: str) -> str:
    """'image -> fused' shares flagged "not sure" of the misreads or of the correct readings."""
    if f is None:
        return "-"
    if which == "misreads":
        return f"{points(f.image_misreads_flagged)} -> {points(f.fused_misreads_flagged)}"
    return f"{points(f.image_correct_flagged)} -> {points(f.fused_correct_flagged)}"


def pen_table(results: list[PenResult]) -> str:
    """The pen rows (Markdown); empty without any."""
    if not results:
        return ""
    names = _names(results)
    head = [
        "pen model",
        "runtime",
        "thr",
        "status",
        *[f"{d}: pen alone %" for d in names],
        *[f"{d}: image -> fused %" for d in names],
        *[f"{d}: misreads flagged %, image -> fused" for d in names],
        *[f"{d}: correct flagged %, image -> fused" for d in names],
        "pen p50 µs",
        "pen p99 µs",
        "features p50 µs",
        "reading p50 µs: image -> fused",
        "fused reading p99 µs",
        "KB",
        "fused with",
    ]
    rows = []
    for r in results:
        fused_with = (
            f"{r.image_model}, TTA {r.tta}, w {r.weight:g}, T {r.temperature:g}"
            if r.image_model and r.weight is not None and r.temperature is not None
            else "-"
        )
        if r.fitted_for_image_model is False:
            fused_with += " (fusion fitted with another image model)"
        rows.append(
            [
                r.model,
                r.runtime,
                fixed(r.threads, "d"),
                _status(r),
                *[points(f.pen) if (f := r.drawn.get(d)) else "-" for d in names],
                *[
                    f"{points(f.image)} -> {points(f.fused)}" if (f := r.drawn.get(d)) else "-"
                    for d in names
                ],
                *[_flags(r.drawn.get(d), "misreads") for d in names],
                *[_flags(r.drawn.get(d), "correct") for d in names],
                fixed(r.latency_us.get("p50"), ".0f"),
                fixed(r.latency_us.get("p99"), ".0f"),
                fixed(r.features_us.get("p50"), ".0f"),
                f"{fixed(r.image_reading_us.get('p50'), '.0f')} -> "
                f"{fixed(r.fused_reading_us.get('p50'), '.0f')}",
                fixed(r.fused_reading_us.get("p99"), ".0f"),
                fixed(r.bytes / 1024 if r.bytes else None, ".1f"),
                fused_with,
            ]
        )
    return markdown_table(head, rows)


def pen_section(results: list[PenResult]) -> str:
    body = pen_table(results)
    if not body:
        return ""
    return (
        "\n## Pen channel (`--pen`)\n\nThe stroke model alone, and the image model the app "
        "loads read as the app reads (picture alone -> fused with the pen, as `mnist-edge draw "
        "--pen FILE` fuses them), on each drawn file; pen: features + model call on real drawn "
        "strokes; reading: the app's whole reading of a digit (docs/pen.md).\n\n" + body + "\n"
    )


def pen_lines(results: list[PenResult]) -> list[str]:
    """The pen rows for the terminal, wrapped (never cut) at 100 columns."""
    lines = ["pen channel (--pen): pen alone; image -> fused, as the app reads:"] if results else []
    for r in results:
        if not r.ok:
            text = f"{r.model} on {r.runtime}: {_status(r)}"
        else:
            parts = [
                f"{name} pen {points(f.pen)} %, {points(f.image)} -> {points(f.fused)} % "
                f"(flagged: misreads {_flags(f, 'misreads')} %, correct {_flags(f, 'correct')} %)"
                for name, f in r.drawn.items()
            ]
            parts.append(
                f"pen p50 {fixed(r.latency_us.get('p50'), '.0f')} µs, p99 "
                f"{fixed(r.latency_us.get('p99'), '.0f')} µs; reading "
                f"{fixed(r.image_reading_us.get('p50'), '.0f')} -> "
                f"{fixed(r.fused_reading_us.get('p50'), '.0f')} µs (fused p99 "
                f"{fixed(r.fused_reading_us.get('p99'), '.0f')} µs); "
                f"{fixed(r.bytes / 1024, '.0f')} KB; with {r.image_model}"
            )
            text = f"{r.model} on {r.runtime}: " + ", ".join(parts)
        lines += textwrap.wrap(text, width=100, subsequent_indent="    ", break_on_hyphens=False)
    return lines
