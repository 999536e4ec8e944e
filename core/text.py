"""Text for people: Markdown tables, percentages and an exception as one line, each made once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub Markdown table; cells are ``str()``-ed, pipes inside them escaped."""

    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    body = [line(r) for r in rows]
    return "\n".join([line(head), "|" + "---|" * len(head), *body])


def percent(fraction: float | None, digits: int = 2) -> str:
    """0.99504 -> '99.50%'; None -> '-'."""
    return "-" if fraction is None else f"{fraction:.{digits}%}"


def error_line(exc: BaseException, limit: int = 240) -> str:
    """An exception as one line: its last non-empty line (frameworks put the cause last, after
    their context), cut to ``limit`` characters; the type name if it says nothing."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:limit]
