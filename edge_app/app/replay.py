"""The replay harness: drives the real app from outside with recorded strokes.

Each sample becomes the finger events a person drawing it would produce, posted to pygame's
event queue and handled by the app's own loop, so a replay measures exactly what users get.
With ``learn``, it also plays a person who corrects every misreading (one profile per writer,
in memory only) and reports online accuracy with and without learning.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from mnist_edge.core.signals import stop_on_sigterm
from mnist_edge.core.sysinfo import peak_rss_mb, rss_mb
from mnist_edge.edge_app.app.loop import App
from mnist_edge.edge_app.learn import Learner
from mnist_edge.ink.strokes import Sample, fitted_to, label_text


@dataclass
class WriterScore:
    samples: int = 0
    plain: int = 0  # the model alone read it right
    learned: int = 0  # the app, with what it had learned so far, read it right
    corrections: int = 0


@dataclass
class ReplayStats:
    samples: int = 0
    labelled: int = 0
    correct: int = 0
    writers: dict[str, WriterScore] = field(default_factory=dict)
    rss_after_first: float | None = None
    rss_after: int = 0  # ... that many samples
    played: int = 0
    numbers: int = 0  # samples labelled with a number (read with --multi)
    numbers_sure: int = 0  # ... read exactly with every digit sure (as the screen shows it)
    stopped_by: int | None = None  # the signal that ended the replay early

    def summary(self, learn: bool) -> list[str]:
        lines = []
        if self.stopped_by is not None:
            lines.append(
                f"replay stopped by {signal.Signals(self.stopped_by).name} after "
                f"{self.played} of {self.samples} samples"
            )
        if self.labelled:
            lines.append(
                f"replayed {self.played} samples, read {self.correct}/{self.labelled} "
                f"correctly ({self.correct / self.labelled:.2%})"
            )
        if self.numbers:
            lines.append(
                f"numbers: {self.numbers_sure}/{self.numbers} read exactly with every digit "
                f"sure ({self.numbers_sure / self.numbers:.2%})"
            )
        if learn and self.writers:
            total = WriterScore()
            worst = 0
            for score in self.writers.values():
                total.samples += score.samples
                total.plain += score.plain
                total.learned += score.learned
                total.corrections += score.corrections
                worst = min(worst, score.learned - score.plain)
            gains = [(s.learned - s.plain) / s.samples for s in self.writers.values()]
            lines.append(
                f"learning: {total.plain / total.samples:.2%} without, "
                f"{total.learned / total.samples:.2%} with ({total.corrections} "
                f"corrections, {len(self.writers)} writers); mean gain per writer "
                f"{np.mean(gains) * 100:+.2f} points, worst writer {worst:+d} samples"
            )
        return lines

    def writer_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "writer": w,
                "samples": s.samples,
                "without": s.plain / s.samples,
                "with": s.learned / s.samples,
                "corrections": s.corrections,
            }
            for w, s in sorted(self.writers.items())
        ]


def finger_events(app: App, sample: Sample) -> Iterator[Any]:
    """The finger events of drawing ``sample`` on this app's canvas: a sample that says which
    canvas it was written on keeps its shape here (``fitted_to``), an older one is stretched."""
    pg = app.pg
    canvas = app.layout.canvas
    for stroke in fitted_to(sample.strokes, sample.canvas, (canvas.w, canvas.h)):
        if not stroke:
            continue
        for i, point in enumerate(stroke):
            u, v = app.display_uv_of(point)
            kind = pg.FINGERDOWN if i == 0 else pg.FINGERMOTION
            yield pg.event.Event(
                kind, touch_id=1, finger_id=0, x=u, y=v, dx=0.0, dy=0.0, pressure=1.0
            )
        u, v = app.display_uv_of(stroke[-1])
        yield pg.event.Event(
            pg.FINGERUP, touch_id=1, finger_id=0, x=u, y=v, dx=0.0, dy=0.0, pressure=0.0
        )


def _learner_for(app: App, writer: str, learners: dict[str, Learner]) -> Learner:
    model = app.recognizer.model
    if writer not in learners:
        dim = int(model.embedding.shape[-1]) if model.embedding is not None else 0
        learners[writer] = Learner("replay", dim)  # memory only: never the user's profile
    return learners[writer]


#: Events posted per frame at most: SDL's queue holds 65,535, and a recording may hold more.
MAX_EVENTS_PER_FRAME = 4096


def replay(
    app: App,
    samples: list[Sample],
    *,
    headless: bool,
    learn: bool = False,
    out: TextIO = sys.stdout,
    pace: int = 4,
) -> ReplayStats:
    """Play samples through the event queue, one after another; print a JSON line each.

    While collecting (``app.collector``), each sample is saved as its own label, as a person
    following the prompts would: scripted collection, end to end.
    """
    stats = ReplayStats(samples=len(samples))
    if learn and app.recognizer.model.embedding is None:
        raise ValueError("this model has no embedding output: it cannot learn")
    with stop_on_sigterm(lambda signum: setattr(stats, "stopped_by", signum)):
        _play(app, samples, stats, headless=headless, learn=learn, out=out, pace=pace)
    return stats


def _play(
    app: App,
    samples: list[Sample],
    stats: ReplayStats,
    *,
    headless: bool,
    learn: bool,
    out: TextIO,
    pace: int,
) -> None:
    learners: dict[str, Learner] = {}
    for number, sample in enumerate(samples, 1):
        if not app.running or stats.stopped_by is not None:
            break
        writer = sample.writer or "all"
        if learn:
            app.recognizer.learner = _learner_for(app, writer, learners)
        app.clear()
        app.frame(None)
        events = list(finger_events(app, sample))
        step = min(len(events) or 1, MAX_EVENTS_PER_FRAME) if headless else pace
        for i in range(0, len(events), step):
            for event in events[i : i + step]:
                app.pg.event.post(event)
            app.frame(None if headless else app.config.fps)
            if not app.running:
                break
        if not headless:
            for _ in range(app.config.fps // 2):
                app.frame(app.config.fps)
        result: dict[str, Any] = {"label": sample.label}
        if sample.writer is not None:
            result["writer"] = sample.writer
        if app.config.multi:
            # "number" is what the screen shows ("?" where not sure); "read" the digits read.
            result["number"] = "".join(
                app.view.label_of(d, app.recognizer) for d in app.state.digits
            )
            result["read"] = "".join(
                app.recognizer.model.labels[d.reading.prediction.digit] for d in app.state.digits
            )
            result["sure"] = "?" not in result["number"] and bool(app.state.digits)
            # Every sample is read as a number here, a digit's label as a one-digit number:
            # scored as a whole, corrected digit by digit.
            if sample.label is not None:
                label = label_text(sample.label)
                stats.labelled += 1
                stats.correct += int(result["read"] == label)
                stats.numbers += 1
                stats.numbers_sure += int(result["number"] == label)
                if learn:
                    _learn_number(app, label, stats.writers.setdefault(writer, WriterScore()))
            _file_sample(app, sample, result, stats, number, len(samples), out)
            continue
        reading = app.reading
        if reading is None:
            result.update(digit=None, confidence=0.0, sure=False)
        else:
            p = reading.prediction
            result.update(
                digit=p.digit, confidence=round(p.confidence, 4), sure=app.recognizer.sure(p)
            )
            if learn:
                result.update(model_digit=reading.model_digit, learned=reading.learned)
            if app.state.several:  # clearly several digits: the app says so, not one digit
                result["several"] = app.state.several
        if sample.label is not None:
            stats.labelled += 1
            stats.correct += int(result["digit"] == sample.label)
            if learn and reading is not None:
                score = stats.writers.setdefault(writer, WriterScore())
                score.samples += 1
                score.plain += int(reading.model_digit == sample.label)
                score.learned += int(reading.prediction.digit == sample.label)
                if reading.prediction.digit != sample.label:  # the person corrects it
                    app.correct(sample.label)
                    score.corrections += 1
        _file_sample(app, sample, result, stats, number, len(samples), out)


def _learn_number(app: App, label: str, score: WriterScore) -> None:
    """A person who corrects every misread digit of a number, as the app lets them: a tap on
    the digit's box (``select``), then on the right digit's bar (``correct``). A number read
    with a digit too many or too few has no box per written digit: nothing to tap, it only
    counts as misread."""
    digits = app.state.digits
    score.samples += 1
    model = "".join(str(d.reading.model_digit) for d in digits)
    shown = "".join(str(d.reading.prediction.digit) for d in digits)
    score.plain += int(model == label)
    score.learned += int(shown == label)
    if len(digits) != len(label):
        return
    for i, want in enumerate(label):
        if str(app.state.digits[i].reading.prediction.digit) != want:
            app.select(i)
            app.correct(int(want))
            score.corrections += 1
    app.state.selected = None


def _file_sample(
    app: App,
    sample: Sample,
    result: dict[str, Any],
    stats: ReplayStats,
    number: int,
    total: int,
    out: TextIO,
) -> None:
    """The end of every sample: scripted collection saves it as its label; its line is out."""
    if app.collector is not None and sample.label is not None:
        app.collector.ask(sample.label)
        app.command("save")
        result["saved"] = app.state.message.text if app.state.message else None
    out.write(json.dumps(result) + "\n")
    out.flush()
    stats.played = number
    if number == min(100, total):
        stats.rss_after_first, stats.rss_after = rss_mb(), number


def performance(app: App, stats: ReplayStats) -> str:
    """Frame time while drawing, reading time, memory: for the end-of-replay summary."""
    parts = []
    if app.busy_frames_ms:
        frames = np.asarray(app.busy_frames_ms)
        parts.append(
            f"frames with input p50 {np.percentile(frames, 50):.1f} ms, p99 "
            f"{np.percentile(frames, 99):.1f} ms "
            f"(>= {1000 / max(np.percentile(frames, 99), 1e-3):.0f} fps)"
        )
    if app.reading_ms:
        reads = np.asarray(app.reading_ms)
        parts.append(
            f"preprocess+predict p50 {np.percentile(reads, 50):.2f} ms, p99 "
            f"{np.percentile(reads, 99):.2f} ms"
        )
    now = rss_mb()
    if now is not None and stats.rss_after_first is not None:
        parts.append(
            f"RSS {stats.rss_after_first:.1f} MB after {stats.rss_after} samples, {now:.1f} MB "
            f"at the end (peak {peak_rss_mb():.1f} MB)"
        )
    return "; ".join(parts)
