"""Validation of an exported file with the slim runtimes (never TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_app.runtime import Model, load_model
from mnist_edge.formats import ExportFormat


@dataclass(frozen=True)
class Validation:
    accuracy: float
    agreement: float  # top-1 agreement with the Keras model
    max_abs_diff: float  # largest probability difference
    images: int
    runtime: str


def predict_all(model: Model, images: np.ndarray, batch: int = 500) -> np.ndarray:
    return np.concatenate([model.predict_proba(images[i:i + batch])
                           for i in range(0, len(images), batch)])


def validate_file(path: Path, fmt: ExportFormat, images: np.ndarray, labels: np.ndarray,
                  reference: np.ndarray) -> tuple[Validation, np.ndarray]:
    model = load_model(path, runtime="auto")
    probs = predict_all(model, images)
    result = Validation(
        accuracy=float((probs.argmax(1) == labels).mean()),
        agreement=float((probs.argmax(1) == reference.argmax(1)).mean()),
        max_abs_diff=float(np.abs(probs - reference).max()),
        images=len(labels),
        runtime=model.runtime,
    )
    return result, probs
