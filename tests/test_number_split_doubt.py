"""A number is not sure when another split into a different number of digits nearly ties with
the chosen one (issue 31: misread numbers are mostly digits merged or split): the rival split
(``numbers.search.rival_split``), the digits it contests, how the recognizer judges them and
how the fusion's calibration chooses the margin (``train.pen_fusion.number_rule``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from mnist_edge.edge_app.numbers.search import Candidate, best_path, rival_split
from mnist_edge.edge_app.pen.fusion import PenChannel
from mnist_edge.edge_app.recognizer import Recognizer
from mnist_edge.edge_app.results import NumberDigit, Reading
from mnist_edge.edge_app.runtime import Prediction
from mnist_edge.train.pen_fusion import NUMBER_BUDGET, number_rule


def _candidate(first: int, last: int, score: float) -> Candidate:
    blank = np.zeros((28, 28), np.uint8)
    return Candidate(
        first, last, blank, np.full(10, 0.1, np.float32), None, (0, 0, 1, 1), True, score
    )


def test_the_rival_is_the_best_split_of_another_length() -> None:
    # Three units: one digit each (three digits), or units 0-1 as one digit (two digits).
    scored = [_candidate(0, 1, -0.2), _candidate(1, 2, -0.3), _candidate(2, 3, -0.1)]
    scored.append(_candidate(0, 2, -1.0))
    path, total = best_path(3, scored, 0.0)
    assert [(c.first, c.last) for c in path] == [(0, 1), (1, 2), (2, 3)]
    margin, rival = rival_split(3, scored, 0.0, None, len(path))
    assert margin == pytest.approx(total - (-1.0 - 0.1)) == pytest.approx(0.5)
    assert rival == {(0, 2), (2, 3)}
    # Digits the rival cuts otherwise are contested; the one it shares is not.
    assert [(c.first, c.last) not in rival for c in path] == [True, True, False]
    # The bias per digit moves the margin as it moves the choice.
    assert rival_split(3, scored, -0.3, None, 3)[0] == pytest.approx(0.2)
    # No other length covers the units: no rival.
    assert rival_split(1, [_candidate(0, 1, -0.2)], 0.0, None, 1) == (float("inf"), frozenset())


def _digit(confidence: float, margin: float, contested: bool) -> NumberDigit:
    p = np.full(10, (1 - confidence) / 9, np.float32)
    p[1] = confidence
    prediction = Prediction(1, confidence, p, None)
    return NumberDigit(
        (0, 0, 1, 1),
        (0,),
        Reading(prediction, np.zeros((28, 28), np.uint8), 1.0, 1),
        margin,
        contested,
    )


@pytest.fixture
def recognizer() -> Any:
    model: Any = None
    pen = PenChannel(model, 0.2, 0.9, 1.2, 0.9, split_margin=1.0)
    return Recognizer(model, 0.9, 1, pen=pen)  # type: ignore[arg-type]


def test_a_contested_digit_of_a_near_tie_is_not_sure(recognizer: Any) -> None:
    sure = _digit(0.99, 5.0, True)
    assert recognizer.digit_sure(sure) and recognizer.number_sure([sure, sure])
    near = _digit(0.99, 0.4, True)  # confident, but the rival split nearly ties
    assert not recognizer.digit_sure(near) and not recognizer.number_sure([sure, near])
    shared = _digit(0.99, 0.4, False)  # a near tie that splits this digit the same way
    assert recognizer.digit_sure(shared)
    # Without a pen channel (or a file without the margin) the split is not judged.
    assert Recognizer(None, 0.9, 1).digit_sure(near)  # type: ignore[arg-type]
    old = dataclasses.replace(recognizer.pen, split_margin=None)
    assert Recognizer(None, 0.9, 1, pen=old).digit_sure(near)  # type: ignore[arg-type]
    # The number's confidence stays its least sure digit's.
    assert recognizer.number_confidence([sure, near]) == pytest.approx(0.99)


def test_the_number_rule_flags_near_ties_within_the_budget() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    correct = np.ones(n, bool)
    correct[:20] = False
    confidence = np.where(correct, rng.uniform(0.95, 1.0, n), 0.99)  # misreads look confident
    margin = np.where(correct, rng.uniform(1.0, 10.0, n), rng.uniform(0.0, 0.8, n))
    t, m = number_rule(confidence, margin, correct)
    flagged = (confidence < t) | (margin < m)
    assert flagged[~correct].all() and flagged[correct].mean() <= NUMBER_BUDGET
    # the smallest margin of the grid that catches them all (ties: the smaller margin)
    assert m == pytest.approx(np.ceil(margin[~correct].max() * 10) / 10)
    # Nothing to gain from the split: the margin stays 0 (not judged).
    assert number_rule(confidence, np.full(n, np.inf), correct)[1] == 0.0
