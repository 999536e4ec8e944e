"""Step 4 of reading a number: is a candidate one digit? Its geometry against the writing
(height and width, overlap and gap with neighbouring units, cuts, vertical offset) and the
model's probabilities, scored by two small fitted networks (pen-lift ends and cut ends) whose
weights are data beside the models (:mod:`~mnist_edge.edge_app.numbers.weights`)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from mnist_edge.edge_app.numbers.units import MAX_UNITS, Unit, overlap, writing_height
from mnist_edge.edge_app.numbers.weights import CUT_ENDS, NumberScores, ScoreNet

if TYPE_CHECKING:
    from mnist_edge.edge_app.numbers.search import Candidate


def features(
    units: Sequence[Unit],
    first: int,
    last: int,
    probabilities: np.ndarray,
    ref: float,
    centre_y: float,
) -> np.ndarray:
    """The rejection model's inputs for the candidate made of ``units[first:last]``."""
    group = units[first:last]
    p = np.clip(probabilities.astype(np.float64), 1e-6, 1.0)
    logp = np.log(p)
    top2 = np.sort(logp)[-2:]
    x0, x1 = min(u.x0 for u in group), max(u.x1 for u in group)
    y0, y1 = min(u.y0 for u in group), max(u.y1 for u in group)
    before = units[first - 1] if first > 0 else None
    after = units[last] if last < len(units) else None
    before2 = units[first - 2] if first > 1 else None
    after2 = units[last + 1] if last + 1 < len(units) else None

    def cut(a: Unit | None, b: Unit | None) -> float:  # a boundary inside one stroke
        return float(a is not None and b is not None and a.stroke == b.stroke)

    whole = Unit(-1, 0, 0, (0, 0, 0), x0, y0, x1, y1)
    ordered = sorted(group, key=lambda u: u.x0)
    reach, inside = ordered[0].x1, 0.0
    for u in ordered[1:]:
        inside = max(inside, u.x0 - reach)
        reach = max(reach, u.x1)
    return np.array(
        [
            top2[1],
            top2[1] - top2[0],
            float(-(p * logp).sum()),
            np.log((y1 - y0 + 1) / ref),
            np.log((x1 - x0 + 1) / ref),
            float(len(group)),
            cut(before, group[0]) + cut(group[-1], after),
            overlap(whole, before) if before is not None else 0.0,
            overlap(whole, after) if after is not None else 0.0,
            overlap(whole, before2) if before2 is not None else 0.0,
            overlap(whole, after2) if after2 is not None else 0.0,
            (x0 - before.x1) / ref if before is not None else 1.0,
            (after.x0 - x1) / ref if after is not None else 1.0,
            inside / ref,
            abs((y0 + y1) / 2 - centre_y) / ref,
            *logp,
        ],
        np.float64,
    )


def feature_matrix(
    units: Sequence[Unit],
    spans: np.ndarray,
    probabilities: np.ndarray,
    ref: float,
    centre_y: float,
    blocks: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`features` of many candidates at once (``spans``: int [N, 2] of first, last;
    ``probabilities``: [N, 10]): the same numbers, as one array operation per feature, so
    the reading after each stroke does not pay a Python loop per candidate. ``blocks`` (int
    [N, 2], start and end of each row's units): ``units`` holds several reading orders one
    after the other, each row's neighbours are those of its own order."""
    n = len(units)
    lo, hi = (0, n) if blocks is None else (blocks[:, 0], blocks[:, 1])
    geo = np.array([(u.x0, u.y0, u.x1, u.y1, u.stroke) for u in units], np.float64)
    ux0, uy0, ux1, uy1, stroke = geo.T
    first, last = spans[:, 0], spans[:, 1]
    idx = first[:, None] + np.arange(MAX_UNITS)[None, :]
    inside_run = idx < last[:, None]
    idx = np.minimum(idx, n - 1)
    x0 = np.where(inside_run, ux0[idx], np.inf).min(1)
    x1 = np.where(inside_run, ux1[idx], -np.inf).max(1)
    y0 = np.where(inside_run, uy0[idx], np.inf).min(1)
    y1 = np.where(inside_run, uy1[idx], -np.inf).max(1)
    # np.minimum / np.maximum rather than np.clip: the same numbers, a fifth of the overhead.
    p = np.minimum(np.maximum(probabilities.astype(np.float64), 1e-6), 1.0)
    logp = np.log(p)
    top2 = np.sort(logp, axis=1)[:, -2:]

    def neighbour(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # (exists, index clamped)
        exists = (k >= lo) & (k < hi)
        return exists, np.minimum(np.maximum(k, 0), n - 1)

    def overlap(k: np.ndarray) -> np.ndarray:  # of the whole candidate with unit k
        exists, k = neighbour(k)
        inter = np.minimum(x1, ux1[k]) - np.maximum(x0, ux0[k])
        narrower = np.maximum(1.0, np.minimum(x1 - x0, ux1[k] - ux0[k]))
        share = np.minimum(np.maximum(inter / narrower, 0.0), 1.0)
        return np.where(exists & (inter > 0), share, 0.0)

    has_before, before = neighbour(first - 1)
    has_after, after = neighbour(last)
    cuts = (has_before & (stroke[before] == stroke[first])).astype(np.float64) + (
        has_after & (stroke[after] == stroke[last - 1])
    )
    # The largest gap inside: units by left edge, each against the reach of those before it.
    left = np.where(inside_run, ux0[idx], np.inf)
    order = np.argsort(left, axis=1, kind="stable")
    left = np.take_along_axis(left, order, 1)
    right = np.take_along_axis(np.where(inside_run, ux1[idx], -np.inf), order, 1)
    reach = np.maximum.accumulate(right, axis=1)
    gaps = np.where(np.isfinite(left[:, 1:]), left[:, 1:] - reach[:, :-1], 0.0)
    inside = np.maximum(gaps.max(1, initial=0.0), 0.0)
    return np.column_stack(
        [
            top2[:, 1],
            top2[:, 1] - top2[:, 0],
            -(p * logp).sum(1),
            np.log((y1 - y0 + 1) / ref),
            np.log((x1 - x0 + 1) / ref),
            (last - first).astype(np.float64),
            cuts,
            overlap(first - 1),
            overlap(last),
            overlap(first - 2),
            overlap(last + 1),
            np.where(has_before, (x0 - ux1[before]) / ref, 1.0),
            np.where(has_after, (ux0[after] - x1) / ref, 1.0),
            inside / ref,
            np.abs((y0 + y1) / 2 - centre_y) / ref,
            logp,
        ]
    )


def digit_scores(x: np.ndarray, scores: NumberScores) -> np.ndarray:
    """log P(one digit) of each row of ``x`` [N, features] of a candidate with no cut end."""
    return scores.net(x)


def scores_of(x: np.ndarray, net: ScoreNet, cut_net: ScoreNet, cut_prior: float) -> np.ndarray:
    """log P(one digit) of each candidate: ``net`` for candidates whose ends are pen lifts,
    ``cut_net`` less ``cut_prior`` for those that end at a cut (a stroke that runs on into
    the next digit). Two networks because pen lifts and joins look different: fitted as one
    on numbers with both, it read numbers with pen lifts 2-5 points worse."""
    cut = x[:, CUT_ENDS] > 0
    out = np.empty(len(x), np.float64)
    out[~cut] = net(x[~cut])
    out[cut] = cut_net(x[cut]) - cut_prior
    return out


def candidate_scores(
    sets: Sequence[tuple[Sequence[Unit], Sequence[Candidate]]], brush: int, fitted: NumberScores
) -> list[np.ndarray]:
    """log P(one digit) of each candidate of each reading order, by the fitted networks
    (:func:`scores_of`), all in one pass."""
    matrices = candidate_matrices(sets, brush)
    scores = scores_of(np.concatenate(matrices), fitted.net, fitted.cut_net, fitted.cut_prior)
    return np.split(scores, np.cumsum([len(m) for m in matrices])[:-1])


def candidate_features(
    units: Sequence[Unit], found: Sequence[Candidate], brush: int
) -> list[tuple[Candidate, np.ndarray]]:
    """Each candidate with the rejection model's inputs."""
    return list(zip(found, candidate_matrix(units, found, brush)))


def candidate_matrix(units: Sequence[Unit], found: Sequence[Candidate], brush: int) -> np.ndarray:
    """The rejection model's inputs of the candidates, a row each [N, features]."""
    return candidate_matrices([(units, found)], brush)[0]


def candidate_matrices(
    sets: Sequence[tuple[Sequence[Unit], Sequence[Candidate]]], brush: int
) -> list[np.ndarray]:
    """:func:`candidate_matrix` of each reading order's candidates (the same units in another
    order), computed in one pass: the reading after a stroke pays numpy's per-call cost once."""
    units = sets[0][0]  # every order holds the same units: the same height and centre
    ref = writing_height(units, brush)
    centre = float(statistics.median([(u.y0 + u.y1) / 2 for u in units]))
    everything: list[Unit] = []
    spans, blocks, probabilities, sizes = [], [], [], []
    for order_units, found in sets:
        start = len(everything)
        everything += order_units
        spans += [(start + c.first, start + c.last) for c in found]
        blocks += [(start, len(everything))] * len(found)
        probabilities += [c.probabilities for c in found]
        sizes.append(len(found))
    x = feature_matrix(
        everything,
        np.array(spans, np.int64).reshape(-1, 2),
        np.array(probabilities, np.float64).reshape(-1, 10),
        ref,
        centre,
        np.array(blocks, np.int64).reshape(-1, 2),
    )
    return np.split(x, np.cumsum(sizes)[:-1])
