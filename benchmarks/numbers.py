"""Numbers read through the app: read exactly per length and spacing, beside the ceiling.

``mnist-edge numbers bench FILE.json [--model M] [--speed N] [--out REPORT.md]`` replays a
number file (``label`` a string of digits, ``stroke_digits`` per stroke, e.g. from
``mnist-edge numbers compose``) with ``mnist-edge draw --multi --replay FILE
--headless --no-learn`` and scores what the app printed, per length (2-5 digits) and per
spacing (apart / close / touching, measured in the app's ink). Beside each figure:

- ``ceiling``: every digit of the number read alone, as the single-digit app reads it (its own
  strokes, the same canvas, TTA, threshold);
- ``components``: the connected-component splitter the app used before (``split_digits`` on
  the rendered ink, read with the same recognizer), in process.

"read" counts a number right when its digits are; "sure" also asks that no digit was shown as
"?" (not sure). ``--speed N`` also times reading N 5-digit numbers cold (a new reader each)
and frames with input while writing them stroke by stroke (paced as a person writes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mnist_edge.benchmarks.baseline_splitter import read_many
from mnist_edge.benchmarks.number_figures import NumberFigures, digits_right
from mnist_edge.core.contract import DEFAULT_THRESHOLD
from mnist_edge.core.errors import UserError
from mnist_edge.edge_app.pen.default import pen_channel
from mnist_edge.edge_app.recognizer import Recognizer
from mnist_edge.edge_app.runtime import Model, load_model
from mnist_edge.edge_app.runtime.shipped import default_model
from mnist_edge.ink.canvas import Canvas
from mnist_edge.ink.compose import SPACINGS, spacing_of, strip_canvas
from mnist_edge.ink.strokes import Sample, as_the_app_takes, load_samples, render


@dataclass
class Tally:
    samples: int = 0
    read: int = 0  # the app read the digits right
    sure: int = 0  # ... and showed none as "?"
    ceiling: int = 0  # every digit right when read alone
    ceiling_sure: int = 0
    components: int = 0  # the connected-component splitter read the digits right
    components_sure: int = 0
    digits: int = 0  # digits in the labels
    digits_right: int = 0  # of them the app read right (number_figures.digits_right)
    length_right: int = 0  # numbers read with as many digits as written

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class NumberReport:
    file: str
    model: str
    rows: dict[tuple[str, str], Tally] = field(default_factory=dict)  # (length, spacing)

    def tally(self, length: str, spacing: str) -> Tally:
        out = Tally()
        for (n, s), t in self.rows.items():
            if length in (n, "all") and spacing in (s, "all"):
                out.add(t)
        return out

    def markdown(self) -> str:
        def pct(a: int, n: int) -> str:
            return f"{a / n:.1%}" if n else "-"

        head = (
            "| digits | spacing | numbers | read exactly | ceiling (each digit alone) | "
            "components (before) | digits right | length right | all sure | ceiling, all sure | "
            "components, all sure |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n"
        )
        lines = []
        lengths = sorted({n for n, _ in self.rows}, key=int)
        for length in [*lengths, "all"]:
            for spacing in [*SPACINGS, "all"]:
                t = self.tally(length, spacing)
                if not t.samples:
                    continue
                lines.append(
                    f"| {length} | {spacing} | {t.samples} | {pct(t.read, t.samples)} | "
                    f"{pct(t.ceiling, t.samples)} | {pct(t.components, t.samples)} | "
                    f"{pct(t.digits_right, t.digits)} | {pct(t.length_right, t.samples)} | "
                    f"{pct(t.sure, t.samples)} | {pct(t.ceiling_sure, t.samples)} | "
                    f"{pct(t.components_sure, t.samples)} |"
                )
        return head + "\n".join(lines) + "\n"


def app_readings(path: str, model: str) -> list[dict[str, object]]:
    """What ``mnist-edge draw --multi --replay PATH --headless --no-learn`` prints per sample."""
    cmd = [sys.executable, "-m", "mnist_edge", "draw", "--multi", "--replay", path]
    cmd += ["--headless", "--no-learn", "--model", model]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # its own one line, without its prefix (ours comes on top)
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        why = why.removeprefix("mnist-edge: ").removeprefix("error: ")
        raise UserError(f"the replay of {path} failed: {why[:400]}")
    sys.stderr.write(done.stderr)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def app_recognizer(model: Model) -> Recognizer:
    """The recognizer the app makes for this model by default (TTA 5 where calibrated; the
    shipped pen channel beside a shipped model, as the app fuses it)."""
    tta = 5 if model.calibrated_tta_threshold(5) is not None else 1
    threshold = model.threshold_for(tta) or DEFAULT_THRESHOLD
    return Recognizer(model, threshold, tta, pen=pen_channel(model))


def _digits_alone(sample: Sample, canvas: Canvas, rec: Recognizer) -> tuple[bool, bool]:
    assert isinstance(sample.label, str) and sample.stroke_digits is not None
    right = sure = True
    for k, want in enumerate(sample.label):
        own = [s for s, o in zip(sample.strokes, sample.stroke_digits) if o == k]
        reading = rec.read(render(own, canvas.width, canvas.height, canvas.brush))
        ok = reading is not None and str(reading.prediction.digit) == want
        right &= ok
        sure &= ok and reading is not None and rec.sure(reading.prediction)
    return right, sure


def _components(sample: Sample, canvas: Canvas, rec: Recognizer) -> tuple[bool, bool]:
    ink = render(sample.strokes, canvas.width, canvas.height, canvas.brush)
    digits = read_many(rec, ink, canvas.brush)
    read = "".join(str(d.reading.prediction.digit) for d in digits)
    sure = all(rec.sure(d.reading.prediction) for d in digits)
    return read == sample.label, read == sample.label and sure


def score(path: str, model_path: str | None = None) -> NumberReport:
    model_file = model_path or str(default_model()[0])
    samples = [s for s in load_samples(path) if isinstance(s.label, str)]
    if not samples:
        raise UserError(
            f"{path} holds no numbers (labels that are strings of digits, as "
            "'mnist-edge numbers compose' writes); pass one"
        )
    lines = app_readings(path, model_file)
    if len(lines) != len(samples):
        raise UserError(f"{path}: the app printed {len(lines)} readings for {len(samples)} numbers")
    rec = app_recognizer(load_model(model_file))
    canvas = strip_canvas()  # the replay's canvas: the default screen's writing strip
    report = NumberReport(Path(path).name, Path(model_file).name)
    for sample, line in zip(samples, lines):
        assert isinstance(sample.label, str)
        spacing = (
            spacing_of(sample.strokes, sample.stroke_digits, canvas)
            if sample.stroke_digits
            else "unknown"
        )
        alone, alone_sure = _digits_alone(sample, canvas, rec) if sample.stroke_digits else (0, 0)
        comp, comp_sure = _components(sample, canvas, rec)
        t = report.rows.setdefault((str(len(sample.label)), spacing), Tally())
        t.samples += 1
        read = str(line.get("read") or "")
        t.digits += len(sample.label)
        t.digits_right += digits_right(sample.label, read)
        t.length_right += int(len(read) == len(sample.label))
        t.read += int(line.get("read") == sample.label)
        t.sure += int(line.get("number") == sample.label)
        t.ceiling += int(alone)
        t.ceiling_sure += int(alone_sure)
        t.components += int(comp)
        t.components_sure += int(comp_sure)
    return report


def score_in_process(model: Model, path: str, limit: int | None = None) -> NumberFigures:
    """The number samples of ``path`` read as the app's replay reads them (its recognizer with
    the defaults, the strokes the app takes, on the default screen's strip, no learning), in
    this process: what ``bench --drawn-eval`` reports per model row."""
    rec = app_recognizer(model)
    canvas = strip_canvas()
    samples = [s for s in load_samples(path) if isinstance(s.label, str)][:limit]
    figures = NumberFigures()
    for sample in samples:
        assert isinstance(sample.label, str)
        digits = rec.read_number(
            as_the_app_takes(sample.strokes), canvas.width, canvas.height, canvas.brush
        )
        read = "".join(str(d.reading.prediction.digit) for d in digits)
        sure = all(rec.digit_sure(d) for d in digits)
        if sample.stroke_digits:
            alone = _digits_alone(sample, canvas, rec)[0]
            spacing = spacing_of(sample.strokes, sample.stroke_digits, canvas)
        else:  # collected numbers may not say which stroke is which digit
            alone, spacing = False, "unknown"
        figures.add_number(sample.label, read, sure, alone, spacing)
    return figures
