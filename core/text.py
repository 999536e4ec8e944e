"""Text for people: Markdown tables, percentages and an exception as one line, each made once."""

from __future__ import annotations

import textwrap
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


def quoted(value: object, limit: int = 40) -> str:
    """``repr(value)`` for an error line, cut to about ``limit`` characters: a user's value may
    be megabytes long."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def error_line(exc: BaseException, limit: int = 240) -> str:
    """An exception as one line: its last non-empty line (frameworks put the cause last, after
    their context), cut to ``limit`` characters; the type name if it says nothing."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:limit]


def text_table(head: Sequence[str], rows: Sequence[Sequence[str]], width: int = 100) -> str:
    """A plain-text table for the terminal, at most ``width`` characters wide: columns padded to
    their widest cell; the last column (free text, e.g. a status and its reason) takes what is
    left and wraps onto lines of its own under itself, never cut (a reason is the fix)."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    widths[-1] = len(head[-1])
    indent = sum(w + 2 for w in widths[:-1])
    room = max(12, width - indent)
    out = [
        "  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(),
        "  ".join("-" * w for w in widths[:-1]) + "  " + "-" * min(room, 20),
    ]
    # Squeezed into a narrow column, a reason reads badly: it goes on under the row instead.
    hang = indent if room >= 40 else 4
    for row in rows:
        words = row[-1].split()
        first = (textwrap.wrap(row[-1], room, break_long_words=False) or [""])[0]
        out.append("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths)) + "  " + first)
        rest = " ".join(words[len(first.split()) :])
        rest = textwrap.wrap(rest, width - hang, break_on_hyphens=False)
        out.extend(" " * hang + line for line in rest)
    return "\n".join(line.rstrip() for line in out)


def wrapped(text: str, width: int = 100, hang: int = 2) -> str:
    """A paragraph for the terminal: ``width`` columns, continuation lines indented ``hang``."""
    return textwrap.fill(text, width, subsequent_indent=" " * hang, break_on_hyphens=False)


def fixed(value: object, spec: str, missing: str = "-") -> str:
    """``format(value, spec)``; ``missing`` for None (a figure that was not measured)."""
    return missing if value is None else format(value, spec)


def points(fraction: float | None) -> str:
    """0.99504 -> '99.50' (a percentage without its sign, for columns headed '%')."""
    return fixed(None if fraction is None else fraction * 100, ".2f")
