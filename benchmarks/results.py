"""One benchmark row, typed: what was measured for one (model, runtime, threads).

``results.json`` holds these rows as JSON objects with the same field names; reading it back
(the pipeline, the comparison and estimate tools) goes through :meth:`Result.from_json`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from mnist_edge.benchmarks.number_figures import NumberFigures

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
#: Fields kept out of results.json (bulky, or only for the plots and debugging).
TRANSIENT = ("samples_us", "traceback")
#: Timing fields (µs), each ``summarize``'s statistics: a row with others is not a bench row.
TIMINGS = ("latency_us", "invoke_us", "tta_latency_us")


@dataclass
class Result:
    model: str  # file name
    format: str  # a registry format key, "keras", or the family when unknown
    runtime: str
    precision: str = "?"
    threads: int | None = None
    bytes: int = 0
    status: str = FAILED
    reason: str = ""
    accuracy: float | None = None  # MNIST test set (or --limit of it)
    robust_accuracy: float | None = None  # test digits re-drawn and read through to_mnist
    drawn: dict[str, float] = field(default_factory=dict)  # replay file -> accuracy (--drawn-eval)
    tta_accuracy: float | None = None  # MNIST with test-time augmentation (--tta)
    tta_drawn: dict[str, float] = field(default_factory=dict)  # drawn files, with --tta
    #: number files of --drawn-eval -> NumberFigures.to_json() (read through number_figures)
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    latency_us: dict[str, float] = field(default_factory=dict)  # whole call: p50, p90, ...
    invoke_us: dict[str, float] = field(default_factory=dict)  # the runtime's invoke alone
    #: p50 of each timing round (bench --repeats, interleaved across rows); the policy's speed
    latency_rounds_us: list[float] = field(default_factory=list)
    tta_latency_us: dict[str, float] = field(default_factory=dict)
    learning: dict[str, Any] = field(default_factory=dict)  # per file: gain of on-device learning
    learning_costs: dict[str, float] = field(default_factory=dict)  # µs per read/add, bytes
    throughput_ips: dict[str, float] = field(default_factory=dict)  # batch size -> images/s
    load_ms: float | None = None
    first_inference_ms: float | None = None
    cold_start_ms: float | None = None
    cold_start_error: str = ""
    peak_rss_mb: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    samples_us: list[float] = field(default_factory=list)
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def p50(self) -> float | None:
        return self.latency_us.get("p50")

    def number_figures(self) -> dict[str, NumberFigures]:
        """The number files this row read, as typed records."""
        return {name: NumberFigures.from_json(data) for name, data in self.numbers.items()}

    @property
    def name(self) -> str:
        threads = f" t{self.threads}" if self.threads else ""
        return f"{self.format} / {self.runtime}{threads}"

    def update(self, measured: dict[str, Any]) -> Result:
        """Take the fields a worker measured (unknown keys are ignored, not trusted)."""
        names = {f.name for f in dataclasses.fields(self)}
        for key, value in measured.items():
            if key in names and value is not None:
                setattr(self, key, value)
        return self

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in TRANSIENT:
            data.pop(key, None)
        return {
            k: v
            for k, v in data.items()
            if v not in (None, "", {}, []) or k in ("status", "reason")
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        """A row as ``to_json`` writes it. Timings that are not times (a missing ``p50`` in a
        measured row, text, NaN, a negative time) raise ValueError naming the field."""
        row = cls(
            model=str(data.get("model", "?")),
            format=str(data.get("format", "?")),
            runtime=str(data.get("runtime", "?")),
        ).update(data)
        for name in TIMINGS:
            _check_timings(
                row.model, name, getattr(row, name), needed=row.ok and name == "latency_us"
            )
        if not isinstance(row.latency_rounds_us, list):  # one p50 per timing round
            raise _bad(row.model, "latency_rounds_us", "is not a list of times")
        _check_times(row.model, "latency_rounds_us", row.latency_rounds_us)
        return row


def _bad(model: str, name: str, what: str) -> ValueError:
    return ValueError(f"{name} of {model} {what}; make the file with 'mnist-edge bench'")


def _check_timings(model: str, name: str, stats: Any, needed: bool) -> None:
    """``stats`` is {} or ``summarize``'s statistics (a ``p50`` with them); ``needed``: not {}."""
    if not isinstance(stats, dict):
        raise _bad(model, name, f"is {stats!r:.60}, not an object of times")
    if (stats or needed) and "p50" not in stats:
        raise _bad(model, name, "has no p50")
    _check_times(model, name, stats)


def _check_times(model: str, name: str, times: Any) -> None:
    """Each value a time in µs: a finite number of at least 0 (never a bool, text or NaN)."""
    if not isinstance(times, (dict, list)):
        raise _bad(model, name, f"is {times!r:.60}, not a list of times")
    for key, value in times.items() if isinstance(times, dict) else enumerate(times):
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else -1
        try:
            ok = 0 <= float(number) < math.inf
        except OverflowError:  # an integer like 10**400
            ok = False
        if not ok:
            raise _bad(model, f"{name}.{key}", f"is {value!r:.60}, not a time in µs")
