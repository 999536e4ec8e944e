"""The pen channel, benchmarked: the stroke model alone and fused with the picture (docs/pen.md).

``mnist-edge bench --pen models/pen-int8.tflite ... --drawn-eval FILE``: one row per pen file,
runtime (installed, of its family, that runs its format: the registry) and thread count:

- accuracy on each ``--drawn-eval`` file (only drawn files have strokes) of the pen model
  alone, of the image model the app loads on that runtime (the models folder's default,
  read as the app reads: ``--tta`` variants), and of both fused exactly as ``mnist-edge draw
  --pen FILE`` fuses them (:meth:`~mnist_edge.edge_app.pen.fusion.PenChannel.combine`, with the
  weight, temperature and threshold the pen file's metadata carries). The strokes are those
  the app keeps of each sample (see :func:`app_strokes`); a sample the app reads nothing of
  (blank, or drawn off the canvas) is a miss, as in the image rows;
- latency on real drawn strokes, cycling through the files' samples: the pen channel
  (features + model call) p50/p99, the features alone, the runtime's invoke alone (what the
  Pi estimate scales by peak arithmetic), and the app's whole reading, picture alone and
  fused, interleaved digit by digit; over ``--warmup``/``--min-runs``/``--min-time`` like the
  image rows;
- the file's size.

The rows are planned and run by the benchmark's runner (``runner.plan`` with ``kind="pen"``,
after the digit rows), in the benchmark's own process (no worker): a runtime only another
interpreter has (``--runtime-python``) gets a skipped row saying so. The tables:
:mod:`mnist_edge.benchmarks.report_pen`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.benchmarks.config import BenchConfig
from mnist_edge.benchmarks.results import FAILED, OK

#: Canvases kept for the reading-time loops (456x456 bytes each), cycled through.
TIMED_CANVASES = 200


@dataclass(frozen=True)
class PenFile:
    """A pen model file to measure (validated: it loads as a pen model)."""

    path: Path
    format: str  # a registry format key, from the file's own metadata
    family: str
    precision: str
    bytes: int


@dataclass(frozen=True)
class PenFigures:
    """One ``--drawn-eval`` file read by one pen row: the share read right, three ways, and
    how the app's "not sure" sorts the image and the fused readings (shares of the misreads
    and of the correct readings it flags, of the digits the app reads something of; None
    where there is no misread, or no correct reading, to share)."""

    samples: int
    pen: float  # the pen model alone
    image: float  # the image model alone, as the app reads with --no-pen
    fused: float  # both, fused as the app fuses them (the default where strokes exist)
    image_misreads_flagged: float | None = None
    image_correct_flagged: float | None = None
    fused_misreads_flagged: float | None = None
    fused_correct_flagged: float | None = None


@dataclass
class PenResult:
    model: str  # the pen file's name
    format: str
    runtime: str
    precision: str = "?"
    threads: int | None = None
    bytes: int = 0
    status: str = FAILED
    reason: str = ""
    image_model: str = ""  # the image model fused with: the app's default on this runtime
    tta: int = 1
    weight: float | None = None  # the fusion of the pen file's metadata
    temperature: float | None = None
    threshold: float | None = None
    fitted_for_image_model: bool | None = None  # the fusion was fitted with this image model
    drawn: dict[str, PenFigures] = field(default_factory=dict)  # --drawn-eval name -> figures
    latency_us: dict[str, float] = field(default_factory=dict)  # features + model call
    invoke_us: dict[str, float] = field(default_factory=dict)  # the runtime's invoke alone
    features_us: dict[str, float] = field(default_factory=dict)  # the features alone
    image_reading_us: dict[str, float] = field(default_factory=dict)  # the app's reading today
    fused_reading_us: dict[str, float] = field(default_factory=dict)  # ... with --pen

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {
            k: v
            for k, v in data.items()
            if v not in (None, "", {}, []) or k in ("status", "reason")
        }


# ----------------------------------------------------------------------------- what to run


def discover(paths: Sequence[str]) -> list[PenFile]:
    """The ``--pen`` files, each loaded once as a pen model: a file that is not one is a
    one-line error before anything is measured."""
    from mnist_edge.core.registry import family_of
    from mnist_edge.edge_app.pen.features import load_pen_model

    found = []
    for name in paths:
        path = Path(name)
        model = load_pen_model(path)  # refuses a missing file, a digit model, a broken one
        info = model.description or {}
        family = family_of(path.name) or "?"
        found.append(
            PenFile(
                path,
                str(info.get("format", family)),
                family,
                str(info.get("precision", "?")),
                path.stat().st_size,
            )
        )
    return found


def as_model_file(pen: PenFile) -> Any:
    """The pen file as the runner plans a model file (its rows: ``kind="pen"``)."""
    from mnist_edge.benchmarks.discover import ModelFile

    return ModelFile(pen.path, pen.format, pen.family, pen.precision, pen.bytes)


def image_models_dir(config: BenchConfig) -> Path:
    """Where the app's default image model comes from: the first ``--models`` folder with a
    manifest, else the folder the app itself reads (``$MNIST_EDGE_MODELS``, the shipped one)."""
    from mnist_edge.edge_app.runtime.shipped import MANIFEST, models_dir

    for name in config.models:
        if Path(name).is_dir() and (Path(name) / MANIFEST).is_file():
            return Path(name)
    return models_dir()


# ----------------------------------------------------------------------------- the strokes


def app_strokes(
    strokes: Sequence[Sequence[tuple[float, float]]],
) -> list[list[tuple[float, float]]]:
    """The strokes the app keeps of a drawing, as it hands them to the pen channel: those it
    takes (:func:`~mnist_edge.ink.strokes.as_the_app_takes`), each point clamped to the
    canvas (``App.canvas_point``), a point equal to the one before dropped (``Drawing.extend``)."""
    from mnist_edge.ink.strokes import as_the_app_takes

    kept = []
    for stroke in as_the_app_takes(list(strokes)):
        points_: list[tuple[float, float]] = []
        for x, y in stroke:
            point = (min(max(float(x), 0.0), 1.0), min(max(float(y), 0.0), 1.0))
            if not points_ or points_[-1] != point:
                points_.append(point)
        kept.append(points_)
    return kept


@dataclass(frozen=True)
class DrawnSet:
    """One ``--drawn-eval`` file's labelled digits, as the app would be handed them."""

    name: str
    labels: np.ndarray
    strokes: list[list[list[tuple[float, float]]]]  # app_strokes of each sample


def drawn_sets(config: BenchConfig) -> list[DrawnSet]:
    from mnist_edge.benchmarks.inputs import drawn_labels
    from mnist_edge.ink.strokes import load_samples

    sets = []
    for name, path in zip(drawn_labels(config.drawn_eval), config.drawn_eval, strict=True):
        samples = [s for s in load_samples(path) if isinstance(s.label, int)]
        labels = np.array([s.label for s in samples], np.int64)
        sets.append(DrawnSet(name, labels, [app_strokes(s.strokes) for s in samples]))
    return sets


# ----------------------------------------------------------------------------- measuring


class ImageReadings:
    """The image model's readings of each drawn set, made once per (runtime, threads) and
    shared by every pen file that runs there: ``None`` where the app reads nothing."""

    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self.folder = image_models_dir(config)
        self.cache: dict[tuple[str, int | None], tuple[Any, dict[str, list[Any]]]] = {}

    def get(self, runtime: str, threads: int | None, sets: list[DrawnSet]) -> tuple[Any, Any]:
        key = (runtime, threads)
        if key not in self.cache:
            from mnist_edge.benchmarks.inputs import app_canvas, app_reads_nothing
            from mnist_edge.core.contract import DEFAULT_THRESHOLD
            from mnist_edge.edge_app.recognizer import Recognizer
            from mnist_edge.edge_app.runtime import load_model
            from mnist_edge.edge_app.runtime.shipped import default_model
            from mnist_edge.ink.layout import DEFAULT_SIZE, compute

            path, name = default_model(runtime, self.folder)
            model = load_model(path, name, threads)
            tta = self.config.tta
            recognizer = Recognizer(model, model.threshold_for(tta) or DEFAULT_THRESHOLD, tta)
            canvas = compute(*DEFAULT_SIZE).canvas
            readings: dict[str, list[Any]] = {}
            for drawn in sets:
                found = []
                for strokes in drawn.strokes:
                    ink = app_canvas(strokes, canvas.w, canvas.h)
                    found.append(None if app_reads_nothing(ink) else recognizer.read(ink))
                readings[drawn.name] = found
            self.cache[key] = (recognizer, readings)
        return self.cache[key]


def _pen_accuracy(model: Any, drawn: DrawnSet, aspect: float) -> float:
    """The pen model alone: a drawing without a point the app keeps is a miss."""
    from mnist_edge.edge_app.pen.features import FEATURES, POINTS, features

    found = [features(s, aspect) for s in drawn.strokes]
    blank = np.zeros((POINTS, len(FEATURES)), np.float32)
    read = model.run(np.stack([blank if f is None else f for f in found])).probabilities
    right = (read.argmax(1) == drawn.labels) & np.array([f is not None for f in found])
    return float(right.mean())


def _flagged(
    predictions: list[Any], labels: np.ndarray, sure: Any
) -> tuple[float | None, float | None]:
    """(misreads flagged, correct readings flagged) by ``sure`` (the app's judge), over the
    predictions the app makes (None: it reads nothing)."""
    read = [(p, int(y)) for p, y in zip(predictions, labels) if p is not None]
    wrong = [not sure(p) for p, y in read if p.digit != y]
    right = [not sure(p) for p, y in read if p.digit == y]
    return (
        float(np.mean(wrong)) if wrong else None,
        float(np.mean(right)) if right else None,
    )


def _share(readings: list[Any], labels: np.ndarray) -> float:
    right = [r is not None and r.prediction.digit == int(y) for r, y in zip(readings, labels)]
    return float(np.mean(right)) if right else 0.0


def measure(
    row: Any, config: BenchConfig, sets: list[DrawnSet], images: ImageReadings
) -> PenResult:
    """One pen row (a runner ``Row``): accuracy per drawn file, latency, size."""
    from mnist_edge.benchmarks.inputs import app_canvas
    from mnist_edge.benchmarks.stats import summarize, time_loop
    from mnist_edge.core.fsutil import sha256_file
    from mnist_edge.edge_app.pen.features import features, fusion_of, load_pen_model
    from mnist_edge.edge_app.pen.fusion import PenChannel
    from mnist_edge.edge_app.recognizer import Recognizer
    from mnist_edge.ink.layout import DEFAULT_SIZE, compute

    result = PenResult(
        row.model.name, row.format, row.runtime, row.precision, row.threads, row.bytes
    )
    model = load_pen_model(row.model, row.runtime, row.threads)
    channel = PenChannel.from_model(model)
    recognizer, readings = images.get(row.runtime, row.threads, sets)
    canvas = compute(*DEFAULT_SIZE).canvas
    aspect = canvas.w / canvas.h  # what Recognizer.read passes: the canvas' width / height
    result.image_model = recognizer.model.path.name
    result.tta = recognizer.tta
    result.weight, result.temperature = channel.weight, channel.temperature
    result.threshold = channel.threshold
    fitted = ((model.description or {}).get("fusion") or {}).get("image_model_sha256")
    if fusion_of(model) is not None and isinstance(fitted, str):
        result.fitted_for_image_model = fitted == sha256_file(recognizer.model.path)
    fused_reader = Recognizer(recognizer.model, recognizer.threshold, recognizer.tta, pen=channel)
    for drawn in sets:
        image = readings[drawn.name]
        fused = [
            None if r is None else channel.combine(r.prediction, strokes, aspect)
            for r, strokes in zip(image, drawn.strokes)
        ]
        result.drawn[drawn.name] = PenFigures(
            len(drawn.labels),
            _pen_accuracy(model, drawn, aspect),
            _share(image, drawn.labels),
            float(
                np.mean([p is not None and p.digit == int(y) for p, y in zip(fused, drawn.labels)])
            ),
            *_flagged([r and r.prediction for r in image], drawn.labels, recognizer.sure),
            *_flagged(fused, drawn.labels, fused_reader.sure),
        )
    # Latency on real strokes: every drawing the app reads something of, cycled through.
    drawings = [s for drawn in sets for s in drawn.strokes if features(s, aspect) is not None]
    if not drawings:
        result.reason = "no --drawn-eval digit has a stroke the app keeps: nothing to time"
        return result
    loops = {"warmup": config.warmup, "min_runs": config.min_runs, "min_time": config.min_time}
    n = len(drawings)

    def trajectory(strokes: list[list[tuple[float, float]]]) -> np.ndarray:
        found = features(strokes, aspect)
        assert found is not None  # drawings without a point were left out above
        return found[None]

    result.latency_us = summarize(
        time_loop(lambda i: model.run(trajectory(drawings[i % n])), **loops)
    )
    result.features_us = summarize(time_loop(lambda i: features(drawings[i % n], aspect), **loops))
    inputs = [trajectory(s) for s in drawings[:1000]]
    result.invoke_us = summarize(
        time_loop(
            lambda i: model.invoke(),
            prepare=lambda i: model.bind(inputs[i % len(inputs)]),
            **loops,
        )
    )
    timed = drawings[:TIMED_CANVASES]
    inks = [app_canvas(s, canvas.w, canvas.h) for s in timed]
    m = len(timed)
    readers = (recognizer, fused_reader)
    # Interleaved, the same digit both ways in turn: on a shared CPU, two loops one after the
    # other would compare two different loads, not two readings.
    both = time_loop(
        lambda i: readers[i % 2].read(inks[i // 2 % m], timed[i // 2 % m]),
        **{**loops, "min_runs": 2 * config.min_runs, "warmup": 2 * config.warmup},
    )
    result.image_reading_us = summarize(both[0::2])
    result.fused_reading_us = summarize(both[1::2])
    result.status = OK
    return result
