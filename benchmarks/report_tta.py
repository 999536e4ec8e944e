"""Reading once vs averaging the app's variants (TTA): the Markdown table and terminal lines."""

from __future__ import annotations

from mnist_edge.benchmarks.results import Result
from mnist_edge.core.text import fixed, markdown_table, points


def drawn_names(results: list[Result]) -> list[str]:
    return list(dict.fromkeys(name for r in results for name in r.drawn))


def _tta_rows(results: list[Result]) -> list[Result]:
    return [r for r in results if r.ok and r.tta_accuracy is not None]


def _tta_figures(r: Result, drawn: list[str]) -> list[tuple[str, str, str]]:
    """(set, reading once, reading the variants) for MNIST and each drawn file, then time."""
    return [
        ("MNIST", points(r.accuracy), points(r.tta_accuracy)),
        *[(d, points(r.drawn.get(d)), points(r.tta_drawn.get(d))) for d in drawn],
        ("µs", fixed(r.latency_us.get("p50"), ".0f"), fixed(r.tta_latency_us.get("p50"), ".0f")),
    ]


def tta_table(results: list[Result], tta: int) -> str:
    """Reading once vs averaging ``tta`` variants (Markdown): accuracy on MNIST and each drawn
    file, and the time of one reading both ways. Empty when no row measured it."""
    rows = _tta_rows(results)
    if not rows:
        return ""
    drawn = drawn_names(rows)
    head = ["model", "runtime", "MNIST %", *[f"{d} %" for d in drawn], "µs p50: call -> reading"]
    body = [
        [r.model, r.runtime, *[f"{once} -> {many}" for _, once, many in _tta_figures(r, drawn)]]
        for r in rows
    ]
    return (
        f"Reading once -> averaging {tta} variants (`--tta {tta}`); time: one model call -> "
        "one averaged reading (variants, one batched call, the mean):\n\n"
        + markdown_table(head, body)
    )


def tta_lines(results: list[Result], tta: int) -> list[str]:
    """``tta_table`` for the terminal: one entry per row, wrapped (never cut) at 100 columns."""
    import textwrap

    rows = _tta_rows(results)
    lines = [f"reading once -> averaging {tta} variants (--tta {tta}):"] if rows else []
    for r in rows:
        *accuracy, (_, call, reading) = _tta_figures(r, drawn_names(rows))
        parts = [f"{name} {once} -> {many} %" for name, once, many in accuracy]
        parts.append(f"{call} µs per call -> {reading} µs per reading")
        text = f"{r.model} on {r.runtime}: " + ", ".join(parts)
        lines += textwrap.wrap(text, width=100, subsequent_indent="    ", break_on_hyphens=False)
    return lines


def tta_section(results: list[Result], tta: int) -> str:
    body = tta_table(results, tta)
    return f"\n## Test-time augmentation\n\n{body}\n" if body else ""
