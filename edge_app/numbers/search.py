"""Step 5 of reading a number: the runs of units that may be one digit, and the best split
of the whole writing by dynamic programming over unit boundaries."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mnist_edge.edge_app.numbers.units import MAX_STROKES, MAX_UNITS, WIDEST, Unit, writing_height


@dataclass(frozen=True)
class Candidate:
    """A run of units [first, last) read as one digit."""

    first: int
    last: int
    image: np.ndarray  # uint8 28x28: what the model read
    probabilities: np.ndarray  # float32 [10]
    embedding: np.ndarray | None
    box: tuple[int, int, int, int]  # left, top, right, bottom (exclusive) in canvas px, ink
    exact: bool = True  # ``image`` is pixel-equal to the single-digit path (no blended overlap)
    score: float = 0.0  # log P(this is one digit)
    key: tuple[object, ...] = ()  # its units' content: equal keys, equal ink


def digit_spans(units: Sequence[Unit], brush: int) -> list[tuple[int, int]]:
    """The runs of units that may be one digit: up to ``MAX_UNITS`` units of at most
    ``MAX_STROKES`` strokes, no wider than a digit can be (unless one cut stroke)."""
    widest = WIDEST * (writing_height(units, brush) if units else 1.0)
    out = []
    for i in range(len(units)):
        strokes: set[int] = set()
        x0, x1 = np.inf, -np.inf
        for j in range(i + 1, min(len(units), i + MAX_UNITS) + 1):
            u = units[j - 1]
            strokes.add(u.stroke)
            if len(strokes) > MAX_STROKES:
                break  # longer runs only add strokes
            x0, x1 = min(x0, u.x0), max(x1, u.x1)
            if j - i == 1 or len(strokes) == 1 or x1 - x0 <= widest:  # one stroke, cut or not
                out.append((i, j))
    return out


def span_key(size: tuple[int, int, int], units: Sequence[Unit]) -> tuple[object, ...]:
    """A candidate's cache key: the canvas and its units' content in time order, so the same
    ink in either reading order is read once (and its final reading kept once)."""
    return (*size, *(u.key for u in sorted(units, key=lambda u: (u.stroke, u.start))))


def _scored_by_end(
    scored: Sequence[Candidate], scores: Sequence[float] | np.ndarray | None
) -> tuple[list[float], dict[int, list[int]]]:
    """Each candidate's score (``scores`` stand for their own), and the candidates ending at
    each unit boundary: what both dynamic programmes walk."""
    values = [c.score for c in scored] if scores is None else [float(v) for v in scores]
    by_end: dict[int, list[int]] = {}
    for k, c in enumerate(scored):
        by_end.setdefault(c.last, []).append(k)
    return values, by_end


def best_path(
    count: int,
    scored: Sequence[Candidate],
    per_digit: float,
    scores: Sequence[float] | np.ndarray | None = None,
) -> tuple[list[Candidate], float]:
    """Dynamic programming over unit boundaries: the candidates that cover units 0..count-1
    once, in order, with the highest summed score (each digit adds ``per_digit``). ``scores``
    (one per candidate) stand for their ``score``; the path's candidates then carry them."""
    values, by_end = _scored_by_end(scored, scores)
    best = [-np.inf] * (count + 1)
    best[0] = 0.0
    back = [-1] * (count + 1)
    for j in range(1, count + 1):
        for k in by_end.get(j, []):
            total = best[scored[k].first] + values[k] + per_digit
            if total > best[j]:
                best[j], back[j] = total, k
    path: list[Candidate] = []
    j = count
    while j > 0:
        k = back[j]
        assert k >= 0  # single units are always candidates: every end is reachable
        c = scored[k]
        path.append(c if scores is None else dataclasses.replace(c, score=values[k]))
        j = c.first
    path.reverse()
    return path, float(best[count])


def rival_split(
    count: int,
    scored: Sequence[Candidate],
    per_digit: float,
    scores: Sequence[float] | np.ndarray | None,
    digits: int,
) -> tuple[float, frozenset[tuple[int, int]]]:
    """The best path into another number of digits than ``digits`` (the best path's): how far
    below the best path's total it scores (``inf`` when no other count covers the units) and
    its candidates' unit spans. A split that nearly ties with one of another length is where
    numbers are misread most ("11" read "1", a "0" read "10"), whatever each digit's
    confidence: the reader flags such a number's contested digits (docs/numbers.md)."""
    values, by_end = _scored_by_end(scored, scores)
    # best[j][n]: the best total covering units 0..j-1 with n digits, and its last candidate.
    best: list[dict[int, tuple[float, int]]] = [{} for _ in range(count + 1)]
    best[0][0] = (0.0, -1)
    for j in range(1, count + 1):
        for k in by_end.get(j, []):
            for n, (total, _) in best[scored[k].first].items():
                value = total + values[k] + per_digit
                if value > best[j].get(n + 1, (-np.inf, -1))[0]:
                    best[j][n + 1] = (value, k)
    ends = best[count]
    if digits not in ends or len(ends) < 2:
        return float("inf"), frozenset()
    other = max((n for n in ends if n != digits), key=lambda n: ends[n][0])
    spans = []
    j, n = count, other
    while j > 0:
        k = best[j][n][1]
        spans.append((scored[k].first, scored[k].last))
        j, n = scored[k].first, n - 1
    return ends[digits][0] - ends[other][0], frozenset(spans)
