"""How well numbers were read: the counts behind "read exactly", "digits right", "length right".

One record per number file and model, filled by ``benchmarks.numbers.score_in_process`` (the
bench's rows); stored in ``results.json`` as plain JSON, read back by
:meth:`NumberFigures.from_json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COUNTS = ("numbers", "read", "sure", "digits", "digits_right", "length_right", "ceiling")


def digits_right(label: str, read: str) -> int:
    """Digits of ``label`` read right. Same length: position by position. Otherwise the length
    less the edit distance (insertions, deletions, substitutions), at least 0: a missed digit
    costs that digit, an extra one costs one more, not every digit after them."""
    if len(label) == len(read):
        return sum(a == b for a, b in zip(label, read))
    previous = list(range(len(read) + 1))
    for i, a in enumerate(label, 1):
        row = [i]
        for j, b in enumerate(read, 1):
            row.append(min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = row
    return max(0, len(label) - previous[-1])


@dataclass
class NumberFigures:
    """Counts for one set of numbers (a file, or a length or spacing bucket of it)."""

    numbers: int = 0
    read: int = 0  # every digit right, the length too
    sure: int = 0  # ... and no digit shown as "?"
    digits: int = 0  # digits in the labels
    digits_right: int = 0  # of them read right (see :func:`digits_right`)
    length_right: int = 0  # as many digits read as written
    ceiling: int = 0  # every digit right when read alone (the single-digit reading)
    #: The same counts per spacing (apart / close / touching, in the app's ink) and per length.
    by_spacing: dict[str, NumberFigures] = field(default_factory=dict)
    by_length: dict[str, NumberFigures] = field(default_factory=dict)

    def add_number(
        self, label: str, read: str, sure: bool, alone_right: bool, spacing: str
    ) -> None:
        """One number, counted in the totals and in its spacing and length buckets."""
        self.add_reading(label, read, sure, alone_right)
        for buckets, key in ((self.by_spacing, spacing), (self.by_length, str(len(label)))):
            buckets.setdefault(key, NumberFigures()).add_reading(label, read, sure, alone_right)

    def add_reading(self, label: str, read: str, sure: bool, alone_right: bool) -> None:
        """One number, in the totals only."""
        self.numbers += 1
        self.read += int(read == label)
        self.sure += int(read == label and sure)
        self.digits += len(label)
        self.digits_right += digits_right(label, read)
        self.length_right += int(len(read) == len(label))
        self.ceiling += int(alone_right)

    def share(self, name: str) -> float | None:
        """A count as a share of its whole (digits of digits, the rest of numbers)."""
        whole = self.digits if name == "digits_right" else self.numbers
        return getattr(self, name) / whole if whole else None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(self, name) for name in COUNTS}
        for name in ("by_spacing", "by_length"):
            if buckets := getattr(self, name):
                data[name] = {k: v.to_json() for k, v in buckets.items()}
        return data

    @classmethod
    def from_json(cls, data: Any) -> NumberFigures:
        """Tolerant of files from other versions: unknown keys and wrong types are ignored."""
        found = cls()
        if not isinstance(data, dict):
            return found
        for name in COUNTS:
            value = data.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                setattr(found, name, value)
        for name in ("by_spacing", "by_length"):
            buckets = data.get(name)
            if isinstance(buckets, dict):
                setattr(found, name, {str(k): cls.from_json(v) for k, v in buckets.items()})
        return found
