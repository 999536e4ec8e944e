"""On-device learning, measured: the gain per writer, and what a correction costs.

The simulation is the app's own rule (:class:`~mnist_edge.edge_app.learn.Learner`) fed the
model's outputs in the order a writer drew: each digit is read with what was learned so far,
then, if it was misread, corrected, as a person tapping the right digit would. One profile per
writer. ``mnist-edge draw --headless --replay FILE --learn`` does the same through the app.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mnist_edge.edge_app.learn import Learner
from mnist_edge.edge_app.profile_files import MAX_CORRECTIONS


def simulate(
    probs: np.ndarray,
    embeddings: np.ndarray,
    labels: np.ndarray,
    writers: np.ndarray,
    blank: np.ndarray | None = None,
    **rule: float,
) -> dict[str, Any]:
    """Online accuracy without and with learning, overall and per writer. A ``blank`` sample
    (the app reads nothing there) is a miss either way, and nothing can be corrected on it."""
    nothing = np.zeros(len(labels), bool) if blank is None else np.asarray(blank, bool)
    rows = []
    for writer in dict.fromkeys(writers.tolist()):
        learner = Learner("bench", embeddings.shape[1], **rule)  # type: ignore[arg-type]
        plain = learned = corrections = repeats = 0
        misreads: set[tuple[int, int]] = set()  # (digit, read as) the model alone got wrong
        for i in np.flatnonzero(writers == writer):
            read, label = int(probs[i].argmax()), int(labels[i])
            if nothing[i]:  # no reading shown, no bar to tap: no correction either
                continue
            if read != label:
                repeats += (label, read) in misreads
                misreads.add((label, read))
            shown = (
                int(learner.adjust(probs[i], embeddings[i]).probabilities.argmax())
                if len(learner)
                else read
            )
            plain += int(read == label)
            learned += int(shown == label)
            if shown != label:
                learner.add(embeddings[i], label)
                corrections += 1
        n = int((writers == writer).sum())
        rows.append(
            {
                "writer": writer,
                "samples": n,
                "without": plain / n,
                "with": learned / n,
                "delta_samples": learned - plain,
                "corrections": corrections,
                "misreads": n - plain,
                "repeated_misreads": repeats,
            }
        )
    total = sum(r["samples"] for r in rows)
    return {
        "writers": len(rows),
        "samples": total,
        "without": sum(r["without"] * r["samples"] for r in rows) / max(total, 1),
        "with": sum(r["with"] * r["samples"] for r in rows) / max(total, 1),
        "mean_gain_points": float(np.mean([(r["with"] - r["without"]) * 100 for r in rows]))
        if rows
        else 0.0,
        "worst_writer_delta_samples": min((r["delta_samples"] for r in rows), default=0),
        # Misreads that repeat one the same writer already made (same digit, same wrong answer):
        # roughly what learning can fix, since a correction only helps later drawings.
        "misreads": sum(r["misreads"] for r in rows),
        "repeated_misreads": sum(r["repeated_misreads"] for r in rows),
        "corrections": sum(r["corrections"] for r in rows),
        "per_writer": rows,
    }


def outputs(model: Any, images: np.ndarray, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and embeddings of a model for many digits."""
    parts = [model.run(images[i : i + batch]) for i in range(0, len(images), batch)]
    return (
        np.concatenate([p.probabilities for p in parts]),
        np.concatenate([p.embedding for p in parts]),
    )


def costs(embeddings: np.ndarray, stored: int = MAX_CORRECTIONS) -> dict[str, float]:
    """Microseconds to add a correction and to read with ``stored`` of them; profile size."""
    rng = np.random.default_rng(0)
    folder = tempfile.TemporaryDirectory()
    learner = Learner("0" * 64, embeddings.shape[1], Path(folder.name) / "profile.npz")
    picks = rng.choice(len(embeddings), size=stored, replace=len(embeddings) < stored)
    for i in picks:
        learner.add(embeddings[i], int(rng.integers(10)))
    probs = np.full(10, 0.1, np.float32)
    queries = embeddings[rng.choice(len(embeddings), size=200)]
    started = time.perf_counter()
    for q in queries:
        learner.adjust(probs, q)
    read_us = (time.perf_counter() - started) / len(queries) * 1e6
    started = time.perf_counter()
    for q in queries[:50]:  # at capacity: each add also drops the least useful correction
        learner.add(q, 3)
    add_us = (time.perf_counter() - started) / 50 * 1e6
    with folder:
        problem = learner.save()
        if problem:
            raise OSError(problem)
        size = learner.path.stat().st_size  # type: ignore[union-attr]
    return {
        "stored": stored,
        "read_us": read_us,
        "add_us": add_us,
        "profile_bytes": size,
        "bytes_per_correction": size / stored,
    }
