"""The bench's numbers section: each --drawn-eval file of numbers, read per model row as the
app reads it (``benchmarks.numbers.score_in_process``)."""

from __future__ import annotations

from mnist_edge.benchmarks.number_figures import NumberFigures
from mnist_edge.benchmarks.results import Result
from mnist_edge.core.text import markdown_table

#: The shares reported, in order: (heading, NumberFigures field).
COLUMNS = (
    ("read exactly %", "read"),
    ("digits right %", "digits_right"),
    ("length right %", "length_right"),
    ("ceiling (each digit alone) %", "ceiling"),
    ("read exactly, all sure %", "sure"),
)


def _pct(figures: NumberFigures, name: str) -> str:
    share = figures.share(name)
    return "-" if share is None else f"{share * 100:.1f}"


def numbers_table(results: list[Result]) -> str:
    """One row per (model row, number file); empty when no row read numbers."""
    body = [
        [r.format, r.runtime, name, f"{figures.numbers:,}"]
        + [_pct(figures, field) for _, field in COLUMNS]
        for r in results
        if r.ok
        for name, figures in r.number_figures().items()
    ]
    if not body:
        return ""
    head = ["format", "runtime", "file", "numbers", *(h for h, _ in COLUMNS)]
    return markdown_table(head, body)


SPACINGS = ("apart", "close", "touching", "unknown")


def breakdown_table(results: list[Result]) -> str:
    """Per spacing and length, for the first edge row that read numbers (the rows differ by
    a few tenths; the totals table has them all); empty when none did."""
    for r in results:
        for name, figures in r.number_figures().items() if r.ok else []:
            rows = [
                (f"spacing: {k}", figures.by_spacing[k])
                for k in SPACINGS
                if k in figures.by_spacing
            ]
            rows += [(f"{k} digits", v) for k, v in sorted(figures.by_length.items())]
            if not rows:
                continue
            head = [f"{r.format} / {r.runtime}, {name}", "numbers", *(h for h, _ in COLUMNS)]
            body = [
                [label, f"{f.numbers:,}", *(_pct(f, field) for _, field in COLUMNS)]
                for label, f in rows
            ]
            return markdown_table(head, body)
    return ""


def numbers_section(results: list[Result]) -> str:
    text = numbers_table(results)
    if not text:
        return ""
    if breakdown := breakdown_table(results):
        text += "\n\n" + breakdown
    return (
        "\n## Numbers (`--drawn-eval` files of numbers, as `draw --multi` reads them)\n\n"
        "Each edge row's model read the file's numbers through the app's recognizer (TTA and "
        "threshold as the app picks them, no learning). *Digits right*: position by position "
        "when the length is right, else the length less the edit distance; *ceiling*: every digit "
        "right when read alone.\n\n" + text + "\n"
    )
