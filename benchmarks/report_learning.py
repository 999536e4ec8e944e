"""On-device learning figures of a benchmark: the Markdown table and terminal lines."""

from __future__ import annotations

from mnist_edge.benchmarks.results import Result
from mnist_edge.core.text import fixed, markdown_table, points


def learning_table(results: list[Result]) -> str:
    """On-device learning per model and file (Markdown): online accuracy without and with a
    simulated person correcting every misreading, and what a correction costs. Empty when no
    row measured it (models without an embedding output, or the reference runtime)."""
    rows = [r for r in results if r.ok and r.learning]
    if not rows:
        return ""
    head = [
        "model",
        "runtime",
        "file",
        "writers",
        "without %",
        "with %",
        "per-writer gain",
        "worst writer",
        "misreads (repeats)",
        "read / add µs",
        "bytes per correction",
    ]
    body = [
        [
            r.model,
            r.runtime,
            name,
            got["writers"],
            points(got["without"]),
            points(got["with"]),
            f"{got['mean_gain_points']:+.2f} pts",
            f"{got['worst_writer_delta_samples']:+d} samples",
            f"{got.get('misreads', '-')} ({got.get('repeated_misreads', '-')})",
            f"{fixed(r.learning_costs.get('read_us'), '.0f')} / "
            f"{fixed(r.learning_costs.get('add_us'), '.0f')}",
            fixed(r.learning_costs.get("bytes_per_correction"), ",.0f"),
        ]
        for r in rows
        for name, got in r.learning.items()
    ]
    return markdown_table(head, body)


def learning_lines(results: list[Result]) -> list[str]:
    """The learning figures for the terminal, each line within 100 characters."""
    lines = []
    for r in results:
        if not (r.ok and r.learning):
            continue
        cost = r.learning_costs
        lines.append(
            f"{r.name}: read {fixed(cost.get('read_us'), '.0f')} µs with "
            f"{cost.get('stored', '?')} stored, add {fixed(cost.get('add_us'), '.0f')} µs, "
            f"{fixed(cost.get('bytes_per_correction'), ',.0f')} B per correction"
        )
        for name, got in r.learning.items():
            lines.append(
                f"  {name[:28]}: {points(got['without'])} -> {points(got['with'])} %, "
                f"{got['mean_gain_points']:+.2f} pts/writer, worst "
                f"{got['worst_writer_delta_samples']:+d}, {got.get('repeated_misreads', '-')} "
                f"of {got.get('misreads', '-')} misreads repeat"
            )
    return [line if len(line) <= 100 else line[:99] + "…" for line in lines]


def learning_section(results: list[Result]) -> str:
    body = learning_table(results)
    if not body:
        return ""
    return (
        "\n## On-device learning\n\nEach writer's digits in order, every misreading corrected "
        "(one profile per writer); a repeat is a misread the same writer already made (same "
        "digit, same wrong answer), roughly what learning can fix.\n\n" + body + "\n"
    )
