"""Validation of an exported file with the slim runtimes (never TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_edge.edge_app.runtime import load_model


@dataclass(frozen=True)
class Validation:
    accuracy: float
    agreement: float  # top-1 agreement with the Keras model
    max_abs_diff: float  # largest probability difference
    images: int
    runtime: str
    embedding_diff: float = 0.0  # mean relative L2 error of the embedding against Keras


def validate_file(
    path: Path,
    images: np.ndarray,
    labels: np.ndarray,
    reference: np.ndarray,
    reference_embedding: np.ndarray,
) -> tuple[Validation, np.ndarray]:
    model = load_model(path, runtime="auto")
    probs = model.run(images).probabilities
    n = len(reference_embedding)
    embedding_diff = float("inf")
    if model.embedding is not None:
        emb = np.concatenate(
            [
                model.run(images[i : i + 250]).embedding  # type: ignore[misc]
                for i in range(0, n, 250)
            ]
        )
        if emb.shape == reference_embedding.shape:
            norms = np.linalg.norm(reference_embedding, axis=1) + 1e-6
            embedding_diff = float(
                (np.linalg.norm(emb - reference_embedding, axis=1) / norms).mean()
            )
    result = Validation(
        accuracy=float((probs.argmax(1) == labels).mean()),
        agreement=float((probs.argmax(1) == reference.argmax(1)).mean()),
        max_abs_diff=float(np.abs(probs - reference).max()),
        images=len(labels),
        runtime=model.runtime,
        embedding_diff=embedding_diff,
    )
    return result, probs
