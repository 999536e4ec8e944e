"""The calibration record: what training found about a model's confidence, typed.

Training writes it (``metrics.json``, then every exported file's metadata); the app, ``predict``
and the reports read it back with :meth:`Calibration.from_json`, which trusts nothing: a model
file is user input, so a field of the wrong type is dropped, never a crash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


def _probability(value: Any) -> float | None:
    """A threshold or share from a file: a finite number strictly between 0 and 1."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1
    return float(value) if ok else None


def _share(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
    return float(value) if ok else None


def _positive(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok and math.isfinite(value) and value > 0 else None


def _text(value: Any) -> str:
    return value[:500] if isinstance(value, str) else ""


@dataclass(frozen=True)
class Flagged:
    """How a threshold sorts readings of held-out writers: ECE, misreads, shares under it."""

    ece: float | None
    misreads: int | None
    misreads_flagged: float | None
    correct_flagged: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "ece": self.ece,
            "misreads": self.misreads,
            "misreads_flagged": self.misreads_flagged,
            "correct_flagged": self.correct_flagged,
        }

    @classmethod
    def from_json(cls, raw: Any) -> Flagged | None:
        if not isinstance(raw, dict):
            return None
        misreads = raw.get("misreads")
        return cls(
            _share(raw.get("ece")),
            misreads if isinstance(misreads, int) and not isinstance(misreads, bool) else None,
            _share(raw.get("misreads_flagged")),
            _share(raw.get("correct_flagged")),
        )


@dataclass(frozen=True)
class TtaThreshold:
    """The threshold chosen for readings averaged over one count of variants."""

    threshold: float
    after: Flagged | None = None

    def to_json(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "after": self.after and self.after.to_json()}


@dataclass(frozen=True)
class Calibration:
    temperature: float | None  # folded into the last layer: the probabilities already carry it
    threshold: float | None  # the "not sure" threshold for reading once
    threshold_before: float | None = None  # the default it replaced
    rule: str = ""
    fitted_on: str = ""
    measured_on: str = ""
    before: Flagged | None = None  # the default threshold, before temperature scaling
    after: Flagged | None = None  # the chosen threshold, after
    tta: dict[int, TtaThreshold] = field(default_factory=dict)  # variant count -> threshold

    def threshold_for(self, tta: int) -> float | None:
        """The threshold for ``tta`` averaged variants; the plain one where that count was not
        calibrated (the best the model knows)."""
        own = self.tta.get(tta) if tta > 1 else None
        return own.threshold if own is not None else self.threshold

    def to_json(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "threshold": self.threshold,
            "threshold_before": self.threshold_before,
            "rule": self.rule,
            "fitted_on": self.fitted_on,
            "measured_on": self.measured_on,
            "before": self.before and self.before.to_json(),
            "after": self.after and self.after.to_json(),
            "tta": {str(n): t.to_json() for n, t in sorted(self.tta.items())},
        }

    @classmethod
    def from_json(cls, raw: Any) -> Calibration | None:
        """The record in ``raw`` (metadata or metrics.json); None if there is none at all."""
        if not isinstance(raw, dict):
            return None
        tta: dict[int, TtaThreshold] = {}
        per_count = raw.get("tta")
        for key, entry in per_count.items() if isinstance(per_count, dict) else ():
            count = int(key) if isinstance(key, str) and key.isdigit() else None
            value = _probability(entry.get("threshold")) if isinstance(entry, dict) else None
            if count is not None and 1 < count <= 64 and value is not None:
                tta[count] = TtaThreshold(value, Flagged.from_json(entry.get("after")))
        before = raw.get("threshold_before")
        return cls(
            temperature=_positive(raw.get("temperature")),
            threshold=_probability(raw.get("threshold")),
            threshold_before=_probability(before),
            rule=_text(raw.get("rule")),
            fitted_on=_text(raw.get("fitted_on")),
            measured_on=_text(raw.get("measured_on")),
            before=Flagged.from_json(raw.get("before")),
            after=Flagged.from_json(raw.get("after")),
            tta=tta,
        )
