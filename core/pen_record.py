"""The pen fusion's measurement record, typed: what calibrating it on held-out writers found.

``mnist-edge pen fusion`` measures it (``train/pen_fusion.py``: today's reading and the fused
one, cross-fitted leaving one writer out, digits and composed numbers); the models' manifest
keeps it in its ``pen`` section (``calibration``) beside the pen files it was fitted for, and
the pipeline's report and the model card read their figures from it, never from literals.
A manifest is user input: a field of the wrong type is dropped, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mnist_edge.core.calibration_record import Flagged, _positive, _probability, _share, _text


def _count(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


def _dict(raw: Any, key: str) -> dict[str, Any]:
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class NumberFigures:
    """Composed numbers read one way: the shares read exactly, exactly with every digit sure,
    correct but shown with "?", and misread but flagged."""

    read_exactly: float | None
    exactly_and_sure: float | None
    correct_shown_unsure: float | None
    misread_flagged: float | None

    @classmethod
    def from_json(cls, raw: Any) -> NumberFigures | None:
        if not isinstance(raw, dict):
            return None
        keys = ("read_exactly", "exactly_and_sure", "correct_shown_unsure", "misread_flagged")
        return cls(*(_share(raw.get(k)) for k in keys))


@dataclass(frozen=True)
class StyleFigures:
    """One constructed writing style read the app's way: shares read right."""

    style: str
    digits: int | None
    writers: int | None
    today: float | None  # the picture alone
    today_unstyled: float | None  # the same digits as their writers wrote them
    fused: float | None  # the default: picture and pen

    @classmethod
    def from_json(cls, style: str, raw: Any) -> StyleFigures | None:
        if not isinstance(raw, dict):
            return None
        return cls(
            style,
            _count(raw.get("digits")),
            _count(raw.get("writers")),
            *(_share(raw.get(k)) for k in ("today", "today_unstyled", "fused")),
        )


@dataclass(frozen=True)
class SizeFigures:
    """Composed numbers at one writing height (a share of the strip's), read the app's way:
    read exactly and exactly with every digit sure, picture alone and fused."""

    label: str  # the file, or the length within it
    height: float | None
    numbers: int | None
    today_read_exactly: float | None
    today_exactly_and_sure: float | None
    fused_read_exactly: float | None
    fused_exactly_and_sure: float | None
    by_length: tuple[SizeFigures, ...] = ()

    @classmethod
    def from_json(cls, raw: Any, label: str = "") -> SizeFigures | None:
        if not isinstance(raw, dict):
            return None
        keys = (
            "today_read_exactly",
            "today_exactly_and_sure",
            "fused_read_exactly",
            "fused_exactly_and_sure",
        )
        lengths = _dict(raw, "by_length")
        return cls(
            label or _text(raw.get("file")),
            _share(raw.get("height")),
            _count(raw.get("numbers")),
            *(_share(raw.get(k)) for k in keys),
            by_length=tuple(
                f for n, v in lengths.items() if (f := cls.from_json(v, str(n))) is not None
            ),
        )


@dataclass(frozen=True)
class PenCalibration:
    """The fusion shipped (weight, temperature, thresholds), the rule that chose its
    thresholds (shares of correct readings allowed under them) and the held-out figures."""

    weight: float | None
    temperature: float | None
    threshold: float | None
    number_threshold: float | None
    split_margin: float | None  # a number whose rival split scores within it is not sure
    digit_budget: float | None  # at most this share of correct digits under ``threshold``
    number_budget: float | None  # ... of correct numbers under ``number_threshold``
    image_model: str
    tta: int | None
    writers: int | None
    digits: int | None
    today: Flagged | None  # the picture alone, as the app read before the pen
    fused: Flagged | None  # fused, each writer read with parameters fitted without it
    numbers: int | None
    today_numbers: NumberFigures | None
    fused_numbers: NumberFigures | None
    today_ms: float | None  # one reading, p50 in process
    fused_ms: float | None
    styles: tuple[StyleFigures, ...] = ()  # a constructed style set, per style
    sizes: tuple[SizeFigures, ...] = ()  # composed numbers per writing height

    @classmethod
    def from_json(cls, raw: Any) -> PenCalibration | None:
        """The record in ``raw`` (``mnist-edge pen fusion``'s output, with ``rule``); None if
        it is not one."""
        if not isinstance(raw, dict) or not isinstance(raw.get("fusion"), dict):
            return None
        fusion, rule, ms = _dict(raw, "fusion"), _dict(raw, "rule"), _dict(raw, "milliseconds")
        numbers = _dict(raw, "numbers")
        today, fused = _dict(raw, "today"), _dict(raw, "fused_cross_fitted")
        return cls(
            weight=_positive(fusion.get("weight")),
            temperature=_positive(fusion.get("temperature")),
            threshold=_probability(fusion.get("threshold")),
            number_threshold=_probability(fusion.get("number_threshold")),
            split_margin=_positive(fusion.get("split_margin")),
            digit_budget=_probability(rule.get("digit_budget")),
            number_budget=_probability(rule.get("number_budget")),
            image_model=_text(raw.get("image_model")).rsplit("/", 1)[-1],
            tta=_count(raw.get("tta")),
            writers=_count(raw.get("writers")),
            digits=_count(today.get("digits")),
            today=Flagged.from_json(today or None),
            fused=Flagged.from_json(fused or None),
            numbers=_count(_dict(numbers, "fused_cross_fitted").get("numbers")),
            today_numbers=NumberFigures.from_json(numbers.get("today")),
            fused_numbers=NumberFigures.from_json(numbers.get("fused_cross_fitted")),
            today_ms=_positive(ms.get("today_p50")),
            fused_ms=_positive(ms.get("fused_p50")),
            styles=tuple(
                f
                for name, v in _dict(raw, "styles").items()
                if (f := StyleFigures.from_json(str(name), v)) is not None
            ),
            sizes=tuple(
                f
                for v in (raw.get("sizes") if isinstance(raw.get("sizes"), list) else [])
                if (f := SizeFigures.from_json(v)) is not None
            ),
        )


def pen_calibration(section: dict[str, Any] | None) -> PenCalibration | None:
    """The record a manifest's ``pen`` section carries, if any."""
    return PenCalibration.from_json(section.get("calibration")) if section else None
