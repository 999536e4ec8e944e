"""Real drawn digits for training: load, split by writer, render as the app renders, cache.

Every sample is rendered through the app's own code (``render`` and ``to_mnist``, composed in
:func:`~mnist_edge.ink.preprocess.strokes_to_digit`) on the canvases the app's layouts
really produce (``edge_app.layout.SCREENS``) with the brush the app would use there: the model
trains on exactly the pixels the app will feed it. Renderings are cached by the file's SHA-256
and the renderer's settings, so an epoch costs no more than an MNIST-only one.

Validation is split **by writer**, never by sample: a writer is on one side only, so the
validation accuracy is that of people the model has never seen.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import atomic_path, sha256_file
from mnist_edge.ink.canvas import Canvas
from mnist_edge.ink.layout import SCREENS, compute
from mnist_edge.ink.preprocess import strokes_to_digit
from mnist_edge.ink.strokes import Sample, load_samples

RENDER_VERSION = 1  # bump when rendering changes: old caches are then ignored
VARIANTS = 2  # renderings per sample, each on another screen's canvas (brush and scale vary)


class DrawnDataError(UserError):
    """A drawn-digit file that cannot be trained on."""


def app_canvases(screens: tuple[tuple[int, int], ...] = SCREENS) -> list[Canvas]:
    """The single-digit canvases the app lays out on these screens, with its default brush."""
    found = []
    for w, h in screens:
        c = compute(w, h).canvas
        found.append(Canvas.sized(c.w, c.h))
    return found


@dataclass(frozen=True)
class DrawnSet:
    """Rendered drawn digits: ``variants`` renderings per sample, sample-major."""

    images: np.ndarray  # uint8 [N * variants, 28, 28]
    labels: np.ndarray  # uint8 [N * variants]
    writers: np.ndarray  # str [N * variants]
    sample: np.ndarray  # int [N * variants]: index of the source sample
    files: tuple[dict[str, object], ...]  # file name, sha256, samples, writers

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> DrawnSet:
        return DrawnSet(
            self.images[mask], self.labels[mask], self.writers[mask], self.sample[mask], self.files
        )

    def held_out_writers(self, fraction: float, seed: int) -> set[str]:
        """The writers held out for validation, split file by file (:func:`split_writers`):
        a file's held-out writers do not depend on which other files train beside it, so
        they are the ones ``pen train``, ``styles write`` and the shipped model hold out."""
        held: set[str] = set()
        start = 0
        for info in self.files:
            count = int(info["samples"])  # type: ignore[call-overload]
            mine = (self.sample >= start) & (self.sample < start + count)
            held |= split_writers(self.writers[mine], fraction, seed)
            start += count
        return held

    def first_variant(self) -> DrawnSet:
        """One rendering per sample: the app's default screen (for validation)."""
        keep = np.ones(len(self), bool)
        keep[1:] = self.sample[1:] != self.sample[:-1]
        return self.subset(keep)


def check_training_file(path: str | os.PathLike[str]) -> list[Sample]:
    """Load a replay file for training: every sample labelled, with ink. One-line errors."""
    samples = load_samples(path)
    if not samples:
        raise DrawnDataError(f"drawn file {path} has no samples")
    for i, s in enumerate(samples):
        if s.label is None:
            raise DrawnDataError(
                f"drawn file {path}, sample {i}: no label; training needs "
                "every sample labelled 0-9 (record with 'mnist-edge draw "
                "--collect')"
            )
        if not any(s.strokes):
            raise DrawnDataError(f"drawn file {path}, sample {i}: no strokes")
        if isinstance(s.label, str) and s.stroke_digits is None:
            raise DrawnDataError(
                f"drawn file {path}, sample {i}: a number ({s.label!r}) without stroke_digits, "
                "so its digits cannot be told apart; train on numbers composed or collected "
                "with 'mnist-edge draw --collect FILE --multi', or drop the sample"
            )
    return [d for s in samples for d in digits_of(s)]


#: A digit taken out of a number fills this share of its own square canvas (as a single digit
#: drawn at about two-thirds of the canvas height).
DIGIT_SHARE = 0.6


def digits_of(sample: Sample) -> list[Sample]:
    """A single digit as itself; a number as its digits (by ``stroke_digits``), each moved from
    the writing strip it was written on (the default screen's, as its replay uses) into a
    square canvas of its own, keeping its shape and the writer."""
    if not isinstance(sample.label, str):
        return [sample]
    from mnist_edge.ink.compose import strip_canvas

    strip = strip_canvas()
    scale = np.array([strip.width - 1, strip.height - 1], np.float64)
    owners = sample.stroke_digits or []
    out = []
    for k, label in enumerate(sample.label):
        strokes = [
            np.asarray(st, np.float64) * scale
            for st, o in zip(sample.strokes, owners)
            if o == k and st
        ]
        if not strokes:
            continue  # a digit with no ink of its own (a stroke_digits mistake): nothing to learn
        points = np.concatenate(strokes)
        low, high = points.min(0), points.max(0)
        side = max(float((high - low).max()), 1.0) / DIGIT_SHARE
        centre = (low + high) / 2
        moved = [[(float(x), float(y)) for x, y in (st - centre) / side + 0.5] for st in strokes]
        out.append(Sample(moved, int(label), sample.writer))
    return out


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mnist-edge" / "drawn"


def _render_key(digest: str, canvases: list[Canvas]) -> str:
    settings = json.dumps([RENDER_VERSION, VARIANTS, [c.__dict__ for c in canvases]])
    return f"{digest[:20]}-{hashlib.sha256(settings.encode()).hexdigest()[:12]}"


def render_samples(samples: list[Sample], canvases: list[Canvas]) -> np.ndarray:
    """uint8 [N * VARIANTS, 28, 28]: sample i on canvases i, i+1, ... (cycling), app-exact."""
    out = np.zeros((len(samples) * VARIANTS, 28, 28), np.uint8)
    for i, sample in enumerate(samples):
        for v in range(VARIANTS):
            c = canvases[(i + v * (len(canvases) // VARIANTS or 1)) % len(canvases)]
            out[i * VARIANTS + v] = strokes_to_digit(sample.strokes, c.width, c.height, c.brush)
    return out


def load_drawn(paths: tuple[str, ...], *, cache: bool = True) -> DrawnSet:
    """Load, check and render every file (cached). Samples without a writer get one per file."""
    canvases = app_canvases()
    parts = []
    files = []
    offset = 0
    for path in paths:
        samples = check_training_file(path)
        digest = sha256_file(path)
        cached = _cache_dir() / f"{_render_key(digest, canvases)}.npz"
        images = None
        if cache and cached.is_file():
            try:
                with np.load(cached) as data:
                    images = data["images"]
            except (OSError, ValueError, KeyError):
                images = None  # a broken cache is rebuilt, never trusted
            if images is not None and images.shape != (len(samples) * VARIANTS, 28, 28):
                images = None
        if images is None:
            images = render_samples(samples, canvases)
            if cache:
                try:
                    with atomic_path(cached) as tmp:
                        np.savez_compressed(tmp.with_suffix(".npz"), images=images)
                        os.replace(tmp.with_suffix(".npz"), tmp)
                except OSError:
                    pass  # a read-only cache only costs time
        name = Path(path).name
        writers = np.repeat([s.writer or f"{name}:unnamed" for s in samples], VARIANTS)
        labels = np.repeat([s.label for s in samples], VARIANTS).astype(np.uint8)
        index = np.repeat(np.arange(len(samples)) + offset, VARIANTS)
        parts.append((images, labels, writers, index))
        files.append(
            {"file": name, "sha256": digest, "samples": len(samples), "writers": len(set(writers))}
        )
        offset += len(samples)
    return DrawnSet(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        np.concatenate([p[3] for p in parts]),
        tuple(files),
    )


def split_writers(writers: np.ndarray, fraction: float, seed: int) -> set[str]:
    """Writers held out for validation: ``fraction`` of each site's writers (site = the part
    before '/'), at least one per site with two or more writers; seeded."""
    rng = np.random.default_rng(seed)
    by_site: dict[str, list[str]] = defaultdict(list)
    for writer in sorted(set(writers.tolist())):
        by_site[writer.split("/")[0]].append(writer)
    held = set()
    for site in sorted(by_site):
        names = by_site[site]
        if len(names) < 2:
            continue
        count = max(1, round(len(names) * fraction))
        held.update(rng.choice(names, size=count, replace=False).tolist())
    return held


def per_writer(writers: np.ndarray, correct: np.ndarray) -> list[dict[str, object]]:
    """Accuracy per writer, worst first."""
    totals = Counter(writers.tolist())
    right = Counter(writers[correct].tolist())
    rows = [{"writer": w, "samples": n, "accuracy": right[w] / n} for w, n in totals.items()]
    return sorted(rows, key=lambda r: (r["accuracy"], -r["samples"]))  # type: ignore[arg-type]


def per_class(labels: np.ndarray, correct: np.ndarray) -> dict[str, float]:
    return {str(d): float(correct[labels == d].mean()) for d in range(10) if (labels == d).any()}


def report(labels: np.ndarray, writers: np.ndarray, predicted: np.ndarray) -> dict[str, object]:
    """Accuracy overall, per class and per writer (worst writers first)."""
    correct = predicted == labels
    writers_rows = per_writer(writers, correct)
    return {
        "samples": len(labels),
        "accuracy": float(correct.mean()) if len(labels) else None,
        "writer_mean": float(np.mean([r["accuracy"] for r in writers_rows]))
        if writers_rows
        else None,
        "per_class": per_class(labels, correct),
        "writers": writers_rows,
        "worst": writers_rows[:5],
    }
