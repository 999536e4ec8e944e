"""The calibration record: written by training, read back from files that are user input."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mnist_edge.core.calibration_record import Calibration, Flagged, TtaThreshold

FLAGS = Flagged(0.02, 11, 0.55, 0.025)
RECORD = Calibration(
    temperature=1.86,
    threshold=0.8,
    threshold_before=0.6,
    rule="the rule",
    fitted_on="a",
    measured_on="b",
    before=FLAGS,
    after=FLAGS,
    tta={5: TtaThreshold(0.85, FLAGS), 3: TtaThreshold(0.75)},
)


def test_the_record_survives_json() -> None:
    assert Calibration.from_json(RECORD.to_json()) == RECORD


def test_threshold_for_a_count_falls_back_to_reading_once() -> None:
    assert RECORD.threshold_for(1) == 0.8
    assert RECORD.threshold_for(5) == 0.85
    assert RECORD.threshold_for(9) == 0.8  # not calibrated for 9


@pytest.mark.parametrize(
    "bad",
    [None, True, "0.8", math.inf, math.nan, 0, 1, 1.5, -0.2, [0.8], {"x": 1}],
    ids=repr,
)
def test_a_bad_threshold_is_dropped_not_trusted(bad: Any) -> None:
    raw = RECORD.to_json()
    raw["threshold"] = bad
    raw["tta"]["5"]["threshold"] = bad
    read = Calibration.from_json(raw)
    assert read is not None and read.threshold is None
    assert 5 not in read.tta and read.threshold_for(5) is None
    assert read.tta[3].threshold == 0.75  # the good entry stays


@pytest.mark.parametrize("bad", [None, True, "2", math.inf, math.nan, 0, -1.0, [2.0]], ids=repr)
def test_a_temperature_must_be_a_positive_number(bad: Any) -> None:
    assert Calibration.from_json({**RECORD.to_json(), "temperature": bad}).temperature is None  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", [None, "x", 3, ["tta"], True])
def test_a_record_that_is_not_a_table_is_none(bad: Any) -> None:
    assert Calibration.from_json(bad) is None


@pytest.mark.parametrize("key", ["1", "0", "-5", "five", "65", "5.0"])
def test_tta_counts_outside_two_to_64_are_dropped(key: str) -> None:
    raw = RECORD.to_json()
    raw["tta"] = {key: {"threshold": 0.9}}
    assert Calibration.from_json(raw).tta == {}  # type: ignore[union-attr]


def test_flags_of_the_wrong_type_are_dropped() -> None:
    raw = RECORD.to_json()
    raw["before"] = {"ece": "low", "misreads": True, "misreads_flagged": 2.0}
    before = Calibration.from_json(raw).before  # type: ignore[union-attr]
    assert before == Flagged(None, None, None, None)
